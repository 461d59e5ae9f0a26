/*
 * mm_http: requests to the Mattermost REST API (v4) over one shared
 * keep-alive connection pool.
 *
 * Both programs talk to Mattermost: the watcher's poster creates and edits
 * posts, the responder checks users' tokens and channel memberships.  A
 * struct mm_http is one pool: a libcurl share handle (connections, DNS,
 * TLS sessions) and a free list of easy handles, so consecutive requests
 * reuse a warm connection whichever thread sends them.  It is thread-safe.
 *
 * At most max_connections requests of a pool are in flight at once, so at
 * most that many connections to Mattermost are open (libcurl's cache of a
 * share handle keeps as many idle ones, CURLOPT_MAXCONNECTS, and closes
 * the oldest beyond).  A request that finds every slot taken waits for
 * one, within its timeout; one that times out there is MM_HTTP_UNSENT.
 *
 * The pool also keeps the client polite:
 *  - a request budget (a token bucket of rate_per_s requests per second,
 *    burst of one second's worth; 0 = no budget), Mattermost's own default
 *    being 10/s per user;
 *  - a 429 answer's Retry-After (or X-Ratelimit-Reset) and an
 *    X-Ratelimit-Remaining of 0 hold every request back until that time.
 * mm_http_wait_ms() tells how long until the next request may go; a
 * request made earlier is not sent and comes back as MM_HTTP_WAIT, so a
 * caller with timers (the poster) never blocks on the budget.
 *
 * mm_http_request() returns 0 after an HTTP answer of any status, with
 * resp->status set; otherwise -1 with resp->outcome saying whether the
 * request can have reached the server:
 *   MM_HTTP_UNSENT   it certainly was not processed (no connection, or
 *                    held back by the budget: MM_HTTP_WAIT);
 *   MM_HTTP_UNKNOWN  it was sent and no answer came (timeout, connection
 *                    dropped): the server may have acted on it.
 * resp->err says why, for the log.  Never log the token.
 */
#ifndef LS_MM_HTTP_H
#define LS_MM_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct mm_http;

struct mm_http_config {
	const char *base_url;    /* e.g. https://chat.example.com, no /api/v4 */
	const char *token;       /* bot token, sent unless a request names one */
	double rate_per_s;       /* request budget; 0 = none */
	long timeout_ms;         /* whole request; 0 = 10000 */
	long connect_timeout_ms; /* 0 = 5000 */
	long max_connections;    /* open at once at most; 0 = MM_HTTP_DEFAULT_MAX_CONNECTIONS */
};

#define MM_HTTP_DEFAULT_MAX_CONNECTIONS 8
#define MM_HTTP_MAX_CONNECTIONS_LIMIT 256

enum mm_http_outcome {
	MM_HTTP_ANSWERED = 0,
	MM_HTTP_UNSENT,
	MM_HTTP_UNKNOWN,
	MM_HTTP_WAIT,
};

struct mm_http_resp {
	enum mm_http_outcome outcome;
	long status; /* HTTP status when answered, else 0 */
	char *body;  /* NUL-terminated, never NULL after a request */
	size_t len;
	int64_t retry_after_ms; /* from a 429, else 0 */
	char err[256];
};

struct mm_http *mm_http_new(const struct mm_http_config *cfg);
void mm_http_free(struct mm_http *h);

/*
 * Sends method path (path starts with /api/v4/...) with an optional JSON
 * body.  bearer, when not NULL, replaces the configured token (the
 * responder asks as the user).  See the top of this file for the result.
 */
int mm_http_request(struct mm_http *h, const char *method, const char *path, const char *json_body,
    const char *bearer, struct mm_http_resp *resp);
void mm_http_resp_free(struct mm_http_resp *resp);

/*
 * mm_http_request() waiting at most timeout_ms for the whole request (and
 * never longer than the pool's timeout; 0 = the pool's): for a caller
 * that must not hold its own client long.
 */
int mm_http_request_within(struct mm_http *h, const char *method, const char *path,
    const char *json_body, const char *bearer, long timeout_ms, struct mm_http_resp *resp);

/* Milliseconds until a request may be sent (budget and 429), 0 = now. */
int64_t mm_http_wait_ms(struct mm_http *h);

/* Counters since mm_http_new(), for stats and tests. */
struct mm_http_stats {
	int64_t requests;       /* sent */
	int64_t failures;       /* no answer */
	int64_t throttled;      /* 429 answers */
	int64_t held_back;      /* not sent: MM_HTTP_WAIT */
	int64_t slot_waits;     /* found every connection busy and waited */
	int max_in_flight;      /* most requests in flight at once */
	int64_t by_status[600]; /* answers by HTTP status */
};
void mm_http_stats(struct mm_http *h, struct mm_http_stats *out);

/* Percent-encodes s for a path segment or query value (caller frees). */
char *mm_http_escape(const char *s);

/*
 * mm_client: the transport the poster and the post writer (mm_post.h) send
 * their requests through, as three function pointers, so that a test can
 * swap in a stub for the libcurl pool.  request() has the contract of
 * mm_http_request_within() (timeout_ms 0: the transport's own); wait_ms()
 * of mm_http_wait_ms(); stats() (may be NULL: zeros) of mm_http_stats().
 */
struct mm_client {
	int (*request)(void *ctx, const char *method, const char *path, const char *json_body,
	    const char *bearer, long timeout_ms, struct mm_http_resp *resp);
	int64_t (*wait_ms)(void *ctx);
	void (*stats)(void *ctx, struct mm_http_stats *out);
	void *ctx;
};

/* The transport of pool h (which must outlive it). */
struct mm_client mm_http_client(struct mm_http *h);

#endif
