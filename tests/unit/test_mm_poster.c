/*
 * The poster (mm/mm_poster.h) against a stub transport: each test makes a
 * poster on a store of its own in a temp folder, with a struct mm_client
 * whose request() records what was sent and answers as the test says, and
 * drives it with mm_poster_pass() (no thread).  Throttle merging, the
 * circuit breaker, 429 with Retry-After, the final text in plugin mode, and
 * a restart that finds its post instead of making a second one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tests/unit/unit_tmp.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "mm/mm_poster.h"
#include "sql/store_mm.h"

#define STUB_MAX 256

/* One scripted answer: status 0 = no answer with that outcome. */
struct stub_answer {
	long status;
	enum mm_http_outcome outcome;
	int64_t retry_after_ms;
};

struct stub {
	int n;
	char *method[STUB_MAX];
	char *path[STUB_MAX];
	char *body[STUB_MAX];
	struct stub_answer script[16]; /* answered first, in order */
	int nscript, iscript;
	int down;           /* every request: no answer (MM_HTTP_UNSENT) */
	int plugin;         /* GET /api/v4/plugins/webapp lists the plugin */
	const char *listed; /* answer of GET /api/v4/channels/.../posts */
	int posts;          /* post ids made */
};

struct fixture {
	char dir[64];
	char path[96];
	store *st;
	struct stub stub;
	struct mm_client client;
	struct mm_config cfg;
};

static int
stub_request(void *ctx, const char *method, const char *path, const char *json_body,
    const char *bearer, long timeout_ms, struct mm_http_resp *resp)
{
	struct stub *s = ctx;
	struct stub_answer a = { 200, MM_HTTP_ANSWERED, 0 };

	(void)bearer;
	(void)timeout_ms;
	memset(resp, 0, sizeof(*resp));
	assert_true(s->n < STUB_MAX);
	s->method[s->n] = xstrdup(method);
	s->path[s->n] = xstrdup(path);
	s->body[s->n] = xstrdup(json_body != NULL ? json_body : "");
	s->n++;
	if (s->iscript < s->nscript)
		a = s->script[s->iscript++];
	else if (s->down)
		a = (struct stub_answer){ 0, MM_HTTP_UNSENT, 0 };
	if (a.status == 0) {
		resp->outcome = a.outcome;
		resp->body = xstrdup("");
		snprintf(resp->err, sizeof(resp->err), "stub: no answer");
		return -1;
	}
	resp->outcome = MM_HTTP_ANSWERED;
	resp->status = a.status;
	resp->retry_after_ms = a.retry_after_ms;
	if (a.status != 200)
		resp->body = xstrdup("{}");
	else if (strcmp(path, "/api/v4/plugins/webapp") == 0)
		resp->body = xstrdup(s->plugin ? "[{\"id\":\"com.openclaw.livestatus\"}]" : "[]");
	else if (strcmp(method, "POST") == 0 && strcmp(path, "/api/v4/posts") == 0)
		resp->body = xasprintf("{\"id\":\"post%d\"}", ++s->posts);
	else if (strncmp(path, "/api/v4/channels/", 17) == 0 && s->listed != NULL)
		resp->body = xstrdup(s->listed);
	else
		resp->body = xstrdup("{\"posts\":{}}");
	resp->len = strlen(resp->body);
	return 0;
}

static int64_t
stub_wait(void *ctx)
{
	(void)ctx;
	return 0;
}

/* Requests sent with method and a path starting with prefix. */
static int
stub_count(const struct stub *s, const char *method, const char *prefix)
{
	int i, n = 0;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->method[i], method) == 0 &&
		    strncmp(s->path[i], prefix, strlen(prefix)) == 0)
			n++;
	return n;
}

/* The body of the last such request, or NULL. */
static const char *
stub_last(const struct stub *s, const char *method, const char *prefix)
{
	int i;

	for (i = s->n - 1; i >= 0; i--)
		if (strcmp(s->method[i], method) == 0 &&
		    strncmp(s->path[i], prefix, strlen(prefix)) == 0)
			return s->body[i];
	return NULL;
}

