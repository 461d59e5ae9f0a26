/*
 * Unit tests of POST /api/v1/gateway/boxes (fcgi/api_gateway.h), the keys
 * file (fcgi/api_gwkeys.h) and the gateways in health and metrics, on a
 * real store in a temp dir, without FastCGI.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/unit_tmp.h"
#include "common/util.h"
#include "fcgi/api_gateway.h"
#include "fcgi/api_gwkeys.h"
#include "fcgi/api_handlers.h"
#include "fcgi/metrics.h"
#include "sql/store.h"
#include "sql/store_gateway.h"

#define SECRET "Bearer s3cret"
#define KEY_A "Bearer key-of-gateway-a-0123456789"
#define KEY_B "Bearer key-of-gateway-b-0123456789"
#define KEY_C "Bearer key-of-gateway-c-0123456789"
#define PATH "/api/v1/gateway/boxes"

#define KEYS_AB \
	"# the gateways\n" \
	"gw-a key-of-gateway-a-0123456789\n" \
	"\n" \
	"gw-b\tkey-of-gateway-b-0123456789   # second host\n"

struct fixture {
	char dir[64];
	char path[96];
	char keys[96];
	struct api_config cfg;
	struct api_ctx ctx;
};

struct body {
	const char *data;
	size_t len;
	size_t off;
};

struct answer {
	int status;
	char *body;
	const char *allow;
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

static void
write_keys(struct fixture *f, const char *text)
{
	FILE *fp = fopen(f->keys, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	unit_tmp_make(f->dir, sizeof(f->dir), f->path, sizeof(f->path), "gw");
	snprintf(f->keys, sizeof(f->keys), "%s/gateway-keys", f->dir);
	write_keys(f, KEYS_AB);
	f->cfg.db_path = f->path;
	f->cfg.secret = "s3cret";
	f->cfg.read_auth = API_READ_AUTH_SECRET;
	f->cfg.max_active = 3;
	f->cfg.max_lines = 4;
	f->cfg.stale_after_s = 60;
	f->cfg.delete_after_s = 120;
	f->cfg.cleanup_interval_s = 1;
	f->cfg.gateway_keys_file = f->keys;
	f->cfg.gateway_silent_s = 300;
	f->ctx.cfg = &f->cfg;
	assert_int_equal(store_open(f->path, &f->ctx.st, err, sizeof(err)), STORE_OK);
	f->ctx.notify = notify_new(NULL);
	f->ctx.cache = api_cache_new();
	f->ctx.auth = api_auth_new(f->cfg.secret, f->cfg.read_auth);
	f->ctx.gwkeys = api_gwkeys_new(f->keys);
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
	api_gwkeys_free(f->ctx.gwkeys);
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

static struct answer
call(struct fixture *f, const char *method, const char *path, const char *auth, const char *body)
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
	req.authorization = auth;
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

/* One box of a batch: id, revision, parent (NULL: none) and a label. */
static char *
box(const char *id, int rev, const char *parent, const char *label)
{
	char *s = NULL;
	char pbuf[160];

	if (parent != NULL)
		snprintf(pbuf, sizeof(pbuf), "\"%s\"", parent);
	else
		snprintf(pbuf, sizeof(pbuf), "null");
	assert_true(asprintf(&s,
	                "{\"id\":\"%s\",\"revision\":%d,\"session_key\":\"agent:main:x:%s\","
	                "\"agent_id\":\"main\",\"channel_id\":\"c1\",\"root_id\":\"\","
	                "\"post_id\":\"\",\"parent_id\":%s,\"label\":\"%s\","
	                "\"bot_user_id\":\"\",\"status\":\"active\",\"lines\":[\"l1\",\"l2\"],"
	                "\"start_time_ms\":1000,\"end_time_ms\":null,"
	                "\"last_update_ms\":2000,\"token_count\":5,\"model\":\"m\"}",
	                id, rev, id, pbuf, label) > 0);
	return s;
}

