/* auth: shared-secret writers; readers (READ_AUTH=secret|none|mattermost). */
#include "fcgi/auth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "common/xmalloc.h"

const char *const api_read_auth_names[] = { "secret", "none", "mattermost", NULL };

struct api_auth {
	char *secret; /* "" when unset */
	enum api_read_auth mode;
	struct mm_auth *mm; /* NULL without MM_URL */
};

struct api_auth *
api_auth_new(const char *secret, enum api_read_auth mode)
{
	struct api_auth *a = xcalloc(1, sizeof(*a));

	struct mm_auth_config mc;
	char err[256];

	a->secret = xstrdup(secret != NULL ? secret : "");
	a->mode = mode;
	if (mm_auth_config_from_env(&mc, err, sizeof(err)) == 0)
		a->mm = mm_auth_new(&mc);
	return a;
}

void
api_auth_free(struct api_auth *a)
{
	if (a == NULL)
		return;
	mm_auth_free(a->mm);
	/* Do not leave the secret in freed memory. */
	explicit_bzero(a->secret, strlen(a->secret));
	free(a->secret);
	free(a);
}

const char *
api_auth_bearer(const char *authorization, size_t *len)
{
	const char *p;
	size_t n;

	if (authorization == NULL || strncasecmp(authorization, "Bearer", 6) != 0)
		return NULL;
	p = authorization + 6;
	if (*p != ' ' && *p != '\t')
		return NULL;
	while (*p == ' ' || *p == '\t')
		p++;
	n = strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n == 0)
		return NULL;
	*len = n;
	return p;
}

/* 1 when the request carries the shared secret. */
static int
api_auth_has_secret(const struct api_auth *a, const struct api_req *req)
{
	const char *tok;
	size_t len = 0;

	if (a->secret[0] == '\0')
		return 0;
	tok = api_auth_bearer(req->authorization, &len);
	return tok != NULL && util_secret_equal(a->secret, tok, len);
}

enum api_auth_result
api_auth_writer(struct api_auth *a, const struct api_req *req)
{
	return api_auth_has_secret(a, req) ? API_AUTH_OK : API_AUTH_UNAUTHORIZED;
}

/*
 * A Mattermost login: the bearer token (not the secret: checked before),
 * else the MMAUTHTOKEN cookie.  Never a Mattermost-User-Id header.
 */
static enum api_auth_result
api_auth_mattermost(struct api_auth *a, const struct api_req *req, struct api_principal *who)
{
	const char *tok;
	size_t len = 0;

	tok = api_auth_bearer(req->authorization, &len);
	if (tok == NULL)
		tok = mm_auth_cookie_token(req->cookie, &len);
	if (tok == NULL || a->mm == NULL)
		return API_AUTH_UNAUTHORIZED;
	switch (mm_auth_user_from(a->mm, tok, len, req->remote_addr != NULL ? req->remote_addr : "",
	    who->mm_user, &who->retry_after_s)) {
	case MM_AUTH_OK:
		who->mm_token = tok;
		who->mm_token_len = len;
		return API_AUTH_OK;
	case MM_AUTH_UNAVAILABLE:
		return API_AUTH_UNAVAILABLE;
	case MM_AUTH_THROTTLED:
		return API_AUTH_THROTTLED;
	default:
		return API_AUTH_UNAUTHORIZED;
	}
}

int
api_auth_reader_is_local(struct api_auth *a, const struct api_req *req)
{
	return a->mode != API_READ_AUTH_MATTERMOST || api_auth_has_secret(a, req);
}

enum api_auth_result
api_auth_reader(struct api_auth *a, const struct api_req *req, struct api_principal *who)
{
	memset(who, 0, sizeof(*who));
	if (api_auth_has_secret(a, req)) {
		who->writer = 1;
		who->all_channels = 1;
		return API_AUTH_OK;
	}
	if (a->mode == API_READ_AUTH_NONE) {
		who->all_channels = 1;
		return API_AUTH_OK;
	}
	if (a->mode == API_READ_AUTH_MATTERMOST)
		return api_auth_mattermost(a, req, who);
	return API_AUTH_UNAUTHORIZED;
}

struct mm_auth *
api_auth_mm(struct api_auth *a)
{
	return a->mm;
}

enum api_auth_result
api_auth_channel(struct api_auth *a, const struct api_principal *who, const char *channel_id)
{
	if (who->all_channels)
		return API_AUTH_OK;
	if (a->mm == NULL || who->mm_token == NULL || channel_id == NULL)
		return API_AUTH_FORBIDDEN;
	switch (mm_auth_member(a->mm, who->mm_token, who->mm_token_len, who->mm_user, channel_id)) {
	case MM_AUTH_OK:
		return API_AUTH_OK;
	case MM_AUTH_UNAUTHENTICATED:
		return API_AUTH_UNAUTHORIZED;
	default:
		return API_AUTH_FORBIDDEN;
	}
}

int
api_auth_may_read_channel(
    struct api_auth *a, const struct api_principal *who, const char *channel_id)
{
	return api_auth_channel(a, who, channel_id) == API_AUTH_OK;
}

void
api_auth_limit_waiting(struct api_auth *a, int n)
{
	mm_auth_limit_waiting(a->mm, n);
}
