/* Unit tests of the responder's parsing and checks: HTTP, auth, box, config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fcgi/api_box.h"
#include "fcgi/api_config.h"
#include "fcgi/api_http.h"
#include "fcgi/auth.h"

static void
test_content_length(void **state)
{
	size_t n = 7;

	(void)state;
	assert_int_equal(api_http_content_length(NULL, &n), 1);
	assert_int_equal(api_http_content_length("", &n), 1);
	assert_int_equal(api_http_content_length("0", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(api_http_content_length("1048576", &n), 0);
	assert_int_equal(n, 1048576);
	assert_int_equal(api_http_content_length("-1", &n), -1);
	assert_int_equal(api_http_content_length("+5", &n), -1);
	assert_int_equal(api_http_content_length(" 5", &n), -1);
	assert_int_equal(api_http_content_length("5 ", &n), -1);
	assert_int_equal(api_http_content_length("0x10", &n), -1);
	assert_int_equal(api_http_content_length("1e3", &n), -1);
	assert_int_equal(api_http_content_length("abc", &n), -1);
	assert_int_equal(api_http_content_length("99999999999999999999999", &n), -1);
}

static void
test_is_json(void **state)
{
	(void)state;
	assert_true(api_http_is_json("application/json"));
	assert_true(api_http_is_json("Application/JSON"));
	assert_true(api_http_is_json("application/json; charset=utf-8"));
	assert_true(api_http_is_json("application/json;charset=UTF-8"));
	assert_true(api_http_is_json("application/json; charset=\"utf-8\""));
	assert_false(api_http_is_json(NULL));
	assert_false(api_http_is_json(""));
	assert_false(api_http_is_json("text/plain"));
	assert_false(api_http_is_json("application/jsonx"));
	assert_false(api_http_is_json("application/json; charset=latin1"));
	assert_false(api_http_is_json("application/json; boundary=x"));
	assert_false(api_http_is_json("application/x-www-form-urlencoded"));
	assert_false(api_http_is_json("multipart/form-data; boundary=x"));
}

static void
test_etag(void **state)
{
	(void)state;
	assert_true(api_http_etag_match("\"42\"", 42));
	assert_true(api_http_etag_match("W/\"42\"", 42));
	assert_true(api_http_etag_match("\"1\", \"42\"", 42));
	assert_true(api_http_etag_match("*", 42));
	assert_false(api_http_etag_match(NULL, 42));
	assert_false(api_http_etag_match("", 42));
	assert_false(api_http_etag_match("42", 42));
	assert_false(api_http_etag_match("\"41\"", 42));
	assert_false(api_http_etag_match("\"420\"", 42));
	assert_false(api_http_etag_match("\"4\"", 42));
}

static void
test_query(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(api_http_query(NULL, "status", out, sizeof(out)), 0);
	assert_int_equal(api_http_query("", "status", out, sizeof(out)), 0);
	assert_int_equal(api_http_query("status=active", "status", out, sizeof(out)), 1);
	assert_string_equal(out, "active");
	assert_int_equal(
	    api_http_query("a=1&channel_id=c%2D1&b", "channel_id", out, sizeof(out)), 1);
	assert_string_equal(out, "c-1");
	assert_int_equal(api_http_query("xstatus=active", "status", out, sizeof(out)), 0);
	assert_int_equal(api_http_query("status", "status", out, sizeof(out)), 1);
	assert_string_equal(out, "");
	assert_int_equal(api_http_query("status=a+b", "status", out, sizeof(out)), 1);
	assert_string_equal(out, "a b");
	assert_int_equal(api_http_query("status=%00", "status", out, sizeof(out)), -1);
	assert_int_equal(api_http_query("status=%4", "status", out, sizeof(out)), -1);
	assert_int_equal(api_http_query("status=%zz", "status", out, sizeof(out)), -1);
	assert_int_equal(api_http_query("status=a&status=b", "status", out, sizeof(out)), -1);
	assert_int_equal(api_http_query("status=0123456789abcdef", "status", out, sizeof(out)), -1);
}

static void
test_route(void **state)
{
	char id[API_ID_MAX + 1], long_id[200];

	(void)state;
	assert_int_equal(api_http_route("/api/v1/health", id, sizeof(id)), API_R_HEALTH);
	assert_int_equal(api_http_route("/api/v1/auth", id, sizeof(id)), API_R_AUTH);
	assert_int_equal(api_http_route("/api/v1/sessions", id, sizeof(id)), API_R_SESSIONS);
	assert_int_equal(
	    api_http_route("/api/v1/sessions/abc:1.x-y_z", id, sizeof(id)), API_R_SESSION);
	assert_string_equal(id, "abc:1.x-y_z");
	assert_int_equal(api_http_route(NULL, id, sizeof(id)), API_R_NONE);
	assert_int_equal(api_http_route("", id, sizeof(id)), API_R_NONE);
	assert_int_equal(api_http_route("/", id, sizeof(id)), API_R_NONE);
	assert_int_equal(api_http_route("/api/v1/health/", id, sizeof(id)), API_R_NONE);
	assert_int_equal(api_http_route("/api/v2/sessions", id, sizeof(id)), API_R_NONE);
	assert_int_equal(
	    api_http_route("/plugins/com.openclaw.livestatus/api/v1/health", id, sizeof(id)),
	    API_R_NONE);
	assert_int_equal(api_http_route("/api/v1/sessions/", id, sizeof(id)), API_R_BAD_ID);
	assert_int_equal(api_http_route("/api/v1/sessions/a/b", id, sizeof(id)), API_R_BAD_ID);
	assert_int_equal(api_http_route("/api/v1/sessions/..", id, sizeof(id)), API_R_BAD_ID);
	assert_int_equal(api_http_route("/api/v1/sessions/a..b", id, sizeof(id)), API_R_BAD_ID);
	assert_int_equal(api_http_route("/api/v1/sessions/a%00", id, sizeof(id)), API_R_BAD_ID);
	assert_int_equal(api_http_route("/api/v1/sessions/a b", id, sizeof(id)), API_R_BAD_ID);
	assert_int_equal(
	    api_http_route("/api/v1/sessions/x' OR '1'='1", id, sizeof(id)), API_R_BAD_ID);
	memset(long_id, 'a', 128);
	snprintf(long_id, sizeof(long_id), "/api/v1/sessions/%0128d", 0);
	assert_int_equal(api_http_route(long_id, id, sizeof(id)), API_R_SESSION);
	snprintf(long_id, sizeof(long_id), "/api/v1/sessions/%0129d", 0);
	assert_int_equal(api_http_route(long_id, id, sizeof(id)), API_R_BAD_ID);
	assert_string_equal(api_http_allow(API_R_SESSIONS), "GET, HEAD, POST");
	assert_string_equal(api_http_allow(API_R_SESSION), "GET, HEAD, PUT, DELETE");
	assert_string_equal(api_http_allow(API_R_HEALTH), "GET, HEAD");
	assert_int_equal(api_http_route("/api/v1/gateway/boxes", id, sizeof(id)), API_R_GATEWAY);
	assert_int_equal(api_http_route("/api/v1/gateway/boxes/", id, sizeof(id)), API_R_NONE);
	assert_int_equal(api_http_route("/api/v1/gateway", id, sizeof(id)), API_R_NONE);
	assert_string_equal(api_http_allow(API_R_GATEWAY), "POST");
	assert_int_equal(api_http_method("GET"), API_M_GET);
	assert_int_equal(api_http_method("get"), API_M_OTHER);
	assert_int_equal(api_http_method(NULL), API_M_OTHER);
	assert_int_equal(api_http_method("PATCH"), API_M_OTHER);
}

static void
test_resp_error(void **state)
{
	struct api_resp r;

	(void)state;
	memset(&r, 0, sizeof(r));
	api_resp_error(&r, 400, "bad \"thing\"");
	assert_int_equal(r.status, 400);
	assert_string_equal(r.body.data, "{\"error\":\"bad \\\"thing\\\"\"}");
	api_resp_free(&r);
	assert_string_equal(api_http_reason(413), "Content Too Large");
}

static struct api_req
req_with_auth(const char *authorization)
{
	struct api_req r;

	memset(&r, 0, sizeof(r));
	r.authorization = authorization;
	return r;
}

static void
test_bearer(void **state)
{
	size_t len = 0;
	const char *t;

	(void)state;
	t = api_auth_bearer("Bearer abc", &len);
	assert_non_null(t);
	assert_int_equal(len, 3);
	assert_memory_equal(t, "abc", 3);
	t = api_auth_bearer("bearer   abc  ", &len);
	assert_non_null(t);
	assert_int_equal(len, 3);
	assert_null(api_auth_bearer(NULL, &len));
	assert_null(api_auth_bearer("Bearer", &len));
	assert_null(api_auth_bearer("Bearer ", &len));
	assert_null(api_auth_bearer("Bearerabc", &len));
	assert_null(api_auth_bearer("Basic dGVzdA==", &len));
	assert_null(api_auth_bearer("Token abc", &len));
}

static void
test_auth_secret_mode(void **state)
{
	struct api_auth *a = api_auth_new("test-secret", API_READ_AUTH_SECRET);
	struct api_principal who;
	struct api_req r;
	static const char *const near[] = {
		"Bearer test-secreT",
		"Bearer test-secre",
		"Bearer test-secrets",
		"Bearer  test-secret x",
		"Bearer TEST-SECRET",
		"Bearer test_secret",
		"Basic test-secret",
		"test-secret",
		"Bearer test-secret\t\x01",
		"Bearer est-secret",
		NULL,
	};
	int i;

	(void)state;
	r = req_with_auth("Bearer test-secret");
	assert_int_equal(api_auth_writer(a, &r), API_AUTH_OK);
	assert_int_equal(api_auth_reader(a, &r, &who), API_AUTH_OK);
	assert_true(who.writer);
	assert_true(api_auth_may_read_channel(a, &who, "c1"));
	for (i = 0; near[i] != NULL; i++) {
		r = req_with_auth(near[i]);
		if (api_auth_writer(a, &r) != API_AUTH_UNAUTHORIZED)
			fail_msg("\"%s\" was accepted as the secret", near[i]);
		assert_int_equal(api_auth_reader(a, &r, &who), API_AUTH_UNAUTHORIZED);
	}
	r = req_with_auth(NULL);
	r.cookie = "MMAUTHTOKEN=test-secret";
	assert_int_equal(api_auth_reader(a, &r, &who), API_AUTH_UNAUTHORIZED);
	r.query = "secret=test-secret&token=test-secret&access_token=test-secret";
	assert_int_equal(api_auth_reader(a, &r, &who), API_AUTH_UNAUTHORIZED);
	assert_int_equal(api_auth_writer(a, &r), API_AUTH_UNAUTHORIZED);
	api_auth_free(a);
}

static void
test_auth_none_and_empty(void **state)
{
	struct api_auth *a = api_auth_new(NULL, API_READ_AUTH_NONE);
	struct api_principal who;
	struct api_req r = req_with_auth(NULL);

	(void)state;
	assert_int_equal(api_auth_reader(a, &r, &who), API_AUTH_OK);
	assert_false(who.writer);
	assert_true(who.all_channels);
	/* An unset secret lets no one write, not even with an empty token. */
	assert_int_equal(api_auth_writer(a, &r), API_AUTH_UNAUTHORIZED);
	r = req_with_auth("Bearer ");
	assert_int_equal(api_auth_writer(a, &r), API_AUTH_UNAUTHORIZED);
	api_auth_free(a);
	a = api_auth_new("", API_READ_AUTH_SECRET);
	r = req_with_auth("Bearer x");
	assert_int_equal(api_auth_reader(a, &r, &who), API_AUTH_UNAUTHORIZED);
	api_auth_free(a);
}