/* A request body for gateway gw with the boxes given (NULL-terminated, freed). */
static char *
batch(const char *gw, ...)
{
	va_list ap;
	char *out = NULL, *b, *next;
	size_t i = 0;

	assert_true(asprintf(&out,
	                "{\"gateway\":\"%s\",\"lag_ms\":1200,\"queue\":3,\"version\":\"0.1.0\","
	                "\"boxes\":[",
	                gw) > 0);
	va_start(ap, gw);
	while ((b = va_arg(ap, char *)) != NULL) {
		assert_true(asprintf(&next, "%s%s%s", out, i++ > 0 ? "," : "", b) > 0);
		free(out);
		free(b);
		out = next;
	}
	va_end(ap);
	assert_true(asprintf(&next, "%s]}", out) > 0);
	free(out);
	return next;
}

/* POSTs body (freed) and expects 200 with one result per box. */
static struct answer
post(struct fixture *f, const char *auth, char *body)
{
	struct answer a = call(f, "POST", PATH, auth, body);

	free(body);
	if (a.status != 200)
		fail_msg("expected 200, got %d: %s", a.status, a.body);
	assert_int_equal(api_json_get(a.json, "results")->type, API_J_ARRAY);
	return a;
}

static const struct api_jval *
result(const struct answer *a, size_t i)
{
	const struct api_jval *r = api_json_get(a->json, "results");

	assert_true(i < r->nitems);
	return r->items[i];
}

static void
expect_result(const struct answer *a, size_t i, const char *id, const char *status, int code)
{
	const struct api_jval *r = result(a, i);

	assert_string_equal(api_json_get(r, "id")->str, id);
	if (strcmp(api_json_get(r, "status")->str, status) != 0)
		fail_msg("result %zu: expected %s, got %s", i, status, a->body);
	if (code != 0) {
		assert_int_equal(api_json_get(r, "code")->integer, code);
		assert_int_equal(api_json_get(r, "error")->type, API_J_STRING);
	} else {
		assert_null(api_json_get(r, "code"));
		assert_null(api_json_get(r, "error"));
	}
}

static struct store_gateway *
gateway_row(struct fixture *f, const char *name, struct store_gateway **list, size_t *n)
{
	size_t i;

	assert_int_equal(store_gateway_list(f->ctx.st, list, n), STORE_OK);
	for (i = 0; i < *n; i++)
		if (strcmp((*list)[i].name, name) == 0)
			return &(*list)[i];
	fail_msg("no gateway row %s", name);
	return NULL;
}

static void
test_stored_unchanged_older(void **state)
{
	struct fixture *f = *state;
	struct answer a;
	struct store_gateway *list, *g;
	struct store_box stored;
	char sid[80];
	size_t n;

	assert_int_equal(store_id(f->ctx.st, sid, sizeof(sid)), STORE_OK);
	assert_true(strlen(sid) == 32);
	a = post(f, KEY_A, batch("gw-a", box("b1", 5, NULL, "first"), NULL));
	assert_string_equal(api_json_get(a.json, "store_id")->str, sid);
	expect_result(&a, 0, "b1", "stored", 0);
	answer_free(&a);
	assert_int_equal(store_box_get(f->ctx.st, "b1", &stored), STORE_OK);
	assert_string_equal(stored.gateway, "gw-a");
	assert_int_equal(stored.gateway_revision, 5);
	assert_string_equal(stored.source, "watcher");
	assert_int_equal(stored.last_update_ms, 2000);
	assert_int_equal(stored.token_count, 5);
	store_box_free(&stored);

	/* The same again, then an older state: nothing is written. */
	a = post(f, KEY_A, batch("gw-a", box("b1", 5, NULL, "again"), NULL));
	expect_result(&a, 0, "b1", "unchanged", 0);
	answer_free(&a);
	a = post(f, KEY_A, batch("gw-a", box("b1", 4, NULL, "older"), NULL));
	expect_result(&a, 0, "b1", "unchanged", 0);
	answer_free(&a);
	a = call(f, "GET", "/api/v1/sessions/b1", SECRET, NULL);
	assert_int_equal(a.status, 200);
	assert_string_equal(api_json_get(a.json, "label")->str, "first");
	assert_string_equal(api_json_get(a.json, "gateway")->str, "gw-a");
	answer_free(&a);

	/* Newer: written.  PLUGIN_SECRET writes for any gateway. */
	a = post(f, SECRET, batch("gw-a", box("b1", 6, NULL, "newer"), NULL));
	expect_result(&a, 0, "b1", "stored", 0);
	answer_free(&a);
	a = call(f, "GET", "/api/v1/sessions", SECRET, NULL);
	assert_int_equal(a.json->nitems, 1);
	assert_string_equal(api_json_get(a.json->items[0], "label")->str, "newer");
	assert_string_equal(api_json_get(a.json->items[0], "gateway")->str, "gw-a");
	answer_free(&a);

	g = gateway_row(f, "gw-a", &list, &n);
	assert_int_equal(g->boxes_received, 2);
	assert_int_equal(g->rejected, 0);
	assert_int_equal(g->lag_ms, 1200);
	assert_int_equal(g->queue, 3);
	assert_string_equal(g->version, "0.1.0");
	assert_true(g->last_contact_ms >= g->first_seen_ms);
	store_gateway_list_free(list, n);

	/* An API box has gateway "". */
	a = call(f, "POST", "/api/v1/sessions", SECRET, "{\"id\":\"api1\",\"session_key\":\"k\"}");
	assert_int_equal(a.status, 201);
	assert_string_equal(api_json_get(a.json, "gateway")->str, "");
	answer_free(&a);
}

