/*
 * api_http: the HTTP side of a request, free of libfcgi.
 *
 * struct api_req is what a handler sees of one request: the CGI variables
 * the responder reads (all may be NULL when nginx did not send them) and a
 * callback that reads the body, so that handlers decide (after routing and
 * authentication) whether a body is read at all.  The FastCGI glue in
 * api_server.c fills it from libfcgi; the unit tests fill it by hand.
 *
 * struct api_resp is what a handler answers: a status, an optional Allow
 * header and ETag, and a body that is either owned bytes (body) or a
 * borrowed, reference-counted list from the snapshot cache (blob_data,
 * kept alive by hold until api_resp_free()).  Every response is JSON;
 * api_resp_error() makes the {"error":"..."} body.
 *
 * The helpers below parse the few header values the API cares about and
 * never trust them: Content-Length must be plain decimal digits, a query
 * parameter is percent-decoded and must not decode to a NUL.
 */
#ifndef LS_API_HTTP_H
#define LS_API_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "fcgi/api_json.h"

/* The largest request body the API reads: 1 MiB. */
#define API_BODY_MAX ((size_t)1 << 20)

/* Longest id in a path, per the API's [A-Za-z0-9_.:-]{1,128}. */
#define API_ID_MAX UTIL_ID_MAX

enum api_method {
	API_M_GET,
	API_M_HEAD,
	API_M_POST,
	API_M_PUT,
	API_M_DELETE,
	API_M_OTHER,
};

struct api_req {
	const char *method;         /* REQUEST_METHOD */
	const char *path;           /* PATH_INFO */
	const char *query;          /* QUERY_STRING */
	const char *authorization;  /* HTTP_AUTHORIZATION */
	const char *cookie;         /* HTTP_COOKIE */
	const char *if_none_match;  /* HTTP_IF_NONE_MATCH */
	const char *content_type;   /* CONTENT_TYPE */
	const char *content_length; /* CONTENT_LENGTH */
	const char *remote_addr;    /* REMOTE_ADDR, the client as nginx saw it */
	const char *revision_path;  /* LIVESTATUS_REVISION: the link's folder (api_cacheable) */
	/*
	 * Reads up to len body bytes into buf; returns the count, 0 at the
	 * end, -1 on error.
	 */
	long (*read_body)(void *arg, char *buf, size_t len);
	void *read_arg;
};

struct api_resp {
	int status;
	const char *allow; /* static string or NULL */
	char etag[48];     /* quoted, or "" for none */
	int retry_after;   /* Retry-After seconds; 0: none */
	int cache_s;       /* X-Accel-Expires: seconds nginx may keep it; 0: not at all */
	struct api_buf body;
	const char *blob_data; /* when set, sent instead of body */
	size_t blob_len;
	/* holds blob_data alive; api_resp_free() calls release(hold) */
	void *hold;
	void (*release)(void *hold);
	const char *content_type; /* static string; NULL: application/json */
};

enum api_method api_http_method(const char *s);

/*
 * Content-Length: 0 and *out on plain digits, 1 when missing (NULL or
 * empty), -1 when bogus (signs, spaces, letters, overflow).
 */
int api_http_content_length(const char *s, size_t *out);

/* 1 for application/json, with an optional charset=utf-8 parameter. */
int api_http_is_json(const char *content_type);

/* 1 when If-None-Match names "<revision>" (also W/"..." or *). */
int api_http_etag_match(const char *if_none_match, int64_t revision);

/* 1 when If-None-Match names tag (quoted, as sent in ETag; also W/ or *). */
int api_http_etag_match_tag(const char *if_none_match, const char *tag);

/*
 * Finds name in a query string and percent-decodes its value into out.
 * Returns 1 found, 0 absent, -1 malformed or too long (outlen includes the
 * NUL).  A parameter given twice is malformed.
 */
int api_http_query(const char *query, const char *name, char *out, size_t outlen);

/* The reason phrase for a status code ("OK", "Not Found", ...). */
const char *api_http_reason(int status);

enum api_route {
	API_R_NONE,     /* no such route: 404 */
	API_R_HEALTH,   /* /api/v1/health */
	API_R_AUTH,     /* /api/v1/auth */
	API_R_SESSIONS, /* /api/v1/sessions */
	API_R_SESSION,  /* /api/v1/sessions/{id}, id copied out */
	API_R_METRICS,  /* /api/v1/metrics (metrics.h) */
	API_R_BAD_ID,   /* /api/v1/sessions/<not an id>: 400 */
	API_R_GATEWAY,  /* /api/v1/gateway/boxes (api_gateway.h) */
};

/* Routes on PATH_INFO alone; id must hold API_ID_MAX + 1 bytes. */
enum api_route api_http_route(const char *path, char *id, size_t idlen);

/* The Allow header of a route. */
const char *api_http_allow(enum api_route r);

/* Sets status and an {"error": msg} body, dropping any earlier body. */
void api_resp_error(struct api_resp *r, int status, const char *msg);
void api_resp_free(struct api_resp *r);

#endif
