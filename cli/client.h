/*
 * client: the live-status command's HTTP client for the status API.
 *
 * A client holds the API's base URL (PLUGIN_URL, e.g.
 * http://127.0.0.1:8080/plugins/com.openclaw.livestatus; a trailing slash is
 * dropped) and the writer secret, which goes out as
 * "Authorization: Bearer <secret>" on every request and nowhere else: it
 * is never printed, logged or put in a URL.
 *
 * client_request() sends one request with an optional JSON body and
 * collects the answer whatever its HTTP status.  It returns 0 when an
 * answer arrived (reply->status is then the HTTP status, reply->body the
 * body, NUL-terminated, possibly empty) and -1 when none did (no
 * connection, timeout, an answer over CLIENT_MAX_BODY), with the reason in
 * err.  The reply is released with client_reply_free(); a zeroed reply is
 * valid to free.
 *
 * client_error_text() turns an answer into a one-line reason for the user:
 * the API's {"error":"..."} message when the body has one, else the HTTP
 * status.
 */
#ifndef LS_CLI_CLIENT_H
#define LS_CLI_CLIENT_H

#include <stddef.h>

/* Answers larger than this are refused; a box is a few KiB. */
#define CLIENT_MAX_BODY (8L * 1024 * 1024)

/* Seconds allowed for connecting, and for a whole request. */
#define CLIENT_CONNECT_TIMEOUT_S 5L
#define CLIENT_TIMEOUT_S 20L

struct client;

struct client_reply {
	long status;
	char *body;
	size_t len;
};

struct client *client_new(const char *base_url, const char *secret);
void client_free(struct client *c);

/* The base URL, without a trailing slash, for messages. */
const char *client_base(const struct client *c);

/* path starts with '/' and is appended to the base URL as it is. */
int client_request(struct client *c, const char *method, const char *path, const char *json_body,
    struct client_reply *reply, char *err, size_t errlen);

void client_reply_free(struct client_reply *reply);

/* Writes the reason an answer is an error into buf; returns buf. */
const char *client_error_text(const struct client_reply *reply, char *buf, size_t buflen);

#endif
