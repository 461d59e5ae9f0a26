/*
 * Unit tests of ocdb: the reader of OpenClaw 2026.8+ agent databases.
 *
 * Each test makes a temp agents/ folder; the schema comes from the test
 * writer (tests/ocwriter/ocwriter.py create), rows are appended here with
 * sqlite3 and libzstd the way the gateway does (one BEGIN IMMEDIATE each).
 * Events go to a recording sink, so order, keys and notices can be checked.
 */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <zstd.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "sql/store.h"
#include "sql/store_ocdb.h"
#include "watcher/ocdb.h"

#define MAXREC 512

struct rec {
	char *items[MAXREC]; /* "E key id", "C key", "M key parent|channel|root|target|label" */
	int n;
};

struct fx {
	char dir[64];
	char agents[96];
	char dbpath[160];
	char storepath[128];
	store *st;
	struct rec rec;
	struct ocdb_sink sink;
	sqlite3 *w; /* the "gateway" */
};

static void
rec_add(struct rec *r, char *s)
{
	assert_true(r->n < MAXREC);
	r->items[r->n++] = s;
}

static void
rec_clear(struct rec *r)
{
	int i;

	for (i = 0; i < r->n; i++)
		free(r->items[i]);
	r->n = 0;
}

static void
sink_meta(void *arg, const char *key, const struct box_meta *m)
{
	rec_add(arg, xasprintf("M %s %s|%s|%s|%s|%s", key, m->parent_key ? m->parent_key : "",
	    m->channel_id ? m->channel_id : "", m->root_id ? m->root_id : "",
	    m->target ? m->target : "", m->label ? m->label : ""));
}

static void
sink_event(void *arg, const char *agent, const char *key, const struct tx_event *ev,
    int64_t now)
{
	json_object *id = NULL;

	(void)now;
	json_object_object_get_ex(ev->root, "id", &id);
	rec_add(arg, xasprintf("E %s %s %s", agent, key, id ? json_object_get_string(id) : "-"));
}

static void
sink_compacted(void *arg, const char *key, int64_t now)
{
	(void)now;
	rec_add(arg, xasprintf("C %s", key));
}

/* Items of kind k ("E", "C", "M") joined by ';' (newly allocated). */
static char *
rec_join(struct rec *r, char kind)
{
	size_t len = 1;
	char *out;
	int i;

	for (i = 0; i < r->n; i++)
		len += strlen(r->items[i]) + 1;
	out = xcalloc(1, len);
	for (i = 0; i < r->n; i++) {
		if (r->items[i][0] != kind)
			continue;
		if (*out)
			strcat(out, ";");
		strcat(out, r->items[i] + 2);
	}
	return out;
}

static void
expect_events(struct fx *f, const char *want)
{
	char *got = rec_join(&f->rec, 'E');

	if (strcmp(got, want) != 0)
		fail_msg("events\n  got:  %s\n  want: %s", got, want);
	free(got);
}

static int
rec_count(struct rec *r, const char *prefix)
{
	int i, n = 0;

	for (i = 0; i < r->n; i++)
		n += strncmp(r->items[i], prefix, strlen(prefix)) == 0;
	return n;
}

static void
sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_int_equal(system(cmd), 0);
}

static void
wexec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

/* Creates agents/<id>/agent/openclaw-agent.sqlite with the writer. */
static void
make_db(struct fx *f, const char *id, int version, char *path, size_t len)
{
	snprintf(path, len, "%s/%s/agent/openclaw-agent.sqlite", f->agents, id);
	sh("python3 tests/ocwriter/ocwriter.py create %s --agent %s --version %d", path, id,
	    version);
}

static sqlite3 *
wopen(const char *path)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	wexec(db, "PRAGMA journal_mode=WAL");
	return db;
}

