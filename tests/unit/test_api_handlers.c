/* Unit tests of the routes, on a real store in a temp dir, without FastCGI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/unit_tmp.h"
#include "common/util.h"
#include "fcgi/api_cleanup.h"
#include "fcgi/api_handlers.h"
#include "fcgi/api_stores.h"
#include "sql/store.h"

#define AUTH "Bearer s3cret"

struct fixture {
	char dir[64];
	char path[96];
	struct api_config cfg;
	struct api_ctx ctx;
};

/* The body a test request carries. */
struct body {
	const char *data;
	size_t len;
	size_t off;
};

struct answer {
	int status;
	char *body;
	const char *allow;
	char etag[32];
	struct api_jval *json;
};

static long
read_body(void *arg, char *buf, size_t len)
{
	struct body *b = arg;
	size_t n = b->len - b->off < len ? b->len - b->off : len;

	memcpy(buf, b->data + b->off, n);
	b->off += n;
	return (long)n;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	unit_tmp_make(f->dir, sizeof(f->dir), f->path, sizeof(f->path), "api");
	f->cfg.db_path = f->path;
	f->cfg.secret = "s3cret";
	f->cfg.read_auth = API_READ_AUTH_SECRET;
	f->cfg.max_active = 3;
	f->cfg.max_lines = 4;
	f->cfg.stale_after_s = 60;
	f->cfg.delete_after_s = 120;
	f->cfg.cleanup_interval_s = 1;
	f->ctx.cfg = &f->cfg;
	assert_int_equal(store_open(f->path, &f->ctx.st, err, sizeof(err)), STORE_OK);
	f->ctx.notify = notify_new(NULL);
	f->ctx.cache = api_cache_new();
	f->ctx.auth = api_auth_new(f->cfg.secret, f->cfg.read_auth);
	f->ctx.started_ms = util_now_ms();
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	api_snapshot_unref(f->ctx.snap);
	store_close(f->ctx.st);
	notify_free(f->ctx.notify);
	api_cache_free(f->ctx.cache);
	api_auth_free(f->ctx.auth);
	unit_tmp_remove(f->dir);
	free(f);
	return 0;
}

static void
answer_free(struct answer *a)
{
	free(a->body);
	api_json_free(a->json);
	memset(a, 0, sizeof(*a));
}

/* One request; hdr is "If-None-Match" value or NULL. */
static struct answer
call(struct fixture *f, const char *method, const char *path, const char *query, const char *auth,
    const char *body, const char *inm)
{
	struct api_req req;
	struct api_resp resp;
	struct body b = { body, body != NULL ? strlen(body) : 0, 0 };
	struct answer a;
	char len[32], err[128];
	const char *data;
	size_t n;

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	memset(&a, 0, sizeof(a));
	req.method = method;
	req.path = path;
	req.query = query;
	req.authorization = auth;
	req.if_none_match = inm;
	if (body != NULL) {
		snprintf(len, sizeof(len), "%zu", b.len);
		req.content_length = len;
		req.content_type = "application/json";
	}
	req.read_body = read_body;
	req.read_arg = &b;
	api_handle(&f->ctx, &req, &resp);
	a.status = resp.status;
	a.allow = resp.allow;
	memcpy(a.etag, resp.etag, sizeof(a.etag));
	data = resp.blob_data != NULL ? resp.blob_data : resp.body.data;
	n = resp.blob_data != NULL ? resp.blob_len : resp.body.len;
	a.body = strndup(data != NULL ? data : "", n);
	if (n > 0 && api_json_parse(a.body, n, &a.json, err, sizeof(err)) != 0)
		fail_msg("%s %s answered invalid JSON (%s): %s", method, path, err, a.body);
	api_resp_free(&resp);
	return a;
}

