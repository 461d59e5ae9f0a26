/* client: one libcurl handle talking to the status API for live-status. */
#include "cli/client.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"

struct client {
	CURL *curl;
	char *base;
	char *auth; /* "Authorization: Bearer ..." or NULL */
};

struct client_buf {
	char *data;
	size_t len, cap;
	int too_big;
};

static size_t
client_collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct client_buf *b = arg;
	size_t n = size * nmemb;

	if (b->len + n > (size_t)CLIENT_MAX_BODY) {
		b->too_big = 1;
		return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
	}
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->data = xrealloc(b->data, b->cap);
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

struct client *
client_new(const char *base_url, const char *secret)
{
	struct client *c = xcalloc(1, sizeof(*c));
	size_t len = strlen(base_url);

	while (len > 0 && base_url[len - 1] == '/')
		len--;
	c->base = xstrndup(base_url, len);
	if (secret != NULL && *secret != '\0')
		c->auth = xasprintf("Authorization: Bearer %s", secret);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c->curl = curl_easy_init();
	return c;
}

void
client_free(struct client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	if (c->auth != NULL) {
		/* The secret should not outlive its use in freed heap memory. */
		memset(c->auth, 0, strlen(c->auth));
		free(c->auth);
	}
	free(c->base);
	free(c);
	curl_global_cleanup();
}

const char *
client_base(const struct client *c)
{
	return c->base;
}

int
client_request(struct client *c, const char *method, const char *path, const char *json_body,
    struct client_reply *reply, char *err, size_t errlen)
{
	struct client_buf buf = { 0 };
	struct curl_slist *headers = NULL;
	char *url = NULL;
	CURLcode rc;
	int ret = -1;

	memset(reply, 0, sizeof(*reply));
	if (c->curl == NULL) {
		snprintf(err, errlen, "cannot initialise libcurl");
		goto out;
	}
	url = xasprintf("%s%s", c->base, path);
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, CLIENT_CONNECT_TIMEOUT_S);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, CLIENT_TIMEOUT_S);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "live-status/" LS_VERSION);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, client_collect);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &buf);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	headers = curl_slist_append(headers, "Accept: application/json");
	/* No "Expect: 100-continue" round trip for small bodies. */
	headers = curl_slist_append(headers, "Expect:");
	if (c->auth != NULL)
		headers = curl_slist_append(headers, c->auth);
	if (json_body != NULL) {
		headers = curl_slist_append(headers, "Content-Type: application/json");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, json_body);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(json_body));
	}
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);

	rc = curl_easy_perform(c->curl);
	if (buf.too_big) {
		snprintf(err, errlen, "answer from %s larger than %ld bytes", url, CLIENT_MAX_BODY);
		goto out;
	}
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "cannot reach %s: %s", url, curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &reply->status);
	reply->body = buf.data != NULL ? buf.data : xstrdup("");
	reply->len = buf.len;
	buf.data = NULL;
	ret = 0;
out:
	/* The handle keeps a pointer to the list until the next reset. */
	if (c->curl != NULL)
		curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
	free(buf.data);
	free(url);
	return ret;
}

void
client_reply_free(struct client_reply *reply)
{
	free(reply->body);
	memset(reply, 0, sizeof(*reply));
}

const char *
client_error_text(const struct client_reply *reply, char *buf, size_t buflen)
{
	struct json_object *root = NULL, *msg;

	if (reply->body != NULL && reply->len > 0)
		root = json_tokener_parse(reply->body);
	if (root != NULL && json_object_is_type(root, json_type_object) &&
	    json_object_object_get_ex(root, "error", &msg) &&
	    json_object_is_type(msg, json_type_string))
		snprintf(buf, buflen, "%s (HTTP %ld)", json_object_get_string(msg), reply->status);
	else
		snprintf(buf, buflen, "HTTP %ld", reply->status);
	json_object_put(root);
	return buf;
}