static void
wsession(sqlite3 *db, const char *key, const char *sid, const char *entry,
    const char *spawned_by, const char *prev, const char *conv)
{
	char *sql = sqlite3_mprintf(
	    "BEGIN IMMEDIATE;"
	    "INSERT INTO session_nodes (session_key, current_session_id, entry_json, updated_at,"
	    " spawned_by, created_via) VALUES (%Q, %Q, %Q, %lld, %Q, %Q)"
	    " ON CONFLICT (session_key) DO UPDATE SET current_session_id = excluded.current_session_id,"
	    " updated_at = excluded.updated_at;"
	    "INSERT INTO session_windows (session_id, session_key, previous_session_id, reason,"
	    " transcript_updated_at, spawned_by, primary_conversation_id, started_at) VALUES"
	    " (%Q, %Q, %Q, %Q, (SELECT max(%lld, coalesce(max(transcript_updated_at), 0) + 1)"
	    " FROM session_windows), %Q, %Q, %lld);"
	    "COMMIT;",
	    key, sid, entry ? entry : "{}", (long long)util_now_ms(), spawned_by,
	    spawned_by ? "spawn" : "message", sid, key, prev, prev ? "rollover" : "initial",
	    (long long)util_now_ms(), spawned_by, conv, (long long)util_now_ms());

	wexec(db, sql);
	sqlite3_free(sql);
}

static void
wbump(sqlite3 *db, const char *sid)
{
	char *sql = sqlite3_mprintf("UPDATE session_windows SET transcript_updated_at ="
	    " (SELECT max(%lld, max(transcript_updated_at) + 1) FROM session_windows)"
	    " WHERE session_id = %Q", (long long)util_now_ms(), sid);

	wexec(db, sql);
	sqlite3_free(sql);
}

