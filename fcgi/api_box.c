/* api_box: SessionData serialization and request body checks. */
#include "fcgi/api_box.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/xmalloc.h"

static const char *const api_box_statuses[] = { "active", "done", "error", "interrupted" };

int
api_box_valid_status(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(api_box_statuses) / sizeof(api_box_statuses[0]); i++)
		if (strcmp(s, api_box_statuses[i]) == 0)
			return 1;
	return 0;
}

int
api_box_lines_json(struct api_buf *b, const char *lines)
{
	struct api_jval *v = NULL;
	char err[128];
	size_t i, mark = b->len;
	int rc = -1;

	if (lines == NULL || api_json_parse(lines, strlen(lines), &v, err, sizeof(err)) < 0 ||
	    v->type != API_J_ARRAY)
		goto out;
	api_buf_put(b, "[", 1);
	for (i = 0; i < v->nitems; i++) {
		if (v->items[i]->type != API_J_STRING) {
			b->len = mark;
			goto out;
		}
		if (i > 0)
			api_buf_put(b, ",", 1);
		api_json_str(b, v->items[i]->str, v->items[i]->len);
	}
	api_buf_put(b, "]", 1);
	rc = 0;
out:
	if (rc < 0)
		api_buf_put(b, "[]", 2);
	api_json_free(v);
	return rc;
}

static void
api_box_field(struct api_buf *b, const char *name, const char *value)
{
	api_buf_puts(b, name);
	api_json_cstr(b, value != NULL ? value : "");
}

static void
api_box_int(struct api_buf *b, const char *name, int64_t v)
{
	api_buf_puts(b, name);
	api_buf_i64(b, v);
}

void
api_box_json(
    struct api_buf *b, const struct store_box *box, const char *children, size_t childrenlen)
{
	(void)api_box_json_at(b, box, children, childrenlen);
}

size_t
api_box_json_at(
    struct api_buf *b, const struct store_box *box, const char *children, size_t childrenlen)
{
	size_t at;

	api_box_field(b, "{\"id\":", box->id);
	api_box_field(b, ",\"session_key\":", box->session_key);
	api_box_field(b, ",\"agent_id\":", box->agent_id);
	api_box_field(b, ",\"channel_id\":", box->channel_id);
	api_box_field(b, ",\"root_id\":", box->root_id);
	api_box_field(b, ",\"post_id\":", box->post_id);
	api_buf_puts(b, ",\"parent_id\":");
	api_json_cstr(b, box->parent_id);
	api_box_field(b, ",\"label\":", box->label);
	api_box_field(b, ",\"status\":", box->status);
	api_buf_puts(b, ",\"lines\":");
	api_box_lines_json(b, box->lines);
	api_buf_puts(b, ",\"children\":");
	at = b->len;
	if (children != NULL && childrenlen > 0)
		api_buf_put(b, children, childrenlen);
	else
		api_buf_put(b, "[]", 2);
	api_box_int(b, ",\"start_time_ms\":", box->start_time_ms);
	api_buf_puts(b, ",\"end_time_ms\":");
	if (box->end_time_ms == STORE_NO_TIME)
		api_buf_puts(b, "null");
	else
		api_buf_i64(b, box->end_time_ms);
	api_box_int(b, ",\"last_update_ms\":", box->last_update_ms);
	api_box_int(b, ",\"token_count\":", box->token_count);
	api_box_field(b, ",\"model\":", box->model);
	api_box_int(b, ",\"revision\":", box->revision);
	api_box_field(b, ",\"gateway\":", box->gateway);
	api_buf_put(b, "}", 1);
	return at;
}

enum api_box_kind {
	API_BOX_TEXT, /* any text up to the limit */
	API_BOX_ID,   /* "" or [A-Za-z0-9_.:-]{1,128} */
	API_BOX_KEY,  /* non-empty, no control characters */
};

static int
api_box_fail(char *err, size_t errlen, const char *field, const char *what)
{
	snprintf(err, errlen, "%s: %s", field, what);
	return -1;
}

/*
 * A string field: 1 and a copy in *out when present, 0 when absent, -1 on
 * a bad value.
 */
