/* transcript: parsing OpenClaw transcript lines with json-c. */
#include "watcher/transcript.h"

#include <errno.h>
#include <string.h>

#include "common/util.h"
#include "common/xmalloc.h"
#include "watcher/wjson.h"

struct tx_parser {
	json_tokener *tok;
};

struct tx_parser *
tx_parser_new(void)
{
	struct tx_parser *p = xcalloc(1, sizeof(*p));

	p->tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
	if (p->tok == NULL)
		abort();
	/* No JSON_TOKENER_VALIDATE_UTF8: tx_utf8_ok() checks every line first. */
	return p;
}

/*
 * 1 when line is valid UTF-8 (a NUL byte aside: that is no JSON, which
 * json-c says).  json-c's own check (JSON_TOKENER_VALIDATE_UTF8) lets
 * overlong forms ("\xc0\xaf") and UTF-8-encoded surrogates ("\xed\xa0\x80")
 * through, which then reach the store and Mattermost; found by
 * tests/fuzz/fuzz_transcript.c.  ASCII, most of a transcript, is skipped
 * a word at a time.
 */
static int
tx_utf8_ok(const char *line, size_t len)
{
	const unsigned char *p = (const unsigned char *)line;
	size_t i = 0, start;
	uint64_t w;

	while (i < len) {
		while (i + 8 <= len) {
			memcpy(&w, p + i, 8);
			if (w & 0x8080808080808080ULL)
				break;
			i += 8;
		}
		while (i < len && p[i] < 0x80)
			i++;
		if (i == len)
			break;
		/* A run of non-ASCII bytes, up to the next ASCII one. */
		start = i;
		while (i < len && p[i] >= 0x80)
			i++;
		if (!util_utf8_valid(line + start, i - start))
			return 0;
	}
	return 1;
}

void
tx_parser_free(struct tx_parser *p)
{
	if (p == NULL)
		return;
	json_tokener_free(p->tok);
	free(p);
}

void
tx_event_free(struct tx_event *ev)
{
	if (ev == NULL)
		return;
	json_object_put(ev->root);
	json_object_put(ev->extra);
	memset(ev, 0, sizeof(*ev));
}