/* Inserts one row at seq (or the next one when seq < 0); no transaction. */
static void
winsert(sqlite3 *db, const char *sid, int64_t seq, const char *json, int compress)
{
	sqlite3_stmt *s;
	size_t n = strlen(json), cap = ZSTD_compressBound(n), clen = 0;
	void *buf = NULL;

	if (compress) {
		ZSTD_CCtx *c = ZSTD_createCCtx();

		ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1);
		ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
		buf = xmalloc(cap);
		clen = ZSTD_compress2(c, buf, cap, json, n);
		assert_false(ZSTD_isError(clen));
		ZSTD_freeCCtx(c);
	}
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO transcript_events (session_id, seq,"
	    " event_json, event_zstd, event_utf8_bytes, created_at) VALUES (?1,"
	    " CASE WHEN ?2 >= 0 THEN ?2 ELSE (SELECT coalesce(max(seq), -1) + 1 FROM"
	    " transcript_events WHERE session_id = ?1) END, ?3, ?4, ?5, 0)", -1, &s, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(s, 1, sid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, seq);
	if (compress) {
		sqlite3_bind_null(s, 3);
		sqlite3_bind_blob(s, 4, buf, (int)clen, SQLITE_STATIC);
	} else {
		sqlite3_bind_text(s, 3, json, -1, SQLITE_STATIC);
		sqlite3_bind_null(s, 4);
	}
	sqlite3_bind_int64(s, 5, (int64_t)n);
	assert_int_equal(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	free(buf);
}

/* One event appended as the gateway does: its own write transaction. */
static void
wappend(sqlite3 *db, const char *sid, const char *json, int compress)
{
	wexec(db, "BEGIN IMMEDIATE");
	winsert(db, sid, -1, json, compress);
	wbump(db, sid);
	wexec(db, "COMMIT");
}

/* A small transcript event with id and an ISO time at second sec. */
static char *
ev(const char *id, int sec)
{
	return xasprintf("{\"type\":\"message\",\"id\":\"%s\",\"parentId\":null,"
	    "\"timestamp\":\"2026-04-14T09:12:%02d.000Z\",\"message\":{\"role\":\"user\","
	    "\"content\":\"hi\",\"timestamp\":0}}", id, sec);
}

static void
append_ev(struct fx *f, const char *sid, const char *id, int sec, int compress)
{
	char *e = ev(id, sec);

	wappend(f->w, sid, e, compress);
	free(e);
}

static struct ocdb *
new_ocdb(struct fx *f, const char *root, int no_inotify)
{
	struct ocdb_config cfg = { 0 };
	struct ocdb *o;
	char err[256];

	cfg.root = root != NULL ? root : f->agents;
	cfg.poll_interval_ms = 50;
	cfg.no_inotify = no_inotify;
	cfg.batch_rows = 4; /* small, so paging is exercised */
	assert_int_equal(ocdb_new(&cfg, f->st, &f->sink, &o, err, sizeof(err)), 0);
	return o;
}

/* How long a test's loop may sleep: ocdb_timeout(), at most 200 ms. */
static int
wait_ms(struct ocdb *o)
{
	int64_t t = ocdb_timeout(o);

	return t < 0 || t > 200 ? 200 : (int)t;
}

/* Runs and stores cursors as the main loop does. */
static int64_t
run(struct fx *f, struct ocdb *o)
{
	int64_t fed = 0;
	int i;

	for (i = 0; i < 100; i++) {
		fed += ocdb_run(o, util_now_ms());
		if (ocdb_dirty(o)) {
			assert_int_equal(store_begin(f->st), STORE_OK);
			assert_int_equal(ocdb_save(o, util_now_ms()), STORE_OK);
			assert_int_equal(store_commit(f->st), STORE_OK);
			ocdb_saved(o);
		}
		if (ocdb_timeout(o) != 0)
			break;
	}
	return fed;
}

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	char err[256];

	snprintf(f->dir, sizeof(f->dir), "/tmp/ls-ocdb-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->agents, sizeof(f->agents), "%s/agents", f->dir);
	snprintf(f->storepath, sizeof(f->storepath), "%s/ls.db", f->dir);
	sh("mkdir -p %s", f->agents);
	assert_int_equal(store_open(f->storepath, &f->st, err, sizeof(err)), STORE_OK);
	f->sink.arg = &f->rec;
	f->sink.meta = sink_meta;
	f->sink.event = sink_event;
	f->sink.compacted = sink_compacted;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	rec_clear(&f->rec);
	if (f->w != NULL)
		sqlite3_close(f->w);
	store_close(f->st);
	sh("rm -rf %s", f->dir);
	free(f);
	return 0;
}

/* A main agent with one session "s1" (key K1) and the gateway connection. */
#define K1 "agent:main:mattermost:channel:chan1"
#define K2 "agent:main:subagent:0000"

static void
main_agent(struct fx *f, int version)
{
	make_db(f, "main", version, f->dbpath, sizeof(f->dbpath));
	f->w = wopen(f->dbpath);
	wsession(f->w, K1, "s1", NULL, NULL, NULL, NULL);
}

/* ---- tests ---------------------------------------------------------- */

static void
test_zstd_decode(void **state)
{
	const char *text = "{\"type\":\"custom\",\"data\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxx\"}";
	size_t n = strlen(text), cap = ZSTD_compressBound(n) * 2, c;
	char *buf = xmalloc(cap), *out;
	const char *why = NULL;
	ZSTD_CCtx *cc = ZSTD_createCCtx();

	(void)state;
	ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 1);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
	c = ZSTD_compress2(cc, buf, cap, text, n);
	assert_false(ZSTD_isError(c));
	assert_int_equal(ocdb_zstd_decode(NULL, buf, c, (int64_t)n, &out, &why), 0);
	assert_string_equal(out, text);
	free(out);
	/* The length must be event_utf8_bytes exactly. */
	assert_int_equal(ocdb_zstd_decode(NULL, buf, c, (int64_t)n + 1, &out, &why), -1);
	assert_null(out);
	assert_int_equal(ocdb_zstd_decode(NULL, buf, c, (int64_t)n - 1, &out, &why), -1);
	/* Both sizes are bounded. */
	assert_int_equal(ocdb_zstd_decode(NULL, buf, c, OCDB_MAX_EVENT_BYTES + 1, &out, &why),
	    -1);
	assert_int_equal(ocdb_zstd_decode(NULL, buf, OCDB_MAX_EVENT_BYTES + 1, (int64_t)n,
	    &out, &why), -1);
	assert_int_equal(ocdb_zstd_decode(NULL, buf, c, -1, &out, &why), -1);
	/* Two frames are not one event. */
	memcpy(buf + c, buf, c);
	assert_int_equal(ocdb_zstd_decode(NULL, buf, 2 * c, (int64_t)n, &out, &why), -1);
	/* A damaged frame fails its checksum or its structure. */
	buf[c - 1] ^= 0xff;
	assert_int_equal(ocdb_zstd_decode(NULL, buf, c, (int64_t)n, &out, &why), -1);
	assert_non_null(why);
	assert_int_equal(ocdb_zstd_decode(NULL, "garbage!", 8, 8, &out, &why), -1);
	ZSTD_freeCCtx(cc);
	free(buf);
}

