/*
 * Unit tests of the Mattermost client pieces: mm_http (budget, 429 and
 * Retry-After, outcomes), mm_auth (cookie parsing, token and membership
 * caches) and the poster's configuration, against a tiny canned HTTP
 * server on loopback.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "mm/mm_config.h"
#include "mm/mm_http.h"
#include "fcgi/mm_auth.h"

/* ---- a canned server: every answer is the current one ---------------- */

static struct {
	int fd;
	int port;
	pthread_t thread;
	pthread_mutex_t mu;
	int status;
	char headers[256];
	char body[256];
	int requests;
	char last_path[256];
	int delay_ms;   /* each answer waits this long */
	int active;     /* requests being answered now */
	int max_active; /* most at once */
} srv = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void
srv_answer(int status, const char *headers, const char *body)
{
	pthread_mutex_lock(&srv.mu);
	srv.status = status;
	snprintf(srv.headers, sizeof(srv.headers), "%s", headers);
	snprintf(srv.body, sizeof(srv.body), "%s", body);
	pthread_mutex_unlock(&srv.mu);
}

static int
srv_requests(void)
{
	int n;

	pthread_mutex_lock(&srv.mu);
	n = srv.requests;
	pthread_mutex_unlock(&srv.mu);
	return n;
}

static void *
srv_conn(void *arg)
{
	int c = (int)(intptr_t)arg;
	char buf[8192], out[1024];
	size_t len = 0;
	ssize_t n;
	char *end, *cl;
	long body;

	for (;;) {
		while ((end = memmem(buf, len, "\r\n\r\n", 4)) == NULL) {
			if ((n = read(c, buf + len, sizeof(buf) - len - 1)) <= 0)
				goto done;
			len += (size_t)n;
		}
		buf[len] = '\0';
		cl = strcasestr(buf, "Content-Length:");
		body = cl != NULL && cl < end ? strtol(cl + 15, NULL, 10) : 0;
		while ((size_t)(end + 4 - buf) + (size_t)body > len) {
			if ((n = read(c, buf + len, sizeof(buf) - len - 1)) <= 0)
				goto done;
			len += (size_t)n;
			end = memmem(buf, len, "\r\n\r\n", 4);
		}
		pthread_mutex_lock(&srv.mu);
		srv.requests++;
		if (srv.delay_ms > 0) {
			int ms = srv.delay_ms;

			if (++srv.active > srv.max_active)
				srv.max_active = srv.active;
			pthread_mutex_unlock(&srv.mu);
			usleep((useconds_t)ms * 1000);
			pthread_mutex_lock(&srv.mu);
			srv.active--;
		}
		sscanf(buf, "%*s %255s", srv.last_path);
		n = snprintf(out, sizeof(out),
		    "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%s"
		    "Content-Length: %zu\r\n\r\n%s",
		    srv.status, srv.headers, strlen(srv.body), srv.body);
		pthread_mutex_unlock(&srv.mu);
		if (write(c, out, (size_t)n) != n)
			goto done;
		memmove(buf, end + 4 + body, len - (size_t)(end + 4 - buf) - (size_t)body);
		len -= (size_t)(end + 4 - buf) + (size_t)body;
	}
done:
	close(c);
	return NULL;
}

static void *
srv_main(void *arg)
{
	pthread_t t;
	int c;

	(void)arg;
	while ((c = accept(srv.fd, NULL, NULL)) >= 0) {
		pthread_create(&t, NULL, srv_conn, (void *)(intptr_t)c);
		pthread_detach(t);
	}
	return NULL;
}