static json_object *
tx_get(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/*
 * A count, time or duration: a JSON integer in [0, TX_NUMBER_MAX], else 0
 * with the field counted in ev->dropped_numbers (a double such as 1e308, a
 * negative, a string).  An absent field is simply 0.
 */
static int64_t
tx_int(json_object *o, const char *key, struct tx_event *ev)
{
	json_object *v = tx_get(o, key);
	int64_t n;

	if (v == NULL || json_object_is_type(v, json_type_null))
		return 0;
	if (json_object_is_type(v, json_type_int)) {
		errno = 0;
		n = json_object_get_int64(v);
		if (errno == 0 && n >= 0 && n <= TX_NUMBER_MAX)
			return n;
	}
	ev->dropped_numbers++;
	return 0;
}

/* A deferred tool called through "tool_call": {"id":"<tool>","args":{...}}. */
static void
tx_unwrap_call(struct tx_block *b)
{
	const char *inner;

	if (strcmp(b->name, "tool_call") != 0 || b->args == NULL ||
	    !json_object_is_type(b->args, json_type_object))
		return;
	inner = wjson_str(b->args, "id");
	if (inner == NULL || *inner == '\0')
		return;
	/* A search result id "openclaw:core:sessions_spawn" names the tool last. */
	if (strrchr(inner, ':') != NULL)
		inner = strrchr(inner, ':') + 1;
	b->name = inner;
	b->args = tx_get(b->args, "args");
}

static void
tx_assistant(json_object *msg, struct tx_event *ev)
{
	json_object *content = tx_get(msg, "content"), *usage = tx_get(msg, "usage");
	size_t i, n;

	ev->type = TX_ASSISTANT;
	ev->provider = wjson_str(msg, "provider");
	ev->model = wjson_str(msg, "model");
	ev->stop_reason = wjson_str(msg, "stopReason");
	ev->error_message = wjson_str(msg, "errorMessage");
	ev->error_code = wjson_str(msg, "errorCode");
	ev->timestamp_ms = tx_int(msg, "timestamp", ev);
	if (usage != NULL && json_object_is_type(usage, json_type_object)) {
		ev->input_tokens = tx_int(usage, "input", ev);
		ev->output_tokens = tx_int(usage, "output", ev);
	}
	if (content == NULL)
		return;
	if (json_object_is_type(content, json_type_string)) {
		ev->blocks[0].type = TX_BLOCK_TEXT;
		ev->blocks[0].text = json_object_get_string(content);
		ev->nblocks = 1;
		return;
	}
	if (!json_object_is_type(content, json_type_array))
		return;
	n = json_object_array_length(content);
	for (i = 0; i < n && ev->nblocks < TX_MAX_BLOCKS; i++) {
		json_object *b = json_object_array_get_idx(content, i);
		const char *type = wjson_str(b, "type");
		struct tx_block *out = &ev->blocks[ev->nblocks];

		if (type == NULL)
			continue;
		memset(out, 0, sizeof(*out));
		if (strcmp(type, "text") == 0 && (out->text = wjson_str(b, "text")) != NULL) {
			out->type = TX_BLOCK_TEXT;
		} else if (strcmp(type, "thinking") == 0 &&
		    (out->text = wjson_str(b, "thinking")) != NULL) {
			out->type = TX_BLOCK_THINKING;
		} else if (strcmp(type, "toolCall") == 0 &&
		    (out->name = wjson_str(b, "name")) != NULL) {
			out->type = TX_BLOCK_TOOL_CALL;
			out->call_id = wjson_str(b, "id");
			out->args = tx_get(b, "arguments");
			tx_unwrap_call(out);
		} else {
			continue;
		}
		ev->nblocks++;
	}
}

/* The first text of a result's content (a string or text blocks). */
static const char *
tx_first_text(json_object *content)
{
	size_t i, n;

	if (content == NULL)
		return NULL;
	if (json_object_is_type(content, json_type_string))
		return json_object_get_string(content);
	if (!json_object_is_type(content, json_type_array))
		return NULL;
	n = json_object_array_length(content);
	for (i = 0; i < n; i++) {
		const char *t = wjson_str(json_object_array_get_idx(content, i), "text");

		if (t != NULL)
			return t;
	}
	return NULL;
}

static int
tx_spawn_failed_status(const char *status)
{
	return status != NULL && (strcmp(status, "error") == 0 || strcmp(status, "forbidden") == 0);
}

/*
 * sessions_spawn answers {"status":"accepted","childSessionKey":...} (or
 * {"status":"error","error":...}) in details and as its text; older results
 * have no details: read the text.
 */
static void
tx_spawn_result(json_object *details, struct tx_event *ev)
{
	const char *status = NULL, *why = NULL;

	if (details != NULL && json_object_is_type(details, json_type_object)) {
		status = wjson_str(details, "status");
		why = wjson_str(details, "error");
	}
	if (status == NULL && ev->result_text != NULL &&
	    (strstr(ev->result_text, "childSessionKey") != NULL ||
	        strstr(ev->result_text, "\"status\"") != NULL)) {
		ev->extra = json_tokener_parse(ev->result_text);
		if (ev->extra != NULL && json_object_is_type(ev->extra, json_type_object)) {
			status = wjson_str(ev->extra, "status");
			why = wjson_str(ev->extra, "error");
			if (ev->child_key == NULL)
				ev->child_key = wjson_str(ev->extra, "childSessionKey");
		}
	}
	if (!ev->is_error && !tx_spawn_failed_status(status))
		return;
	ev->is_error = 1;
	ev->child_key = NULL;
	if (why == NULL)
		why = ev->result_text;
	ev->spawn_error = why != NULL ? why : "";
}

static void
tx_tool_result(json_object *msg, struct tx_event *ev)
{
	json_object *err = tx_get(msg, "isError"), *details = tx_get(msg, "details");
	json_object *content = tx_get(msg, "content"), *inner;
	const char *name;

	ev->type = TX_TOOL_RESULT;
	ev->call_id = wjson_str(msg, "toolCallId");
	ev->tool_name = wjson_str(msg, "toolName");
	ev->timestamp_ms = tx_int(msg, "timestamp", ev);
	ev->is_error = err != NULL && json_object_get_boolean(err);
	if (details != NULL && !json_object_is_type(details, json_type_object))
		details = NULL;
	/* "tool_call": the real tool and its own result are inside details. */
	if (ev->tool_name != NULL && strcmp(ev->tool_name, "tool_call") == 0 && details != NULL &&
	    (name = wjson_str(tx_get(details, "tool"), "name")) != NULL) {
		ev->tool_name = name;
		inner = tx_get(details, "result");
		if (inner != NULL && json_object_is_type(inner, json_type_object)) {
			content = tx_get(inner, "content");
			details = tx_get(inner, "details");
			if (details != NULL && !json_object_is_type(details, json_type_object))
				details = NULL;
		}
	}
	ev->result_text = tx_first_text(content);
	if (details != NULL)
		ev->child_key = wjson_str(details, "childSessionKey");
	if (ev->tool_name != NULL && strcmp(ev->tool_name, "sessions_spawn") == 0)
		tx_spawn_result(details, ev);
}

static int
tx_is_announce(const char *run_id)
{
	return run_id != NULL && strncmp(run_id, "announce:", 9) == 0;
}

int
tx_parse(struct tx_parser *p, const char *line, size_t len, struct tx_event *ev)
{
	json_object *root, *msg;
	enum json_tokener_error jerr;
	const char *type, *role;
	size_t end;

	memset(ev, 0, sizeof(*ev));
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len == 0 || len > INT32_MAX)
		return TX_BAD_JSON;
	if (!tx_utf8_ok(line, len))
		return TX_BAD_UTF8;
	json_tokener_reset(p->tok);
	root = json_tokener_parse_ex(p->tok, line, (int)len);
	jerr = json_tokener_get_error(p->tok);
	if (root == NULL || jerr != json_tokener_success) {
		json_object_put(root);
		return jerr == json_tokener_error_parse_utf8_string ? TX_BAD_UTF8 : TX_BAD_JSON;
	}
	end = json_tokener_get_parse_end(p->tok);
	if (end != len || !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return TX_BAD_JSON;
	}
	ev->root = root;
	type = wjson_str(root, "type");
	if (type == NULL)
		return TX_OK;
	if (strcmp(type, "message") == 0) {
		msg = tx_get(root, "message");
		role = wjson_str(msg, "role");
		if (role == NULL)
			return TX_OK;
		ev->announce = tx_is_announce(wjson_str(tx_get(msg, "__openclaw"), "runId")) ||
		    tx_is_announce(wjson_str(msg, "idempotencyKey"));
		if (strcmp(role, "assistant") == 0)
			tx_assistant(msg, ev);
		else if (strcmp(role, "toolResult") == 0)
			tx_tool_result(msg, ev);
		else if (strcmp(role, "user") == 0)
			ev->type = TX_USER;
	} else if (strcmp(type, "session") == 0) {
		ev->type = TX_SESSION;
		ev->parent_session = wjson_str(root, "parentSession");
	} else if (strcmp(type, "compaction") == 0) {
		ev->type = TX_COMPACTION;
	} else if (strcmp(type, "model_change") == 0) {
		ev->type = TX_MODEL_CHANGE;
		ev->provider = wjson_str(root, "provider");
		ev->model = wjson_str(root, "modelId");
	} else if (strcmp(type, "custom") == 0) {
		ev->type = TX_CUSTOM;
		ev->custom_type = wjson_str(root, "customType");
	} else if (strcmp(type, "session_info") == 0) {
		ev->type = TX_SESSION_INFO;
	}
	return TX_OK;
}

int
tx_is_copy(const struct tx_event *ev)
{
	if (ev->provider != NULL && strcmp(ev->provider, "openclaw") == 0)
		return 1;
	/* The gateway's copies are also known by their model, whatever the provider. */
	return ev->model != NULL &&
	    (strcmp(ev->model, "delivery-mirror") == 0 ||
	        strcmp(ev->model, "gateway-injected") == 0);
}
