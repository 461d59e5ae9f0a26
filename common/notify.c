/*
 * notify: nchan change notices over HTTP/1.1.
 *
 * The publisher is nginx on loopback, so a plain http:// URL gets a small
 * client of its own here: one kept-alive connection, a POST with a
 * Content-Length, the status line and headers read back, the body skipped by
 * its Content-Length (anything else closes the connection after the answer).
 * Keeping libcurl out of this path keeps it, and its TLS libraries, out of
 * the process when nothing else needs them (lcurl.h).  An https:// URL,
 * which nobody needs on loopback but the configuration accepts, goes through
 * libcurl.
 */
#include "common/notify.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/lcurl.h"
#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"

#define NOTIFY_TIMEOUT_MS 1000L
/* Status line and headers of an answer; nchan's are a few hundred bytes. */
#define NOTIFY_HEAD_MAX 8192
/* A body longer than this is not read: the connection is closed instead. */
#define NOTIFY_BODY_MAX (64 * 1024)

struct notify {
	char *url;
	/* http://: where to connect and what to send */
	char *host; /* the Host header: the URL's authority */
	char *path; /* the URL's path, "/" when it has none */
	struct addrinfo *addrs;
	int fd; /* the kept-alive connection, -1 when none */
	/* https://: libcurl */
	CURL *curl;
	struct curl_slist *headers;
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

/*
 * Splits http://host[:port][/path] into n->host, n->path and the addresses
 * to connect to.  Returns -1 with a reason in err.
 */
static int
notify_parse_http(struct notify *n, const char *url, char *err, size_t errlen)
{
	struct addrinfo hints = { 0 };
	const char *auth = url + strlen("http://"), *slash, *colon, *close;
	char name[256], port[16];
	size_t alen, hlen;
	int rc;

	slash = strchr(auth, '/');
	alen = slash != NULL ? (size_t)(slash - auth) : strlen(auth);
	if (alen == 0 || alen >= sizeof(name)) {
		snprintf(err, errlen, "no host in the URL");
		return -1;
	}
	n->host = xstrndup(auth, alen);
	n->path = xstrdup(slash != NULL ? slash : "/");
	/* [v6]:port, host:port or host */
	snprintf(port, sizeof(port), "80");
	if (auth[0] == '[') {
		close = memchr(auth, ']', alen);
		if (close == NULL) {
			snprintf(err, errlen, "unclosed [ in the URL's host");
			return -1;
		}
		hlen = (size_t)(close - auth - 1);
		memcpy(name, auth + 1, hlen);
		colon = close + 1 < auth + alen && close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = memchr(auth, ':', alen);
		hlen = colon != NULL ? (size_t)(colon - auth) : alen;
		memcpy(name, auth, hlen);
	}
	name[hlen] = '\0';
	if (colon != NULL) {
		size_t plen = (size_t)(auth + alen - colon - 1);

		if (plen == 0 || plen >= sizeof(port) || strspn(colon + 1, "0123456789") < plen) {
			snprintf(err, errlen, "bad port in the URL");
			return -1;
		}
		memcpy(port, colon + 1, plen);
		port[plen] = '\0';
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(name, port, &hints, &n->addrs);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve %.100s: %s", name, gai_strerror(rc));
		return -1;
	}
	return 0;
}

static int
notify_setup_curl(struct notify *n, char *err, size_t errlen)
{
	if (lcurl_load(err, errlen) < 0)
		return -1;
	n->curl = lcurl.easy_init();
	if (n->curl == NULL) {
		snprintf(err, errlen, "libcurl cannot start");
		return -1;
	}
	n->headers = lcurl.slist_append(NULL, "Content-Type: application/json");
	lcurl.easy_setopt(n->curl, CURLOPT_HTTPHEADER, n->headers);
	lcurl.easy_setopt(n->curl, CURLOPT_TIMEOUT_MS, NOTIFY_TIMEOUT_MS);
	lcurl.easy_setopt(n->curl, CURLOPT_NOSIGNAL, 1L);
	lcurl.easy_setopt(n->curl, CURLOPT_WRITEFUNCTION, notify_discard);
	return 0;
}

struct notify *
notify_new(const char *url)
{
	struct notify *n = xcalloc(1, sizeof(*n));
	char err[256] = "";
	int rc;

	n->fd = -1;
	if (url == NULL || *url == '\0')
		return n;
	if (strncasecmp(url, "http://", 7) == 0)
		rc = notify_parse_http(n, url, err, sizeof(err));
	else
		rc = notify_setup_curl(n, err, sizeof(err));
	if (rc < 0) {
		/* Like no URL at all, but said once: pollers still see every change. */
		log_error("change notices are off", "url", url, "err", err);
		return n;
	}
	n->url = xstrdup(url);
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

/* Waits until fd is ready for events or the deadline passes (-1, errno ETIMEDOUT). */
static int
notify_wait(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left;
	int rc;

	for (;;) {
		left = deadline - util_mono_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		rc = poll(&p, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

/* A non-blocking connection to the first address that answers. */
static int
notify_connect(struct notify *n, int64_t deadline)
{
	struct addrinfo *a;
	int fd = -1, soerr, saved = ECONNREFUSED;
	socklen_t len;

	for (a = n->addrs; a != NULL; a = a->ai_next) {
		fd = socket(
		    a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			return fd;
		if (errno == EINPROGRESS && notify_wait(fd, POLLOUT, deadline) == 0) {
			len = sizeof(soerr);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0)
				return fd;
			saved = soerr;
		} else {
			saved = errno;
		}
		close(fd);
		fd = -1;
	}
	errno = saved;
	return -1;
}

static int
notify_send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
	ssize_t w;

	while (len > 0) {
		w = send(fd, buf, len, MSG_NOSIGNAL);
		if (w > 0) {
			buf += w;
			len -= (size_t)w;
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (notify_wait(fd, POLLOUT, deadline) < 0)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

/*
 * One recv() of up to len bytes, waiting for data until the deadline: the
 * byte count, 0 when the server closed, or -1 with errno set (ETIMEDOUT).
 */
static ssize_t
notify_recv(int fd, char *buf, size_t len, int64_t deadline)
{
	ssize_t r;

	for (;;) {
		r = recv(fd, buf, len, 0);
		if (r >= 0)
			return r;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (notify_wait(fd, POLLIN, deadline) < 0)
				return -1;
		} else if (errno != EINTR) {
			return -1;
		}
	}
}

/*
 * Reads one answer: its status into *status, and whether the connection may
 * carry the next request into *keep.  Returns 0, or -1 with errno set
 * (ECONNRESET when the server closed before answering anything, EPROTO for
 * an answer that is not HTTP).
 */
static int
notify_read_answer(int fd, int64_t deadline, long *status, int *keep)
{
	char head[NOTIFY_HEAD_MAX + 1], *end, *line, *next;
	size_t got = 0;
	long long body = -1;
	ssize_t r;
	int minor;

	*keep = 0;
	for (;;) {
		r = notify_recv(fd, head + got, NOTIFY_HEAD_MAX - got, deadline);
		if (r < 0)
			return -1;
		if (r == 0) {
			errno = got == 0 ? ECONNRESET : EPROTO;
			return -1;
		}
		got += (size_t)r;
		head[got] = '\0';
		if ((end = strstr(head, "\r\n\r\n")) != NULL)
			break;
		if (got == NOTIFY_HEAD_MAX) {
			errno = EPROTO;
			return -1;
		}
	}
	if (sscanf(head, "HTTP/1.%d %ld", &minor, status) != 2 || *status < 100 || *status > 999) {
		errno = EPROTO;
		return -1;
	}
	*keep = minor >= 1;
	*end = '\0';
	for (line = strstr(head, "\r\n"); line != NULL; line = next) {
		line += 2;
		next = strstr(line, "\r\n");
		if (next != NULL)
			*next = '\0';
		if (strncasecmp(line, "Content-Length:", 15) == 0)
			body = strtoll(line + 15, NULL, 10);
		else if (strncasecmp(line, "Connection:", 11) == 0 && strcasestr(line, "close"))
			*keep = 0;
		else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0)
			*keep = 0; /* chunked: not worth a parser for a hint */
	}
	if (body < 0 || body > NOTIFY_BODY_MAX) {
		*keep = 0;
		return 0;
	}
	/* What came after the headers counts toward the body. */
	body -= (long long)(got - (size_t)(end + 4 - head));
	while (body > 0) {
		r = notify_recv(fd, head, sizeof(head) - 1, deadline);
		if (r <= 0) {
			*keep = 0;
			return 0; /* the status is known; the rest of the body does not matter */
		}
		body -= r;
	}
	if (body < 0)
		*keep = 0; /* more than announced: do not trust the connection */
	return 0;
}

/* One POST over the kept-alive connection; a new one when that fails unused. */
static int
notify_post_http(
    struct notify *n, const char *path, const char *body, int len, long *status, const char **why)
{
	char req[1536];
	int64_t deadline = util_mono_ms() + NOTIFY_TIMEOUT_MS;
	int reqlen, attempt, reused, keep, saved;

	reqlen = snprintf(req, sizeof(req),
	    "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %d\r\n\r\n%s",
	    path, n->host, len, body);
	if (reqlen < 0 || (size_t)reqlen >= sizeof(req)) {
		*why = "notice too long";
		return -1;
	}
	for (attempt = 0; attempt < 2; attempt++) {
		reused = n->fd >= 0;
		if (n->fd < 0 && (n->fd = notify_connect(n, deadline)) < 0) {
			*why = strerror(errno);
			return -1;
		}
		if (notify_send_all(n->fd, req, (size_t)reqlen, deadline) == 0 &&
		    notify_read_answer(n->fd, deadline, status, &keep) == 0) {
			if (!keep) {
				close(n->fd);
				n->fd = -1;
			}
			return 0;
		}
		saved = errno;
		*why = strerror(saved);
		close(n->fd);
		n->fd = -1;
		/* Only a kept-alive connection the server has meanwhile closed is retried. */
		if (!reused || (saved != ECONNRESET && saved != EPIPE))
			return -1;
	}
	return -1;
}

static int
notify_post_curl(
    struct notify *n, const char *url, const char *body, int len, long *status, const char **why)
{
	CURLcode rc;

	lcurl.easy_setopt(n->curl, CURLOPT_URL, url);
	lcurl.easy_setopt(n->curl, CURLOPT_POSTFIELDS, body);
	lcurl.easy_setopt(n->curl, CURLOPT_POSTFIELDSIZE, (long)len);
	rc = lcurl.easy_perform(n->curl);
	if (rc != CURLE_OK) {
		*why = lcurl.easy_strerror(rc);
		return -1;
	}
	lcurl.easy_getinfo(n->curl, CURLINFO_RESPONSE_CODE, status);
	return 0;
}

void
notify_box(struct notify *n, int64_t revision, const char *id, const char *channel_id)
{
	char body[512], target[1024];
	const char *why = "http status";
	long status = 0;
	int len, rc;

	if (n == NULL || n->url == NULL)
		return;
	/* Ids and channel ids are [A-Za-z0-9_.:-], so no escaping is needed. */
	len = snprintf(body, sizeof(body),
	    "{\"revision\":%" PRId64 ",\"id\":\"%s\",\"channel_id\":\"%s\"}", revision, id,
	    channel_id != NULL ? channel_id : "");
	if (len < 0 || (size_t)len >= sizeof(body))
		return;
	/* A channel's notices go to its own nchan channel (and "all"). */
	if (n->curl != NULL) {
		if (notify_channel_ok(channel_id))
			snprintf(target, sizeof(target), "%s/%s", n->url, channel_id);
		else
			snprintf(target, sizeof(target), "%s", n->url);
		rc = notify_post_curl(n, target, body, len, &status, &why);
	} else {
		if (notify_channel_ok(channel_id))
			snprintf(target, sizeof(target), "%s%s%s", n->path,
			    n->path[strlen(n->path) - 1] == '/' ? "" : "/", channel_id);
		else
			snprintf(target, sizeof(target), "%s", n->path);
		rc = notify_post_http(n, target, body, len, &status, &why);
	}
	if (rc < 0 || status >= 300) {
		atomic_fetch_add(&notify_failed, 1);
		log_warn("cannot publish change notice", "url", n->url, "err", why, "status",
		    LOG_I64(status));
		return;
	}
	atomic_fetch_add(&notify_sent, 1);
}

void
notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	if (n->curl != NULL) {
		lcurl.easy_cleanup(n->curl);
		lcurl.slist_free_all(n->headers);
	}
	if (n->fd >= 0)
		close(n->fd);
	if (n->addrs != NULL)
		freeaddrinfo(n->addrs);
	free(n->host);
	free(n->path);
	free(n->url);
	free(n);
}
