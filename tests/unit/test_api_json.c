/* Unit tests of fcgi/api_json: the strict reader and the writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fcgi/api_json.h"

static struct api_jval *
parse_ok(const char *text)
{
	struct api_jval *v = NULL;
	char err[128];
	int rc = api_json_parse(text, strlen(text), &v, err, sizeof(err));

	if (rc != 0)
		fail_msg("parse of %s failed: %s", text, err);
	assert_non_null(v);
	return v;
}

/* Parses text[0..len) expecting failure with msg somewhere in the reason. */
static void
parse_bad_n(const char *text, size_t len, const char *msg)
{
	struct api_jval *v = NULL;
	char err[128];

	if (api_json_parse(text, len, &v, err, sizeof(err)) == 0)
		fail_msg("parse of %.*s should fail", (int)len, text);
	assert_null(v);
	if (msg != NULL && strstr(err, msg) == NULL)
		fail_msg("parse of %.*s: reason \"%s\" lacks \"%s\"", (int)len, text, err, msg);
}

static void
parse_bad(const char *text, const char *msg)
{
	parse_bad_n(text, strlen(text), msg);
}

static void
test_parse_object(void **state)
{
	struct api_jval *v;
	const struct api_jval *m;

	(void)state;
	v = parse_ok(" {\"a\": 1, \"b\": [true, false, null], \"c\": \"x\\ny\", \"d\": {}} ");
	assert_int_equal(v->type, API_J_OBJECT);
	assert_int_equal(v->nmembers, 4);
	m = api_json_get(v, "a");
	assert_non_null(m);
	assert_int_equal(m->type, API_J_INT);
	assert_int_equal(m->integer, 1);
	m = api_json_get(v, "b");
	assert_int_equal(m->type, API_J_ARRAY);
	assert_int_equal(m->nitems, 3);
	assert_int_equal(m->items[0]->type, API_J_BOOL);
	assert_int_equal(m->items[0]->boolean, 1);
	assert_int_equal(m->items[1]->boolean, 0);
	assert_int_equal(m->items[2]->type, API_J_NULL);
	m = api_json_get(v, "c");
	assert_string_equal(m->str, "x\ny");
	assert_int_equal(m->len, 3);
	assert_int_equal(api_json_get(v, "d")->type, API_J_OBJECT);
	assert_null(api_json_get(v, "e"));
	api_json_free(v);
}

static void
test_parse_numbers(void **state)
{
	struct api_jval *v;

	(void)state;
	v = parse_ok("[0, -0, 9223372036854775807, -9223372036854775808, "
	             "9223372036854775808, 1.5, 1e3, -2E-2, 12]");
	assert_int_equal(v->items[0]->type, API_J_INT);
	assert_int_equal(v->items[1]->type, API_J_INT);
	assert_int_equal(v->items[2]->type, API_J_INT);
	assert_true(v->items[2]->integer == INT64_MAX);
	assert_int_equal(v->items[3]->type, API_J_INT);
	assert_true(v->items[3]->integer == INT64_MIN);
	assert_int_equal(v->items[4]->type, API_J_NUMBER); /* out of range */
	assert_int_equal(v->items[5]->type, API_J_NUMBER);
	assert_int_equal(v->items[6]->type, API_J_NUMBER);
	assert_int_equal(v->items[7]->type, API_J_NUMBER);
	assert_int_equal(v->items[8]->integer, 12);
	api_json_free(v);
	v = parse_ok("123456789012345678901234567890");
	assert_int_equal(v->type, API_J_NUMBER);
	api_json_free(v);
}