static struct api_jval *
json(const char *text)
{
	struct api_jval *v = NULL;
	char err[128];

	if (api_json_parse(text, strlen(text), &v, err, sizeof(err)) != 0)
		fail_msg("bad test JSON %s: %s", text, err);
	return v;
}

static void
post_bad(const char *body, const char *msg)
{
	struct api_jval *v = json(body);
	struct store_box b;
	char err[200];

	if (api_box_from_post(v, 15, &b, err, sizeof(err)) == 0)
		fail_msg("POST %s should fail", body);
	if (strstr(err, msg) == NULL)
		fail_msg("POST %s: \"%s\" lacks \"%s\"", body, err, msg);
	assert_null(b.id);
	assert_null(b.session_key);
	api_json_free(v);
}

static void
test_box_from_post(void **state)
{
	struct api_jval *v;
	struct store_box b;
	char err[200];

	(void)state;
	v = json("{\"id\":\"b1\",\"session_key\":\"agent:main:mattermost:channel:c1\","
	         "\"channel_id\":\"c1\",\"root_id\":\"r1\",\"parent_id\":null,\"label\":\"L\","
	         "\"bot_user_id\":\"bot\",\"lines\":[\"1\",\"2\",\"3\",\"4\"],\"status\":\"done\","
	         "\"start_time_ms\":1000,\"unknown\":{\"x\":[1]}}");
	assert_int_equal(api_box_from_post(v, 3, &b, err, sizeof(err)), 0);
	assert_string_equal(b.id, "b1");
	assert_string_equal(b.agent_id, "main");
	assert_string_equal(b.channel_id, "c1");
	assert_string_equal(b.root_id, "r1");
	assert_null(b.parent_id);
	assert_string_equal(b.label, "L");
	assert_string_equal(b.bot_user_id, "bot");
	assert_string_equal(b.lines, "[\"2\",\"3\",\"4\"]"); /* newest 3 */
	assert_string_equal(b.status, "done");
	assert_true(b.start_time_ms == 1000);
	assert_string_equal(b.source, "api");
	store_box_free(&b);
	api_json_free(v);

	v = json("{\"session_key\":\"k\"}");
	assert_int_equal(api_box_from_post(v, 15, &b, err, sizeof(err)), 0);
	assert_null(b.id);
	assert_string_equal(b.agent_id, "");
	assert_string_equal(b.status, "active");
	assert_string_equal(b.lines, "[]");
	assert_true(b.end_time_ms == STORE_NO_TIME);
	store_box_free(&b);
	api_json_free(v);

	post_bad("[]", "body: expected a JSON object");
	post_bad("\"x\"", "body: expected a JSON object");
	post_bad("{}", "session_key: required");
	post_bad("{\"session_key\":\"\"}", "session_key: must not be empty");
	post_bad("{\"session_key\":5}", "session_key: expected a string");
	post_bad("{\"session_key\":\"a\\nb\"}", "session_key: control character");
	post_bad("{\"session_key\":\"k\",\"id\":5}", "id: expected a string");
	post_bad("{\"session_key\":\"k\",\"id\":\"a/b\"}", "id: invalid id");
	post_bad("{\"session_key\":\"k\",\"id\":\"..\"}", "id: invalid id");
	post_bad("{\"session_key\":\"k\",\"id\":\"\"}", "id: invalid id");
	post_bad("{\"session_key\":\"k\",\"id\":\"x'; DROP TABLE boxes;--\"}", "id: invalid id");
	post_bad("{\"session_key\":\"k\",\"channel_id\":\"c 1\"}", "channel_id: invalid id");
	post_bad("{\"session_key\":\"k\",\"channel_id\":null}", "channel_id: expected a string");
	post_bad("{\"session_key\":\"k\",\"lines\":\"x\"}", "lines: expected an array of strings");
	post_bad("{\"session_key\":\"k\",\"lines\":[1]}", "lines: expected an array of strings");
	post_bad("{\"session_key\":\"k\",\"status\":\"running\"}", "status: expected active");
	post_bad("{\"session_key\":\"k\",\"status\":1}", "status: expected a string");
	post_bad(
	    "{\"session_key\":\"k\",\"start_time_ms\":1.5}", "start_time_ms: expected an integer");
	post_bad("{\"session_key\":\"k\",\"start_time_ms\":\"1\"}",
	    "start_time_ms: expected an integer");
	post_bad(
	    "{\"session_key\":\"k\",\"start_time_ms\":-1}", "start_time_ms: must not be negative");
	post_bad("{\"session_key\":\"k\",\"parent_id\":7}", "parent_id: expected a string or null");
	post_bad("{\"session_key\":\"k\",\"id\":\"p\",\"parent_id\":\"p\"}", "own parent");
	post_bad("{\"session_key\":\"k\",\"label\":true}", "label: expected a string");
}