/* A database there at start-up is read from its end; new events follow. */
static void
test_no_backlog_then_follow(void **state)
{
	struct fx *f = *state;
	struct ocdb *o;

	main_agent(f, 23);
	append_ev(f, "s1", "old1", 1, 0);
	append_ev(f, "s1", "old2", 2, 1);
	o = new_ocdb(f, NULL, 0);
	assert_int_equal(run(f, o), 0);
	append_ev(f, "s1", "a1", 3, 0);
	append_ev(f, "s1", "a2", 4, 1);
	assert_int_equal(run(f, o), 2);
	expect_events(f, "main " K1 " a1;main " K1 " a2");
	ocdb_free(o);
}

/* A session that appears while running is read from seq 0, across pages. */
static void
test_new_session_from_start(void **state)
{
	struct fx *f = *state;
	struct ocdb *o;
	char id[8];
	int i;

	main_agent(f, 23);
	o = new_ocdb(f, NULL, 0);
	run(f, o);
	wsession(f->w, K2, "s2", "{\"spawnedBy\":\"" K1 "\",\"label\":\"log sizing\"}", NULL,
	    NULL, NULL);
	wexec(f->w, "BEGIN IMMEDIATE");
	for (i = 0; i < 10; i++) {
		char *e;

		snprintf(id, sizeof(id), "n%d", i);
		e = ev(id, i);
		winsert(f->w, "s2", -1, e, i % 2);
		free(e);
	}
	wbump(f->w, "s2");
	wexec(f->w, "COMMIT");
	assert_int_equal(run(f, o), 10);
	assert_int_equal(rec_count(&f->rec, "E main " K2 " n"), 10);
	assert_string_equal(f->rec.items[f->rec.n - 1], "E main " K2 " n9");
	/* The parent and label come from entry_json. */
	assert_int_equal(rec_count(&f->rec, "M " K2 " " K1 "||||log sizing"), 1);
	ocdb_free(o);
}

/* Rewrite with a new generation: compacted once, nothing shown twice. */
static void
test_new_generation(void **state)
{
	struct fx *f = *state;
	struct ocdb *o;

	main_agent(f, 23);
	o = new_ocdb(f, NULL, 0);
	run(f, o);
	append_ev(f, "s1", "e1", 1, 0);
	append_ev(f, "s1", "e2", 2, 0);
	append_ev(f, "s1", "e3", 3, 0);
	assert_int_equal(run(f, o), 3);
	rec_clear(&f->rec);
	/* Compaction rewrite: a summary, the kept e3, then a new e4, renumbered. */
	wexec(f->w, "BEGIN IMMEDIATE; DELETE FROM transcript_events WHERE session_id = 's1';"
	    "INSERT INTO transcript_rewrite_watermarks VALUES ('s1', 'g2', 0);");
	winsert(f->w, "s1", 0, "{\"type\":\"compaction\",\"id\":\"cmp1\","
	    "\"timestamp\":\"2026-04-14T09:12:03.500Z\",\"summary\":\"s\"}", 0);
	{
		char *e3 = ev("e3", 3), *e4 = ev("e4", 4);

		winsert(f->w, "s1", 1, e3, 0);
		winsert(f->w, "s1", 2, e4, 1);
		free(e3);
		free(e4);
	}
	wbump(f->w, "s1");
	wexec(f->w, "COMMIT");
	assert_int_equal(run(f, o), 1);
	assert_int_equal(rec_count(&f->rec, "C " K1), 1);
	expect_events(f, "main " K1 " e4");
	rec_clear(&f->rec);
	/* Fewer rows than the cursor, same generation: read again too. */
	wexec(f->w, "BEGIN IMMEDIATE; DELETE FROM transcript_events WHERE session_id = 's1'"
	    " AND seq > 0;");
	{
		char *e5 = ev("e5", 5);

		winsert(f->w, "s1", 1, e5, 0);
		free(e5);
	}
	wbump(f->w, "s1");
	wexec(f->w, "COMMIT");
	assert_int_equal(run(f, o), 1);
	assert_int_equal(rec_count(&f->rec, "C " K1), 1);
	expect_events(f, "main " K1 " e5");
	ocdb_free(o);
}