static void
stub_reset(struct stub *s)
{
	int i;

	for (i = 0; i < s->n; i++) {
		free(s->method[i]);
		free(s->path[i]);
		free(s->body[i]);
	}
	s->n = 0;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	unit_tmp_make(f->dir, sizeof(f->dir), f->path, sizeof(f->path), "poster");
	assert_int_equal(store_open(f->path, &f->st, err, sizeof(err)), STORE_OK);
	f->client =
	    (struct mm_client){ .request = stub_request, .wait_ms = stub_wait, .ctx = &f->stub };
	f->cfg.url = "http://mattermost.invalid";
	f->cfg.token = "bot-token";
	f->cfg.plugin_enabled = 0;
	f->cfg.throttle_ms = 0;
	f->cfg.max_message_chars = 15000;
	f->cfg.breaker_threshold = 5;
	f->cfg.breaker_cooldown_ms = 1000;
	f->cfg.plugin_check_ms = 60000;
	f->cfg.timeout_ms = 1000;
	f->cfg.stop_flush_ms = 0;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	stub_reset(&f->stub);
	store_close(f->st);
	unit_tmp_remove(f->dir);
	free(f);
	return 0;
}

/* Writes (or rewrites) a watcher box in channel chan1. */
static void
put_box(struct fixture *f, const char *id, const char *status, const char *lines)
{
	struct store_box b;
	int64_t now = util_now_ms();

	memset(&b, 0, sizeof(b));
	b.id = (char *)id;
	b.session_key = "agent:main:main";
	b.agent_id = "main";
	b.channel_id = "chan1";
	b.status = (char *)status;
	b.lines = (char *)lines;
	b.source = "watcher";
	b.start_time_ms = now - 1000;
	b.last_update_ms = now;
	b.end_time_ms = strcmp(status, "active") == 0 ? STORE_NO_TIME : now;
	assert_int_equal(store_begin(f->st), STORE_OK);
	assert_int_equal(store_box_put(f->st, &b), STORE_OK);
	assert_int_equal(store_commit(f->st), STORE_OK);
}

/* Passes until nothing is left to post or a pass wants to wait. */
static size_t
settle(struct mm_poster *p)
{
	size_t left = 0;
	int i;

	for (i = 0; i < 8; i++) {
		int64_t next = mm_poster_pass(p, 0, &left);

		if (left == 0 || next > util_mono_ms())
			break;
	}
	return left;
}

static struct mm_poster *
poster(struct fixture *f)
{
	struct mm_poster *p = mm_poster_new(&f->cfg, f->path, &f->client);

	assert_non_null(p);
	return p;
}

static void
test_throttle_merges_edits(void **state)
{
	struct fixture *f = *state;
	struct mm_poster *p;
	const char *body;

	f->cfg.throttle_ms = 400;
	p = poster(f);
	put_box(f, "b1", "active", "[\"one\"]");
	settle(p);
	assert_int_equal(stub_count(&f->stub, "POST", "/api/v4/posts"), 1);
	/* Three changes within THROTTLE_MS: none is sent yet. */
	put_box(f, "b1", "active", "[\"one\",\"two\"]");
	settle(p);
	put_box(f, "b1", "active", "[\"one\",\"two\",\"three\"]");
	settle(p);
	put_box(f, "b1", "active", "[\"one\",\"two\",\"three\",\"four\"]");
	settle(p);
	assert_int_equal(stub_count(&f->stub, "PUT", "/api/v4/posts/"), 0);
	/* When the interval is over: one edit, with the newest text. */
	sleep_ms(450);
	settle(p);
	assert_int_equal(stub_count(&f->stub, "PUT", "/api/v4/posts/post1"), 1);
	body = stub_last(&f->stub, "PUT", "/api/v4/posts/post1");
	assert_non_null(strstr(body, "four"));
	settle(p);
	assert_int_equal(stub_count(&f->stub, "PUT", "/api/v4/posts/"), 1);
	mm_poster_free(p);
}

