/*
 * Unit tests of the watcher's stages: transcript parsing, status line text
 * (envelopes, the 120-character UTF-8 trim), tool labels, sessions.json
 * routing and the box lifecycle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/util.h"
#include "common/xmalloc.h"
#include "watcher/box.h"
#include "watcher/labels.h"
#include "watcher/sessions.h"
#include "watcher/tail.h"
#include "watcher/transcript.h"
#include "watcher/wjson.h"

#include "unit_tmp.h"

#define KEY "agent:main:mattermost:channel:chan1"
#define SUB "agent:main:subagent:abc"

/* ---- transcript ---- */

static int
parse(const char *line, struct tx_event *ev)
{
	struct tx_parser *p = tx_parser_new();
	int rc = tx_parse(p, line, strlen(line), ev);

	tx_parser_free(p);
	return rc;
}

static void
test_tx_assistant(void **state)
{
	struct tx_event ev;
	const char *line = "{\"type\":\"message\",\"id\":\"1\",\"parentId\":null,"
	    "\"message\":{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\","
	    "\"thinking\":\"Hmm.\"},{\"type\":\"toolCall\",\"id\":\"t1\",\"name\":\"exec\","
	    "\"arguments\":{\"command\":\"ls\"}},{\"type\":\"image\"}],\"model\":\"m1\","
	    "\"provider\":\"anthropic\",\"usage\":{\"input\":3,\"output\":4},"
	    "\"stopReason\":\"toolUse\",\"newField\":[1,2]}}";

	(void)state;
	assert_int_equal(parse(line, &ev), TX_OK);
	assert_int_equal(ev.type, TX_ASSISTANT);
	assert_int_equal(ev.nblocks, 2);
	assert_int_equal(ev.blocks[0].type, TX_BLOCK_THINKING);
	assert_string_equal(ev.blocks[0].text, "Hmm.");
	assert_int_equal(ev.blocks[1].type, TX_BLOCK_TOOL_CALL);
	assert_string_equal(ev.blocks[1].name, "exec");
	assert_string_equal(ev.blocks[1].call_id, "t1");
	assert_string_equal(ev.model, "m1");
	assert_string_equal(ev.stop_reason, "toolUse");
	assert_int_equal(ev.input_tokens + ev.output_tokens, 7);
	assert_false(tx_is_copy(&ev));
	tx_event_free(&ev);
}

static void
test_tx_kinds(void **state)
{
	struct tx_event ev;

	(void)state;
	assert_int_equal(parse("{\"message\":{\"toolCallId\":\"t1\",\"isError\":true,"
	    "\"role\":\"toolResult\",\"details\":{\"childSessionKey\":\"k\"}},"
	    "\"type\":\"message\"}", &ev), TX_OK);
	assert_int_equal(ev.type, TX_TOOL_RESULT);
	assert_string_equal(ev.call_id, "t1");
	assert_true(ev.is_error);
	assert_string_equal(ev.child_key, "k");
	tx_event_free(&ev);
	assert_int_equal(parse("{\"type\":\"compaction\",\"summary\":\"x\"}", &ev), TX_OK);
	assert_int_equal(ev.type, TX_COMPACTION);
	tx_event_free(&ev);
	assert_int_equal(parse("{\"type\":\"brand_new_type\",\"x\":{}}\r", &ev), TX_OK);
	assert_int_equal(ev.type, TX_OTHER);
	tx_event_free(&ev);
	assert_int_equal(parse("{\"type\":\"model_change\",\"modelId\":\"m2\"}", &ev), TX_OK);
	assert_int_equal(ev.type, TX_MODEL_CHANGE);
	assert_string_equal(ev.model, "m2");
	tx_event_free(&ev);
	assert_int_equal(parse("{\"type\":\"message\",\"message\":{\"role\":\"assistant\","
	    "\"provider\":\"openclaw\",\"model\":\"delivery-mirror\",\"content\":\"x\"}}",
	    &ev), TX_OK);
	assert_true(tx_is_copy(&ev));
	tx_event_free(&ev);
}

static void
test_tx_errors(void **state)
{
	struct tx_event ev;

	(void)state;
	assert_int_equal(parse("{\"type\":\"message\"", &ev), TX_BAD_JSON);
	tx_event_free(&ev);
	assert_int_equal(parse("not json", &ev), TX_BAD_JSON);
	assert_int_equal(parse("[1,2]", &ev), TX_BAD_JSON);
	assert_int_equal(parse("{} {}", &ev), TX_BAD_JSON);
	assert_int_equal(parse("", &ev), TX_BAD_JSON);
	assert_int_equal(parse("{\"type\":\"message\",\"x\":\"\xff\xfe\"}", &ev), TX_BAD_UTF8);
	assert_int_equal(parse("{\"type\":\"message\",\"x\":\"\xc3\"}", &ev), TX_BAD_UTF8);
	assert_null(ev.root);
}

/* ---- wjson ---- */