static void
expect_error(struct answer *a, int status, const char *text)
{
	if (a->status != status)
		fail_msg("expected %d, got %d: %s", status, a->status, a->body);
	assert_non_null(a->json);
	if (text != NULL && strstr(api_json_get(a->json, "error")->str, text) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", api_json_get(a->json, "error")->str, text);
	answer_free(a);
}

static void
test_routes_and_methods(void **state)
{
	struct fixture *f = *state;
	struct answer a;

	a = call(f, "GET", "/api/v1/nope", NULL, AUTH, NULL, NULL);
	expect_error(&a, 404, "not found");
	a = call(f, "GET", NULL, NULL, AUTH, NULL, NULL);
	expect_error(&a, 404, "not found");
	a = call(f, "PATCH", "/api/v1/sessions", NULL, AUTH, NULL, NULL);
	assert_string_equal(a.allow, "GET, HEAD, POST");
	expect_error(&a, 405, "method not allowed");
	a = call(f, "POST", "/api/v1/health", NULL, AUTH, NULL, NULL);
	assert_string_equal(a.allow, "GET, HEAD");
	expect_error(&a, 405, NULL);
	a = call(f, "POST", "/api/v1/sessions/x", NULL, AUTH, "{}", NULL);
	assert_string_equal(a.allow, "GET, HEAD, PUT, DELETE");
	expect_error(&a, 405, NULL);
	a = call(f, "GET", "/api/v1/sessions/a/b", NULL, AUTH, NULL, NULL);
	expect_error(&a, 400, "invalid session id");
	a = call(f, "GET", "/api/v1/sessions/missing", NULL, AUTH, NULL, NULL);
	expect_error(&a, 404, "session not found");
	a = call(f, "DELETE", "/api/v1/sessions/missing", NULL, AUTH, NULL, NULL);
	expect_error(&a, 404, "session not found");
	a = call(f, "PUT", "/api/v1/sessions/missing", NULL, AUTH, "{}", NULL);
	expect_error(&a, 404, "session not found");
}

static void
test_auth_texts(void **state)
{
	struct fixture *f = *state;
	struct answer a;

	a = call(f, "GET", "/api/v1/sessions", NULL, NULL, NULL, NULL);
	expect_error(&a, 401, API_AUTH_READ_DENIED);
	a = call(f, "GET", "/api/v1/health", NULL, "Bearer wrong", NULL, NULL);
	expect_error(&a, 401, API_AUTH_READ_DENIED);
	a = call(
	    f, "POST", "/api/v1/sessions", NULL, "Bearer s3cre", "{\"session_key\":\"k\"}", NULL);
	assert_int_equal(a.status, 401);
	assert_string_equal(api_json_get(a.json, "error")->str, "unauthorized");
	answer_free(&a);
	a = call(f, "GET", "/api/v1/auth", NULL, AUTH, NULL, NULL);
	assert_int_equal(a.status, 200);
	answer_free(&a);
	a = call(f, "GET", "/api/v1/auth", NULL, NULL, NULL, NULL);
	expect_error(&a, 401, NULL);
}

static void
test_body_framing(void **state)
{
	struct fixture *f = *state;
	struct api_req req;
	struct api_resp resp;
	struct body b = { "{\"session_key\":\"k\"}", 19, 0 };

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	req.method = "POST";
	req.path = "/api/v1/sessions";
	req.authorization = AUTH;
	req.read_body = read_body;
	req.read_arg = &b;
	req.content_type = "application/json";
	api_handle(&f->ctx, &req, &resp);
	assert_int_equal(resp.status, 411);
	api_resp_free(&resp);

	memset(&resp, 0, sizeof(resp));
	req.content_length = "12abc";
	api_handle(&f->ctx, &req, &resp);
	assert_int_equal(resp.status, 400);
	api_resp_free(&resp);

	memset(&resp, 0, sizeof(resp));
	req.content_length = "1048577";
	api_handle(&f->ctx, &req, &resp);
	assert_int_equal(resp.status, 413);
	api_resp_free(&resp);

	memset(&resp, 0, sizeof(resp));
	req.content_length = "19";
	req.content_type = "text/plain";
	api_handle(&f->ctx, &req, &resp);
	assert_int_equal(resp.status, 415);
	api_resp_free(&resp);

	memset(&resp, 0, sizeof(resp));
	req.content_type = "application/json; charset=utf-8";
	req.content_length = "40"; /* more than the body holds */
	api_handle(&f->ctx, &req, &resp);
	assert_int_equal(resp.status, 400);
	assert_non_null(strstr(resp.body.data, "shorter"));
	api_resp_free(&resp);

	memset(&resp, 0, sizeof(resp));
	b.off = 0;
	req.content_length = "19";
	api_handle(&f->ctx, &req, &resp);
	assert_int_equal(resp.status, 201);
	api_resp_free(&resp);
}

static void
test_bad_bodies(void **state)
{
	struct fixture *f = *state;
	struct answer a;

	a = call(f, "POST", "/api/v1/sessions", NULL, AUTH, "{\"session_key\":", NULL);
	expect_error(&a, 400, "invalid JSON");
	a = call(f, "POST", "/api/v1/sessions", NULL, AUTH, "{\"session_key\":\"\xff\"}", NULL);
	expect_error(&a, 400, "not valid UTF-8");
	a = call(f, "POST", "/api/v1/sessions", NULL, AUTH, "{\"session_key\":\"a\\u0000\"}", NULL);
	expect_error(&a, 400, "\\u0000");
	a = call(f, "POST", "/api/v1/sessions", NULL, AUTH, "{\"session_key\":\"\\ud800\"}", NULL);
	expect_error(&a, 400, "lone surrogate");
	a = call(f, "POST", "/api/v1/sessions", NULL, AUTH, "{\"session_key\":7}", NULL);
	expect_error(&a, 400, "session_key: expected a string");
	a = call(f, "POST", "/api/v1/sessions", NULL, AUTH,
	    "{\"session_key\":\"k\",\"parent_id\":\"nobody\"}", NULL);
	expect_error(&a, 400, "parent_id: no such session");
	a = call(f, "GET", "/api/v1/sessions", NULL, AUTH, NULL, NULL);
	assert_int_equal(a.status, 200);
	assert_string_equal(a.body, "[]");
	answer_free(&a);
}

static void
test_create_list_etag(void **state)
{
	struct fixture *f = *state;
	struct answer a, b;
	const struct api_jval *top, *kids;
	char etag[32];

	a = call(f, "POST", "/api/v1/sessions", NULL, AUTH,
	    "{\"id\":\"p1\",\"session_key\":\"agent:main:x\",\"channel_id\":\"c1\","
	    "\"lines\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\"]}",
	    NULL);
	assert_int_equal(a.status, 201);
	assert_int_equal(api_json_get(a.json, "lines")->nitems, 4);
	assert_string_equal(api_json_get(a.json, "lines")->items[0]->str, "3");
	answer_free(&a);
	a = call(f, "POST", "/api/v1/sessions", NULL, AUTH,
	    "{\"id\":\"k1\",\"session_key\":\"agent:main:subagent:1\",\"parent_id\":\"p1\","
	    "\"channel_id\":\"c1\",\"start_time_ms\":2}",
	    NULL);
	assert_int_equal(a.status, 201);
	answer_free(&a);
	a = call(f, "POST", "/api/v1/sessions", NULL, AUTH,
	    "{\"id\":\"k2\",\"session_key\":\"agent:main:subagent:2\",\"parent_id\":\"k1\","
	    "\"channel_id\":\"c1\",\"status\":\"done\"}",
	    NULL);
	assert_int_equal(a.status, 201);
	assert_int_equal(api_json_get(a.json, "end_time_ms")->type, API_J_INT);
	answer_free(&a);
	a = call(f, "POST", "/api/v1/sessions", NULL, AUTH,
	    "{\"id\":\"q1\",\"session_key\":\"agent:ops:y\",\"channel_id\":\"c2\","
	    "\"status\":\"done\"}",
	    NULL);
	assert_int_equal(a.status, 201);
	answer_free(&a);

	/* Idempotent: the same id again is 200 with what is stored. */
	a = call(f, "POST", "/api/v1/sessions", NULL, AUTH,
	    "{\"id\":\"p1\",\"session_key\":\"other\",\"label\":\"changed\"}", NULL);
	assert_int_equal(a.status, 200);
	assert_string_equal(api_json_get(a.json, "session_key")->str, "agent:main:x");
	assert_int_equal(api_json_get(a.json, "children")->nitems, 1);
	answer_free(&a);

	a = call(f, "GET", "/api/v1/sessions", NULL, AUTH, NULL, NULL);
	assert_int_equal(a.status, 200);
	assert_int_equal(a.json->nitems, 2); /* top-level only */
	top = a.json->items[0];
	assert_string_equal(api_json_get(top, "id")->str, "p1");
	kids = api_json_get(top, "children");
	assert_int_equal(kids->nitems, 1);
	assert_string_equal(api_json_get(kids->items[0], "id")->str, "k1");
	assert_int_equal(
	    api_json_get(api_json_get(kids->items[0], "children")->items[0], "children")->nitems,
	    0);
	assert_string_equal(
	    api_json_get(api_json_get(kids->items[0], "children")->items[0], "id")->str, "k2");
	assert_true(a.etag[0] == '"');
	memcpy(etag, a.etag, sizeof(etag));

	b = call(f, "GET", "/api/v1/sessions", NULL, AUTH, NULL, etag);
	assert_int_equal(b.status, 304);
	assert_string_equal(b.body, "");
	answer_free(&b);

	b = call(f, "GET", "/api/v1/sessions", "status=active", AUTH, NULL, NULL);
	assert_int_equal(b.json->nitems, 1);
	answer_free(&b);
	b = call(f, "GET", "/api/v1/sessions", "channel_id=c2", AUTH, NULL, NULL);
	assert_int_equal(b.json->nitems, 1);
	assert_string_equal(api_json_get(b.json->items[0], "id")->str, "q1");
	answer_free(&b);
	b = call(f, "GET", "/api/v1/sessions", "status=active&channel_id=c2", AUTH, NULL, NULL);
	assert_string_equal(b.body, "[]");
	answer_free(&b);
	b = call(f, "GET", "/api/v1/sessions", "status=bogus", AUTH, NULL, NULL);
	expect_error(&b, 400, "status");
	b = call(f, "GET", "/api/v1/sessions", "channel_id=a%20b", AUTH, NULL, NULL);
	expect_error(&b, 400, "channel_id");

	/* GET one: any depth, with its children. */
	b = call(f, "GET", "/api/v1/sessions/k1", NULL, AUTH, NULL, NULL);
	assert_int_equal(b.status, 200);
	assert_int_equal(api_json_get(b.json, "children")->nitems, 1);
	answer_free(&b);

	/* A change moves the ETag. */
	b = call(f, "PUT", "/api/v1/sessions/k1", NULL, AUTH, "{\"label\":\"L\"}", NULL);
	assert_int_equal(b.status, 200);
	assert_string_equal(api_json_get(b.json, "label")->str, "L");
	assert_int_equal(api_json_get(b.json, "children")->nitems, 1);
	answer_free(&b);
	b = call(f, "GET", "/api/v1/sessions", NULL, AUTH, NULL, etag);
	assert_int_equal(b.status, 200);
	assert_string_not_equal(b.etag, etag);
	answer_free(&b);
	answer_free(&a);

	/* DELETE takes the children along. */
	a = call(f, "DELETE", "/api/v1/sessions/p1", NULL, AUTH, NULL, NULL);
	assert_int_equal(a.status, 204);
	assert_string_equal(a.body, "");
	answer_free(&a);
	a = call(f, "GET", "/api/v1/sessions/k2", NULL, AUTH, NULL, NULL);
	expect_error(&a, 404, NULL);
}

static void
test_put_rules(void **state)
{
	struct fixture *f = *state;
	struct answer a;

	a = call(f, "POST", "/api/v1/sessions", NULL, AUTH, "{\"id\":\"b\",\"session_key\":\"k\"}",
	    NULL);
	assert_int_equal(a.status, 201);
	answer_free(&a);
	a = call(
	    f, "PUT", "/api/v1/sessions/b", NULL, AUTH, "{\"status\":\"done\",\"zzz\":1}", NULL);
	assert_int_equal(a.status, 200);
	assert_string_equal(api_json_get(a.json, "status")->str, "done");
	assert_int_equal(api_json_get(a.json, "end_time_ms")->type, API_J_INT);
	answer_free(&a);
	a = call(f, "PUT", "/api/v1/sessions/b", NULL, AUTH, "{\"token_count\":1.5}", NULL);
	expect_error(&a, 400, "token_count");
	a = call(f, "PUT", "/api/v1/sessions/b", NULL, AUTH, "{\"lines\":[\"a\",2]}", NULL);
	expect_error(&a, 400, "lines");
	a = call(f, "PUT", "/api/v1/sessions/b", NULL, AUTH, "[]", NULL);
	expect_error(&a, 400, "object");
}

static void
test_active_limit(void **state)
{
	struct fixture *f = *state;
	struct answer a;
	char body[128];
	int i;

	for (i = 0; i < 3; i++) {
		snprintf(body, sizeof(body), "{\"id\":\"a%d\",\"session_key\":\"k%d\"}", i, i);
		a = call(f, "POST", "/api/v1/sessions", NULL, AUTH, body, NULL);
		assert_int_equal(a.status, 201);
		answer_free(&a);
	}
	a = call(f, "POST", "/api/v1/sessions", NULL, AUTH, "{\"id\":\"a9\",\"session_key\":\"k\"}",
	    NULL);
	expect_error(&a, 429, "too many active sessions");
	/* Not active: no limit; the same id again: still 200. */
	a = call(f, "POST", "/api/v1/sessions", NULL, AUTH,
	    "{\"id\":\"d1\",\"session_key\":\"k\",\"status\":\"done\"}", NULL);
	assert_int_equal(a.status, 201);
	answer_free(&a);
	a = call(f, "POST", "/api/v1/sessions", NULL, AUTH, "{\"id\":\"a0\",\"session_key\":\"k\"}",
	    NULL);
	assert_int_equal(a.status, 200);
	answer_free(&a);
	/* One ends: room for one more. */
	a = call(f, "PUT", "/api/v1/sessions/a1", NULL, AUTH, "{\"status\":\"error\"}", NULL);
	assert_int_equal(a.status, 200);
	answer_free(&a);
	a = call(f, "POST", "/api/v1/sessions", NULL, AUTH, "{\"id\":\"a9\",\"session_key\":\"k\"}",
	    NULL);
	assert_int_equal(a.status, 201);
	answer_free(&a);
}

static void
test_health(void **state)
{
	struct fixture *f = *state;
	struct store_heartbeat hb = { 0 };
	struct answer a;
	const struct api_jval *w;

	a = call(f, "GET", "/api/v1/health", NULL, AUTH, NULL, NULL);
	assert_int_equal(a.status, 200);
	assert_string_equal(api_json_get(a.json, "status")->str, "ok");
	w = api_json_get(a.json, "watcher");
	assert_false(api_json_get(w, "alive")->boolean);
	assert_int_equal(api_json_get(w, "pid")->type, API_J_NULL);
	assert_true(api_json_get(api_json_get(a.json, "db"), "ok")->boolean);
	assert_int_equal(api_json_get(api_json_get(a.json, "db"), "schema_version")->integer,
	    store_schema_latest());
	answer_free(&a);

	hb.pid = 42;
	hb.started_ms = util_now_ms() - 1000;
	hb.last_heartbeat_ms = util_now_ms();
	hb.interval_ms = 1000;
	hb.breaker = "closed";
	assert_int_equal(store_heartbeat_put(f->ctx.st, &hb), STORE_OK);
	a = call(f, "GET", "/api/v1/health", NULL, AUTH, NULL, NULL);
	assert_int_equal(a.status, 200);
	w = api_json_get(a.json, "watcher");
	assert_true(api_json_get(w, "alive")->boolean);
	assert_int_equal(api_json_get(w, "pid")->integer, 42);
	assert_string_equal(api_json_get(w, "breaker")->str, "closed");
	answer_free(&a);

	hb.last_heartbeat_ms = util_now_ms() - 3500;
	assert_int_equal(store_heartbeat_put(f->ctx.st, &hb), STORE_OK);
	a = call(f, "GET", "/api/v1/health", NULL, AUTH, NULL, NULL);
	assert_int_equal(a.status, 503);
	assert_string_equal(api_json_get(a.json, "status")->str, "degraded");
	answer_free(&a);
}

static void
test_cleanup(void **state)
{
	struct fixture *f = *state;
	struct answer a;
	int64_t now = util_now_ms();
	char body[256];

	snprintf(body, sizeof(body), "{\"id\":\"old\",\"session_key\":\"k\"}");
	a = call(f, "POST", "/api/v1/sessions", NULL, AUTH, body, NULL);
	answer_free(&a);
	a = call(f, "POST", "/api/v1/sessions", NULL, AUTH,
	    "{\"id\":\"kid\",\"session_key\":\"k2\",\"parent_id\":\"old\"}", NULL);
	answer_free(&a);
	/* 61 s later the active boxes are stale: interrupted. */
	assert_int_equal(
	    api_cleanup_once(f->ctx.st, f->ctx.notify, &f->cfg, now + 61000), STORE_OK);
	a = call(f, "GET", "/api/v1/sessions/old", NULL, AUTH, NULL, NULL);
	assert_string_equal(api_json_get(a.json, "status")->str, "interrupted");
	assert_string_equal(
	    api_json_get(api_json_get(a.json, "children")->items[0], "status")->str, "interrupted");
	answer_free(&a);
	/* 2 min after that they are deleted, children too. */
	assert_int_equal(
	    api_cleanup_once(f->ctx.st, f->ctx.notify, &f->cfg, now + 61000 + 121000), STORE_OK);
	a = call(f, "GET", "/api/v1/sessions", NULL, AUTH, NULL, NULL);
	assert_string_equal(a.body, "[]");
	answer_free(&a);
	a = call(f, "GET", "/api/v1/sessions/kid", NULL, AUTH, NULL, NULL);
	expect_error(&a, 404, NULL);
}

/* Finished top-level boxes that ended at end_ms, written straight into the store. */
static void
put_finished(struct fixture *f, int n, int64_t end_ms)
{
	struct store_box b = { 0 };
	char id[32];
	int i;

	assert_int_equal(store_begin(f->ctx.st), STORE_OK);
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "done-%04d", i);
		b.id = id;
		b.session_key = (char *)"agent:main:old";
		b.status = (char *)"done";
		b.lines = (char *)"[]";
		b.source = (char *)"api";
		b.start_time_ms = end_ms - 10;
		b.end_time_ms = b.last_update_ms = end_ms;
		assert_int_equal(store_box_put(f->ctx.st, &b), STORE_OK);
	}
	assert_int_equal(store_commit(f->ctx.st), STORE_OK);
}