static void
test_box_apply_put(void **state)
{
	struct store_box b;
	struct api_jval *v;
	char err[200];

	(void)state;
	memset(&b, 0, sizeof(b));
	b.id = strdup("b1");
	b.status = strdup("active");
	b.lines = strdup("[]");
	b.label = strdup("");
	b.end_time_ms = STORE_NO_TIME;

	v = json("{\"lines\":[\"a\",\"b\"],\"token_count\":5,\"model\":\"m\",\"x\":1}");
	assert_int_equal(api_box_apply_put(v, 15, 100, &b, err, sizeof(err)), 0);
	assert_string_equal(b.lines, "[\"a\",\"b\"]");
	assert_true(b.token_count == 5);
	assert_string_equal(b.model, "m");
	assert_true(b.last_update_ms == 100);
	assert_true(b.end_time_ms == STORE_NO_TIME);
	api_json_free(v);

	/* Leaving active sets the end time when none is given. */
	v = json("{\"status\":\"done\"}");
	assert_int_equal(api_box_apply_put(v, 15, 200, &b, err, sizeof(err)), 0);
	assert_true(b.end_time_ms == 200);
	api_json_free(v);
	v = json("{\"status\":\"error\",\"end_time_ms\":150}");
	assert_int_equal(api_box_apply_put(v, 15, 300, &b, err, sizeof(err)), 0);
	assert_true(b.end_time_ms == 150);
	api_json_free(v);
	v = json("{\"status\":\"active\"}");
	assert_int_equal(api_box_apply_put(v, 15, 400, &b, err, sizeof(err)), 0);
	assert_true(b.end_time_ms == STORE_NO_TIME);
	api_json_free(v);

	/* A bad field changes nothing. */
	v = json("{\"status\":\"done\",\"token_count\":\"5\"}");
	assert_int_equal(api_box_apply_put(v, 15, 500, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "token_count: expected an integer"));
	assert_string_equal(b.status, "active");
	assert_true(b.last_update_ms == 400);
	api_json_free(v);
	v = json("{\"end_time_ms\":\"x\"}");
	assert_int_equal(api_box_apply_put(v, 15, 500, &b, err, sizeof(err)), -1);
	api_json_free(v);
	v = json("{\"post_id\":\"a b\"}");
	assert_int_equal(api_box_apply_put(v, 15, 500, &b, err, sizeof(err)), -1);
	api_json_free(v);
	v = json("{\"lines\":[null]}");
	assert_int_equal(api_box_apply_put(v, 15, 500, &b, err, sizeof(err)), -1);
	api_json_free(v);
	v = json("[1]");
	assert_int_equal(api_box_apply_put(v, 15, 500, &b, err, sizeof(err)), -1);
	api_json_free(v);
	store_box_free(&b);
}

