/*
 * mm_auth: the responder's Mattermost side.  Mattermost logins as readers
 * (READ_AUTH=mattermost), and the custom_livestatus post that
 * POST /api/v1/sessions makes for a daemon, as the original plugin did.
 *
 * A reader presents a Mattermost token: the MMAUTHTOKEN cookie the
 * Mattermost web app sets, or an "Authorization: Bearer" token that is not
 * the writers' secret (auth.c decides that).  mm_auth_user() asks
 * MM_URL/api/v4/users/me with that token and caches the answer (the user
 * id, or "not a valid token") for AUTH_CACHE_S seconds (default 60);
 * mm_auth_member() asks /api/v4/channels/{id}/members/me as that user and
 * caches yes/no per user and channel for the same time.  A box without a
 * channel is no user's.  Nothing here looks at a Mattermost-User-Id header:
 * any client behind nginx can send one.
 *
 * Results:
 *   MM_AUTH_OK              a valid user / a member of the channel
 *   MM_AUTH_DENIED          valid user, not a member (403)
 *   MM_AUTH_UNAUTHENTICATED unknown, expired or revoked token (401)
 *   MM_AUTH_UNAVAILABLE     Mattermost did not answer usefully (no answer,
 *                           5xx, 429); never cached, the caller may say 503
 *
 * An mm_auth is shared by all worker threads: its functions are
 * thread-safe, and its requests go through one keep-alive pool
 * (common/mm_http.h).  Tokens are kept in memory only as long as their
 * cache entry, are wiped when dropped, and never logged.
 */
#ifndef LS_MM_AUTH_H
#define LS_MM_AUTH_H

#include <stddef.h>

#include "../sql/store.h"

/* Mattermost ids are 26 characters; room for a little more. */
#define MM_AUTH_ID_MAX 64

struct mm_auth_config {
	const char *url;        /* MM_URL or MM_BASE_URL; NULL: not configured */
	const char *token;      /* MM_TOKEN or MM_BOT_TOKEN: the bot, for posts */
	long cache_ms;          /* AUTH_CACHE_S (60) */
	long timeout_ms;        /* MM_TIMEOUT_MS (10000) */
	long max_message_chars; /* MAX_MESSAGE_CHARS (15000): the final text */
};

enum mm_auth_result {
	MM_AUTH_OK = 0,
	MM_AUTH_DENIED,
	MM_AUTH_UNAUTHENTICATED,
	MM_AUTH_UNAVAILABLE,
};

/*
 * Reads MM_URL/MM_BASE_URL, MM_TOKEN/MM_BOT_TOKEN, AUTH_CACHE_S,
 * MM_TIMEOUT_MS and MAX_MESSAGE_CHARS.  Strings point into the
 * environment.  0, or -1 with a message naming the variable.
 */
int mm_auth_config_from_env(struct mm_auth_config *cfg, char *err, size_t errlen);

/* NULL when cfg->url is NULL. */
struct mm_auth *mm_auth_new(const struct mm_auth_config *cfg);
void mm_auth_free(struct mm_auth *a);

/* The value of the MMAUTHTOKEN cookie in a Cookie header, or NULL. */
const char *mm_auth_cookie_token(const char *cookie, size_t *len);

/* Who token[0..len) belongs to; user_id gets the id on MM_AUTH_OK. */
enum mm_auth_result
mm_auth_user(struct mm_auth *a, const char *token, size_t len, char user_id[MM_AUTH_ID_MAX + 1]);

/* Whether user_id (whose token this is) is a member of channel_id. */
enum mm_auth_result mm_auth_member(
    struct mm_auth *a, const char *token, size_t len, const char *user_id, const char *channel_id);

/*
 * Creates, as the bot, the custom_livestatus post of box box_id in
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
 * box): when it is a top-level API box whose post mm_create_livestatus_post
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

#endif