static void
test_cleanup_backlog_in_batches(void **state)
{
	struct fixture *f = *state;
	/* an aim no hold misses: the batches stay full size */
	struct api_cleanup_tally t = { .aim_us = INT64_MAX };
	struct store_counts c;
	int64_t now = util_now_ms(), rev0, rev1;
	int more = 0;

	put_finished(f, API_CLEANUP_BATCH * 2 + 10, now - 200000);
	assert_int_equal(store_revision(f->ctx.st, &rev0), STORE_OK);
	/* a pass without time left does one batch and says more is left */
	assert_int_equal(
	    api_cleanup_pass(f->ctx.st, f->ctx.notify, &f->cfg, now, 0, &t, &more), STORE_OK);
	assert_int_equal(more, 1);
	assert_int_equal(t.deleted, API_CLEANUP_BATCH_START);
	assert_true(t.longest_us > 0);
	assert_int_equal(store_box_counts(f->ctx.st, &c), STORE_OK);
	assert_int_equal(c.total, API_CLEANUP_BATCH * 2 + 10 - API_CLEANUP_BATCH_START);
	/* the rest, one transaction (one revision) per batch: 32, 64, 42 */
	while (more)
		assert_int_equal(
		    api_cleanup_pass(f->ctx.st, f->ctx.notify, &f->cfg, now, 0, &t, &more),
		    STORE_OK);
	assert_int_equal(store_box_counts(f->ctx.st, &c), STORE_OK);
	assert_int_equal(c.total, 0);
	assert_int_equal(store_revision(f->ctx.st, &rev1), STORE_OK);
	assert_int_equal(rev1 - rev0, 4);
	assert_int_equal(t.batches, 4);
	assert_int_equal(t.slow, 0);
	/* api_cleanup_once() finds nothing left */
	assert_int_equal(api_cleanup_once(f->ctx.st, f->ctx.notify, &f->cfg, now), STORE_OK);
	assert_int_equal(store_revision(f->ctx.st, &rev0), STORE_OK);
	assert_int_equal(rev0, rev1);
}