/* A rollover window continues under the same key; cold archives are ignored. */
static void
test_rollover_and_cold_archive(void **state)
{
	struct fx *f = *state;
	struct ocdb *o;

	main_agent(f, 23);
	o = new_ocdb(f, NULL, 0);
	run(f, o);
	append_ev(f, "s1", "e1", 1, 0);
	run(f, o);
	wsession(f->w, K1, "s1b", NULL, NULL, "s1", NULL);
	append_ev(f, "s1b", "r1", 2, 0);
	append_ev(f, "s1b", "r2", 3, 1);
	rec_clear(&f->rec);
	assert_int_equal(run(f, o), 2);
	expect_events(f, "main " K1 " r1;main " K1 " r2");
	rec_clear(&f->rec);
	/* The old window is archived: its events leave, nothing is shown. */
	wexec(f->w, "BEGIN IMMEDIATE; INSERT INTO session_transcript_cold_archives VALUES"
	    " ('s1', 's1.jsonl.zst', 1, 0); DELETE FROM transcript_events WHERE session_id = 's1';");
	wbump(f->w, "s1");
	wexec(f->w, "COMMIT");
	assert_int_equal(run(f, o), 0);
	assert_int_equal(rec_count(&f->rec, "C "), 0);
	ocdb_free(o);
}

/* A corrupt zstd row is counted and skipped; the next row is used. */
static void
test_corrupt_row(void **state)
{
	struct fx *f = *state;
	struct ocdb_stats stats;
	struct ocdb *o;
	sqlite3_stmt *s;

	main_agent(f, 23);
	o = new_ocdb(f, NULL, 0);
	run(f, o);
	wexec(f->w, "BEGIN IMMEDIATE");
	assert_int_equal(sqlite3_prepare_v2(f->w, "INSERT INTO transcript_events VALUES"
	    " ('s1', 0, NULL, ?1, 2000, 0)", -1, &s, NULL), SQLITE_OK);
	sqlite3_bind_blob(s, 1, "\x28\xb5\x2f\xfd\x00\x58\x01\x02\x03\x04", 10, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	wexec(f->w, "INSERT INTO transcript_events VALUES ('s1', 1, 'not json', NULL, 8, 0)");
	wbump(f->w, "s1");
	wexec(f->w, "COMMIT");
	append_ev(f, "s1", "ok1", 1, 1);
	assert_int_equal(run(f, o), 1);
	expect_events(f, "main " K1 " ok1");
	ocdb_stats(o, &stats);
	assert_int_equal(stats.rows_bad, 1);
	assert_int_equal(stats.parse_errors, 1);
	ocdb_free(o);
}

/* An unknown version is refused for that agent; the other keeps working. */
static void
test_refused_version(void **state)
{
	struct fx *f = *state;
	char other[256];
	const char *js;
	json_object *arr;
	struct ocdb *o;
	sqlite3 *w2;

	main_agent(f, 23);
	make_db(f, "ops", 23, other, sizeof(other));
	sh("python3 tests/ocwriter/ocwriter.py user-version %s 99", other);
	sh("mkdir -p %s/legacy/sessions", f->agents);
	o = new_ocdb(f, NULL, 0);
	run(f, o);
	append_ev(f, "s1", "m1", 1, 0);
	assert_int_equal(run(f, o), 1);
	arr = ocdb_agents_json(o);
	js = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN);
	assert_non_null(strstr(js, "\"agent\":\"ops\",\"layout\":\"sqlite\""));
	assert_non_null(strstr(js, "\"schema_version\":99"));
	assert_non_null(strstr(js, "\"state\":\"refused\""));
	assert_non_null(strstr(js, "schema version 99 is not supported"));
	assert_non_null(strstr(js, "\"agent\":\"legacy\",\"layout\":\"files\""));
	assert_non_null(strstr(js, "\"schema_version\":23"));
	json_object_put(arr);
	/* The gateway upgrades it to a known version: followed from then on. */
	sh("python3 tests/ocwriter/ocwriter.py user-version %s 23", other);
	w2 = wopen(other);
	wsession(w2, "agent:ops:main", "o1", NULL, NULL, NULL, NULL);
	run(f, o);
	append_ev(f, "s1", "m2", 2, 0);
	{
		char *e = ev("o-1", 3);

		wappend(w2, "o1", e, 0);
		free(e);
	}
	assert_int_equal(run(f, o), 2);
	assert_int_equal(rec_count(&f->rec, "E ops agent:ops:main o-1"), 1);
	sqlite3_close(w2);
	ocdb_free(o);
}

