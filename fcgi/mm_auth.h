/*
 * mm_auth: the responder's Mattermost side.  Mattermost logins as readers
 * (READ_AUTH=mattermost), and the custom_livestatus post that
 * POST /api/v1/sessions makes for a daemon, as the original plugin did.
 *
 * A reader presents a Mattermost token: the MMAUTHTOKEN cookie the
 * Mattermost web app sets, or an "Authorization: Bearer" token that is not
 * the writers' secret (auth.c decides that).  mm_auth_user() asks
 * MM_URL/api/v4/users/me with that token and caches the answer (the user
 * id, or "not a valid token" in a cache of its own, so that made-up tokens
 * cannot push valid ones out) for AUTH_CACHE_S seconds (default and most
 * 15); mm_auth_member() asks /api/v4/channels/{id}/members/me as that user
 * and caches yes/no per user and channel for the same time.  A 401 from
 * either moves the token from the first cache to the second at once.  The
 * first request that finds an entry in the last fifth of its time asks
 * again (the others go on using the entry), so an entry in use never runs
 * out under a crowd of readers that would all ask at once; when that
 * request gets no answer, the entry stands until it runs out.
 *
 * Hostile load (issue 13).  Every unknown token costs a Mattermost call
 * and a worker thread waiting for it, so:
 *   - each client (REMOTE_ADDR, as nginx passes it) may make at most
 *     AUTH_CLIENT_LOOKUPS (20) look-ups of tokens not in either cache per
 *     MM_AUTH_CLIENT_WINDOW_MS; beyond that mm_auth_user_from() answers
 *     MM_AUTH_THROTTLED with the seconds until the window ends (a 429 with
 *     Retry-After), without asking.  A valid token whose entry has run out
 *     (still in its slot) is checked again free of that budget;
 *   - at most mm_auth_limit_waiting() threads (the server sets half of
 *     its workers) wait on Mattermost for readers at once; a look-up beyond
 *     that is MM_AUTH_UNAVAILABLE at once (a quick 503), so the other half
 *     always serve writers, the secret and cached logins;
 *   - a look-up waits at most AUTH_TIMEOUT_MS (2000).  A box without a
 * channel is no user's.  Nothing here looks at a Mattermost-User-Id header:
 * any client behind nginx can send one.
 *
 * Results:
 *   MM_AUTH_OK              a valid user / a member of the channel
 *   MM_AUTH_DENIED          valid user, not a member (403)
 *   MM_AUTH_UNAUTHENTICATED unknown, expired or revoked token (401)
 *   MM_AUTH_UNAVAILABLE     Mattermost did not answer usefully (no answer,
 *                           5xx, 429), or no thread may wait for it now;
 *                           never cached, the caller may say 503
 *   MM_AUTH_THROTTLED       the client's look-up budget is spent (429)
 *
 * An mm_auth is shared by all worker threads: its functions are
 * thread-safe, and its requests go through one keep-alive pool
 * (mm/mm_http.h).  Tokens are kept in memory only as long as their
 * cache entry, are wiped when dropped, and never logged.
 */
#ifndef LS_MM_AUTH_H
#define LS_MM_AUTH_H

#include <stddef.h>

#include "sql/store.h"

/* Mattermost ids are 26 characters; room for a little more. */
#define MM_AUTH_ID_MAX 64

#define MM_AUTH_CLIENT_WINDOW_MS 10000 /* the per-client budget's window */

struct mm_auth_config {
	const char *url;        /* MM_URL or MM_BASE_URL; NULL: not configured */
	const char *token;      /* MM_TOKEN or MM_BOT_TOKEN: the bot, for posts */
	long cache_ms;          /* AUTH_CACHE_S (15, at most 15) */
	long timeout_ms;        /* MM_TIMEOUT_MS (10000) */
	long lookup_timeout_ms; /* AUTH_TIMEOUT_MS (2000); 0: timeout_ms */
	long client_lookups;    /* AUTH_CLIENT_LOOKUPS (20); 0: no budget */
	long max_message_chars; /* MAX_MESSAGE_CHARS (15000): the final text */
	long max_connections;   /* MM_MAX_CONNECTIONS (8): open to Mattermost at once */
};

enum mm_auth_result {
	MM_AUTH_OK = 0,
	MM_AUTH_DENIED,
	MM_AUTH_UNAUTHENTICATED,
	MM_AUTH_UNAVAILABLE,
	MM_AUTH_THROTTLED,
};

