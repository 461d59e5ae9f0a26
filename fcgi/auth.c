/* auth: shared-secret writers and readers (READ_AUTH=secret|none). */
#include "auth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/util.h"
#include "../common/xmalloc.h"

const char *const api_read_auth_names[] = { "secret", "none", NULL };

struct api_auth {
	char *secret; /* "" when unset */
	enum api_read_auth mode;
};

struct api_auth *
api_auth_new(const char *secret, enum api_read_auth mode)
{
	struct api_auth *a = xcalloc(1, sizeof(*a));

	a->secret = xstrdup(secret != NULL ? secret : "");
	a->mode = mode;
	return a;
}

void
api_auth_free(struct api_auth *a)
{
	if (a == NULL)
		return;
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
	return API_AUTH_UNAUTHORIZED;
}

int
api_auth_may_read_channel(struct api_auth *a, const struct api_principal *who,
    const char *channel_id)
{
	(void)a;
	(void)channel_id;
	return who->all_channels;
}