/* Cursors persist: a new reader on the same store resumes exactly. */
static void
test_restart_resumes(void **state)
{
	struct fx *f = *state;
	struct store_ocdb_cursor *list;
	size_t n;
	struct ocdb *o;

	main_agent(f, 23);
	o = new_ocdb(f, NULL, 0);
	run(f, o);
	append_ev(f, "s1", "a1", 1, 0);
	append_ev(f, "s1", "a2", 2, 0);
	run(f, o);
	/* Read but not saved: a crash before the commit loses both sides. */
	append_ev(f, "s1", "a3", 3, 0);
	ocdb_run(o, util_now_ms());
	ocdb_free(o);
	append_ev(f, "s1", "a4", 4, 1);
	rec_clear(&f->rec);
	o = new_ocdb(f, NULL, 0);
	assert_int_equal(run(f, o), 2);
	expect_events(f, "main " K1 " a3;main " K1 " a4");
	ocdb_free(o);
	assert_int_equal(store_ocdb_cursor_list(f->st, "/nonexistent", &list, &n), STORE_OK);
	assert_int_equal(n, 0);
	store_ocdb_cursor_list_free(list, n);
}

/* Routes: the key, entry_json, the conversations row, DEFAULT_CHANNEL. */
static void
test_meta_routes(void **state)
{
	struct fx *f = *state;
	struct ocdb_config cfg = { 0 };
	struct ocdb *o;
	char err[256];

	main_agent(f, 24);
	cfg.root = f->agents;
	cfg.default_channel = "defchan";
	assert_int_equal(ocdb_new(&cfg, f->st, &f->sink, &o, err, sizeof(err)), 0);
	run(f, o);
	wexec(f->w, "INSERT INTO conversations VALUES ('cv1', 'mattermost', 'channel', NULL,"
	    " 'root9', 'convchan', 'default', 0)");
	wsession(f->w, "agent:main:main", "d1", "{\"lastTo\":\"user:u42\"}", NULL, NULL, NULL);
	wsession(f->w, "agent:main:cron:x", "c1", "{}", NULL, NULL, "cv1");
	wsession(f->w, "agent:main:hook:y", "h1", "{\"displayName\":\"Hook\"}", NULL, NULL,
	    NULL);
	wsession(f->w, "agent:main:subagent:z", "z1", "{}", "agent:main:main", NULL, NULL);
	append_ev(f, "d1", "x1", 1, 0);
	append_ev(f, "c1", "x2", 2, 0);
	append_ev(f, "h1", "x3", 3, 0);
	append_ev(f, "z1", "x4", 4, 0);
	append_ev(f, "s1", "x5", 5, 0);
	assert_int_equal(run(f, o), 5);
	assert_int_equal(rec_count(&f->rec, "M agent:main:main |||user:u42|"), 1);
	assert_int_equal(rec_count(&f->rec, "M agent:main:cron:x |convchan|root9||"), 1);
	assert_int_equal(rec_count(&f->rec, "M agent:main:hook:y |defchan|||Hook"), 1);
	/* A sub-agent sits in its parent's channel: never DEFAULT_CHANNEL. */
	assert_int_equal(rec_count(&f->rec, "M agent:main:subagent:z agent:main:main||"), 1);
	assert_int_equal(rec_count(&f->rec, "M " K1 " |chan1|||"), 1);
	/* Unchanged node: no second meta call on the next event. */
	append_ev(f, "s1", "x6", 6, 0);
	run(f, o);
	assert_int_equal(rec_count(&f->rec, "M " K1 " "), 1);
	ocdb_free(o);
}