/* The one string getter of the watcher: what the four copies it replaced did. */
static void
test_wjson_str(void **state)
{
	json_object *o = json_tokener_parse(
	    "{\"s\":\"x\",\"e\":\"\",\"n\":1,\"z\":null,\"o\":{},\"a\":[\"x\"]}");

	(void)state;
	assert_string_equal(wjson_str(o, "s"), "x");
	assert_string_equal(wjson_str(o, "e"), ""); /* empty is not missing */
	assert_null(wjson_str(o, "n"));
	assert_null(wjson_str(o, "z"));
	assert_null(wjson_str(o, "o"));
	assert_null(wjson_str(o, "a"));
	assert_null(wjson_str(o, "missing"));
	assert_null(wjson_str(NULL, "s"));
	json_object_put(o);
}

/* ---- status line text ---- */

static void
test_line_text(void **state)
{
	char *t;
	char buf[512];
	size_t i;

	(void)state;
	t = box_line_text("  Check the disk usage first.  \nsecond line");
	assert_string_equal(t, "Check the disk usage first.");
	free(t);
	assert_null(box_line_text("  \n \t\n"));
	assert_null(box_line_text(""));
	t = box_line_text("\n\nthird");
	assert_string_equal(t, "third");
	free(t);
	t = box_line_text("[Mattermost Ops id:q7w] alice: how full are the disks?\n"
	    "[mattermost message id: p1 channel: q7w]");
	assert_string_equal(t, "how full are the disks?");
	free(t);
	t = box_line_text("[mattermost message id: p1 channel: q7w]\nReal text");
	assert_string_equal(t, "Real text");
	free(t);
	t = box_line_text("Conversation info (untrusted metadata):\n```json\n{\"a\":1}\n```\n"
	    "The question");
	assert_string_equal(t, "The question");
	free(t);
	/* 130 two-byte characters: cut at 120 characters, 240 bytes */
	for (i = 0; i < 130; i++)
		memcpy(buf + 2 * i, "\xc3\xa9", 2);
	buf[260] = '\0';
	t = box_line_text(buf);
	assert_int_equal(strlen(t), 240);
	assert_true(util_utf8_valid(t, strlen(t)));
	free(t);
	/* 4-byte sequences are never cut */
	for (i = 0; i < 125; i++)
		memcpy(buf + 4 * i, "\xf0\x9f\x98\x80", 4);
	buf[500] = '\0';
	t = box_line_text(buf);
	assert_int_equal(strlen(t), 480);
	free(t);
}

/* ---- labels ---- */

static void
test_labels_builtin(void **state)
{
	json_object *a = json_tokener_parse("{\"command\":\"df -h /\\nmore\"}");
	json_object *p = json_tokener_parse("{\"path\":\"/srv/x.md\"}");
	json_object *s = json_tokener_parse("{\"task\":\"Size it\",\"label\":\"log sizing\"}");
	json_object *u = json_tokener_parse("{\"id\":\"42\",\"other\":1}");
	static const char *const core[] = { "read", "write", "edit", "apply_patch", "exec",
		"process", "code_execution", "web_search", "web_fetch", "x_search",
		"memory_search", "memory_get", "sessions_list", "sessions_history",
		"sessions_send", "sessions_spawn", "sessions_yield", "subagents",
		"session_status", "browser", "canvas", "message", "cron", "gateway", "nodes",
		"agents_list", "update_plan", "image", "image_generate", "music_generate",
		"video_generate", "tts", "pdf", "bash" };
	size_t i, j;
	char *t;

	(void)state;
	for (i = 0; i < sizeof(core) / sizeof(core[0]); i++) {
		int found = 0;

		for (j = 0; j < labels_builtin_count(); j++)
			found |= strcmp(labels_builtin_name(j), core[i]) == 0;
		assert_true(found);
	}
	t = labels_format(NULL, "exec", a);
	assert_string_equal(t, "exec: df -h /");
	free(t);
	t = labels_format(NULL, "bash", a);
	assert_string_equal(t, "exec: df -h /");
	free(t);
	t = labels_format(NULL, "read", p);
	assert_string_equal(t, "read: /srv/x.md");
	free(t);
	t = labels_format(NULL, "sessions_spawn", s);
	assert_string_equal(t, "Sub-agent: log sizing");
	free(t);
	t = labels_format(NULL, "some_plugin_tool", u);
	assert_string_equal(t, "some_plugin_tool: 42");
	free(t);
	t = labels_format(NULL, "exec", NULL);
	assert_string_equal(t, "exec");
	free(t);
	json_object_put(a);
	json_object_put(p);
	json_object_put(s);
	json_object_put(u);
}