static int
api_box_string(const struct api_jval *body, const char *field, enum api_box_kind kind, size_t max,
    char **out, char *err, size_t errlen)
{
	const struct api_jval *v = api_json_get(body, field);
	size_t i;

	if (v == NULL)
		return 0;
	if (v->type != API_J_STRING)
		return api_box_fail(err, errlen, field, "expected a string");
	if (v->len > max)
		return api_box_fail(err, errlen, field, "too long");
	switch (kind) {
	case API_BOX_ID:
		if (v->len > 0 && !util_valid_id(v->str))
			return api_box_fail(err, errlen, field, "invalid id");
		break;
	case API_BOX_KEY:
		if (v->len == 0)
			return api_box_fail(err, errlen, field, "must not be empty");
		for (i = 0; i < v->len; i++)
			if ((unsigned char)v->str[i] < 0x20 || v->str[i] == 0x7f)
				return api_box_fail(err, errlen, field, "control character");
		break;
	case API_BOX_TEXT:
		break;
	}
	*out = xstrndup(v->str, v->len);
	return 1;
}

/* A whole number >= 0: 1 when present, 0 absent, -1 bad. */
static int
api_box_count(
    const struct api_jval *body, const char *field, int64_t *out, char *err, size_t errlen)
{
	const struct api_jval *v = api_json_get(body, field);

	if (v == NULL)
		return 0;
	if (v->type != API_J_INT)
		return api_box_fail(err, errlen, field, "expected an integer");
	if (v->integer < 0)
		return api_box_fail(err, errlen, field, "must not be negative");
	*out = v->integer;
	return 1;
}

/* lines: 1 and the stored JSON text of the newest max_lines, 0, -1. */
static int
api_box_lines(const struct api_jval *body, long max_lines, char **out, char *err, size_t errlen)
{
	const struct api_jval *v = api_json_get(body, "lines");
	struct api_buf b = { 0 };
	size_t i, first;

	if (v == NULL)
		return 0;
	if (v->type != API_J_ARRAY)
		return api_box_fail(err, errlen, "lines", "expected an array of strings");
	for (i = 0; i < v->nitems; i++) {
		if (v->items[i]->type != API_J_STRING)
			return api_box_fail(err, errlen, "lines", "expected an array of strings");
		if (v->items[i]->len > API_LINE_MAX)
			return api_box_fail(err, errlen, "lines", "a line is too long");
	}
	first = v->nitems > (size_t)max_lines ? v->nitems - (size_t)max_lines : 0;
	api_buf_put(&b, "[", 1);
	for (i = first; i < v->nitems; i++) {
		if (i > first)
			api_buf_put(&b, ",", 1);
		api_json_str(&b, v->items[i]->str, v->items[i]->len);
	}
	api_buf_put(&b, "]", 1);
	*out = api_buf_steal(&b, NULL);
	return 1;
}

static int
api_box_status(const struct api_jval *body, char **out, char *err, size_t errlen)
{
	int rc = api_box_string(body, "status", API_BOX_TEXT, 32, out, err, errlen);

	if (rc == 1 && !api_box_valid_status(*out)) {
		free(*out);
		*out = NULL;
		return api_box_fail(
		    err, errlen, "status", "expected active, done, error or interrupted");
	}
	return rc;
}

/* agent:<agentId>:... gives the agent id; anything else gives "". */
static char *
api_box_agent_from_key(const char *key)
{
	const char *a, *colon;
	char *agent;

	if (strncmp(key, "agent:", 6) != 0)
		return xstrdup("");
	a = key + 6;
	colon = strchr(a, ':');
	agent = colon != NULL ? xstrndup(a, (size_t)(colon - a)) : xstrdup(a);
	if (!util_valid_id(agent)) {
		free(agent);
		agent = xstrdup("");
	}
	return agent;
}

