/* mm_http: the Mattermost REST client pool (libcurl share + easy handles). */
#include "mm/mm_http.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/lcurl.h"
#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"

#define MM_HTTP_DEFAULT_TIMEOUT_MS 10000L
#define MM_HTTP_DEFAULT_CONNECT_MS 5000L
/* Answers bigger than this are cut: nothing livestatus asks for is. */
#define MM_HTTP_MAX_BODY (4u * 1024 * 1024)
/* An empty X-Ratelimit-Remaining holds requests back at most this long. */
#define MM_HTTP_EMPTY_BUCKET_MS 1000

struct mm_easy {
	CURL *curl;
	struct mm_easy *next;
};

struct mm_http {
	char *base;
	char *auth;
	double rate;
	long timeout_ms;
	long connect_ms;
	long max_conns;
	CURLSH *share;
	pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];

	pthread_mutex_t mu; /* everything below */
	pthread_cond_t slot_free;
	int in_flight; /* requests between their slot and their end, <= max_conns */
	struct mm_easy *idle;
	double tokens;
	int64_t tokens_ms;
	int64_t blocked_until;
	struct mm_http_stats stats;
};

/* What one request collects while libcurl runs it. */
struct mm_xfer {
	struct mm_http_resp *resp;
	int64_t retry_after_ms;
	int64_t reset_ms;
	long remaining; /* -1 when absent */
};

static void
mm_http_share_lock(CURL *c, curl_lock_data data, curl_lock_access access, void *arg)
{
	struct mm_http *h = arg;

	(void)c;
	(void)access;
	if (data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&h->share_mu[data]);
}

static void
mm_http_share_unlock(CURL *c, curl_lock_data data, void *arg)
{
	struct mm_http *h = arg;

	(void)c;
	if (data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&h->share_mu[data]);
}

struct mm_http *
mm_http_new(const struct mm_http_config *cfg)
{
	struct mm_http *h = xcalloc(1, sizeof(*h));
	pthread_condattr_t ca;
	size_t len;
	char err[256];
	int i;

	h->base = xstrdup(cfg->base_url != NULL ? cfg->base_url : "");
	len = strlen(h->base);
	while (len > 0 && h->base[len - 1] == '/')
		h->base[--len] = '\0';
	h->auth = xasprintf("Authorization: Bearer %s", cfg->token != NULL ? cfg->token : "");
	h->rate = cfg->rate_per_s > 0 ? cfg->rate_per_s : 0;
	h->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : MM_HTTP_DEFAULT_TIMEOUT_MS;
	h->connect_ms =
	    cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : MM_HTTP_DEFAULT_CONNECT_MS;
	if (h->connect_ms > h->timeout_ms)
		h->connect_ms = h->timeout_ms;
	h->max_conns =
	    cfg->max_connections > 0 ? cfg->max_connections : MM_HTTP_DEFAULT_MAX_CONNECTIONS;
	if (h->max_conns > MM_HTTP_MAX_CONNECTIONS_LIMIT)
		h->max_conns = MM_HTTP_MAX_CONNECTIONS_LIMIT;
	h->tokens = h->rate > 1 ? h->rate : 1;
	h->tokens_ms = util_mono_ms();
	pthread_mutex_init(&h->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->slot_free, &ca);
	pthread_condattr_destroy(&ca);
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&h->share_mu[i], NULL);
	/* Without libcurl every request fails as unsent, with the reason logged here. */
	if (lcurl_load(err, sizeof(err)) < 0)
		log_error("cannot talk to Mattermost", "err", err);
	else
		h->share = lcurl.share_init();
	if (h->share != NULL) {
		lcurl.share_setopt(h->share, CURLSHOPT_LOCKFUNC, mm_http_share_lock);
		lcurl.share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, mm_http_share_unlock);
		lcurl.share_setopt(h->share, CURLSHOPT_USERDATA, h);
		lcurl.share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
		lcurl.share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
		lcurl.share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	}
	return h;
}

void
mm_http_free(struct mm_http *h)
{
	struct mm_easy *e;
	int i;

	if (h == NULL)
		return;
	while ((e = h->idle) != NULL) {
		h->idle = e->next;
		lcurl.easy_cleanup(e->curl);
		free(e);
	}
	if (h->share != NULL)
		lcurl.share_cleanup(h->share);
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&h->share_mu[i]);
	pthread_cond_destroy(&h->slot_free);
	pthread_mutex_destroy(&h->mu);
	free(h->base);
	free(h->auth);
	free(h);
}

/* Refills the bucket; with h->mu held. */
static void
mm_http_refill(struct mm_http *h, int64_t now)
{
	double cap = h->rate > 1 ? h->rate : 1;

	if (h->rate <= 0)
		return;
	h->tokens += (double)(now - h->tokens_ms) * h->rate / 1000.0;
	if (h->tokens > cap)
		h->tokens = cap;
	h->tokens_ms = now;
}