static void
test_box_json(void **state)
{
	struct store_box b;
	struct api_buf out = { 0 };
	struct api_jval *v;

	(void)state;
	memset(&b, 0, sizeof(b));
	b.id = "b1";
	b.session_key = "k";
	b.status = "active";
	b.lines = "[\"x\\\"y\",\"\\u00e9\"]";
	b.parent_id = "p";
	b.end_time_ms = STORE_NO_TIME;
	b.start_time_ms = 5;
	b.revision = 9;
	api_box_json(&out, &b, "[{\"id\":\"c\"}]", 12);
	v = json(out.data);
	assert_string_equal(api_json_get(v, "id")->str, "b1");
	assert_string_equal(api_json_get(v, "parent_id")->str, "p");
	assert_int_equal(api_json_get(v, "end_time_ms")->type, API_J_NULL);
	assert_int_equal(api_json_get(v, "lines")->nitems, 2);
	assert_string_equal(api_json_get(v, "lines")->items[0]->str, "x\"y");
	assert_string_equal(api_json_get(v, "children")->items[0]->members[0].val->str, "c");
	assert_int_equal(api_json_get(v, "revision")->integer, 9);
	assert_string_equal(api_json_get(v, "channel_id")->str, "");
	assert_string_equal(api_json_get(v, "gateway")->str, "");
	assert_null(api_json_get(v, "bot_user_id"));
	api_json_free(v);
	out.len = 0;
	assert_int_equal(api_box_lines_json(&out, "{\"not\":\"an array\"}"), -1);
	assert_string_equal(out.data, "[]");
	out.len = 0;
	assert_int_equal(api_box_lines_json(&out, "[1,2]"), -1);
	assert_string_equal(out.data, "[]");
	api_buf_free(&out);
}