/* Holds over the aim halve the batches down to the least; short ones double them back. */
static void
test_cleanup_batches_follow_the_hold(void **state)
{
	struct fixture *f = *state;
	/* an aim every hold misses */
	struct api_cleanup_tally t = { .aim_us = 1 };
	static const size_t sizes[] = { 16, 8, 4, 4 };
	struct store_counts c;
	int64_t now = util_now_ms(), rev0, rev1;
	size_t i, total = 0;
	int more = 0;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		total += sizes[i];
	put_finished(f, (int)total, now - 200000);
	assert_int_equal(store_revision(f->ctx.st, &rev0), STORE_OK);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t before = t.deleted;

		assert_int_equal(
		    api_cleanup_pass(f->ctx.st, f->ctx.notify, &f->cfg, now, 0, &t, &more),
		    STORE_OK);
		assert_int_equal(t.deleted - before, sizes[i]);
		assert_int_equal(more, 1);
	}
	assert_int_equal(store_box_counts(f->ctx.st, &c), STORE_OK);
	assert_int_equal(c.total, 0);
	assert_int_equal(store_revision(f->ctx.st, &rev1), STORE_OK);
	assert_int_equal(rev1 - rev0, 4);
	assert_int_equal(t.slow, 4);
	/* the rule itself, both ways, within its bounds */
	assert_int_equal(api_cleanup_next_limit(64, 5001, 5000), 32);
	assert_int_equal(
	    api_cleanup_next_limit(API_CLEANUP_BATCH_MIN, 9000, 5000), API_CLEANUP_BATCH_MIN);
	assert_int_equal(api_cleanup_next_limit(8, 1249, 5000), 16);
	assert_int_equal(api_cleanup_next_limit(64, 10, 5000), 64);
	assert_int_equal(api_cleanup_next_limit(16, 3000, 5000), 16);
}