static void
test_breaker_opens_and_closes(void **state)
{
	struct fixture *f = *state;
	struct mm_poster *p;
	size_t left = 0;
	int sent;

	f->cfg.breaker_threshold = 3;
	f->cfg.breaker_cooldown_ms = 1000;
	p = poster(f);
	assert_string_equal(mm_poster_breaker(p), "closed");
	f->stub.down = 1;
	put_box(f, "b1", "active", "[\"one\"]");
	put_box(f, "b2", "active", "[\"one\"]");
	put_box(f, "b3", "active", "[\"one\"]");
	put_box(f, "b0", "active", "[\"one\"]");
	mm_poster_pass(p, 0, &left);
	assert_int_equal(left, 4);
	/* Three failures in a row open it; the fourth box is not tried. */
	assert_int_equal(stub_count(&f->stub, "POST", "/api/v4/posts"), 3);
	assert_string_equal(mm_poster_breaker(p), "open");
	/* Open: nothing is sent, even with Mattermost back and boxes due. */
	f->stub.down = 0;
	sent = f->stub.n;
	put_box(f, "b4", "active", "[\"one\"]");
	mm_poster_pass(p, 1, &left);
	assert_int_equal(f->stub.n, sent);
	assert_string_equal(mm_poster_breaker(p), "open");
	/* After the cooldown one request probes; its answer closes the breaker. */
	sleep_ms(1100);
	settle(p);
	assert_string_equal(mm_poster_breaker(p), "closed");
	assert_int_equal(settle(p), 0);
	assert_int_equal(f->stub.posts, 5);
	mm_poster_free(p);
}

static void
test_429_retry_after(void **state)
{
	struct fixture *f = *state;
	struct mm_poster *p = poster(f);
	int64_t next, before;
	size_t left = 0;

	f->stub.script[f->stub.nscript++] = (struct stub_answer){ 429, MM_HTTP_ANSWERED, 500 };
	put_box(f, "b1", "active", "[\"one\"]");
	before = util_mono_ms();
	next = mm_poster_pass(p, 0, &left);
	assert_int_equal(left, 1);
	assert_true(next >= before + 450);
	/* Held back: a pass before Retry-After sends nothing. */
	mm_poster_pass(p, 1, &left);
	assert_int_equal(stub_count(&f->stub, "POST", "/api/v4/posts"), 1);
	assert_string_equal(mm_poster_breaker(p), "closed"); /* a 429 is no failure */
	sleep_ms(550);
	assert_int_equal(settle(p), 0);
	assert_int_equal(stub_count(&f->stub, "POST", "/api/v4/posts"), 2);
	assert_int_equal(f->stub.posts, 1);
	mm_poster_free(p);
}

static void
test_final_text(void **state)
{
	struct fixture *f = *state;
	struct mm_poster *p;
	const char *body;

	f->cfg.plugin_enabled = 1;
	f->stub.plugin = 1;
	p = poster(f);
	put_box(f, "b1", "active", "[\"one\"]");
	settle(p);
	body = stub_last(&f->stub, "POST", "/api/v4/posts");
	assert_non_null(body);
	assert_non_null(strstr(body, "\"type\":\"custom_livestatus\""));
	assert_non_null(strstr(body, "\"livestatus_box_id\":\"b1\""));
	/* Plugin mode: a running box's post is not edited. */
	put_box(f, "b1", "active", "[\"one\",\"two\"]");
	settle(p);
	assert_int_equal(stub_count(&f->stub, "PUT", "/api/v4/posts/"), 0);
	/* Its end sets the message once to the final text. */
	put_box(f, "b1", "done", "[\"one\",\"two\"]");
	settle(p);
	assert_int_equal(stub_count(&f->stub, "PUT", "/api/v4/posts/post1"), 1);
	body = stub_last(&f->stub, "PUT", "/api/v4/posts/post1");
	assert_non_null(strstr(body, "[DONE] main"));
	assert_non_null(strstr(body, "two"));
	put_box(f, "b1", "done", "[\"one\",\"two\"]");
	settle(p);
	assert_int_equal(stub_count(&f->stub, "PUT", "/api/v4/posts/"), 1);
	mm_poster_free(p);
}