/* With h->mu held. */
static int64_t
mm_http_wait_locked(struct mm_http *h, int64_t now)
{
	int64_t wait = 0, need;

	if (h->blocked_until > now)
		wait = h->blocked_until - now;
	if (h->rate > 0) {
		mm_http_refill(h, now);
		if (h->tokens < 1.0) {
			need = (int64_t)((1.0 - h->tokens) * 1000.0 / h->rate) + 1;
			if (need > wait)
				wait = need;
		}
	}
	return wait;
}

int64_t
mm_http_wait_ms(struct mm_http *h)
{
	int64_t wait;

	pthread_mutex_lock(&h->mu);
	wait = mm_http_wait_locked(h, util_mono_ms());
	pthread_mutex_unlock(&h->mu);
	return wait;
}

void
mm_http_stats(struct mm_http *h, struct mm_http_stats *out)
{
	pthread_mutex_lock(&h->mu);
	*out = h->stats;
	pthread_mutex_unlock(&h->mu);
}

static size_t
mm_http_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct mm_xfer *x = arg;
	struct mm_http_resp *r = x->resp;
	size_t n = size * nmemb;

	if (r->len + n > MM_HTTP_MAX_BODY)
		return 0; /* aborts the transfer */
	r->body = xrealloc(r->body, r->len + n + 1);
	memcpy(r->body + r->len, ptr, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

/* The value of header name in line (len bytes), or NULL; *vlen its length. */
static const char *
mm_http_header(const char *line, size_t len, const char *name, size_t *vlen)
{
	size_t nlen = strlen(name);
	const char *v, *end = line + len;

	if (len <= nlen || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
		return NULL;
	v = line + nlen + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	*vlen = (size_t)(end - v);
	return v;
}

static long
mm_http_header_long(const char *v, size_t vlen)
{
	char buf[32];
	char *end;
	long n;

	if (vlen == 0 || vlen >= sizeof(buf))
		return -1;
	memcpy(buf, v, vlen);
	buf[vlen] = '\0';
	n = strtol(buf, &end, 10);
	if (*end != '\0' || n < 0)
		return -1;
	return n;
}

/*
 * Retry-After and X-Ratelimit-Reset are seconds from now on Mattermost; a
 * value that looks like an epoch time is taken as one.
 */
static int64_t
mm_http_seconds_ms(long v)
{
	int64_t now_s;

	if (v < 0)
		return 0;
	if (v > 1000000000L) {
		now_s = util_now_ms() / 1000;
		return v > now_s ? (int64_t)(v - now_s) * 1000 : 0;
	}
	return (int64_t)v * 1000;
}

static size_t
mm_http_on_header(char *line, size_t size, size_t nmemb, void *arg)
{
	struct mm_xfer *x = arg;
	size_t n = size * nmemb, vlen;
	const char *v;

	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		x->retry_after_ms = x->reset_ms = 0;
		x->remaining = -1;
	} else if ((v = mm_http_header(line, n, "Retry-After", &vlen)) != NULL) {
		x->retry_after_ms = mm_http_seconds_ms(mm_http_header_long(v, vlen));
	} else if ((v = mm_http_header(line, n, "X-Ratelimit-Reset", &vlen)) != NULL) {
		x->reset_ms = mm_http_seconds_ms(mm_http_header_long(v, vlen));
	} else if ((v = mm_http_header(line, n, "X-Ratelimit-Remaining", &vlen)) != NULL) {
		x->remaining = mm_http_header_long(v, vlen);
	}
	return n;
}

/*
 * Waits, with h->mu held, until fewer than max_conns requests are in flight
 * or deadline (monotonic ms) passes; takes the slot.  0, or -1 at the
 * deadline.
 */
static int
mm_http_slot_locked(struct mm_http *h, int64_t deadline)
{
	struct timespec ts;
	int waited = 0;

	while (h->in_flight >= h->max_conns) {
		if (!waited) {
			h->stats.slot_waits++;
			waited = 1;
		}
		if (util_mono_ms() >= deadline)
			return -1;
		ts.tv_sec = (time_t)(deadline / 1000);
		ts.tv_nsec = (long)(deadline % 1000) * 1000000L;
		if (pthread_cond_timedwait(&h->slot_free, &h->mu, &ts) == ETIMEDOUT &&
		    h->in_flight >= h->max_conns)
			return -1;
	}
	h->in_flight++;
	if (h->in_flight > h->stats.max_in_flight)
		h->stats.max_in_flight = h->in_flight;
	return 0;
}

static CURL *
mm_http_take(struct mm_http *h, struct mm_easy **slot)
{
	struct mm_easy *e;

	pthread_mutex_lock(&h->mu);
	e = h->idle;
	if (e != NULL)
		h->idle = e->next;
	pthread_mutex_unlock(&h->mu);
	if (e == NULL) {
		if (lcurl_load(NULL, 0) < 0)
			return NULL;
		e = xcalloc(1, sizeof(*e));
		e->curl = lcurl.easy_init();
		if (e->curl == NULL) {
			free(e);
			return NULL;
		}
	} else {
		lcurl.easy_reset(e->curl);
	}
	*slot = e;
	return e->curl;
}

static void
mm_http_give(struct mm_http *h, struct mm_easy *e)
{
	pthread_mutex_lock(&h->mu);
	e->next = h->idle;
	h->idle = e;
	pthread_mutex_unlock(&h->mu);
}

int
mm_http_request(struct mm_http *h, const char *method, const char *path, const char *json_body,
    const char *bearer, struct mm_http_resp *resp)
{
	return mm_http_request_within(h, method, path, json_body, bearer, 0, resp);
}

/*
 * Lets a request in: the budget and 429 hold, then a free connection slot
 * within the request's time.  0 with the slot taken and *timeout_ms the time
 * left, or -1 with resp->outcome and resp->err set.
 */
static int
mm_http_admit(struct mm_http *h, long *timeout_ms, struct mm_http_resp *resp)
{
	int64_t now = util_mono_ms(), deadline;
	int ret = -1;

	pthread_mutex_lock(&h->mu);
	if (mm_http_wait_locked(h, now) > 0) {
		h->stats.held_back++;
		resp->outcome = MM_HTTP_WAIT;
		snprintf(resp->err, sizeof(resp->err), "held back by the request budget");
		goto out;
	}
	if (h->rate > 0)
		h->tokens -= 1.0;
	h->stats.requests++;
	if (*timeout_ms <= 0 || *timeout_ms > h->timeout_ms)
		*timeout_ms = h->timeout_ms;
	/* A wait for a free connection counts against the request's time. */
	deadline = now + *timeout_ms;
	if (mm_http_slot_locked(h, deadline) != 0) {
		h->stats.failures++;
		resp->outcome = MM_HTTP_UNSENT;
		snprintf(resp->err, sizeof(resp->err),
		    "all %ld connections to Mattermost busy for %ld ms", h->max_conns, *timeout_ms);
		goto out;
	}
	*timeout_ms = deadline - util_mono_ms();
	if (*timeout_ms < 1)
		*timeout_ms = 1;
	ret = 0;
out:
	pthread_mutex_unlock(&h->mu);
	return ret;
}

/* The options of one request on easy handle c; *headers is the caller's to free. */
static void
mm_http_setup(struct mm_http *h, CURL *c, const char *method, const char *url,
    const char *json_body, const char *auth, long timeout_ms, struct mm_xfer *x, char *errbuf,
    struct curl_slist **headers)
{
	*headers = lcurl.slist_append(*headers, auth != NULL ? auth : h->auth);
	*headers = lcurl.slist_append(*headers, "Accept: application/json");
	*headers = lcurl.slist_append(*headers, "X-Requested-With: XMLHttpRequest");
	*headers = lcurl.slist_append(*headers, "Expect:");
	if (json_body != NULL)
		*headers = lcurl.slist_append(*headers, "Content-Type: application/json");
	lcurl.easy_setopt(c, CURLOPT_URL, url);
	lcurl.easy_setopt(c, CURLOPT_HTTPHEADER, *headers);
	lcurl.easy_setopt(c, CURLOPT_SHARE, h->share);
	lcurl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	lcurl.easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	/* The shared cache keeps as many idle connections as may be busy. */
	lcurl.easy_setopt(c, CURLOPT_MAXCONNECTS, h->max_conns);
	lcurl.easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	lcurl.easy_setopt(
	    c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_ms < timeout_ms ? h->connect_ms : timeout_ms);
	lcurl.easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	lcurl.easy_setopt(c, CURLOPT_WRITEFUNCTION, mm_http_write);
	lcurl.easy_setopt(c, CURLOPT_WRITEDATA, x);
	lcurl.easy_setopt(c, CURLOPT_HEADERFUNCTION, mm_http_on_header);
	lcurl.easy_setopt(c, CURLOPT_HEADERDATA, x);
	lcurl.easy_setopt(c, CURLOPT_USERAGENT, "livestatus/" LS_VERSION);
	if (json_body != NULL) {
		lcurl.easy_setopt(c, CURLOPT_POSTFIELDS, json_body);
		lcurl.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json_body));
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		lcurl.easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	else if (strcmp(method, "POST") == 0 && json_body == NULL)
		lcurl.easy_setopt(c, CURLOPT_POSTFIELDS, "");
}