static void
test_auth(void **state)
{
	struct fixture *f = *state;
	struct answer a;
	char *body;

	body = batch("gw-b", box("b1", 1, NULL, "x"), NULL);
	a = call(f, "POST", PATH, KEY_A, body);
	expect_error(&a, 403, "this key writes only for gateway gw-a");
	a = call(f, "POST", PATH, "Bearer key-of-nobody-0123456789", body);
	expect_error(&a, 401, "GATEWAY_KEYS_FILE");
	a = call(f, "POST", PATH, NULL, body);
	expect_error(&a, 401, "PLUGIN_SECRET on the gateway");
	/* A key is for this route only. */
	a = call(f, "POST", "/api/v1/sessions", KEY_B, "{\"session_key\":\"k\"}");
	expect_error(&a, 401, "unauthorized");
	a = call(f, "GET", "/api/v1/sessions", KEY_B, NULL);
	expect_error(&a, 401, NULL);
	a = call(f, "POST", PATH, KEY_B, body);
	assert_int_equal(a.status, 200);
	answer_free(&a);
	free(body);
	a = call(f, "GET", PATH, SECRET, NULL);
	assert_string_equal(a.allow, "POST");
	expect_error(&a, 405, NULL);
}

static void
test_other_gateways_box(void **state)
{
	struct fixture *f = *state;
	struct answer a;
	struct store_gateway *list, *g;
	size_t n;

	a = post(f, KEY_A, batch("gw-a", box("shared", 1, NULL, "a's"), NULL));
	expect_result(&a, 0, "shared", "stored", 0);
	answer_free(&a);
	a = post(f, KEY_B,
	    batch("gw-b", box("shared", 9, NULL, "b's"), box("own", 1, NULL, "b's"), NULL));
	expect_result(&a, 0, "shared", "rejected", 403);
	assert_non_null(strstr(api_json_get(result(&a, 0), "error")->str, "gw-a"));
	expect_result(&a, 1, "own", "stored", 0);
	answer_free(&a);
	a = call(f, "GET", "/api/v1/sessions/shared", SECRET, NULL);
	assert_string_equal(api_json_get(a.json, "label")->str, "a's");
	answer_free(&a);
	g = gateway_row(f, "gw-b", &list, &n);
	assert_int_equal(g->boxes_received, 1);
	assert_int_equal(g->rejected, 1);
	store_gateway_list_free(list, n);
}