static void
test_restart_finds_its_post(void **state)
{
	struct fixture *f = *state;
	struct store_mm_post row;
	struct store_box b;
	struct mm_poster *p;
	char *pending;

	/* A create whose answer is lost, then the watcher dies. */
	f->stub.script[f->stub.nscript++] = (struct stub_answer){ 0, MM_HTTP_UNKNOWN, 0 };
	p = poster(f);
	put_box(f, "b1", "active", "[\"one\"]");
	settle(p);
	mm_poster_free(p);
	assert_int_equal(store_mm_post_get(f->st, "b1", &row), STORE_OK);
	assert_string_equal(row.state, "creating");
	pending = xstrdup(row.pending_post_id);

	/* Restarted within Mattermost's 30 s: the same pending_post_id again. */
	f->stub.script[f->stub.nscript++] = (struct stub_answer){ 0, MM_HTTP_UNKNOWN, 0 };
	p = poster(f);
	settle(p);
	mm_poster_free(p);
	assert_non_null(strstr(stub_last(&f->stub, "POST", "/api/v4/posts"), pending));
	assert_int_equal(stub_count(&f->stub, "POST", "/api/v4/posts"), 2);

	/* Restarted later: it looks in the channel, finds the post, makes none. */
	row.intent_ms -= 60000;
	assert_int_equal(store_begin(f->st), STORE_OK);
	assert_int_equal(store_mm_post_put(f->st, &row), STORE_OK);
	assert_int_equal(store_commit(f->st), STORE_OK);
	store_mm_post_free(&row);
	f->stub.listed = "{\"order\":[\"found1\"],\"posts\":{\"found1\":{\"id\":\"found1\","
	                 "\"props\":{\"livestatus_box_id\":\"b1\"}}}}";
	p = poster(f);
	assert_int_equal(settle(p), 0);
	mm_poster_free(p);
	assert_int_equal(stub_count(&f->stub, "GET", "/api/v4/channels/chan1/posts?since="), 1);
	assert_int_equal(stub_count(&f->stub, "POST", "/api/v4/posts"), 2);
	assert_int_equal(f->stub.posts, 0);
	/* What it shows is unknown: it is edited to the box's text. */
	assert_int_equal(stub_count(&f->stub, "PUT", "/api/v4/posts/found1"), 1);
	assert_int_equal(store_mm_post_get(f->st, "b1", &row), STORE_OK);
	assert_string_equal(row.state, "posted");
	assert_string_equal(row.post_id, "found1");
	store_mm_post_free(&row);
	assert_int_equal(store_box_get(f->st, "b1", &b), STORE_OK);
	assert_string_equal(b.post_id, "found1");
	store_box_free(&b);
	free(pending);
}

static void
test_two_posters(void **state)
{
	struct fixture *f = *state;
	struct mm_poster *a, *b;

	/* Handles, not a singleton: two at once, each with its own breaker. */
	f->cfg.breaker_threshold = 1;
	a = poster(f);
	b = poster(f);
	f->stub.down = 1;
	put_box(f, "b1", "active", "[\"one\"]");
	settle(a);
	assert_string_equal(mm_poster_breaker(a), "open");
	assert_string_equal(mm_poster_breaker(b), "closed");
	mm_poster_free(a);
	mm_poster_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_throttle_merges_edits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_breaker_opens_and_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_429_retry_after, setup, teardown),
		cmocka_unit_test_setup_teardown(test_final_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_finds_its_post, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_posters, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