/*
 * Reads MM_URL/MM_BASE_URL, MM_TOKEN/MM_BOT_TOKEN, MM_TIMEOUT_MS,
 * MAX_MESSAGE_CHARS, AUTH_CACHE_S, AUTH_TIMEOUT_MS, AUTH_CLIENT_LOOKUPS and
 * MM_MAX_CONNECTIONS with the one Mattermost settings reader
 * (mm/mm_config.h: mm_config_server() and mm_config_login()).  Strings
 * point into the environment.  0, or -1 with a message naming the variable.
 */
int mm_auth_config_from_env(struct mm_auth_config *cfg, char *err, size_t errlen);

/* NULL when cfg->url is NULL. */
struct mm_auth *mm_auth_new(const struct mm_auth_config *cfg);
void mm_auth_free(struct mm_auth *a);

/* The value of the MMAUTHTOKEN cookie in a Cookie header, or NULL. */
const char *mm_auth_cookie_token(const char *cookie, size_t *len);

/*
 * At most n threads (0: any number) wait on Mattermost for readers at once;
 * the others get MM_AUTH_UNAVAILABLE without asking.
 */
void mm_auth_limit_waiting(struct mm_auth *a, int n);

/*
 * Who token[0..len) belongs to; user_id gets the id on MM_AUTH_OK.  client
 * (REMOTE_ADDR; NULL: not charged) pays for a look-up; on MM_AUTH_THROTTLED
 * *retry_s (may be NULL) gets the seconds until it may ask again.
 */
enum mm_auth_result mm_auth_user_from(struct mm_auth *a, const char *token, size_t len,
    const char *client, char user_id[MM_AUTH_ID_MAX + 1], int *retry_s);

/* mm_auth_user_from() with no client: no budget. */
enum mm_auth_result
mm_auth_user(struct mm_auth *a, const char *token, size_t len, char user_id[MM_AUTH_ID_MAX + 1]);

/* Whether user_id (whose token this is) is a member of channel_id. */
enum mm_auth_result mm_auth_member(
    struct mm_auth *a, const char *token, size_t len, const char *user_id, const char *channel_id);

/*
 * Creates, as the bot, with the post writer (mm/mm_post.h: mm_post_create()),
 * the custom_livestatus post of box box_id in
 * channel_id (thread root_id, may be NULL or ""), with props.session_id =
 * box_id and message as the text clients without the plugin show.  The
 * pending_post_id is derived from the box id, so a retried create within
 * Mattermost's 30 s window returns the first post.  0 and *post_id
 * (caller frees), or -1 with a reason in err.
 */
int mm_create_livestatus_post(struct mm_auth *a, const char *channel_id, const char *root_id,
    const char *box_id, const char *message, char **post_id, char *err, size_t errlen);

/*
 * The daemon's box box_id may have ended (a PUT, or a POST of an ended
 * box): mm_post_box_ended() (mm/mm_post.h) through this pool: when it is a top-level API box whose post mm_create_livestatus_post
 * made (store_mm_api_posted) and whose final text was not sent yet, sets
 * the post's message once to the final status text (mm_render_box() of
 * the box and its sub-agents), for clients without the plugin:
 * PUT /api/v4/posts/{id}/patch, so the post's type and props stay.
 *
 * Of concurrent requests that end the box, one makes the edit (the claim
 * is a store transaction, sql/store_mm.h).  The request waits at most
 * MM_AUTH_FINAL_TIMEOUT_MS (or MM_TIMEOUT_MS when shorter): the caller is
 * a worker thread answering a daemon.  When Mattermost did not take the
 * edit (no answer, 5xx, 429, 401), the next change of the box tries again;
 * a deleted post is left alone.  Does nothing when a is NULL.
 */
#define MM_AUTH_FINAL_TIMEOUT_MS 3000
void mm_auth_box_ended(struct mm_auth *a, store *st, const char *box_id);

/* Cache look-ups answered without asking Mattermost, and requests made. */
void mm_auth_counts(struct mm_auth *a, long long *hits, long long *requests);

/* Look-ups refused by the per-client budget, and by the thread cap. */
void mm_auth_guard_counts(struct mm_auth *a, long long *throttled, long long *busy);

#endif