int
api_box_from_post(
    const struct api_jval *body, long max_lines, struct store_box *out, char *err, size_t errlen)
{
	const struct api_jval *v;
	int rc;

	memset(out, 0, sizeof(*out));
	out->end_time_ms = STORE_NO_TIME;
	if (body == NULL || body->type != API_J_OBJECT)
		return api_box_fail(err, errlen, "body", "expected a JSON object");
	v = api_json_get(body, "id");
	if (v != NULL && v->type != API_J_NULL) {
		if (v->type != API_J_STRING)
			return api_box_fail(err, errlen, "id", "expected a string");
		if (v->len > UTIL_ID_MAX || !util_valid_id(v->str))
			return api_box_fail(err, errlen, "id", "invalid id");
		out->id = xstrndup(v->str, v->len);
	}
	if ((rc = api_box_string(body, "session_key", API_BOX_KEY, API_SESSION_KEY_MAX,
	         &out->session_key, err, errlen)) <= 0) {
		if (rc == 0)
			api_box_fail(err, errlen, "session_key", "required");
		goto fail;
	}
	v = api_json_get(body, "parent_id");
	if (v != NULL && v->type != API_J_NULL) {
		if (v->type != API_J_STRING) {
			api_box_fail(err, errlen, "parent_id", "expected a string or null");
			goto fail;
		}
		if (v->len > 0) {
			if (v->len > UTIL_ID_MAX || !util_valid_id(v->str)) {
				api_box_fail(err, errlen, "parent_id", "invalid id");
				goto fail;
			}
			if (out->id != NULL && strcmp(out->id, v->str) == 0) {
				api_box_fail(
				    err, errlen, "parent_id", "a box cannot be its own parent");
				goto fail;
			}
			out->parent_id = xstrndup(v->str, v->len);
		}
	}
	if (api_box_string(body, "agent_id", API_BOX_ID, UTIL_ID_MAX, &out->agent_id, err, errlen) <
	        0 ||
	    api_box_string(
	        body, "channel_id", API_BOX_ID, UTIL_ID_MAX, &out->channel_id, err, errlen) < 0 ||
	    api_box_string(body, "root_id", API_BOX_ID, UTIL_ID_MAX, &out->root_id, err, errlen) <
	        0 ||
	    api_box_string(body, "post_id", API_BOX_ID, UTIL_ID_MAX, &out->post_id, err, errlen) <
	        0 ||
	    api_box_string(
	        body, "bot_user_id", API_BOX_ID, UTIL_ID_MAX, &out->bot_user_id, err, errlen) < 0 ||
	    api_box_string(body, "label", API_BOX_TEXT, API_LABEL_MAX, &out->label, err, errlen) <
	        0 ||
	    api_box_status(body, &out->status, err, errlen) < 0 ||
	    api_box_lines(body, max_lines, &out->lines, err, errlen) < 0 ||
	    api_box_count(body, "start_time_ms", &out->start_time_ms, err, errlen) < 0)
		goto fail;
	if (out->agent_id == NULL)
		out->agent_id = api_box_agent_from_key(out->session_key);
	if (out->status == NULL)
		out->status = xstrdup("active");
	if (out->lines == NULL)
		out->lines = xstrdup("[]");
	out->source = xstrdup("api");
	return 0;
fail:
	store_box_free(out);
	out->end_time_ms = STORE_NO_TIME;
	return -1;
}

int
api_box_apply_put(const struct api_jval *body, long max_lines, int64_t now_ms,
    struct store_box *box, char *err, size_t errlen)
{
	char *status = NULL, *lines = NULL, *label = NULL, *model = NULL, *post_id = NULL;
	const struct api_jval *v;
	int64_t tokens = 0, end = STORE_NO_TIME;
	int has_tokens = 0, has_end = 0, was_active, rc = -1;