/* An answer came: its status, and how long it holds every request back. */
static void
mm_http_answered(struct mm_http *h, CURL *c, const struct mm_xfer *x, struct mm_http_resp *resp)
{
	int64_t hold = 0;

	lcurl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	resp->outcome = MM_HTTP_ANSWERED;
	if (resp->status == 429) {
		hold = x->retry_after_ms > 0 ? x->retry_after_ms : x->reset_ms;
		if (hold <= 0)
			hold = 1000;
		resp->retry_after_ms = hold;
	} else if (x->remaining == 0) {
		hold =
		    x->reset_ms < MM_HTTP_EMPTY_BUCKET_MS ? x->reset_ms : MM_HTTP_EMPTY_BUCKET_MS;
	}
	pthread_mutex_lock(&h->mu);
	if (resp->status == 429)
		h->stats.throttled++;
	if (resp->status > 0 && resp->status < 600)
		h->stats.by_status[resp->status]++;
	if (hold > 0 && util_mono_ms() + hold > h->blocked_until)
		h->blocked_until = util_mono_ms() + hold;
	pthread_mutex_unlock(&h->mu);
}

int
mm_http_request_within(struct mm_http *h, const char *method, const char *path,
    const char *json_body, const char *bearer, long timeout_ms, struct mm_http_resp *resp)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL;
	struct mm_easy *slot = NULL;
	struct mm_xfer x = { .resp = resp, .remaining = -1 };
	char *url = NULL, *auth = NULL;
	long sent = 0;
	CURLcode rc;
	CURL *c;
	int ret = -1;

	memset(resp, 0, sizeof(*resp));
	resp->body = xstrdup("");
	if (mm_http_admit(h, &timeout_ms, resp) != 0)
		return -1;
	if ((c = mm_http_take(h, &slot)) == NULL) {
		resp->outcome = MM_HTTP_UNSENT;
		snprintf(resp->err, sizeof(resp->err), "cannot initialise libcurl");
		goto out;
	}
	url = xasprintf("%s%s", h->base, path);
	if (bearer != NULL)
		auth = xasprintf("Authorization: Bearer %s", bearer);
	mm_http_setup(h, c, method, url, json_body, auth, timeout_ms, &x, errbuf, &headers);
	rc = lcurl.easy_perform(c);
	if (rc != CURLE_OK) {
		lcurl.easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent);
		/* No byte of the request left: the server cannot have acted on it. */
		resp->outcome =
		    sent > 0 && rc != CURLE_COULDNT_CONNECT && rc != CURLE_COULDNT_RESOLVE_HOST
		    ? MM_HTTP_UNKNOWN
		    : MM_HTTP_UNSENT;
		snprintf(resp->err, sizeof(resp->err), "%s",
		    errbuf[0] != '\0' ? errbuf : lcurl.easy_strerror(rc));
		pthread_mutex_lock(&h->mu);
		h->stats.failures++;
		pthread_mutex_unlock(&h->mu);
		goto out;
	}
	mm_http_answered(h, c, &x, resp);
	ret = 0;
