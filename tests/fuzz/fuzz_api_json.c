/*
 * fuzz_api_json: the responder's JSON reader on any bytes, and what the
 * API builds on it (tests/fuzz/README.md says how to run it).
 *
 * One input is one request body.  api_json_parse() must either refuse it
 * with a message or give a tree; a tree then goes through what a POST and
 * a PUT do with a body (api_box_from_post, api_box_apply_put) and, when
 * they accept it, out again as SessionData (api_box_json), which must be
 * valid JSON that parses back.  Every string in the tree must survive the
 * writer (api_json_str) and the reader unchanged, and the same bytes read
 * as a stored lines column (api_box_lines_json) must give valid JSON too.
 * Any broken rule aborts, so libFuzzer and the replay test see it as a
 * crash; ASan and UBSan catch the rest.
 *
 * The entry point is LLVMFuzzerTestOneInput, or FUZZ_ENTRY when defined:
 * tests/unit/test_fuzz_replay.c includes this file to replay the corpus.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fcgi/api_box.h"
#include "fcgi/api_json.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

int FUZZ_ENTRY(const uint8_t *data, size_t size);

#define FJ_CHECK(cond)                                                                   \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "fuzz_api_json: %s:%d: %s\n", __FILE__, __LINE__, \
			    #cond);                                                      \
			abort();                                                         \
		}                                                                        \
	} while (0)

/* text must be one valid JSON value; returns its tree. */
static struct api_jval *
fj_must_parse(const char *text, size_t len)
{
	struct api_jval *v = NULL;
	char err[160];

	err[0] = '\0';
	if (api_json_parse(text, len, &v, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_api_json: writer made invalid JSON (%s): %.*s\n", err,
		    (int)(len > 400 ? 400 : len), text);
		abort();
	}
	return v;
}

/* Each string of the tree, written and read back, is the same bytes. */
static void
fj_strings_round_trip(const struct api_jval *v, int depth)
{
	struct api_buf b = { 0 };
	struct api_jval *back;
	size_t i;

	FJ_CHECK(depth <= API_JSON_MAX_DEPTH + 1);
	switch (v->type) {
	case API_J_STRING:
		FJ_CHECK(v->str != NULL && strlen(v->str) == v->len);
		api_json_str(&b, v->str, v->len);
		back = fj_must_parse(b.data, b.len);
		FJ_CHECK(back->type == API_J_STRING && back->len == v->len &&
		    memcmp(back->str, v->str, v->len) == 0);
		api_json_free(back);
		api_buf_free(&b);
		break;
	case API_J_ARRAY:
		for (i = 0; i < v->nitems; i++)
			fj_strings_round_trip(v->items[i], depth + 1);
		break;
	case API_J_OBJECT:
		for (i = 0; i < v->nmembers; i++) {
			FJ_CHECK(strlen(v->members[i].key) == v->members[i].keylen);
			FJ_CHECK(api_json_get(v, v->members[i].key) == v->members[i].val);
			fj_strings_round_trip(v->members[i].val, depth + 1);
		}
		break;
	default:
		FJ_CHECK(api_json_type_name(v->type) != NULL);
		break;
	}
}

/*
 * json-c in strict mode reads the same value: the same types, the same
 * strings, integers and members (json-c lacks only our extra refusals).
 */
static void
fj_same_as_json_c(const struct api_jval *v, json_object *o)
{
	size_t i;

	switch (v->type) {
	case API_J_NULL:
		FJ_CHECK(o == NULL || json_object_is_type(o, json_type_null));
		break;
	case API_J_BOOL:
		FJ_CHECK(json_object_is_type(o, json_type_boolean) &&
		    json_object_get_boolean(o) == v->boolean);
		break;
	case API_J_INT:
		FJ_CHECK(json_object_is_type(o, json_type_int) &&
		    json_object_get_int64(o) == v->integer);
		break;
	case API_J_NUMBER:
		FJ_CHECK(json_object_is_type(o, json_type_int) ||
		    json_object_is_type(o, json_type_double));
		break;
	case API_J_STRING:
		FJ_CHECK(json_object_is_type(o, json_type_string) &&
		    (size_t)json_object_get_string_len(o) == v->len &&
		    memcmp(json_object_get_string(o), v->str, v->len) == 0);
		break;
	case API_J_ARRAY:
		FJ_CHECK(json_object_is_type(o, json_type_array) &&
		    json_object_array_length(o) == v->nitems);
		for (i = 0; i < v->nitems; i++)
			fj_same_as_json_c(v->items[i], json_object_array_get_idx(o, i));
		break;
	case API_J_OBJECT:
		FJ_CHECK(json_object_is_type(o, json_type_object) &&
		    (size_t)json_object_object_length(o) == v->nmembers);
		for (i = 0; i < v->nmembers; i++) {
			json_object *m = NULL;

			FJ_CHECK(json_object_object_get_ex(o, v->members[i].key, &m));
			fj_same_as_json_c(v->members[i].val, m);
		}
		break;
	}
}

