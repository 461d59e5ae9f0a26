/*
 * auth: who may read and who may write through the status API.
 *
 * Writer: "Authorization: Bearer <PLUGIN_SECRET>", compared in constant
 * time (util_secret_equal); an empty or unset secret means no one writes.
 * Reader, by READ_AUTH:
 *   secret  the writer's secret (the default);
 *   none    anyone: only for a responder that loopback alone can reach.
 *   mattermost  the secret, or a Mattermost login (the default when MM_URL
 *           is set): the user's MMAUTHTOKEN cookie or a bearer token that is
 *           not the secret, checked against MM_URL/api/v4/users/me (cached
 *           for AUTH_CACHE_S), and per-channel membership checks through
 *           api_auth_may_read_channel() (fcgi/mm_auth.h does the asking).
 *
 * Identity headers such as Mattermost-User-Id are never trusted: behind
 * nginx any client can send them.  Credentials are never taken from the
 * query string and never logged.
 *
 * An api_auth is shared by all worker threads; its functions are
 * thread-safe.
 */
#ifndef LS_AUTH_H
#define LS_AUTH_H

#include "fcgi/api_http.h"
#include "fcgi/mm_auth.h"

/*
 * Read refusals keep v4.1's text as their start (clients that match on it
 * keep working) and say what to send instead, since v4.1's plugin took a
 * bare Mattermost-User-Id header, which nothing here trusts.
 */
#define API_AUTH_READ_DENIED \
	"unauthorized: valid Mattermost session or shared secret required: send " \
	"Authorization: Bearer <PLUGIN_SECRET>, or a Mattermost session (MMAUTHTOKEN cookie " \
	"or Authorization: Bearer <user token>); Mattermost-User-Id alone is not trusted"
#define API_AUTH_WRITE_DENIED "unauthorized"

enum api_read_auth {
	API_READ_AUTH_SECRET,
	API_READ_AUTH_NONE,
	API_READ_AUTH_MATTERMOST,
};

/* The READ_AUTH words, in enum order, NULL-terminated (for cfg_choice). */
extern const char *const api_read_auth_names[];

enum api_auth_result {
	API_AUTH_OK = 0,
	API_AUTH_UNAUTHORIZED = 401, /* no valid credentials */
	API_AUTH_FORBIDDEN = 403,    /* valid, but not allowed */
	API_AUTH_THROTTLED = 429,    /* this client's Mattermost look-ups are spent */
	API_AUTH_UNAVAILABLE = 503,  /* Mattermost cannot say who it is */
};

/* Who a request is, once authenticated. */
struct api_principal {
	int writer;       /* presented the shared secret */
	int all_channels; /* may read every channel's boxes */
	/* A Mattermost reader: the user, and the token (points into the request). */
	char mm_user[MM_AUTH_ID_MAX + 1];
	const char *mm_token;
	size_t mm_token_len;
	int retry_after_s; /* with API_AUTH_THROTTLED */
};

struct api_auth;

/*
 * secret may be NULL or empty: then no one can write.  With MM_URL set
 * (any mode) the Mattermost side is made from the environment
 * (mm_auth_config_from_env(), checked by api_config_load()).
 */
struct api_auth *api_auth_new(const char *secret, enum api_read_auth mode);
void api_auth_free(struct api_auth *a);

enum api_auth_result
api_auth_reader(struct api_auth *a, const struct api_req *req, struct api_principal *who);
enum api_auth_result api_auth_writer(struct api_auth *a, const struct api_req *req);

/* 1 when api_auth_reader() decides req without asking Mattermost. */
int api_auth_reader_is_local(struct api_auth *a, const struct api_req *req);

/* The Mattermost side (for posts), or NULL when MM_URL is unset. */
struct mm_auth *api_auth_mm(struct api_auth *a);

/* 1 when who may see boxes of channel_id. */
int api_auth_may_read_channel(
    struct api_auth *a, const struct api_principal *who, const char *channel_id);

/*
 * The same, saying why not: API_AUTH_FORBIDDEN (not a member, or
 * Mattermost cannot say now) or API_AUTH_UNAUTHORIZED (Mattermost said the
 * token is dead: the whole request should be a 401).
 */
enum api_auth_result
api_auth_channel(struct api_auth *a, const struct api_principal *who, const char *channel_id);

/* At most n threads wait on Mattermost for readers (mm_auth_limit_waiting()). */
void api_auth_limit_waiting(struct api_auth *a, int n);

/*
 * The token of an "Authorization: Bearer <token>" value (scheme in any
 * case), or NULL; *len gets its length.  Exposed for the unit tests.
 */
const char *api_auth_bearer(const char *authorization, size_t *len);

#endif