	if (body == NULL || body->type != API_J_OBJECT) {
		api_box_fail(err, errlen, "body", "expected a JSON object");
		goto out;
	}
	if (api_box_status(body, &status, err, errlen) < 0 ||
	    api_box_lines(body, max_lines, &lines, err, errlen) < 0 ||
	    api_box_string(body, "label", API_BOX_TEXT, API_LABEL_MAX, &label, err, errlen) < 0 ||
	    api_box_string(body, "model", API_BOX_TEXT, API_LABEL_MAX, &model, err, errlen) < 0 ||
	    api_box_string(body, "post_id", API_BOX_ID, UTIL_ID_MAX, &post_id, err, errlen) < 0 ||
	    (has_tokens = api_box_count(body, "token_count", &tokens, err, errlen)) < 0)
		goto out;
	v = api_json_get(body, "end_time_ms");
	if (v != NULL) {
		has_end = 1;
		if (v->type == API_J_INT && v->integer >= 0) {
			end = v->integer;
		} else if (v->type != API_J_NULL) {
			api_box_fail(err, errlen, "end_time_ms",
			    v->type == API_J_INT ? "must not be negative"
			                         : "expected an integer or null");
			goto out;
		}
	}
	was_active = box->status == NULL || strcmp(box->status, "active") == 0;
	if (status != NULL) {
		free(box->status);
		box->status = status;
		status = NULL;
	}
	if (lines != NULL) {
		free(box->lines);
		box->lines = lines;
		lines = NULL;
	}
	if (label != NULL) {
		free(box->label);
		box->label = label;
		label = NULL;
	}
	if (model != NULL) {
		free(box->model);
		box->model = model;
		model = NULL;
	}
	if (post_id != NULL) {
		free(box->post_id);
		box->post_id = post_id;
		post_id = NULL;
	}
	if (has_tokens)
		box->token_count = tokens;
	if (has_end)
		box->end_time_ms = end;
	else if (was_active && strcmp(box->status, "active") != 0)
		box->end_time_ms = now_ms;
	else if (!was_active && strcmp(box->status, "active") == 0)
		box->end_time_ms = STORE_NO_TIME;
	box->last_update_ms = now_ms;
	rc = 0;
out:
	free(status);
	free(lines);
	free(label);
	free(model);
	free(post_id);
	return rc;
}

/* An integer or null (STORE_NO_TIME): 1 present, 0 absent, -1 bad. */
static int
api_box_time_or_null(
    const struct api_jval *body, const char *field, int64_t *out, char *err, size_t errlen)
{
	const struct api_jval *v = api_json_get(body, field);

	if (v == NULL)
		return 0;
	if (v->type == API_J_NULL) {
		*out = STORE_NO_TIME;
		return 1;
	}
	if (v->type != API_J_INT)
		return api_box_fail(err, errlen, field, "expected an integer or null");
	if (v->integer < 0)
		return api_box_fail(err, errlen, field, "must not be negative");
	*out = v->integer;
	return 1;
}

int
api_box_from_gateway(const struct api_jval *item, long max_lines, int64_t now_ms,
    struct store_box *out, char *err, size_t errlen)
{
	const struct api_jval *v;
	int has_start, has_update;

	if (api_box_from_post(item, max_lines, out, err, errlen) < 0)
		return -1;
	if (out->id == NULL) {
		api_box_fail(err, errlen, "id", "required");
		goto fail;
	}
	v = api_json_get(item, "revision");
	if (v == NULL || v->type != API_J_INT || v->integer <= 0) {
		api_box_fail(err, errlen, "revision",
		    v == NULL ? "required" : "expected an integer above 0");
		goto fail;
	}
	out->gateway_revision = v->integer;
	has_start = api_json_get(item, "start_time_ms") != NULL;
	if (api_box_string(item, "model", API_BOX_TEXT, API_LABEL_MAX, &out->model, err, errlen) <
	        0 ||
	    api_box_count(item, "token_count", &out->token_count, err, errlen) < 0 ||
	    (has_update =
	            api_box_count(item, "last_update_ms", &out->last_update_ms, err, errlen)) < 0 ||
	    api_box_time_or_null(item, "end_time_ms", &out->end_time_ms, err, errlen) < 0)
		goto fail;
	if (!has_update)
		out->last_update_ms = now_ms;
	if (!has_start)
		out->start_time_ms = out->last_update_ms;
	free(out->source);
	out->source = xstrdup("watcher");
	return 0;
fail:
	store_box_free(out);
	out->end_time_ms = STORE_NO_TIME;
	return -1;
}