static void
fj_differential(const uint8_t *data, size_t size, const struct api_jval *v)
{
	json_tokener *tok = json_tokener_new_ex(API_JSON_MAX_DEPTH + 2);
	json_object *o;
	char *text = malloc(size + 1);

	/* With its NUL: json-c waits for more after a number otherwise. */
	memcpy(text, data, size);
	text[size] = '\0';
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, text, (int)size + 1);
	free(text);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		fprintf(stderr, "fuzz_api_json: json-c refuses what api_json took: %s\n",
		    json_tokener_error_desc(json_tokener_get_error(tok)));
		abort();
	}
	fj_same_as_json_c(v, o);
	json_object_put(o);
	json_tokener_free(tok);
}

/* box out as SessionData: valid JSON, an object with its id. */
static void
fj_box_out(const struct store_box *box)
{
	struct api_buf b = { 0 };
	struct api_jval *v;
	const struct api_jval *id;

	api_box_json(&b, box, NULL, 0);
	v = fj_must_parse(b.data, b.len);
	FJ_CHECK(v->type == API_J_OBJECT);
	id = api_json_get(v, "id");
	FJ_CHECK(id != NULL && id->type == API_J_STRING);
	FJ_CHECK(box->id == NULL || strcmp(id->str, box->id) == 0);
	api_json_free(v);
	api_buf_free(&b);
}

static void
fj_post_and_put(const struct api_jval *body)
{
	struct store_box box, before;
	char err[256];

	memset(&box, 0, sizeof(box));
	err[0] = '\0';
	if (api_box_from_post(body, 15, &box, err, sizeof(err)) == 0) {
		FJ_CHECK(box.session_key != NULL && box.status != NULL && box.lines != NULL);
		fj_box_out(&box);
	} else {
		FJ_CHECK(err[0] != '\0');
	}
	store_box_free(&box);

	/* A PUT on a box as the store would hand it over. */
	memset(&box, 0, sizeof(box));
	box.id = strdup("fuzz-box");
	box.session_key = strdup("agent:main:mattermost:channel:fuzz");
	box.status = strdup("active");
	box.lines = strdup("[\"first\",\"second\"]");
	box.end_time_ms = STORE_NO_TIME;
	before = box;
	err[0] = '\0';
	if (api_box_apply_put(body, 3, 1700000000000, &box, err, sizeof(err)) == 0) {
		FJ_CHECK(box.status != NULL && api_box_valid_status(box.status));
		fj_box_out(&box);
	} else {
		/* Unchanged on failure. */
		FJ_CHECK(err[0] != '\0');
		FJ_CHECK(box.status == before.status && box.lines == before.lines &&
		    box.end_time_ms == before.end_time_ms);
	}
	store_box_free(&box);
}

/* The same bytes as a stored lines column: always valid JSON out. */
static void
fj_lines_column(const uint8_t *data, size_t size)
{
	struct api_buf b = { 0 };
	struct api_jval *v;
	char *text = malloc(size + 1);

	memcpy(text, data, size);
	text[size] = '\0';
	api_box_lines_json(&b, text);
	v = fj_must_parse(b.data, b.len);
	FJ_CHECK(v->type == API_J_ARRAY);
	api_json_free(v);
	api_buf_free(&b);
	free(text);
}

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	struct api_jval *v = NULL;
	char err[160];

	/* The responder reads at most API_BODY_MAX; stay well inside it. */
	if (size > 65536)
		return 0;
	err[0] = '\0';
	if (api_json_parse((const char *)data, size, &v, err, sizeof(err)) == 0) {
		FJ_CHECK(v != NULL);
		fj_strings_round_trip(v, 0);
		fj_differential(data, size, v);
		if (v->type == API_J_OBJECT)
			fj_post_and_put(v);
		api_json_free(v);
	} else {
		FJ_CHECK(v == NULL && err[0] != '\0' && strstr(err, "at byte") != NULL);
	}
	fj_lines_column(data, size);
	return 0;
}
