/* api_http: routing and header parsing for the status API. */
#include "fcgi/api_http.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"

enum api_method
api_http_method(const char *s)
{
	if (s == NULL)
		return API_M_OTHER;
	if (strcmp(s, "GET") == 0)
		return API_M_GET;
	if (strcmp(s, "HEAD") == 0)
		return API_M_HEAD;
	if (strcmp(s, "POST") == 0)
		return API_M_POST;
	if (strcmp(s, "PUT") == 0)
		return API_M_PUT;
	if (strcmp(s, "DELETE") == 0)
		return API_M_DELETE;
	return API_M_OTHER;
}

int
api_http_content_length(const char *s, size_t *out)
{
	size_t v = 0;
	const char *p;

	if (s == NULL || *s == '\0')
		return 1;
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (v > (SIZE_MAX - 9) / 10)
			return -1;
		v = v * 10 + (size_t)(*p - '0');
	}
	*out = v;
	return 0;
}

static const char *
api_http_skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

int
api_http_is_json(const char *ct)
{
	static const char type[] = "application/json";
	const char *p;

	if (ct == NULL)
		return 0;
	p = api_http_skip_ows(ct);
	if (strncasecmp(p, type, sizeof(type) - 1) != 0)
		return 0;
	p = api_http_skip_ows(p + sizeof(type) - 1);
	if (*p == '\0')
		return 1;
	if (*p != ';')
		return 0;
	p = api_http_skip_ows(p + 1);
	if (strncasecmp(p, "charset=", 8) != 0)
		return 0;
	p += 8;
	if (strncasecmp(p, "utf-8", 5) == 0)
		p += 5;
	else if (strncasecmp(p, "\"utf-8\"", 7) == 0)
		p += 7;
	else
		return 0;
	p = api_http_skip_ows(p);
	return *p == '\0';
}

int
api_http_etag_match(const char *inm, int64_t revision)
{
	char tag[32];
	int len;

	len = snprintf(tag, sizeof(tag), "\"%" PRId64 "\"", revision);
	if (len < 0 || (size_t)len >= sizeof(tag))
		return 0;
	return api_http_etag_match_tag(inm, tag);
}

int
api_http_etag_match_tag(const char *inm, const char *tag)
{
	size_t n, len = strlen(tag);
	const char *p;

	if (inm == NULL)
		return 0;
	for (p = inm; *p != '\0';) {
		p = api_http_skip_ows(p);
		if (*p == '*')
			return 1;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		n = strcspn(p, ",");
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == len && memcmp(p, tag, n) == 0)
			return 1;
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	return 0;
}

static int
api_http_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes s[0..n) into out; -1 on bad escapes, NUL or overflow. */
static int
api_http_unescape(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;
	int hi, lo;
	char c;

	for (i = 0; i < n; i++) {
		c = s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (i + 2 >= n)
				return -1;
			hi = api_http_hex(s[i + 1]);
			lo = api_http_hex(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

int
api_http_query(const char *query, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name), plen;
	const char *p, *eq;
	int found = 0;

	if (query == NULL)
		return 0;
	for (p = query; *p != '\0';) {
		plen = strcspn(p, "&");
		eq = memchr(p, '=', plen);
		if ((eq != NULL && (size_t)(eq - p) == nlen && memcmp(p, name, nlen) == 0) ||
		    (eq == NULL && plen == nlen && memcmp(p, name, nlen) == 0)) {
			if (found)
				return -1;
			found = 1;
			if (eq == NULL) {
				if (outlen == 0)
					return -1;
				out[0] = '\0';
			} else if (api_http_unescape(
			               eq + 1, plen - (size_t)(eq + 1 - p), out, outlen) < 0) {
				return -1;
			}
		}
		p += plen;
		if (*p == '&')
			p++;
	}
	return found;
}

const char *
api_http_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 411:
		return "Length Required";
	case 413:
		return "Content Too Large";
	case 415:
		return "Unsupported Media Type";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	case 507:
		return "Insufficient Storage";
	}
	return "Unknown";
}

enum api_route
api_http_route(const char *path, char *id, size_t idlen)
{
	static const char prefix[] = "/api/v1/sessions/";
	const char *rest;

	if (path == NULL)
		return API_R_NONE;
	if (strcmp(path, "/api/v1/health") == 0)
		return API_R_HEALTH;
	if (strcmp(path, "/api/v1/auth") == 0)
		return API_R_AUTH;
	if (strcmp(path, "/api/v1/sessions") == 0)
		return API_R_SESSIONS;
	if (strcmp(path, "/api/v1/metrics") == 0)
		return API_R_METRICS;
	if (strcmp(path, "/api/v1/gateway/boxes") == 0)
		return API_R_GATEWAY;
	if (strncmp(path, prefix, sizeof(prefix) - 1) != 0)
		return API_R_NONE;
	rest = path + sizeof(prefix) - 1;
	if (strlen(rest) >= idlen || !util_valid_id(rest))
		return API_R_BAD_ID;
	memcpy(id, rest, strlen(rest) + 1);
	return API_R_SESSION;
}

const char *
api_http_allow(enum api_route r)
{
	switch (r) {
	case API_R_HEALTH:
	case API_R_AUTH:
	case API_R_METRICS:
		return "GET, HEAD";
	case API_R_SESSIONS:
		return "GET, HEAD, POST";
	case API_R_SESSION:
		return "GET, HEAD, PUT, DELETE";
	case API_R_GATEWAY:
		return "POST";
	default:
		return NULL;
	}
}

void
api_resp_error(struct api_resp *r, int status, const char *msg)
{
	r->status = status;
	r->body.len = 0;
	r->blob_data = NULL;
	r->blob_len = 0;
	api_buf_puts(&r->body, "{\"error\":");
	api_json_cstr(&r->body, msg);
	api_buf_puts(&r->body, "}");
}

void
api_resp_free(struct api_resp *r)
{
	api_buf_free(&r->body);
	if (r->release != NULL)
		r->release(r->hold);
	r->release = NULL;
	r->hold = NULL;
	r->blob_data = NULL;
}