static void
test_read_auth_none(void **state)
{
	struct fixture *f = *state;
	struct answer a;

	api_auth_free(f->ctx.auth);
	f->ctx.auth = api_auth_new(f->cfg.secret, API_READ_AUTH_NONE);
	a = call(f, "GET", "/api/v1/sessions", NULL, NULL, NULL, NULL);
	assert_int_equal(a.status, 200);
	answer_free(&a);
	a = call(f, "POST", "/api/v1/sessions", NULL, NULL, "{\"session_key\":\"k\"}", NULL);
	expect_error(&a, 401, "unauthorized");
}

static void
count_may_block(void *arg)
{
	(*(int *)arg)++;
}

/*
 * A read served from the current snapshot never says it may block; a
 * write, a rebuild of the snapshot, health and metrics do, before any of
 * their work (api_server.c lets another thread accept meanwhile).
 */
static void
test_may_block(void **state)
{
	struct fixture *f = *state;
	struct answer a;
	int calls = 0;

	f->ctx.may_block = count_may_block;
	f->ctx.may_block_arg = &calls;
	a = call(f, "POST", "/api/v1/sessions", NULL, AUTH, "{\"id\":\"b1\",\"session_key\":\"k\"}",
	    NULL);
	assert_int_equal(a.status, 201);
	answer_free(&a);
	assert_true(calls >= 1);
	/* The first read after a change rebuilds: it may block. */
	calls = 0;
	a = call(f, "GET", "/api/v1/sessions", NULL, AUTH, NULL, NULL);
	assert_int_equal(a.status, 200);
	answer_free(&a);
	/* (POST answered from a snapshot already: then none was needed.) */
	assert_true(calls <= 1);
	calls = 0;
	a = call(f, "GET", "/api/v1/sessions", NULL, AUTH, NULL, NULL);
	assert_int_equal(a.status, 200);
	answer_free(&a);
	a = call(f, "GET", "/api/v1/sessions/b1", NULL, AUTH, NULL, NULL);
	assert_int_equal(a.status, 200);
	answer_free(&a);
	a = call(f, "GET", "/api/v1/auth", NULL, AUTH, NULL, NULL);
	assert_int_equal(a.status, 200);
	answer_free(&a);
	a = call(f, "GET", "/api/v1/sessions", NULL, NULL, NULL, NULL);
	expect_error(&a, 401, NULL);
	assert_int_equal(calls, 0);
	a = call(f, "GET", "/api/v1/health", NULL, AUTH, NULL, NULL);
	assert_int_equal(a.status, 200);
	answer_free(&a);
	assert_int_equal(calls, 1);
	a = call(f, "DELETE", "/api/v1/sessions/b1", NULL, AUTH, NULL, NULL);
	assert_int_equal(a.status, 204);
	answer_free(&a);
	assert_int_equal(calls, 2);
	f->ctx.may_block = NULL;
}