static void
test_config(void **state)
{
	struct api_config c;
	char err[256];

	(void)state;
	unsetenv("MAX_STATUS_LINES");
	unsetenv("READ_AUTH");
	unsetenv("PUBLISH_URL");
	unsetenv("LOG_LEVEL");
	unsetenv("LIVESTATUS_DB");
	assert_int_equal(api_config_load(&c, err, sizeof(err)), 0);
	assert_int_equal(c.max_active, 20);
	assert_int_equal(c.max_lines, 15);
	assert_int_equal(c.stale_after_s, 1800);
	assert_int_equal(c.delete_after_s, 3600);
	assert_int_equal(c.cleanup_interval_s, 60);
	assert_string_equal(c.db_path, API_DEFAULT_DB);
	assert_int_equal(c.read_auth, API_READ_AUTH_SECRET);

	setenv("MAX_STATUS_LINES", "lots", 1);
	assert_int_equal(api_config_load(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "MAX_STATUS_LINES"));
	setenv("MAX_STATUS_LINES", "0", 1);
	assert_int_equal(api_config_load(&c, err, sizeof(err)), -1);
	unsetenv("MAX_STATUS_LINES");
	setenv("READ_AUTH", "maybe", 1);
	assert_int_equal(api_config_load(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "READ_AUTH"));
	setenv("READ_AUTH", "none", 1);
	assert_int_equal(api_config_load(&c, err, sizeof(err)), 0);
	assert_int_equal(c.read_auth, API_READ_AUTH_NONE);
	unsetenv("READ_AUTH");
	setenv("PUBLISH_URL", "ftp://x", 1);
	assert_int_equal(api_config_load(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "PUBLISH_URL"));
	unsetenv("PUBLISH_URL");
	setenv("LOG_LEVEL", "chatty", 1);
	assert_int_equal(api_config_load(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "LOG_LEVEL"));
	unsetenv("LOG_LEVEL");
	setenv("CLEANUP_INTERVAL_S", "-5", 1);
	assert_int_equal(api_config_load(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "CLEANUP_INTERVAL_S"));
	unsetenv("CLEANUP_INTERVAL_S");

	/* Gateways: the default keys file may be missing, a named one not. */
	unsetenv("GATEWAY_KEYS_FILE");
	unsetenv("GATEWAY_SILENT_S");
	assert_int_equal(api_config_load(&c, err, sizeof(err)), 0);
	assert_string_equal(c.gateway_keys_file, API_DEFAULT_GATEWAY_KEYS);
	assert_int_equal(c.gateway_silent_s, 300);
	setenv("GATEWAY_KEYS_FILE", "/nonexistent/gateway-keys", 1);
	assert_int_equal(api_config_load(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "GATEWAY_KEYS_FILE"));
	assert_non_null(strstr(err, "/nonexistent/gateway-keys"));
	setenv("GATEWAY_KEYS_FILE", "/tmp", 1);
	assert_int_equal(api_config_load(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "GATEWAY_KEYS_FILE"));
	setenv("GATEWAY_KEYS_FILE", "/dev/null", 1);
	assert_int_equal(api_config_load(&c, err, sizeof(err)), -1);
	unsetenv("GATEWAY_KEYS_FILE");
	setenv("GATEWAY_SILENT_S", "5", 1);
	assert_int_equal(api_config_load(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "GATEWAY_SILENT_S"));
	setenv("GATEWAY_SILENT_S", "86400", 1);
	assert_int_equal(api_config_load(&c, err, sizeof(err)), 0);
	assert_int_equal(c.gateway_silent_s, 86400);
	unsetenv("GATEWAY_SILENT_S");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_is_json),
		cmocka_unit_test(test_etag),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_resp_error),
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_auth_secret_mode),
		cmocka_unit_test(test_auth_none_and_empty),
		cmocka_unit_test(test_box_from_post),
		cmocka_unit_test(test_box_apply_put),
		cmocka_unit_test(test_box_json),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