static void
test_keys_file_reload(void **state)
{
	struct fixture *f = *state;
	struct answer a;
	struct timeval tv[2];

	a = post(f, KEY_A, batch("gw-a", NULL));
	answer_free(&a);
	a = call(f, "POST", PATH, KEY_C, "{\"gateway\":\"gw-c\",\"boxes\":[]}");
	expect_error(&a, 401, NULL);

	/* gw-a's line goes, gw-c's comes; the mtime moves for sure. */
	write_keys(f,
	    "gw-b key-of-gateway-b-0123456789\n"
	    "gw-c key-of-gateway-c-0123456789\n");
	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec += 10;
	tv[1] = tv[0];
	assert_int_equal(utimes(f->keys, tv), 0);
	usleep(1100 * 1000);
	a = call(f, "POST", PATH, KEY_A, "{\"gateway\":\"gw-a\",\"boxes\":[]}");
	expect_error(&a, 401, "GATEWAY_KEYS_FILE");
	a = post(f, KEY_C, batch("gw-c", box("c1", 1, NULL, "c"), NULL));
	expect_result(&a, 0, "c1", "stored", 0);
	answer_free(&a);
	a = post(f, KEY_B, batch("gw-b", NULL));
	answer_free(&a);

	/* Missing: no keys; the secret still writes. */
	assert_int_equal(unlink(f->keys), 0);
	usleep(1100 * 1000);
	a = call(f, "POST", PATH, KEY_B, "{\"gateway\":\"gw-b\",\"boxes\":[]}");
	expect_error(&a, 401, NULL);
	a = post(f, SECRET, batch("gw-b", NULL));
	answer_free(&a);
}

static void
test_keys_file_lines(void **state)
{
	struct fixture *f = *state;
	struct api_gwkeys *k;
	char name[API_GATEWAY_NAME_MAX + 1];

	write_keys(f,
	    "# comment\n"
	    "   \n"
	    "ok-1 0123456789abcdef\n"
	    "short 0123456789abcde\n"
	    "bad/name 0123456789abcdef-x\n"
	    "three fields 0123456789abcdef\n"
	    "nokey\n"
	    "ok-1 0123456789abcdef-other\n"
	    "dupkey 0123456789abcdef\n"
	    "ok_2.x\t\t0123456789abcdef-2\r\n");
	k = api_gwkeys_new(f->keys);
	assert_int_equal(api_gwkeys_count(k), 2);
	assert_int_equal(api_gwkeys_lookup(k, "0123456789abcdef", 16, name, sizeof(name)), 1);
	assert_string_equal(name, "ok-1");
	assert_int_equal(api_gwkeys_lookup(k, "0123456789abcdef-2", 18, name, sizeof(name)), 1);
	assert_string_equal(name, "ok_2.x");
	assert_int_equal(api_gwkeys_lookup(k, "0123456789abcde", 15, name, sizeof(name)), 0);
	assert_int_equal(api_gwkeys_lookup(k, "0123456789abcdef-other", 22, name, sizeof(name)), 0);
	api_gwkeys_free(k);
	k = api_gwkeys_new(NULL);
	assert_int_equal(api_gwkeys_count(k), 0);
	assert_int_equal(api_gwkeys_lookup(k, "0123456789abcdef", 16, name, sizeof(name)), 0);
	api_gwkeys_free(k);
	assert_true(api_gwkeys_valid_name("gw-a.b_C9"));
	assert_false(api_gwkeys_valid_name(""));
	assert_false(api_gwkeys_valid_name("gw a"));
	assert_false(api_gwkeys_valid_name("gw:a"));
	assert_true(api_gwkeys_valid_name(
	    "a123456789012345678901234567890123456789012345678901234567890123"));
	assert_false(api_gwkeys_valid_name(
	    "a1234567890123456789012345678901234567890123456789012345678901234"));
}

static void
test_parents(void **state)
{
	struct fixture *f = *state;
	struct answer a;
	const struct api_jval *kids;

	/* A child before its parent, and a grandchild first of all. */
	a = post(f, KEY_A,
	    batch("gw-a", box("grandkid", 1, "kid", "g"), box("kid", 1, "top", "k"),
	        box("top", 1, NULL, "t"), box("orphan", 1, "nobody", "o"), NULL));
	expect_result(&a, 0, "grandkid", "stored", 0);
	expect_result(&a, 1, "kid", "stored", 0);
	expect_result(&a, 2, "top", "stored", 0);
	expect_result(&a, 3, "orphan", "rejected", 409);
	assert_non_null(strstr(api_json_get(result(&a, 3), "error")->str, "parent"));
	assert_non_null(strstr(api_json_get(result(&a, 3), "error")->str, "nobody"));
	answer_free(&a);
	a = call(f, "GET", "/api/v1/sessions/top", SECRET, NULL);
	kids = api_json_get(a.json, "children");
	assert_int_equal(kids->nitems, 1);
	assert_string_equal(api_json_get(kids->items[0], "id")->str, "kid");
	assert_string_equal(api_json_get(kids->items[0], "gateway")->str, "gw-a");
	assert_string_equal(
	    api_json_get(api_json_get(kids->items[0], "children")->items[0], "id")->str,
	    "grandkid");
	answer_free(&a);
	a = call(f, "GET", "/api/v1/sessions/orphan", SECRET, NULL);
	expect_error(&a, 404, NULL);
	/* A stored parent from an earlier batch is known. */
	a = post(f, KEY_A, batch("gw-a", box("kid2", 1, "top", "k2"), NULL));
	expect_result(&a, 0, "kid2", "stored", 0);
	answer_free(&a);
}