/* The gateway holds a write transaction: reads go on and see the commit. */
static void
test_writer_holds_lock(void **state)
{
	struct fx *f = *state;
	struct ocdb *o;
	int64_t t0;

	main_agent(f, 23);
	o = new_ocdb(f, NULL, 0);
	run(f, o);
	append_ev(f, "s1", "b1", 1, 0);
	wexec(f->w, "BEGIN IMMEDIATE");
	winsert(f->w, "s1", -1, "{\"type\":\"custom\",\"id\":\"held\"}", 0);
	wbump(f->w, "s1");
	t0 = util_mono_ms();
	assert_int_equal(run(f, o), 1);
	assert_true(util_mono_ms() - t0 < 1000);
	wexec(f->w, "COMMIT");
	assert_int_equal(run(f, o), 1);
	expect_events(f, "main " K1 " b1;main " K1 " held");
	ocdb_free(o);
}

/*
 * Rollback journal (network file systems): a writer's EXCLUSIVE lock makes
 * reads busy; the read is put off, counted and retried on a timer, not in
 * a hot loop, and nothing is lost.
 */
static void
test_rollback_journal_busy(void **state)
{
	struct fx *f = *state;
	struct ocdb_stats stats;
	struct ocdb *o;
	int64_t t0;

	snprintf(f->dbpath, sizeof(f->dbpath), "%s/main/agent/openclaw-agent.sqlite", f->agents);
	sh("python3 tests/ocwriter/ocwriter.py create %s --journal delete", f->dbpath);
	assert_int_equal(sqlite3_open(f->dbpath, &f->w), SQLITE_OK);
	sqlite3_busy_timeout(f->w, 5000);
	wsession(f->w, K1, "s1", NULL, NULL, NULL, NULL);
	o = new_ocdb(f, NULL, 0);
	run(f, o);
	append_ev(f, "s1", "j1", 1, 1);
	wexec(f->w, "BEGIN EXCLUSIVE");
	winsert(f->w, "s1", -1, "{\"type\":\"custom\",\"id\":\"j2\"}", 0);
	wbump(f->w, "s1");
	t0 = util_mono_ms();
	assert_int_equal(ocdb_run(o, util_now_ms()), 0);
	assert_true(util_mono_ms() - t0 < 2000);
	ocdb_stats(o, &stats);
	assert_true(stats.busy >= 1);
	assert_true(ocdb_timeout(o) > 0);
	wexec(f->w, "COMMIT");
	t0 = util_mono_ms();
	while (rec_count(&f->rec, "E ") < 2 && util_mono_ms() - t0 < 3000) {
		poll(NULL, 0, wait_ms(o));
		run(f, o);
	}
	expect_events(f, "main " K1 " j1;main " K1 " j2");
	ocdb_free(o);
}