/* ---- store handles lent a request at a time (api_stores.h) ---- */

static void
test_stores_lent_after_the_credentials(void **state)
{
	struct fixture *f = *state;
	store *own = f->ctx.st;
	struct answer a;
	char err[256];

	assert_int_equal(api_stores_per_use(1), 1);
	assert_int_equal(api_stores_per_use(8), 1);
	assert_int_equal(api_stores_per_use(16), 2);
	assert_int_equal(api_stores_per_use(64), 8);
	f->ctx.stores = api_stores_open(f->path, 1, err, sizeof(err));
	assert_non_null(f->ctx.stores);
	assert_int_equal(api_stores_count(f->ctx.stores), 2);
	f->ctx.st = NULL;
	/* Turned away before its credentials pass: no handle taken. */
	a = call(f, "GET", "/api/v1/sessions", NULL, NULL, NULL, NULL);
	expect_error(&a, 401, NULL);
	assert_null(f->ctx.st);
	a = call(f, "POST", "/api/v1/sessions", NULL, AUTH, "{\"id\":\"b1\",\"session_key\":\"k\"}",
	    NULL);
	assert_int_equal(a.status, 201);
	answer_free(&a);
	assert_ptr_equal(f->ctx.st, api_stores_at(f->ctx.stores, 1)); /* a writer's */
	api_ctx_store_give(&f->ctx);
	assert_null(f->ctx.st);
	a = call(f, "GET", "/api/v1/sessions/b1", NULL, AUTH, NULL, NULL);
	assert_int_equal(a.status, 200);
	answer_free(&a);
	assert_ptr_equal(f->ctx.st, api_stores_at(f->ctx.stores, 0)); /* a reader's */
	api_ctx_store_give(&f->ctx);
	api_stores_close(f->ctx.stores);
	f->ctx.stores = NULL;
	f->ctx.st = own;
}

