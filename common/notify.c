/* notify: nchan change notices over HTTP with libcurl. */
#include "common/notify.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/xmalloc.h"

#define NOTIFY_TIMEOUT_MS 1000L

struct notify {
	CURL *curl;
	struct curl_slist *headers;
	char *url;
};

static atomic_llong notify_sent, notify_failed;

int64_t
notify_sent_total(void)
{
	return (int64_t)atomic_load(&notify_sent);
}

int64_t
notify_failed_total(void)
{
	return (int64_t)atomic_load(&notify_failed);
}

static size_t
notify_discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
	(void)ptr;
	(void)arg;
	return size * nmemb;
}

struct notify *
notify_new(const char *url)
{
	struct notify *n = xcalloc(1, sizeof(*n));

	if (url == NULL || *url == '\0')
		return n;
	n->url = xstrdup(url);
	n->curl = curl_easy_init();
	if (n->curl == NULL) {
		log_error("cannot initialise libcurl for notices");
		return n;
	}
	n->headers = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(n->curl, CURLOPT_URL, n->url);
	curl_easy_setopt(n->curl, CURLOPT_HTTPHEADER, n->headers);
	curl_easy_setopt(n->curl, CURLOPT_TIMEOUT_MS, NOTIFY_TIMEOUT_MS);
	curl_easy_setopt(n->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(n->curl, CURLOPT_WRITEFUNCTION, notify_discard);
	return n;
}

/* 1 when channel_id can name an nchan channel of nginx/livestatus.conf. */
static int
notify_channel_ok(const char *channel_id)
{
	size_t n;

	if (channel_id == NULL)
		return 0;
	n = strspn(channel_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
	return n > 0 && n <= 64 && channel_id[n] == '\0';
}

void
notify_box(struct notify *n, int64_t revision, const char *id, const char *channel_id)
{
	char body[512], url[1024];
	long code = 0;
	CURLcode rc;
	int len;

	if (n == NULL || n->curl == NULL)
		return;
	/* A channel's notices go to its own nchan channel (and "all"). */
	if (notify_channel_ok(channel_id))
		snprintf(url, sizeof(url), "%s/%s", n->url, channel_id);
	else
		snprintf(url, sizeof(url), "%s", n->url);
	curl_easy_setopt(n->curl, CURLOPT_URL, url);
	/* Ids and channel ids are [A-Za-z0-9_.:-], so no escaping is needed. */
	len = snprintf(body, sizeof(body),
	    "{\"revision\":%" PRId64 ",\"id\":\"%s\",\"channel_id\":\"%s\"}", revision, id,
	    channel_id != NULL ? channel_id : "");
	if (len < 0 || (size_t)len >= sizeof(body))
		return;
	curl_easy_setopt(n->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(n->curl, CURLOPT_POSTFIELDSIZE, (long)len);
	rc = curl_easy_perform(n->curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(n->curl, CURLINFO_RESPONSE_CODE, &code);
	if (rc != CURLE_OK || code >= 300) {
		atomic_fetch_add(&notify_failed, 1);
		log_warn("cannot publish change notice", "url", n->url, "err",
		    rc != CURLE_OK ? curl_easy_strerror(rc) : "http status", "status",
		    LOG_I64(code));
		return;
	}
	atomic_fetch_add(&notify_sent, 1);
}

void
notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	if (n->curl != NULL)
		curl_easy_cleanup(n->curl);
	curl_slist_free_all(n->headers);
	free(n->url);
	free(n);
}