static void
test_labels_file(void **state)
{
	char path[] = "/tmp/test_labels_XXXXXX";
	const char *json = "{\"exact\":{\"exec\":\"shell\",\"tts\":null,"
	    "\"memory_recall\":{\"label\":\"recall\",\"detail\":\"query\"}},"
	    "\"prefixes\":{\"fire\":\"f\",\"firecrawl_\":\"firecrawl\"},"
	    "\"patterns\":{\"mcp__*__search\":\"search\",\"hidden_*\":\"\"}}";
	json_object *a = json_tokener_parse("{\"command\":\"ls\",\"query\":\"q\"}");
	struct labels *l;
	char err[256];
	char *t;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
	close(fd);
	l = labels_load(path, err, sizeof(err));
	assert_non_null(l);
	t = labels_format(l, "exec", a);
	assert_string_equal(t, "shell: ls");
	free(t);
	assert_null(labels_format(l, "tts", a));
	assert_null(labels_format(l, "hidden_tool", a));
	t = labels_format(l, "memory_recall", a);
	assert_string_equal(t, "recall: q");
	free(t);
	t = labels_format(l, "firecrawl_search", a);
	assert_string_equal(t, "firecrawl: ls");
	free(t);
	t = labels_format(l, "mcp__gh__search", a);
	assert_string_equal(t, "search: ls");
	free(t);
	labels_free(l);
	/* a broken file is refused with its name */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "{\"exact\":[1]}", 13), 13);
	close(fd);
	assert_null(labels_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	unlink(path);
	json_object_put(a);
}

/* ---- routing ---- */

static void
route(const char *key, const char *entry, const char *def, const char *chan,
    const char *root, const char *target)
{
	json_object *e = entry ? json_tokener_parse(entry) : NULL;
	char *c, *r, *t;

	sessions_route(key, e, def, &c, &r, &t);
	assert_string_equal(c, chan);
	assert_string_equal(r, root);
	assert_string_equal(t, target);
	free(c);
	free(r);
	free(t);
	json_object_put(e);
}

static void
test_routing(void **state)
{
	(void)state;
	route("agent:main:mattermost:channel:c1", NULL, NULL, "c1", "", "");
	route("agent:main:mattermost:group:g1", NULL, NULL, "g1", "", "");
	route("agent:main:mattermost:channel:c1:thread:r1", NULL, NULL, "c1", "r1", "");
	route("agent:main:main", "{\"deliveryContext\":{\"channel\":\"mattermost\","
	    "\"to\":\"channel:c2\",\"threadId\":\"r2\"}}", NULL, "c2", "r2", "");
	route("agent:main:main", "{\"lastTo\":\"channel:c3\",\"lastThreadId\":\"r3\"}", NULL,
	    "c3", "r3", "");
	route("agent:main:main", "{\"deliveryContext\":{\"to\":\"user:u1\"}}", "dflt", "", "",
	    "user:u1");
	route("agent:main:mattermost:direct:u2", NULL, NULL, "", "", "user:u2");
	route("agent:main:cron:job1", "{}", "dflt", "dflt", "", "");
	route("agent:main:cron:job1", "{}", NULL, "", "", "");
	route("agent:main:telegram:group:t1", "{\"deliveryContext\":{\"channel\":\"telegram\","
	    "\"to\":\"channel:x\"}}", NULL, "", "", "");
}