/* inotify on the -wal wakes the reader; the timed check works without it. */
static void
test_change_detection(void **state)
{
	struct fx *f = *state;
	struct ocdb *o;
	struct pollfd pfd;
	int64_t deadline;
	int i;

	/* Nothing to follow yet: with inotify, no timed wake-ups at all. */
	o = new_ocdb(f, NULL, 0);
	run(f, o);
	assert_int_equal(ocdb_timeout(o), -1);
	ocdb_free(o);
	main_agent(f, 23);
	for (i = 0; i < 2; i++) {
		o = new_ocdb(f, NULL, i);
		run(f, o);
		rec_clear(&f->rec);
		append_ev(f, "s1", i ? "p1" : "i1", 1 + i, 0);
		deadline = util_mono_ms() + 2000;
		while (rec_count(&f->rec, "E ") == 0 && util_mono_ms() < deadline) {
			pfd.fd = ocdb_fd(o);
			pfd.events = POLLIN;
			if (i == 0)
				assert_true(pfd.fd >= 0);
			else
				assert_int_equal(pfd.fd, -1);
			poll(pfd.fd >= 0 ? &pfd : NULL, pfd.fd >= 0 ? 1 : 0, wait_ms(o));
			ocdb_run(o, util_now_ms());
		}
		assert_int_equal(rec_count(&f->rec, "E "), 1);
		assert_true(util_mono_ms() < deadline);
		/* Nothing changed: no busy wake-ups. */
		if (i == 0)
			assert_true(ocdb_timeout(o) >= 100);
		ocdb_free(o);
	}
}

/* A database appearing while running is new: read from its first event. */
static void
test_db_appears(void **state)
{
	struct fx *f = *state;
	char path[256];
	struct ocdb *o;
	struct pollfd pfd;
	int64_t deadline;
	sqlite3 *w;

	sh("mkdir -p %s/late/sessions", f->agents);
	o = new_ocdb(f, NULL, 0);
	run(f, o);
	make_db(f, "late", 20, path, sizeof(path));
	w = wopen(path);
	wsession(w, "agent:late:main", "l1", NULL, NULL, NULL, NULL);
	{
		char *e = ev("first", 1);

		wexec(w, "BEGIN IMMEDIATE");
		wexec(w, "INSERT INTO transcript_events (session_id, seq, event_json, created_at)"
		    " VALUES ('l1', 0, '{\"type\":\"session\",\"id\":\"l1\"}', 0)");
		wbump(w, "l1");
		wexec(w, "COMMIT");
		free(e);
	}
	deadline = util_mono_ms() + 3000;
	while (rec_count(&f->rec, "E ") == 0 && util_mono_ms() < deadline) {
		pfd.fd = ocdb_fd(o);
		pfd.events = POLLIN;
		poll(&pfd, 1, wait_ms(o));
		run(f, o);
	}
	expect_events(f, "late agent:late:main l1");
	sqlite3_close(w);
	ocdb_free(o);
}

/* Roots: one agent's folder, its agent/ folder, its sessions/ folder. */
static void
test_roots(void **state)
{
	struct fx *f = *state;
	const char *subs[] = { "main", "main/agent", "main/sessions" };
	char root[256];
	struct ocdb *o;
	size_t i;

	main_agent(f, 23);
	sh("mkdir -p %s/main/sessions", f->agents);
	for (i = 0; i < 3; i++) {
		snprintf(root, sizeof(root), "%s/%s", f->agents, subs[i]);
		o = new_ocdb(f, root, 0);
		run(f, o);
		rec_clear(&f->rec);
		append_ev(f, "s1", "r", (int)i, 0);
		assert_int_equal(run(f, o), 1);
		expect_events(f, "main " K1 " r");
		ocdb_free(o);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zstd_decode),
		cmocka_unit_test_setup_teardown(test_no_backlog_then_follow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_session_from_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_generation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollover_and_cold_archive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_row, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_resumes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_holds_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_change_detection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_journal_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_appears, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roots, setup, teardown),
	};

	log_init("test_ocdb", LOG_LVL_ERROR);
	return cmocka_run_group_tests_name("ocdb", tests, NULL, NULL);
}