static void
test_bad_bodies(void **state)
{
	struct fixture *f = *state;
	struct answer a;
	struct api_buf big = { 0 };
	char *body;
	int i;

	a = call(f, "POST", PATH, KEY_A, "[]");
	expect_error(&a, 400, "object");
	a = call(f, "POST", PATH, KEY_A, "{\"boxes\":[]}");
	expect_error(&a, 400, "gateway: required");
	a = call(f, "POST", PATH, SECRET, "{\"gateway\":\"gw a\",\"boxes\":[]}");
	expect_error(&a, 400, "gateway:");
	a = call(f, "POST", PATH, SECRET, "{\"gateway\":7,\"boxes\":[]}");
	expect_error(&a, 400, "gateway:");
	a = call(f, "POST", PATH, KEY_A, "{\"gateway\":\"gw-a\"}");
	expect_error(&a, 400, "boxes: required");
	a = call(f, "POST", PATH, KEY_A, "{\"gateway\":\"gw-a\",\"boxes\":{}}");
	expect_error(&a, 400, "boxes:");
	a = call(f, "POST", PATH, KEY_A, "{\"gateway\":\"gw-a\",\"lag_ms\":-1,\"boxes\":[]}");
	expect_error(&a, 400, "lag_ms");
	a = call(f, "POST", PATH, KEY_A, "{\"gateway\":\"gw-a\",\"queue\":\"3\",\"boxes\":[]}");
	expect_error(&a, 400, "queue");
	a = call(f, "POST", PATH, KEY_A, "{\"gateway\":\"gw-a\",\"version\":1,\"boxes\":[]}");
	expect_error(&a, 400, "version");
	a = call(f, "POST", PATH, KEY_A, "{\"gateway\":\"gw-a\",\"boxes\":[");
	expect_error(&a, 400, "invalid JSON");

	api_buf_puts(&big, "{\"gateway\":\"gw-a\",\"boxes\":[");
	for (i = 0; i <= API_GATEWAY_BOXES_MAX; i++)
		api_buf_puts(&big, i > 0 ? ",{}" : "{}");
	api_buf_puts(&big, "]}");
	body = api_buf_steal(&big, NULL);
	a = call(f, "POST", PATH, KEY_A, body);
	expect_error(&a, 400, "at most 1000");
	free(body);

	/* Per box: the bad ones are rejected with 400, the rest stored. */
	a = post(f, KEY_A,
	    batch("gw-a", strdup("7"),
	        strdup("{\"id\":\"a/b\",\"revision\":1,\"session_key\":\"k\"}"),
	        strdup("{\"id\":\"nrev\",\"session_key\":\"k\"}"),
	        strdup("{\"id\":\"zrev\",\"revision\":0,\"session_key\":\"k\"}"),
	        strdup("{\"id\":\"st\",\"revision\":1,\"session_key\":\"k\",\"status\":\"x\"}"),
	        strdup("{\"id\":\"ln\",\"revision\":1,\"session_key\":\"k\",\"lines\":[1]}"),
	        strdup("{\"revision\":1,\"session_key\":\"k\"}"),
	        strdup("{\"id\":\"end\",\"revision\":1,\"session_key\":\"k\","
	               "\"end_time_ms\":\"x\"}"),
	        strdup("{\"id\":\"good\",\"revision\":1,\"session_key\":\"k\"}"), NULL));
	expect_result(&a, 0, "", "rejected", 400);
	expect_result(&a, 1, "a/b", "rejected", 400);
	assert_non_null(strstr(api_json_get(result(&a, 1), "error")->str, "id"));
	expect_result(&a, 2, "nrev", "rejected", 400);
	assert_non_null(strstr(api_json_get(result(&a, 2), "error")->str, "revision"));
	expect_result(&a, 3, "zrev", "rejected", 400);
	expect_result(&a, 4, "st", "rejected", 400);
	assert_non_null(strstr(api_json_get(result(&a, 4), "error")->str, "status"));
	expect_result(&a, 5, "ln", "rejected", 400);
	assert_non_null(strstr(api_json_get(result(&a, 5), "error")->str, "lines"));
	expect_result(&a, 6, "", "rejected", 400);
	expect_result(&a, 7, "end", "rejected", 400);
	assert_non_null(strstr(api_json_get(result(&a, 7), "error")->str, "end_time_ms"));
	expect_result(&a, 8, "good", "stored", 0);
	answer_free(&a);
}