out:
	if (slot != NULL) {
		/* The handle must not point at this call's stack once returned. */
		lcurl.easy_setopt(slot->curl, CURLOPT_ERRORBUFFER, NULL);
		mm_http_give(h, slot);
	}
	pthread_mutex_lock(&h->mu);
	h->in_flight--;
	pthread_cond_signal(&h->slot_free);
	pthread_mutex_unlock(&h->mu);
	lcurl.slist_free_all(headers);
	free(url);
	free(auth);
	return ret;
}

void
mm_http_resp_free(struct mm_http_resp *resp)
{
	if (resp == NULL)
		return;
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
}

char *
mm_http_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s), i;
	char *out = xmalloc(n * 3 + 1), *p = out;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			*p++ = (char)ch;
		} else {
			*p++ = '%';
			*p++ = hex[ch >> 4];
			*p++ = hex[ch & 15];
		}
	}
	*p = '\0';
	return out;
}

static int
mm_http_client_request(void *ctx, const char *method, const char *path, const char *json_body,
    const char *bearer, long timeout_ms, struct mm_http_resp *resp)
{
	return mm_http_request_within(ctx, method, path, json_body, bearer, timeout_ms, resp);
}

static int64_t
mm_http_client_wait(void *ctx)
{
	return mm_http_wait_ms(ctx);
}

static void
mm_http_client_stats(void *ctx, struct mm_http_stats *out)
{
	mm_http_stats(ctx, out);
}

struct mm_client
mm_http_client(struct mm_http *h)
{
	struct mm_client c = {
		.request = mm_http_client_request,
		.wait_ms = mm_http_client_wait,
		.stats = mm_http_client_stats,
		.ctx = h,
	};

	return c;
}