struct taker {
	struct api_stores *p;
	atomic_int waited;
	store *got;
};

static void
note_wait(void *arg)
{
	struct taker *t = arg;

	atomic_store(&t->waited, 1);
}

static void *
take_write(void *arg)
{
	struct taker *t = arg;

	t->got = api_stores_take(t->p, API_STORES_WRITE, note_wait, t);
	return NULL;
}

/*
 * With every writer's handle lent, a write waits (and says so first) for
 * one to come back, while a read takes its own at once.
 */
static void
test_stores_wait_for_a_free_handle(void **state)
{
	struct fixture *f = *state;
	struct taker t = { 0 };
	store *w1, *w2, *r;
	pthread_t th;
	char err[256];
	int64_t deadline;

	t.p = api_stores_open(f->path, 2, err, sizeof(err));
	assert_non_null(t.p);
	w1 = api_stores_take(t.p, API_STORES_WRITE, note_wait, &t);
	w2 = api_stores_take(t.p, API_STORES_WRITE, note_wait, &t);
	assert_non_null(w1);
	assert_non_null(w2);
	assert_ptr_not_equal(w1, w2);
	assert_int_equal(atomic_load(&t.waited), 0);
	assert_int_equal(pthread_create(&th, NULL, take_write, &t), 0);
	deadline = util_now_ms() + 10000;
	while (!atomic_load(&t.waited) && util_now_ms() < deadline)
		usleep(1000);
	assert_int_equal(atomic_load(&t.waited), 1); /* told the server before waiting */
	r = api_stores_take(t.p, API_STORES_READ, NULL, NULL);
	assert_non_null(r);
	assert_ptr_not_equal(r, w1);
	assert_ptr_not_equal(r, w2);
	api_stores_give(t.p, w2);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_ptr_equal(t.got, w2);
	api_stores_give(t.p, t.got);
	api_stores_give(t.p, w1);
	api_stores_give(t.p, r);
	api_stores_close(t.p);
}

/* A handle that never comes back: NULL after the store's busy timeout. */
static void
test_stores_wait_is_bounded(void **state)
{
	struct fixture *f = *state;
	struct api_stores *p;
	store *w;
	char err[256];

	p = api_stores_open(f->path, 1, err, sizeof(err));
	assert_non_null(p);
	w = api_stores_take(p, API_STORES_WRITE, NULL, NULL);
	assert_non_null(w);
	assert_null(api_stores_take(p, API_STORES_WRITE, NULL, NULL));
	api_stores_give(p, w);
	w = api_stores_take(p, API_STORES_WRITE, NULL, NULL);
	assert_non_null(w);
	api_stores_give(p, w);
	api_stores_close(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_routes_and_methods, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_texts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_framing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_bodies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_list_etag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_active_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cleanup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cleanup_backlog_in_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_cleanup_batches_follow_the_hold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_auth_none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_may_block, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_stores_lent_after_the_credentials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stores_wait_for_a_free_handle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stores_wait_is_bounded, setup, teardown),
	};

	log_init("test_api_handlers", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
