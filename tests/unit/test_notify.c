/*
 * Unit tests of the change notifier (common/notify.h) against a small HTTP
 * server of the test's own on loopback, which records each request and
 * answers as a test tells it: kept alive, closed after the answer (with or
 * without saying so), chunked, an error status, or not at all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/notify.h"

enum srv_mode {
	SRV_KEEP,           /* 202 with a Content-Length, connection kept */
	SRV_CLOSE_SILENTLY, /* 202 with a Content-Length, then the server closes */
	SRV_CLOSE_SAID,     /* 202 with "Connection: close", then closes */
	SRV_CHUNKED,        /* 202 chunked, connection kept */
	SRV_ERROR,          /* 500 with a Content-Length, connection kept */
};

#define SRV_MAX_REQ 16

struct srv {
	int fd, port;
	enum srv_mode mode;
	pthread_t thread;
	pthread_mutex_t mu;
	int conns;                  /* connections accepted */
	int nreq;                   /* requests answered */
	char req[SRV_MAX_REQ][512]; /* "<path> <body>" of each */
};

/* Reads one request (headers and a Content-Length body); 0 at EOF. */
static int
srv_read_request(int c, char *path, size_t pathlen, char *body, size_t bodylen)
{
	char buf[4096], *end, *cl;
	size_t got = 0;
	long len;
	ssize_t r;

	for (;;) {
		r = read(c, buf + got, sizeof(buf) - 1 - got);
		if (r <= 0)
			return 0;
		got += (size_t)r;
		buf[got] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
	}
	cl = strcasestr(buf, "Content-Length:");
	len = cl != NULL ? strtol(cl + 15, NULL, 10) : 0;
	while ((size_t)(end + 4 - buf) + (size_t)len > got) {
		r = read(c, buf + got, sizeof(buf) - 1 - got);
		if (r <= 0)
			return 0;
		got += (size_t)r;
		buf[got] = '\0';
	}
	if (sscanf(buf, "POST %255s HTTP/1.1", path) != 1)
		snprintf(path, pathlen, "(not a POST)");
	snprintf(body, bodylen, "%.*s", (int)len, end + 4);
	return 1;
}

static void *
srv_main(void *arg)
{
	struct srv *s = arg;
	char path[256], body[256], *answer;
	int c, keep;

	while ((c = accept(s->fd, NULL, NULL)) >= 0) {
		pthread_mutex_lock(&s->mu);
		s->conns++;
		pthread_mutex_unlock(&s->mu);
		do {
			if (!srv_read_request(c, path, sizeof(path), body, sizeof(body)))
				break;
			pthread_mutex_lock(&s->mu);
			if (s->nreq < SRV_MAX_REQ)
				snprintf(s->req[s->nreq], sizeof(s->req[0]), "%s %s", path, body);
			s->nreq++;
			keep =
			    s->mode == SRV_KEEP || s->mode == SRV_CHUNKED || s->mode == SRV_ERROR;
			switch (s->mode) {
			case SRV_CLOSE_SAID:
				answer = "HTTP/1.1 202 Accepted\r\nConnection: close\r\n"
				         "Content-Length: 2\r\n\r\nok";
				break;
			case SRV_CHUNKED:
				answer =
				    "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
				    "2\r\nok\r\n0\r\n\r\n";
				break;
			case SRV_ERROR:
				answer = "HTTP/1.1 500 Internal Server Error\r\n"
				         "Content-Length: 4\r\n\r\nnope";
				break;
			default:
				answer = "HTTP/1.1 202 Accepted\r\nContent-Type: text/plain\r\n"
				         "Content-Length: 19\r\n\r\nqueued messages: 1\n";
				break;
			}
			pthread_mutex_unlock(&s->mu);
			if (write(c, answer, strlen(answer)) < 0)
				break;
		} while (keep);
		close(c);
	}
	return NULL;
}

static struct srv *
srv_start(enum srv_mode mode)
{
	struct srv *s = calloc(1, sizeof(*s));
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);

	assert_non_null(s);
	s->mode = mode;
	pthread_mutex_init(&s->mu, NULL);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 8), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->thread, NULL, srv_main, s), 0);
	return s;
}