static void
test_health_and_metrics(void **state)
{
	struct fixture *f = *state;
	struct answer a;
	const struct api_jval *gws, *g;
	char *text;
	size_t len;

	/* No gateway: no "gateways" member. */
	a = call(f, "GET", "/api/v1/health", SECRET, NULL);
	assert_int_equal(a.status, 200);
	assert_null(api_json_get(a.json, "gateways"));
	answer_free(&a);

	a = post(f, KEY_A, batch("gw-a", box("b1", 1, NULL, "x"), NULL));
	answer_free(&a);
	a = call(f, "GET", "/api/v1/health", SECRET, NULL);
	assert_int_equal(a.status, 200);
	assert_string_equal(api_json_get(a.json, "status")->str, "ok");
	gws = api_json_get(a.json, "gateways");
	assert_int_equal(gws->nitems, 1);
	g = gws->items[0];
	assert_string_equal(api_json_get(g, "name")->str, "gw-a");
	assert_string_equal(api_json_get(g, "state")->str, "ok");
	assert_int_equal(api_json_get(g, "silent_s")->integer, 0);
	assert_int_equal(api_json_get(g, "lag_ms")->integer, 1200);
	assert_int_equal(api_json_get(g, "queue")->integer, 3);
	assert_int_equal(api_json_get(g, "boxes_received")->integer, 1);
	assert_int_equal(api_json_get(g, "rejected")->integer, 0);
	assert_true(api_json_get(g, "last_contact_ms")->integer > 0);
	answer_free(&a);

	/* A gateway last heard from 400 s ago (GATEWAY_SILENT_S 300): degraded. */
	assert_int_equal(store_begin(f->ctx.st), STORE_OK);
	assert_int_equal(
	    store_gateway_touch(f->ctx.st, "gw-old", util_now_ms() - 400000, 0, 0, NULL, 0, 0),
	    STORE_OK);
	assert_int_equal(store_commit(f->ctx.st), STORE_OK);
	a = call(f, "GET", "/api/v1/health", SECRET, NULL);
	assert_int_equal(a.status, 503);
	assert_string_equal(api_json_get(a.json, "status")->str, "degraded");
	gws = api_json_get(a.json, "gateways");
	assert_int_equal(gws->nitems, 2);
	assert_string_equal(api_json_get(gws->items[1], "name")->str, "gw-old");
	assert_string_equal(api_json_get(gws->items[1], "state")->str, "silent");
	assert_true(api_json_get(gws->items[1], "silent_s")->integer >= 399);
	answer_free(&a);

	text = metrics_render(f->ctx.st, &len);
	assert_non_null(strstr(text, "livestatus_gateway_last_contact_seconds{gateway=\"gw-a\"} "));
	assert_non_null(strstr(text, "livestatus_gateway_lag_seconds{gateway=\"gw-a\"} 1.200\n"));
	assert_non_null(strstr(text, "livestatus_gateway_rejected_total{gateway=\"gw-old\"} 0\n"));
	assert_non_null(
	    strstr(text, "livestatus_gateway_boxes_received_total{gateway=\"gw-a\"} 1\n"));
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stored_unchanged_older, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_gateways_box, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_file_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_file_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_bodies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health_and_metrics, setup, teardown),
	};

	log_init("test_api_gateway", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