static int
srv_start(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int one = 1;

	(void)state;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv.fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(srv.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(srv.fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(srv.fd, 16) != 0)
		return -1;
	getsockname(srv.fd, (struct sockaddr *)&a, &alen);
	srv.port = ntohs(a.sin_port);
	srv_answer(200, "", "{}");
	return pthread_create(&srv.thread, NULL, srv_main, NULL);
}

static int
srv_stop(void **state)
{
	(void)state;
	shutdown(srv.fd, SHUT_RDWR);
	close(srv.fd);
	pthread_join(srv.thread, NULL);
	return 0;
}

static struct mm_http *
client(double rate)
{
	char url[64];
	struct mm_http_config c = { .token = "bot", .rate_per_s = rate, .timeout_ms = 2000 };

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", srv.port);
	c.base_url = url;
	return mm_http_new(&c);
}

/* ---- mm_http ----------------------------------------------------------- */

static void
test_http_answer_and_keepalive(void **state)
{
	struct mm_http *h = client(0);
	struct mm_http_resp r;
	int before = srv_requests();

	(void)state;
	srv_answer(201, "", "{\"id\":\"p1\"}");
	assert_int_equal(mm_http_request(h, "POST", "/api/v4/posts", "{}", NULL, &r), 0);
	assert_int_equal(r.outcome, MM_HTTP_ANSWERED);
	assert_int_equal(r.status, 201);
	assert_string_equal(r.body, "{\"id\":\"p1\"}");
	assert_string_equal(srv.last_path, "/api/v4/posts");
	mm_http_resp_free(&r);
	srv_answer(404, "", "{}");
	assert_int_equal(mm_http_request(h, "PUT", "/api/v4/posts/x", "{}", "usertoken", &r), 0);
	assert_int_equal(r.status, 404);
	mm_http_resp_free(&r);
	assert_int_equal(srv_requests(), before + 2);
	mm_http_free(h);
}

static void
test_http_429_holds_everything_back(void **state)
{
	struct mm_http *h = client(0);
	struct mm_http_resp r;
	struct mm_http_stats st;
	int64_t wait;

	(void)state;
	srv_answer(429, "Retry-After: 2\r\nX-Ratelimit-Remaining: 0\r\n", "limit exceeded");
	assert_int_equal(mm_http_request(h, "GET", "/api/v4/users/me", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 429);
	assert_int_equal(r.retry_after_ms, 2000);
	mm_http_resp_free(&r);
	wait = mm_http_wait_ms(h);
	assert_true(wait > 1800 && wait <= 2000);
	srv_answer(200, "", "{}");
	assert_int_equal(mm_http_request(h, "GET", "/api/v4/users/me", NULL, NULL, &r), -1);
	assert_int_equal(r.outcome, MM_HTTP_WAIT);
	mm_http_resp_free(&r);
	mm_http_stats(h, &st);
	assert_int_equal(st.throttled, 1);
	assert_int_equal(st.held_back, 1);
	assert_int_equal(st.by_status[429], 1);
	mm_http_free(h);
}

static void
test_http_empty_bucket_header(void **state)
{
	struct mm_http *h = client(0);
	struct mm_http_resp r;
	int64_t wait;

	(void)state;
	srv_answer(200, "X-Ratelimit-Remaining: 0\r\nX-Ratelimit-Reset: 30\r\n", "{}");
	assert_int_equal(mm_http_request(h, "GET", "/api/v4/users/me", NULL, NULL, &r), 0);
	mm_http_resp_free(&r);
	/* An empty bucket waits a moment, not the whole refill time. */
	wait = mm_http_wait_ms(h);
	assert_true(wait > 0 && wait <= 1000);
	mm_http_free(h);
}

static void
test_http_budget(void **state)
{
	struct mm_http *h = client(2.0);
	struct mm_http_resp r;
	int sent = 0, i;

	(void)state;
	srv_answer(200, "", "{}");
	for (i = 0; i < 5; i++) {
		if (mm_http_request(h, "GET", "/x", NULL, NULL, &r) == 0)
			sent++;
		else
			assert_int_equal(r.outcome, MM_HTTP_WAIT);
		mm_http_resp_free(&r);
	}
	assert_int_equal(sent, 2); /* a burst of one second's worth */
	assert_true(mm_http_wait_ms(h) > 0 && mm_http_wait_ms(h) <= 501);
	mm_http_free(h);
}

static void
test_http_unsent_when_refused(void **state)
{
	struct mm_http_config c = {
		.base_url = "http://127.0.0.1:1", .token = "t", .timeout_ms = 1000
	};
	struct mm_http *h = mm_http_new(&c);
	struct mm_http_resp r;

	(void)state;
	assert_int_equal(mm_http_request(h, "POST", "/api/v4/posts", "{}", NULL, &r), -1);
	assert_int_equal(r.outcome, MM_HTTP_UNSENT);
	assert_true(r.err[0] != '\0');
	mm_http_resp_free(&r);
	mm_http_free(h);
}

/* ---- the connection cap (MM_MAX_CONNECTIONS) ---------------------------- */

struct cap_call {
	struct mm_http *h;
	int rc;
	long status;
};

static void *
cap_call_main(void *arg)
{
	struct cap_call *cc = arg;
	struct mm_http_resp r;

	cc->rc = mm_http_request(cc->h, "GET", "/api/v4/users/me", NULL, NULL, &r);
	cc->status = r.status;
	mm_http_resp_free(&r);
	return NULL;
}

static void
test_http_connection_cap(void **state)
{
	char url[64];
	struct mm_http_config c = { .token = "bot", .timeout_ms = 5000, .max_connections = 2 };
	struct mm_http *h;
	struct mm_http_stats st;
	struct mm_http_resp r;
	struct cap_call calls[6];
	pthread_t t[6];
	int i;

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
	c.base_url = url;
	h = mm_http_new(&c);
	srv_answer(200, "", "{}");
	pthread_mutex_lock(&srv.mu);
	srv.delay_ms = 150;
	srv.active = srv.max_active = 0;
	pthread_mutex_unlock(&srv.mu);
	/* Six threads at once: two on the wire, the others wait their turn. */
	for (i = 0; i < 6; i++) {
		calls[i] = (struct cap_call){ .h = h };
		assert_int_equal(pthread_create(&t[i], NULL, cap_call_main, &calls[i]), 0);
	}
	for (i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(calls[i].rc, 0);
		assert_int_equal(calls[i].status, 200);
	}
	pthread_mutex_lock(&srv.mu);
	assert_int_equal(srv.max_active, 2);
	pthread_mutex_unlock(&srv.mu);
	mm_http_stats(h, &st);
	assert_int_equal(st.max_in_flight, 2);
	assert_true(st.slot_waits >= 4);
	mm_http_free(h);

	/* One connection, busy longer than a caller may wait: that caller's request is unsent. */
	c.max_connections = 1;
	h = mm_http_new(&c);
	pthread_mutex_lock(&srv.mu);
	srv.delay_ms = 600;
	pthread_mutex_unlock(&srv.mu);
	calls[0] = (struct cap_call){ .h = h };
	assert_int_equal(pthread_create(&t[0], NULL, cap_call_main, &calls[0]), 0);
	usleep(150 * 1000);
	assert_int_equal(
	    mm_http_request_within(h, "GET", "/api/v4/users/me", NULL, NULL, 100, &r), -1);
	assert_int_equal(r.outcome, MM_HTTP_UNSENT);
	assert_non_null(strstr(r.err, "all 1 connections to Mattermost busy"));
	mm_http_resp_free(&r);
	pthread_join(t[0], NULL);
	assert_int_equal(calls[0].status, 200);
	pthread_mutex_lock(&srv.mu);
	srv.delay_ms = 0;
	pthread_mutex_unlock(&srv.mu);
	mm_http_free(h);
}

static void
test_http_escape(void **state)
{
	char *s = mm_http_escape("a b/c?d=é");

	(void)state;
	assert_string_equal(s, "a%20b%2Fc%3Fd%3D%C3%A9");
	free(s);
}

/* ---- mm_auth ----------------------------------------------------------- */

static void
test_cookie_token(void **state)
{
	size_t len = 0;
	const char *t;

	(void)state;
	t = mm_auth_cookie_token("MMUSERID=u1; MMAUTHTOKEN=abc123; MMCSRF=x", &len);
	assert_non_null(t);
	assert_int_equal(len, 6);
	assert_memory_equal(t, "abc123", 6);
	t = mm_auth_cookie_token("MMAUTHTOKEN=\"q1\"", &len);
	assert_non_null(t);
	assert_memory_equal(t, "q1", 2);
	assert_null(mm_auth_cookie_token("XMMAUTHTOKEN=abc", &len));
	assert_null(mm_auth_cookie_token("MMAUTHTOKEN=", &len));
	assert_null(mm_auth_cookie_token("a=b;c=d", &len));
	assert_null(mm_auth_cookie_token(NULL, &len));
}

static struct mm_auth *
auth_client(long cache_ms)
{
	char url[64];
	struct mm_auth_config c = { .token = "bot", .cache_ms = cache_ms, .timeout_ms = 2000 };

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
	c.url = url;
	return mm_auth_new(&c);
}

static void
test_auth_user_cache(void **state)
{
	struct mm_auth *a = auth_client(60000);
	char user[MM_AUTH_ID_MAX + 1];
	int before;

	(void)state;
	srv_answer(200, "", "{\"id\":\"user1\",\"username\":\"alice\"}");
	before = srv_requests();
	assert_int_equal(mm_auth_user(a, "tok1", 4, user), MM_AUTH_OK);
	assert_string_equal(user, "user1");
	assert_string_equal(srv.last_path, "/api/v4/users/me");
	assert_int_equal(mm_auth_user(a, "tok1", 4, user), MM_AUTH_OK);
	assert_int_equal(srv_requests(), before + 1);
	/* A different token is a different entry, even sharing a prefix. */
	srv_answer(401, "", "{}");
	assert_int_equal(mm_auth_user(a, "tok12", 5, user), MM_AUTH_UNAUTHENTICATED);
	assert_int_equal(mm_auth_user(a, "tok12", 5, user), MM_AUTH_UNAUTHENTICATED);
	assert_int_equal(srv_requests(), before + 2);
	/* Tokens that cannot be Mattermost's are refused without asking. */
	assert_int_equal(mm_auth_user(a, "a b", 3, user), MM_AUTH_UNAUTHENTICATED);
	assert_int_equal(srv_requests(), before + 2);
	/* No answer: unavailable, and not remembered. */
	srv_answer(502, "", "{}");
	assert_int_equal(mm_auth_user(a, "tok3", 4, user), MM_AUTH_UNAVAILABLE);
	assert_int_equal(mm_auth_user(a, "tok3", 4, user), MM_AUTH_UNAVAILABLE);
	assert_int_equal(srv_requests(), before + 4);
	mm_auth_free(a);
}

static void
test_auth_member_cache(void **state)
{
	struct mm_auth *a = auth_client(60000);
	int before;

	(void)state;
	before = srv_requests();
	srv_answer(200, "", "{\"channel_id\":\"c1\",\"user_id\":\"u1\"}");
	assert_int_equal(mm_auth_member(a, "tok", 3, "u1", "c1"), MM_AUTH_OK);
	assert_string_equal(srv.last_path, "/api/v4/channels/c1/members/me");
	assert_int_equal(mm_auth_member(a, "tok", 3, "u1", "c1"), MM_AUTH_OK);
	srv_answer(403, "", "{}");
	assert_int_equal(mm_auth_member(a, "tok", 3, "u1", "c2"), MM_AUTH_DENIED);
	assert_int_equal(mm_auth_member(a, "tok", 3, "u1", "c2"), MM_AUTH_DENIED);
	assert_int_equal(srv_requests(), before + 2);
	/* Another user is another entry; a box without channel is no one's. */
	assert_int_equal(mm_auth_member(a, "tok", 3, "u2", "c1"), MM_AUTH_DENIED);
	assert_int_equal(mm_auth_member(a, "tok", 3, "u1", ""), MM_AUTH_DENIED);
	assert_int_equal(srv_requests(), before + 3);
	srv_answer(401, "", "{}");
	assert_int_equal(mm_auth_member(a, "tok", 3, "u1", "c3"), MM_AUTH_UNAUTHENTICATED);
	mm_auth_free(a);
}

/* Sleeps until ms have passed since start (util_mono_ms). */
static void
wait_until(int64_t start, long ms)
{
	while (util_mono_ms() - start < ms)
		usleep(20000);
}

/*
 * A token in use is asked about again in the last fifth of its time, by one
 * request, while the entry still answers: it never runs out under its
 * readers.  No answer then: the entry stands until it runs out.  A revoked
 * token is found out at once.
 */
static void
test_auth_refresh_before_run_out(void **state)
{
	struct mm_auth *a = auth_client(3000);
	char user[MM_AUTH_ID_MAX + 1];
	int64_t put;
	int before;

	(void)state;
	srv_answer(200, "", "{\"id\":\"user1\"}");
	before = srv_requests();
	put = util_mono_ms();
	assert_int_equal(mm_auth_user(a, "tokr", 4, user), MM_AUTH_OK);
	assert_int_equal(mm_auth_user(a, "tokr", 4, user), MM_AUTH_OK);
	assert_int_equal(srv_requests(), before + 1);
	wait_until(put, 2600); /* the last fifth: 2400-3000 ms */
	put = util_mono_ms();
	assert_int_equal(mm_auth_user(a, "tokr", 4, user), MM_AUTH_OK);
	assert_string_equal(user, "user1");
	assert_int_equal(srv_requests(), before + 2);
	assert_int_equal(mm_auth_user(a, "tokr", 4, user), MM_AUTH_OK);
	assert_int_equal(srv_requests(), before + 2); /* a whole new time from there */
	wait_until(put, 2600);
	srv_answer(502, "", "{}");
	assert_int_equal(mm_auth_user(a, "tokr", 4, user), MM_AUTH_OK);
	assert_string_equal(user, "user1");
	assert_int_equal(srv_requests(), before + 3);
	srv_answer(401, "", "{}");
	assert_int_equal(mm_auth_user(a, "tokr", 4, user), MM_AUTH_UNAUTHENTICATED);
	assert_int_equal(srv_requests(), before + 4);
	assert_int_equal(mm_auth_user(a, "tokr", 4, user), MM_AUTH_UNAUTHENTICATED);
	assert_int_equal(srv_requests(), before + 4);
	mm_auth_free(a);
}

/* The per-client budget counts new tokens, not a valid one whose entry ran out. */
static void
test_auth_budget_spares_a_known_token(void **state)
{
	char url[64], user[MM_AUTH_ID_MAX + 1];
	struct mm_auth_config c = {
		.token = "bot", .cache_ms = 300, .timeout_ms = 2000, .client_lookups = 1
	};
	struct mm_auth *a;
	int64_t put;
	int retry = 0;

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
	c.url = url;
	a = mm_auth_new(&c);
	srv_answer(200, "", "{\"id\":\"user1\"}");
	put = util_mono_ms();
	assert_int_equal(mm_auth_user_from(a, "tokb", 4, "10.0.0.9", user, &retry), MM_AUTH_OK);
	wait_until(put, 400); /* ran out */
	assert_int_equal(mm_auth_user_from(a, "tokb", 4, "10.0.0.9", user, &retry), MM_AUTH_OK);
	assert_int_equal(
	    mm_auth_user_from(a, "tokc", 4, "10.0.0.9", user, &retry), MM_AUTH_THROTTLED);
	assert_true(retry >= 1);
	mm_auth_free(a);
}

static void
test_auth_no_cache(void **state)
{
	struct mm_auth *a = auth_client(0);
	char user[MM_AUTH_ID_MAX + 1];
	int before = srv_requests();

	(void)state;
	srv_answer(200, "", "{\"id\":\"user1\"}");
	assert_int_equal(mm_auth_user(a, "tok", 3, user), MM_AUTH_OK);
	assert_int_equal(mm_auth_user(a, "tok", 3, user), MM_AUTH_OK);
	assert_int_equal(srv_requests(), before + 2);
	mm_auth_free(a);
}

static void
test_create_livestatus_post(void **state)
{
	struct mm_auth *a = auth_client(1000);
	char err[128], *post_id = NULL;

	(void)state;
	srv_answer(201, "", "{\"id\":\"post00000000000000000000001\"}");
	assert_int_equal(mm_create_livestatus_post(
	                     a, "c1", "", "box-1", "> [ACTIVE] main", &post_id, err, sizeof(err)),
	    0);
	assert_string_equal(post_id, "post00000000000000000000001");
	free(post_id);
	srv_answer(400, "", "{}");
	assert_int_equal(
	    mm_create_livestatus_post(a, "c1", NULL, "box-2", NULL, &post_id, err, sizeof(err)),
	    -1);
	assert_null(post_id);
	assert_string_equal(err, "mattermost answered 400");
	assert_null(mm_auth_new(&(struct mm_auth_config){ 0 }));
	mm_auth_free(a);
}

/* ---- configuration ----------------------------------------------------- */

static void
clear_env(void)
{
	static const char *const names[] = { "MM_URL", "MM_BASE_URL", "MM_TOKEN", "MM_BOT_TOKEN",
		"THROTTLE_MS", "PLUGIN_ENABLED", "DEFAULT_CHANNEL", "CIRCUIT_BREAKER_COOLDOWN_S",
		"MM_RATE_LIMIT", "AUTH_CACHE_S", "MM_MAX_CONNECTIONS", NULL };
	int i;

	for (i = 0; names[i] != NULL; i++)
		unsetenv(names[i]);
}

static void
test_config(void **state)
{
	struct mm_config c;
	struct mm_auth_config ac;
	char err[256];

	(void)state;
	clear_env();
	assert_int_equal(mm_config_from_env(&c, err, sizeof(err)), 0);
	assert_null(c.url);
	assert_int_equal(c.throttle_ms, 500);
	assert_int_equal(c.max_message_chars, 15000);
	assert_int_equal(c.breaker_threshold, 5);
	assert_int_equal(c.breaker_cooldown_ms, 30000);
	assert_true(c.rate_limit == 10.0);
	assert_int_equal(c.plugin_check_ms, 60000);
	assert_int_equal(c.plugin_enabled, 1);
	mm_config_free(&c);

	setenv("MM_BASE_URL", "https://chat.example.com", 1);
	assert_int_equal(mm_config_from_env(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "MM_TOKEN"));
	setenv("MM_BOT_TOKEN", "tok", 1);
	setenv("PLUGIN_ENABLED", "false", 1);
	setenv("CIRCUIT_BREAKER_COOLDOWN_S", "7", 1);
	assert_int_equal(mm_config_from_env(&c, err, sizeof(err)), 0);
	assert_string_equal(c.url, "https://chat.example.com");
	assert_string_equal(c.token, "tok");
	assert_int_equal(c.plugin_enabled, 0);
	assert_int_equal(c.breaker_cooldown_ms, 7000);
	mm_config_free(&c);

	setenv("MM_URL", "chat.example.com", 1);
	assert_int_equal(mm_config_from_env(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "MM_URL"));
	setenv("MM_URL", "http://x", 1);
	setenv("THROTTLE_MS", "fast", 1);
	assert_int_equal(mm_config_from_env(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "THROTTLE_MS"));

	setenv("AUTH_CACHE_S", "5", 1);
	assert_int_equal(mm_auth_config_from_env(&ac, err, sizeof(err)), 0);
	assert_string_equal(ac.url, "http://x");
	assert_int_equal(ac.cache_ms, 5000);
	assert_int_equal(ac.max_connections, MM_HTTP_DEFAULT_MAX_CONNECTIONS);
	setenv("MM_MAX_CONNECTIONS", "3", 1);
	assert_int_equal(mm_auth_config_from_env(&ac, err, sizeof(err)), 0);
	assert_int_equal(ac.max_connections, 3);
	setenv("MM_MAX_CONNECTIONS", "0", 1);
	assert_int_equal(mm_auth_config_from_env(&ac, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "MM_MAX_CONNECTIONS"));
	unsetenv("MM_MAX_CONNECTIONS");
	setenv("AUTH_CACHE_S", "-1", 1);
	assert_int_equal(mm_auth_config_from_env(&ac, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "AUTH_CACHE_S"));
	clear_env();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_answer_and_keepalive),
		cmocka_unit_test(test_http_429_holds_everything_back),
		cmocka_unit_test(test_http_empty_bucket_header),
		cmocka_unit_test(test_http_budget),
		cmocka_unit_test(test_http_unsent_when_refused),
		cmocka_unit_test(test_http_connection_cap),
		cmocka_unit_test(test_http_escape),
		cmocka_unit_test(test_cookie_token),
		cmocka_unit_test(test_auth_user_cache),
		cmocka_unit_test(test_auth_member_cache),
		cmocka_unit_test(test_auth_no_cache),
		cmocka_unit_test(test_auth_refresh_before_run_out),
		cmocka_unit_test(test_auth_budget_spares_a_known_token),
		cmocka_unit_test(test_create_livestatus_post),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, srv_start, srv_stop);
}