static void
srv_stop(struct srv *s)
{
	shutdown(s->fd, SHUT_RDWR); /* accept() returns */
	pthread_join(s->thread, NULL);
	close(s->fd);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static struct notify *
notifier(struct srv *s, const char *path)
{
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->port, path);
	return notify_new(url);
}

/* Three notices, one connection; each to its channel's path, or the base. */
static void
test_notice_lines_and_connections(void **state)
{
	struct srv *s = srv_start(SRV_KEEP);
	struct notify *n = notifier(s, "/pub");
	int64_t sent = notify_sent_total(), failed = notify_failed_total();

	(void)state;
	notify_box(n, 7, "box-1", "chanA");
	notify_box(n, 9, "orphan", NULL);
	notify_box(n, 10, "odd", "not/a/channel");
	notify_free(n);
	pthread_mutex_lock(&s->mu);
	assert_int_equal(s->conns, 1);
	assert_int_equal(s->nreq, 3);
	assert_string_equal(
	    s->req[0], "/pub/chanA {\"revision\":7,\"id\":\"box-1\",\"channel_id\":\"chanA\"}");
	assert_string_equal(
	    s->req[1], "/pub {\"revision\":9,\"id\":\"orphan\",\"channel_id\":\"\"}");
	assert_string_equal(
	    s->req[2], "/pub {\"revision\":10,\"id\":\"odd\",\"channel_id\":\"not/a/channel\"}");
	pthread_mutex_unlock(&s->mu);
	srv_stop(s);
	assert_int_equal(notify_sent_total() - sent, 3);
	assert_int_equal(notify_failed_total() - failed, 0);
}

/*
 * A server that closes a kept connection (nginx's keepalive_timeout) is not
 * a failure: the notice goes out again on a new connection.  Said or not.
 */
static void
test_closed_connections_are_reopened(void **state)
{
	enum srv_mode modes[] = { SRV_CLOSE_SILENTLY, SRV_CLOSE_SAID, SRV_CHUNKED };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct srv *s = srv_start(modes[i]);
		struct notify *n = notifier(s, "/pub");
		int64_t sent = notify_sent_total(), failed = notify_failed_total();
		int k;

		for (k = 0; k < 3; k++)
			notify_box(n, k + 1, "box", "chan");
		notify_free(n);
		pthread_mutex_lock(&s->mu);
		assert_int_equal(s->nreq, 3);
		assert_int_equal(s->conns, 3);
		pthread_mutex_unlock(&s->mu);
		srv_stop(s);
		assert_int_equal(notify_sent_total() - sent, 3);
		assert_int_equal(notify_failed_total() - failed, 0);
	}
}

static void
test_error_status_and_refusal_count_as_failed(void **state)
{
	struct srv *s = srv_start(SRV_ERROR);
	struct notify *n = notifier(s, "/pub");
	int64_t sent = notify_sent_total(), failed = notify_failed_total();
	int port = s->port;
	char url[64];

	(void)state;
	notify_box(n, 1, "box", "chan");
	notify_box(n, 2, "box", "chan");
	assert_int_equal(notify_failed_total() - failed, 2);
	notify_free(n);
	srv_stop(s);
	/* nothing listens there any more */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/pub", port);
	n = notify_new(url);
	notify_box(n, 3, "box", "chan");
	notify_free(n);
	assert_int_equal(notify_sent_total() - sent, 0);
	assert_int_equal(notify_failed_total() - failed, 3);
}

/* No URL, or one that cannot work: notices are off, nothing is counted. */
static void
test_bad_urls_turn_notices_off(void **state)
{
	const char *urls[] = { NULL, "", "http://", "http://[::1/pub", "http://127.0.0.1:x/pub",
		"http://127.0.0.1:/pub" };
	int64_t sent = notify_sent_total(), failed = notify_failed_total();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		struct notify *n = notify_new(urls[i]);

		assert_non_null(n);
		notify_box(n, 1, "box", "chan");
		notify_free(n);
	}
	assert_int_equal(notify_sent_total() - sent, 0);
	assert_int_equal(notify_failed_total() - failed, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notice_lines_and_connections),
		cmocka_unit_test(test_closed_connections_are_reopened),
		cmocka_unit_test(test_error_status_and_refusal_count_as_failed),
		cmocka_unit_test(test_bad_urls_turn_notices_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
