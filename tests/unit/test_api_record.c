/* Unit tests of fcgi/api_record: whole FastCGI responses with writev(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "fcgi/api_record.h"

struct job {
	int fd;
	const char *head;
	size_t headlen;
	const char *body;
	size_t bodylen;
	int rc;
};

static void *
writer(void *arg)
{
	struct job *j = arg;

	j->rc = api_record_respond(j->fd, 7, j->head, j->headlen, j->body, j->bodylen);
	close(j->fd);
	return NULL;
}

static size_t
read_all(int fd, unsigned char **out)
{
	size_t len = 0, cap = 1 << 16;
	unsigned char *buf = malloc(cap);
	ssize_t n;

	for (;;) {
		if (len == cap)
			buf = realloc(buf, cap *= 2);
		n = read(fd, buf + len, cap - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	*out = buf;
	return len;
}

/* Sends head + body and checks the records that arrive. */
static void
roundtrip(size_t headlen, size_t bodylen)
{
	char *head = malloc(headlen + 1), *body = malloc(bodylen + 1);
	unsigned char *got, *stream;
	struct job j;
	pthread_t t;
	int sv[2], saw_end = 0, saw_eof = 0;
	size_t i, len, off = 0, slen = 0, clen, plen;

	for (i = 0; i < headlen; i++)
		head[i] = (char)('a' + i % 26);
	for (i = 0; i < bodylen; i++)
		body[i] = (char)('0' + i % 10);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	j.fd = sv[0];
	j.head = head;
	j.headlen = headlen;
	j.body = body;
	j.bodylen = bodylen;
	assert_int_equal(pthread_create(&t, NULL, writer, &j), 0);
	len = read_all(sv[1], &got);
	pthread_join(t, NULL);
	close(sv[1]);
	assert_int_equal(j.rc, 0);

	stream = malloc(headlen + bodylen + 1);
	while (off < len) {
		assert_true(len - off >= 8);
		assert_int_equal(got[off], 1); /* version */
		assert_int_equal((got[off + 2] << 8) | got[off + 3], 7); /* request id */
		clen = (size_t)((got[off + 4] << 8) | got[off + 5]);
		plen = got[off + 6];
		assert_int_equal((clen + plen) % 8, 0);
		assert_false(saw_end);
		if (got[off + 1] == 6) {
			assert_false(saw_eof);
			if (clen == 0)
				saw_eof = 1;
			memcpy(stream + slen, got + off + 8, clen);
			slen += clen;
		} else {
			assert_int_equal(got[off + 1], 3); /* END_REQUEST */
			assert_int_equal(clen, 8);
			assert_true(saw_eof);
			assert_memory_equal(got + off + 8, "\0\0\0\0\0\0\0\0", 8);
			saw_end = 1;
		}
		off += 8 + clen + plen;
	}
	assert_int_equal(off, len);
	assert_true(saw_end);
	assert_int_equal(slen, headlen + bodylen);
	assert_memory_equal(stream, head, headlen);
	if (bodylen > 0)
		assert_memory_equal(stream + headlen, body, bodylen);
	free(stream);
	free(got);
	free(head);
	free(body);
}

static void
test_small(void **state)
{
	(void)state;
	roundtrip(120, 0);
	roundtrip(120, 1);
	roundtrip(7, 23832);
}

static void
test_record_boundaries(void **state)
{
	(void)state;
	roundtrip(100, 65535);
	roundtrip(100, 65536);
	roundtrip(65535, 65535);
}

static void
test_large(void **state)
{
	(void)state;
	/* More records than one writev() takes: several calls, short writes. */
	roundtrip(200, 65535 * 40 + 3);
}

static void
test_peer_gone(void **state)
{
	int sv[2];
	char body[100000];

	(void)state;
	memset(body, 'x', sizeof(body));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(api_record_respond(sv[0], 1, "h", 1, body, sizeof(body)), -1);
	close(sv[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small),
		cmocka_unit_test(test_record_boundaries),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_peer_gone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