static void
test_parse_unicode(void **state)
{
	struct api_jval *v;

	(void)state;
	v = parse_ok("\"\\u00e9\\u20ac\\ud83d\\ude00 \xc3\xa9\"");
	assert_string_equal(v->str, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \xc3\xa9");
	api_json_free(v);
	v = parse_ok("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"");
	assert_string_equal(v->str, "\"\\/\b\f\n\r\t");
	api_json_free(v);
}

static void
test_parse_rejects(void **state)
{
	(void)state;
	parse_bad("", "end of input");
	parse_bad("   ", "end of input");
	parse_bad("{", "end of input");
	parse_bad("{\"a\":1,}", "quoted key");
	parse_bad("[1,2,]", "unexpected character");
	parse_bad("{'a':1}", "quoted key");
	parse_bad("'a'", "unexpected character");
	parse_bad("NaN", "unexpected character");
	parse_bad("Infinity", "unexpected character");
	parse_bad("{\"a\":1} x", "after the value");
	parse_bad("{\"a\":1}{}", "after the value");
	parse_bad("/*c*/{}", "unexpected character");
	parse_bad("{a:1}", "quoted key");
	parse_bad("01", "after the value");
	parse_bad("1.", "invalid number");
	parse_bad("-", "invalid number");
	parse_bad("1e", "invalid number");
	parse_bad("tru", "unexpected character");
	parse_bad("nul", "unexpected character");
	parse_bad("\"abc", "end of input");
	parse_bad("\"a\tb\"", "control character");
	parse_bad("\"a\nb\"", "control character");
	parse_bad("\"\\x41\"", "invalid escape");
	parse_bad("\"\\u12\"", "invalid \\u escape");
	parse_bad("\"\\u12g4\"", "invalid \\u escape");
	parse_bad("{\"a\" 1}", "expected ':'");
	parse_bad("{\"a\":1 \"b\":2}", "expected ',' or '}'");
	parse_bad("[1 2]", "expected ',' or ']'");
}

static void
test_parse_nul_and_surrogates(void **state)
{
	(void)state;
	parse_bad("\"a\\u0000b\"", "\\u0000");
	parse_bad("{\"k\\u0000\":1}", "\\u0000");
	parse_bad("\"\\ud800\"", "lone surrogate");
	parse_bad("\"\\ud800x\"", "lone surrogate");
	parse_bad("\"\\ud800\\u0041\"", "lone surrogate");
	parse_bad("\"\\udc00\"", "lone surrogate");
	parse_bad("\"\\ude00\\ud83d\"", "lone surrogate");
	parse_bad("\"\\ud83d\\ud83d\"", "lone surrogate");
	parse_bad_n("\"a\0b\"", 5, "control character");
}

static void
test_parse_utf8(void **state)
{
	(void)state;
	parse_bad("\"\xff\"", "invalid UTF-8");
	parse_bad("\"\xc3\"", "invalid UTF-8");
	parse_bad("\"\xc0\xaf\"", "invalid UTF-8"); /* overlong '/' */
	parse_bad("\"\xe0\x80\xaf\"", "invalid UTF-8"); /* overlong */
	parse_bad("\"\xed\xa0\x80\"", "invalid UTF-8"); /* encoded surrogate */
	parse_bad("\"\xf4\x90\x80\x80\"", "invalid UTF-8"); /* above U+10FFFF */
	parse_bad("\"\x80\"", "invalid UTF-8");
}

static void
test_parse_duplicates_and_depth(void **state)
{
	char deep[200];
	size_t i;

	(void)state;
	parse_bad("{\"a\":1,\"a\":2}", "duplicate key");
	parse_bad("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,"
	          "\"c\":10}",
	    "duplicate key");
	api_json_free(parse_ok("{\"a\":{\"a\":1},\"b\":{\"a\":2}}"));
	for (i = 0; i < 40; i++)
		deep[i] = '[';
	for (i = 40; i < 80; i++)
		deep[i] = ']';
	deep[80] = '\0';
	parse_bad(deep, "nesting too deep");
	deep[API_JSON_MAX_DEPTH] = '\0';
	memset(deep, '[', API_JSON_MAX_DEPTH);
	memset(deep + API_JSON_MAX_DEPTH, ']', API_JSON_MAX_DEPTH);
	deep[2 * API_JSON_MAX_DEPTH] = '\0';
	api_json_free(parse_ok(deep));
}

static void
test_parse_too_many_values(void **state)
{
	size_t n = 150000, i;
	char *text = malloc(2 * n + 2);

	(void)state;
	text[0] = '[';
	for (i = 0; i < n; i++) {
		text[1 + 2 * i] = '0';
		text[2 + 2 * i] = i + 1 < n ? ',' : ']';
	}
	text[2 * n + 1] = '\0';
	parse_bad(text, "too many values");
	free(text);
}

static void
test_write_strings(void **state)
{
	struct api_buf b = { 0 };

	(void)state;
	api_json_str(&b, "plain", 5);
	assert_string_equal(b.data, "\"plain\"");
	b.len = 0;
	api_json_str(&b, "q\"b\\n\n\t\x01\x1f", 9);
	assert_string_equal(b.data, "\"q\\\"b\\\\n\\n\\t\\u0001\\u001f\"");
	b.len = 0;
	/* Valid UTF-8 passes; invalid bytes become U+FFFD. */
	api_json_str(&b,
	    "\xc3\xa9\xff"
	    "a\xed\xa0\x80",
	    7);
	assert_string_equal(b.data,
	    "\"\xc3\xa9\xef\xbf\xbd"
	    "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	b.len = 0;
	api_json_cstr(&b, NULL);
	assert_string_equal(b.data, "null");
	b.len = 0;
	api_buf_i64(&b, INT64_MIN);
	assert_string_equal(b.data, "-9223372036854775808");
	api_buf_free(&b);
}

/* Whatever bytes go in, the writer's output parses back. */
static void
test_write_roundtrip(void **state)
{
	struct api_buf b = { 0 };
	struct api_jval *v = NULL;
	char in[256], err[128];
	unsigned seed = 12345;
	int round, i;

	(void)state;
	for (round = 0; round < 2000; round++) {
		for (i = 0; i < (int)sizeof(in); i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = (char)(seed >> 16);
			if (in[i] == 0)
				in[i] = 'x';
		}
		b.len = 0;
		api_json_str(&b, in, sizeof(in));
		if (api_json_parse(b.data, b.len, &v, err, sizeof(err)) != 0)
			fail_msg("round %d: writer output does not parse: %s", round, err);
		assert_int_equal(v->type, API_J_STRING);
		api_json_free(v);
	}
	api_buf_free(&b);
}

static void
test_buf(void **state)
{
	struct api_buf b = { 0 };
	char *s;
	size_t len, i;

	(void)state;
	for (i = 0; i < 1000; i++)
		api_buf_puts(&b, "0123456789");
	assert_int_equal(b.len, 10000);
	s = api_buf_steal(&b, &len);
	assert_int_equal(len, 10000);
	assert_int_equal(strlen(s), 10000);
	assert_null(b.data);
	free(s);
	s = api_buf_steal(&b, &len);
	assert_string_equal(s, "");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_object),
		cmocka_unit_test(test_parse_numbers),
		cmocka_unit_test(test_parse_unicode),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_parse_nul_and_surrogates),
		cmocka_unit_test(test_parse_utf8),
		cmocka_unit_test(test_parse_duplicates_and_depth),
		cmocka_unit_test(test_parse_too_many_values),
		cmocka_unit_test(test_write_strings),
		cmocka_unit_test(test_write_roundtrip),
		cmocka_unit_test(test_buf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