static void
test_sessions_index(void **state)
{
	char dir[] = "/tmp/test_sessions_XXXXXX";
	char path[512], err[256];
	struct sessions_index idx;
	const struct sessions_entry *e;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sessions.json", dir);
	f = fopen(path, "w");
	fputs("{\"" KEY "\":{\"sessionId\":\"s1\"},\"" SUB "\":{\"sessionId\":\"s2\","
	    "\"sessionFile\":\"/abs/s2-topic-9.jsonl\",\"spawnedBy\":\"" KEY "\","
	    "\"label\":\"kid\"}}", f);
	fclose(f);
	sessions_init(&idx, dir, NULL);
	assert_int_equal(sessions_load(&idx, NULL, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/s1.jsonl", dir);
	e = sessions_by_file(&idx, path);
	assert_non_null(e);
	assert_string_equal(e->key, KEY);
	assert_string_equal(e->channel_id, "chan1");
	e = sessions_by_file(&idx, "/abs/s2-topic-9.jsonl");
	assert_non_null(e);
	assert_string_equal(e->parent_key, KEY);
	assert_string_equal(e->label, "kid");
	/* briefly invalid: the last good copy stays */
	snprintf(path, sizeof(path), "%s/sessions.json", dir);
	f = fopen(path, "w");
	fputs("{\"half", f);
	fclose(f);
	assert_int_equal(sessions_load(&idx, NULL, err, sizeof(err)), -1);
	assert_int_equal(idx.n, 2);
	assert_int_equal(idx.gen, 1);
	assert_non_null(sessions_by_id(&idx, "s2"));
	sessions_clear(&idx);
	unlink(path);
	rmdir(dir);
}

static void
test_transcript_names(void **state)
{
	(void)state;
	assert_true(tail_is_transcript("6513270e-269e-4d37-b2a7-4de452e6b438.jsonl"));
	assert_true(tail_is_transcript("s1-topic-r9.jsonl"));
	assert_true(tail_is_transcript("2026-04-14T09-12-03-000Z_6513270e.jsonl"));
	assert_false(tail_is_transcript("s1.jsonl.lock"));
	assert_false(tail_is_transcript("s1.checkpoint.3.jsonl"));
	assert_false(tail_is_transcript("s1.trajectory.jsonl"));
	assert_false(tail_is_transcript("s1.jsonl.reset.2026"));
	assert_false(tail_is_transcript("s1.reset.2026.jsonl"));
	assert_false(tail_is_transcript("s1.deleted.jsonl"));
	assert_false(tail_is_transcript("s1.jsonl.tmp"));
	assert_false(tail_is_transcript("sessions.json.bak.1"));
	assert_false(tail_is_transcript("sessions.json"));
}

/* ---- tail buffers ---- */

struct lines_seen {
	int n;
	size_t last;
};

static void
count_line(void *arg, struct tail_file *f, const char *line, size_t len)
{
	struct lines_seen *seen = arg;

	(void)f;
	(void)line;
	seen->n++;
	seen->last = len;
}

static void
ignore_index(void *arg, struct tail_dir *d)
{
	(void)arg;
	(void)d;
}

static void
ignore_file(void *arg, struct tail_file *f)
{
	(void)arg;
	(void)f;
}

static void
ignore_bad_line(void *arg, struct tail_file *f, const char *why)
{
	(void)arg;
	(void)f;
	(void)why;
}

static void
ignore_lock(void *arg, struct tail_file *f, int present)
{
	(void)arg;
	(void)f;
	(void)present;
}

static void
append(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/*
 * Between reads a transcript keeps only a line not yet ended: nothing after
 * complete lines, else the started line and at most TAIL_SLACK more,
 * whatever the size of the read before.
 */
static void
test_tail_keeps_only_a_started_line(void **state)
{
	struct lines_seen seen = { 0 };
	struct tail_ops ops = {
		.arg = &seen,
		.index = ignore_index,
		.line = count_line,
		.bad_line = ignore_bad_line,
		.reset = ignore_file,
		.lock = ignore_lock,
		.dir_gone = ignore_index,
	};
	char dir[64], db[96], sessions[96], path[128], err[256];
	char *big = xmalloc(40000);
	struct tail_file *f;
	struct tail *t;

	(void)state;
	unit_tmp_make(dir, sizeof(dir), db, sizeof(db), "tail");
	snprintf(sessions, sizeof(sessions), "%s/sessions", dir);
	assert_int_equal(mkdir(sessions, 0755), 0);
	snprintf(path, sizeof(path), "%s/s1.jsonl", sessions);
	t = tail_new(sessions, &ops, 0, err, sizeof(err));
	assert_non_null(t);
	tail_start(t);
	memset(big, 'x', 39999);
	big[39999] = '\n';
	append(path, big, 40000);
	append(path, big, 40000);
	tail_rescan(t);
	assert_int_equal(seen.n, 2);
	f = tail_file_find(t, path);
	assert_non_null(f);
	assert_null(f->buf);
	assert_int_equal(f->cap, 0);

	append(path, big, 39000); /* no newline yet */
	tail_rescan(t);
	assert_int_equal(seen.n, 2);
	assert_int_equal(f->len, 39000);
	assert_true(f->cap >= f->len && f->cap <= f->len + 4096);

	append(path, "\n{}\n", 4);
	tail_rescan(t);
	assert_int_equal(seen.n, 4);
	assert_int_equal(seen.last, 2);
	assert_null(f->buf);
	tail_free(t);
	free(big);
	unit_tmp_remove(dir);
}

/* ---- box lifecycle ---- */

struct fx {
	struct box_model *m;
	int64_t now;
};

static struct box_model *
model(int max_lines)
{
	struct box_config c = {
		.max_lines = max_lines,
		.idle_timeout_ms = 60000,
		.max_duration_ms = 1800000,
		.max_active = 20,
	};

	return box_model_new(&c);
}

static void
feed(struct box_model *m, const char *key, const char *line, int64_t now)
{
	assert_int_equal(box_feed_line(m, "main", key, line, strlen(line), now), TX_OK);
}

#define ASSIST(content, stop)                                                  \
	"{\"type\":\"message\",\"message\":{\"role\":\"assistant\",\"content\":[" content \
	"],\"model\":\"claude-opus-4-6\",\"provider\":\"anthropic\",\"usage\":{\"input\":10," \
	"\"output\":5},\"stopReason\":\"" stop "\"}}"
#define CALL(id, name, args) \
	"{\"type\":\"toolCall\",\"id\":\"" id "\",\"name\":\"" name "\",\"arguments\":" args "}"
#define RESULT(id, err) \
	"{\"type\":\"message\",\"message\":{\"role\":\"toolResult\",\"toolCallId\":\"" id \
	"\",\"isError\":" err "}}"
#define TEXT(t) "{\"type\":\"text\",\"text\":\"" t "\"}"

/* The one change for key (a box change is expected); copied fields. */
static const struct box_change *
change_for(struct box_change *list, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(list[i].session_key, key) == 0)
			return &list[i];
	}
	return NULL;
}

static void
test_box_run(void **state)
{
	struct box_model *m = model(15);
	struct box_change *ch;
	const struct box_change *c;
	struct box_stats st;
	size_t n;

	(void)state;
	box_lock(m, "main", KEY, 1, 1000);
	feed(m, KEY, ASSIST(TEXT("Check the disk.") "," CALL("t1", "exec",
	    "{\"command\":\"df -h /\"}"), "toolUse"), 2000);
	feed(m, KEY, RESULT("t1", "false"), 2100);
	feed(m, KEY, ASSIST(CALL("t2", "exec", "{\"command\":\"du\"}"), "toolUse"), 2200);
	feed(m, KEY, RESULT("t2", "true"), 2300);
	feed(m, KEY, ASSIST(TEXT("All done."), "stop"), 2400);
	n = box_changes(m, &ch);
	c = change_for(ch, n, KEY);
	assert_non_null(c);
	assert_true(c->has_box);
	assert_string_equal(c->box.status, "active"); /* the lock is still held */
	assert_string_equal(c->box.lines, "[\"Check the disk.\",\"exec: df -h \\/ [OK]\","
	    "\"exec: du [ERR]\",\"All done.\"]");
	assert_int_equal(c->box.token_count, 45);
	assert_string_equal(c->box.model, "claude-opus-4-6");
	assert_string_equal(c->box.channel_id, "");
	assert_int_equal(c->box.start_time_ms, 1000);
	assert_int_equal(c->box.last_update_ms, 2400);
	box_changes_free(ch, n);
	box_mark_clean(m);
	box_lock(m, "main", KEY, 0, 3000);
	n = box_changes(m, &ch);
	assert_int_equal(n, 1);
	assert_string_equal(ch[0].box.status, "done");
	assert_int_equal(ch[0].box.end_time_ms, 3000);
	box_changes_free(ch, n);
	box_mark_clean(m);
	box_stats(m, &st);
	assert_int_equal(st.active_boxes, 0);
	box_model_free(m);
}

static void
test_box_pending_keeps_active(void **state)
{
	struct box_model *m = model(15);
	struct box_change *ch;
	size_t n;

	(void)state;
	box_lock(m, "main", KEY, 1, 1000);
	feed(m, KEY, ASSIST(CALL("t1", "exec", "{\"command\":\"sleep 9\"}"), "toolUse"), 1100);
	box_lock(m, "main", KEY, 0, 1200); /* lock gone, a call pending */
	n = box_changes(m, &ch);
	assert_string_equal(ch[0].box.status, "active");
	box_changes_free(ch, n);
	box_mark_clean(m);
	feed(m, KEY, RESULT("t1", "false"), 1300);
	feed(m, KEY, ASSIST(TEXT("ok"), "stop"), 1400);
	n = box_changes(m, &ch);
	assert_string_equal(ch[0].box.status, "done");
	box_changes_free(ch, n);
	box_model_free(m);
}

static void
test_box_error_and_fresh_box(void **state)
{
	struct box_model *m = model(15);
	struct box_change *ch;
	char first[40];
	size_t n;

	(void)state;
	box_lock(m, "main", KEY, 1, 1000);
	feed(m, KEY, ASSIST(TEXT("Trying."), "error"), 1100);
	n = box_changes(m, &ch);
	assert_string_equal(ch[0].box.status, "error");
	snprintf(first, sizeof(first), "%s", ch[0].box.id);
	box_changes_free(ch, n);
	box_mark_clean(m);
	/* not work: nothing starts */
	feed(m, KEY, "{\"type\":\"custom\",\"customType\":\"model-snapshot\"}", 1200);
	feed(m, KEY, "{\"type\":\"model_change\",\"modelId\":\"m9\"}", 1200);
	feed(m, KEY, "{\"type\":\"session_info\",\"name\":\"x\"}", 1200);
	feed(m, KEY, "{\"type\":\"message\",\"message\":{\"role\":\"assistant\","
	    "\"provider\":\"openclaw\",\"model\":\"delivery-mirror\",\"content\":"
	    "[{\"type\":\"text\",\"text\":\"copy\"}]}}", 1200);
	feed(m, KEY, "{\"type\":\"message\",\"message\":{\"role\":\"user\",\"content\":\"hi\"}}",
	    1200);
	n = box_changes(m, &ch);
	for (size_t i = 0; i < n; i++)
		assert_false(ch[i].has_box);
	box_changes_free(ch, n);
	box_mark_clean(m);
	/* work again: a fresh box with a new id */
	box_lock(m, "main", KEY, 0, 1250);
	box_lock(m, "main", KEY, 1, 1300);
	n = box_changes(m, &ch);
	assert_true(ch[0].has_box);
	assert_string_not_equal(ch[0].box.id, first);
	assert_string_equal(ch[0].box.status, "active");
	/* the lock is the run's start: "thinking" until its first line */
	assert_string_equal(ch[0].box.lines, "[\"" BOX_THINKING_LINE "\"]");
	assert_string_equal(ch[0].box.model, "m9");
	box_changes_free(ch, n);
	box_model_free(m);
}

static void
test_box_timeouts(void **state)
{
	struct box_model *m = model(15);
	struct box_change *ch;
	size_t n;

	(void)state;
	box_lock(m, "main", KEY, 1, 0);
	box_tick(m, 59999);
	assert_int_equal(box_next_deadline(m, 59999), 1);
	box_tick(m, 60000);
	n = box_changes(m, &ch);
	assert_string_equal(ch[0].box.status, "done");
	box_changes_free(ch, n);
	box_mark_clean(m);
	/* max duration: keep it busy, then cross 1800 s */
	box_lock(m, "main", KEY, 0, 70000);
	box_lock(m, "main", KEY, 1, 100000);
	for (int64_t t = 100000; t < 100000 + 1800000; t += 30000)
		feed(m, KEY, ASSIST(TEXT("busy"), "toolUse"), t);
	box_tick(m, 100000 + 1800000);
	n = box_changes(m, &ch);
	assert_string_equal(ch[0].box.status, "done");
	assert_non_null(strstr(ch[0].box.lines, BOX_MAX_DURATION_LINE));
	box_changes_free(ch, n);
	box_mark_clean(m);
	/* SIGTERM */
	box_lock(m, "main", KEY, 1, 2000000);
	box_interrupt_all(m, 2000001);
	n = box_changes(m, &ch);
	assert_string_equal(ch[0].box.status, "interrupted");
	box_changes_free(ch, n);
	box_model_free(m);
}

static void
test_box_lines_capped_and_compacted(void **state)
{
	struct box_model *m = model(3);
	struct box_change *ch;
	size_t n;

	(void)state;
	box_lock(m, "main", KEY, 1, 0);
	feed(m, KEY, ASSIST(CALL("t1", "read", "{\"path\":\"/a\"}"), "toolUse"), 1);
	feed(m, KEY, ASSIST(TEXT("one"), "toolUse"), 2);
	feed(m, KEY, ASSIST(TEXT("two"), "toolUse"), 3);
	box_compacted(m, KEY, 4);
	feed(m, KEY, RESULT("t1", "false"), 5); /* its line scrolled away */
	n = box_changes(m, &ch);
	assert_string_equal(ch[0].box.lines,
	    "[\"one\",\"two\",\"[session compacted - continuing]\"]");
	box_changes_free(ch, n);
	box_model_free(m);
}

static void
test_box_subagent(void **state)
{
	struct box_model *m = model(15);
	struct box_meta meta = { .agent_id = "main", .parent_key = KEY, .label = "log sizing" };
	struct box_change *ch;
	const struct box_change *p, *c;
	struct box_stats st;
	size_t n;

	(void)state;
	box_lock(m, "main", KEY, 1, 0);
	feed(m, KEY, ASSIST(CALL("s1", "sessions_spawn",
	    "{\"task\":\"Size\",\"label\":\"log sizing\"}"), "toolUse"), 1);
	feed(m, KEY, "{\"type\":\"message\",\"message\":{\"role\":\"toolResult\","
	    "\"toolCallId\":\"s1\",\"isError\":false,\"details\":{\"childSessionKey\":\""
	    SUB "\"}}}", 2);
	box_set_meta(m, SUB, &meta);
	box_lock(m, "main", SUB, 1, 3);
	feed(m, SUB, ASSIST(TEXT("List the folders."), "stop"), 4);
	n = box_changes(m, &ch);
	p = change_for(ch, n, KEY);
	c = change_for(ch, n, SUB);
	assert_non_null(p);
	assert_non_null(c);
	assert_string_equal(p->box.lines, "[\"Sub-agent: log sizing\"]");
	assert_null(p->box.parent_id);
	assert_non_null(c->box.parent_id);
	assert_string_equal(c->box.parent_id, p->box.id);
	assert_string_equal(c->box.label, "log sizing");
	assert_string_equal(c->box.lines, "[\"List the folders.\"]");
	box_changes_free(ch, n);
	box_stats(m, &st);
	assert_int_equal(st.active_boxes, 2);
	box_model_free(m);
}

/* The box's lines and status as the next commit would write them. */
static void
expect_box(struct box_model *m, const char *key, const char *status, const char *lines)
{
	struct box_change *ch;
	const struct box_change *c;
	size_t n = box_changes(m, &ch);

	c = change_for(ch, n, key);
	assert_non_null(c);
	assert_true(c->has_box);
	assert_string_equal(c->box.status, status);
	assert_string_equal(c->box.lines, lines);
	box_changes_free(ch, n);
	box_mark_clean(m);
}

/* Issue 12.1: a run's start shows a box, "thinking" until its first line. */
static void
test_box_run_start_thinking(void **state)
{
	struct box_model *m = model(15);

	(void)state;
	box_run_start(m, "main", KEY, 0, 100);
	expect_box(m, KEY, "active", "[\"" BOX_THINKING_LINE "\"]");
	box_run_start(m, "main", KEY, 0, 150); /* the same run: no second box */
	feed(m, KEY, ASSIST(TEXT("Looking.") "," CALL("c1", "exec", "{\"command\":\"df\"}"),
	    "toolUse"), 200);
	expect_box(m, KEY, "active", "[\"Looking.\",\"exec: df\"]");
	feed(m, KEY, RESULT("c1", "false"), 250);
	feed(m, KEY, ASSIST(TEXT("Done."), "stop"), 300);
	expect_box(m, KEY, "done", "[\"Looking.\",\"exec: df [OK]\",\"Done.\"]");
	/* a run that shows nothing leaves no "thinking" behind */
	box_run_start(m, "main", KEY, 0, 400);
	box_tick(m, 400 + 60000);
	expect_box(m, KEY, "done", "[]");
	box_model_free(m);
}

/* Issue 12.2: a failed sessions_spawn shows [ERR] and why (plain and through tool_call). */
static void
test_box_failed_spawn(void **state)
{
	struct box_model *m = model(15);
	struct box_stats st;

	(void)state;
	box_run_start(m, "main", KEY, 0, 0);
	feed(m, KEY, ASSIST(CALL("s1", "sessions_spawn", "{\"task\":\"count\",\"label\":\"counter\"}"),
	    "toolUse"), 1);
	feed(m, KEY, "{\"type\":\"message\",\"message\":{\"role\":\"toolResult\",\"toolCallId\":\"s1\","
	    "\"toolName\":\"sessions_spawn\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"Tool sessions_spawn not found\"}],\"details\":{},\"isError\":true}}", 2);
	feed(m, KEY, ASSIST(CALL("s2", "tool_call", "{\"id\":\"sessions_spawn\",\"args\":"
	    "{\"task\":\"count\",\"label\":\"again\"}}"), "toolUse"), 3);
	feed(m, KEY, "{\"type\":\"message\",\"message\":{\"role\":\"toolResult\",\"toolCallId\":\"s2\","
	    "\"toolName\":\"tool_call\",\"content\":[{\"type\":\"text\",\"text\":\"{}\"}],"
	    "\"details\":{\"tool\":{\"name\":\"sessions_spawn\"},\"result\":{\"content\":[],"
	    "\"details\":{\"status\":\"error\",\"error\":\"published reply runtime missing\","
	    "\"childSessionKey\":\"" SUB "\"}}},\"isError\":false}}", 4);
	expect_box(m, KEY, "active",
	    "[\"Sub-agent: counter [ERR] Tool sessions_spawn not found\","
	    "\"Sub-agent: again [ERR] published reply runtime missing\"]");
	/* no child box for a spawn that failed */
	box_stats(m, &st);
	assert_int_equal(st.active_boxes, 1);
	box_model_free(m);
}

/* Issue 12.3: a failed run ends as error with its error text last. */
static void
test_box_error_text(void **state)
{
	struct box_model *m = model(15);

	(void)state;
	box_run_start(m, "main", KEY, 0, 0);
	feed(m, KEY, "{\"type\":\"message\",\"message\":{\"role\":\"assistant\",\"content\":[],"
	    "\"model\":\"m\",\"stopReason\":\"error\",\"errorMessage\":\"400 model overloaded\","
	    "\"errorCode\":\"mock_error\"}}", 1);
	expect_box(m, KEY, "error", "[\"Error: 400 model overloaded (mock_error)\"]");
	box_run_start(m, "main", KEY, 0, 2);
	feed(m, KEY, ASSIST(TEXT("Working."), "aborted"), 3);
	expect_box(m, KEY, "error", "[\"Working.\",\"Error: run aborted\"]");
	box_model_free(m);
}

/* Issue 12.4: an announce run folds into an active box and never starts one. */
static void
test_box_announce(void **state)
{
	struct box_model *m = model(15);
	struct box_change *ch;
	struct box_stats st;
	size_t n;

	(void)state;
	box_run_start(m, "main", KEY, 1, 0);
	feed(m, KEY, "{\"type\":\"message\",\"message\":{\"role\":\"assistant\",\"content\":["
	    TEXT("The helper is done.") "],\"model\":\"m\",\"stopReason\":\"stop\",\"__openclaw\":"
	    "{\"runId\":\"announce:v1:" SUB ":r1\"}}}", 1);
	box_run_start(m, "main", "agent:main:subagent:x:announce:v1:y", 0, 2);
	n = box_changes(m, &ch);
	for (size_t i = 0; i < n; i++)
		assert_false(ch[i].has_box);
	box_changes_free(ch, n);
	box_stats(m, &st);
	assert_int_equal(st.active_boxes, 0);
	/* while the parent's box is active, an announce's lines join it */
	box_run_start(m, "main", KEY, 0, 3);
	feed(m, KEY, "{\"type\":\"message\",\"message\":{\"role\":\"assistant\",\"content\":["
	    TEXT("Folded in.") "],\"model\":\"m\",\"stopReason\":\"toolUse\",\"__openclaw\":"
	    "{\"runId\":\"announce:v1:" SUB ":r1\"}}}", 4);
	expect_box(m, KEY, "active", "[\"Folded in.\"]");
	box_model_free(m);
}

/* Issue 12.5: a parent's box stays active while its sub-agent's box is. */
static void
test_box_parent_waits_for_child(void **state)
{
	struct box_model *m = model(15);
	struct box_change *ch;
	const struct box_change *c;
	size_t n;

	(void)state;
	box_run_start(m, "main", KEY, 0, 0);
	feed(m, KEY, ASSIST(CALL("s1", "sessions_spawn", "{\"task\":\"Size\",\"label\":\"sizer\"}"),
	    "toolUse"), 1);
	feed(m, KEY, "{\"type\":\"message\",\"message\":{\"role\":\"toolResult\","
	    "\"toolName\":\"sessions_spawn\",\"toolCallId\":\"s1\",\"isError\":false,"
	    "\"details\":{\"status\":\"accepted\",\"childSessionKey\":\"" SUB "\"}}}", 2);
	/* the accepted child shows at once, thinking */
	n = box_changes(m, &ch);
	c = change_for(ch, n, SUB);
	assert_non_null(c);
	assert_string_equal(c->box.lines, "[\"" BOX_THINKING_LINE "\"]");
	assert_string_equal(c->box.status, "active");
	box_changes_free(ch, n);
	box_mark_clean(m);
	feed(m, KEY, ASSIST(TEXT("Waiting for the helper."), "stop"), 3);
	expect_box(m, KEY, "active", "[\"Sub-agent: sizer\",\"Waiting for the helper.\"]");
	/* idle time passes: the parent waits on */
	box_tick(m, 3 + 60000);
	feed(m, SUB, ASSIST(TEXT("Sizes listed."), "stop"), 70000);
	n = box_changes(m, &ch);
	c = change_for(ch, n, SUB);
	assert_string_equal(c->box.status, "done");
	c = change_for(ch, n, KEY);
	assert_non_null(c);
	assert_string_equal(c->box.status, "done");
	box_changes_free(ch, n);
	box_model_free(m);
}

static void
test_box_restore(void **state)
{
	struct box_model *m = model(15), *m2;
	struct box_change *ch;
	struct store_box b;
	char *state_json;
	size_t n;

	(void)state;
	box_lock(m, "main", KEY, 1, 0);
	feed(m, KEY, ASSIST(CALL("t1", "exec", "{\"command\":\"ls\"}"), "toolUse"), 1);
	n = box_changes(m, &ch);
	b = ch[0].box;
	state_json = xstrdup(ch[0].state);
	m2 = model(15);
	assert_int_equal(box_restore(m2, KEY, state_json, &b), 0);
	box_changes_free(ch, n);
	box_model_free(m);
	/* the restored model finishes the pending call's line */
	feed(m2, KEY, RESULT("t1", "false"), 2);
	box_lock(m2, "main", KEY, 0, 3);
	n = box_changes(m2, &ch);
	assert_string_equal(ch[0].box.lines, "[\"exec: ls [OK]\"]");
	assert_string_equal(ch[0].box.status, "done");
	assert_int_equal(ch[0].box.start_time_ms, 0);
	box_changes_free(ch, n);
	free(state_json);
	box_model_free(m2);
}

static void
test_box_max_active(void **state)
{
	struct box_config c = { .max_lines = 5, .idle_timeout_ms = 1000, .max_active = 2 };
	struct box_model *m = box_model_new(&c);
	struct box_stats st;

	(void)state;
	box_lock(m, "main", "agent:main:a", 1, 0);
	box_lock(m, "main", "agent:main:b", 1, 0);
	box_lock(m, "main", "agent:main:c", 1, 0);
	box_stats(m, &st);
	assert_int_equal(st.active_boxes, 2);
	assert_int_equal(st.dropped, 1);
	/* the dropped run goes on: still one run dropped, not one per line */
	feed(m, "agent:main:c", ASSIST(TEXT("x"), "toolUse"), 1);
	feed(m, "agent:main:c", ASSIST(TEXT("y"), "toolUse"), 2);
	box_stats(m, &st);
	assert_int_equal(st.dropped, 1);
	/* its lock goes, a later run is dropped again: two runs */
	box_lock(m, "main", "agent:main:c", 0, 3);
	box_lock(m, "main", "agent:main:c", 1, 4);
	box_stats(m, &st);
	assert_int_equal(st.dropped, 2);
	/* a slot frees up: the next run is shown */
	box_lock(m, "main", "agent:main:a", 0, 5);
	box_lock(m, "main", "agent:main:c", 0, 6);
	box_lock(m, "main", "agent:main:c", 1, 7);
	box_stats(m, &st);
	assert_int_equal(st.active_boxes, 2);
	assert_int_equal(st.dropped, 2);
	box_model_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tx_assistant),
		cmocka_unit_test(test_tx_kinds),
		cmocka_unit_test(test_tx_errors),
		cmocka_unit_test(test_wjson_str),
		cmocka_unit_test(test_line_text),
		cmocka_unit_test(test_labels_builtin),
		cmocka_unit_test(test_labels_file),
		cmocka_unit_test(test_routing),
		cmocka_unit_test(test_sessions_index),
		cmocka_unit_test(test_transcript_names),
		cmocka_unit_test(test_tail_keeps_only_a_started_line),
		cmocka_unit_test(test_box_run),
		cmocka_unit_test(test_box_pending_keeps_active),
		cmocka_unit_test(test_box_error_and_fresh_box),
		cmocka_unit_test(test_box_timeouts),
		cmocka_unit_test(test_box_lines_capped_and_compacted),
		cmocka_unit_test(test_box_subagent),
		cmocka_unit_test(test_box_restore),
		cmocka_unit_test(test_box_max_active),
		cmocka_unit_test(test_box_run_start_thinking),
		cmocka_unit_test(test_box_failed_spawn),
		cmocka_unit_test(test_box_error_text),
		cmocka_unit_test(test_box_announce),
		cmocka_unit_test(test_box_parent_waits_for_child),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
