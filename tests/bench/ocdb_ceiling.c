/*
 * ocdb_ceiling: the ceiling for reading an OpenClaw agent database.
 *
 *   ocdb_ceiling [--parse] openclaw-agent.sqlite  ->  "<rows> <seconds> <bytes>"
 *
 * Reads every session's events the way watcher/ocdb.c does (read-only,
 * query_only, batches of 256 rows in short read transactions, zstd rows
 * decoded and their size checked) and does nothing else with them: no
 * status model, no store, and no JSON unless --parse (json-c, as the
 * watcher's transcript parser uses it).  Benchmark only.
 */
#include <json-c/json.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#define BATCH 256

static void *
grow(void *p, size_t n)
{
	void *q = realloc(p, n);

	if (q == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return q;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	sqlite3 *db;
	sqlite3_stmt *sessions, *events;
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	char *uri, *buf = NULL, **ids = NULL;
	size_t cap = 0, nids = 0, i;
	int64_t rows = 0, bytes = 0, seq;
	json_tokener *tok = json_tokener_new();
	const char *path = argv[argc - 1];
	double t0;
	int n, parse = argc == 3 && strcmp(argv[1], "--parse") == 0;

	if (argc != 2 && !parse) {
		fprintf(stderr, "usage: ocdb_ceiling [--parse] openclaw-agent.sqlite\n");
		return 2;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_VALIDATE_UTF8);
	uri = sqlite3_mprintf("file:%s?mode=ro", path);
	if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
		fprintf(stderr, "cannot open %s: %s\n", path, sqlite3_errmsg(db));
		return 1;
	}
	sqlite3_busy_timeout(db, 1000);
	sqlite3_exec(db, "PRAGMA query_only = ON", NULL, NULL, NULL);
	t0 = now_s();
	sqlite3_prepare_v2(db, "SELECT session_id FROM session_windows", -1, &sessions, NULL);
	while (sqlite3_step(sessions) == SQLITE_ROW) {
		ids = grow(ids, (nids + 1) * sizeof(*ids));
		ids[nids++] = strdup((const char *)sqlite3_column_text(sessions, 0));
	}
	sqlite3_finalize(sessions);
	if (sqlite3_prepare_v2(db, "SELECT seq, event_json, event_zstd, event_utf8_bytes "
	    "FROM transcript_events WHERE session_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
	    -1, &events, NULL) != SQLITE_OK) {
		fprintf(stderr, "%s\n", sqlite3_errmsg(db));
		return 1;
	}
	for (i = 0; i < nids; i++) {
		seq = -1;
		do {
			n = 0;
			sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
			sqlite3_bind_text(events, 1, ids[i], -1, SQLITE_STATIC);
			sqlite3_bind_int64(events, 2, seq);
			sqlite3_bind_int(events, 3, BATCH);
			while (sqlite3_step(events) == SQLITE_ROW) {
				seq = sqlite3_column_int64(events, 0);
				n++;
				const char *text = NULL;
				size_t len = 0;

				if (sqlite3_column_type(events, 1) != SQLITE_NULL) {
					text = (const char *)sqlite3_column_text(events, 1);
					len = (size_t)sqlite3_column_bytes(events, 1);
				} else {
					size_t want = (size_t)sqlite3_column_int64(events, 3), got;
					const void *src = sqlite3_column_blob(events, 2);
					size_t srclen = (size_t)sqlite3_column_bytes(events, 2);

					if (want + 1 > cap) {
						cap = want + 1;
						buf = grow(buf, cap);
					}
					got = ZSTD_decompressDCtx(dctx, buf, want, src, srclen);
					if (ZSTD_isError(got) || got != want) {
						fprintf(stderr, "bad row %s/%lld\n", ids[i], (long long)seq);
						return 1;
					}
					text = buf;
					len = got;
				}
				bytes += (int64_t)len;
				if (parse) {
					json_object *o;

					json_tokener_reset(tok);
					o = json_tokener_parse_ex(tok, text, (int)len);
					if (o == NULL) {
						fprintf(stderr, "bad JSON %s/%lld\n", ids[i], (long long)seq);
						return 1;
					}
					json_object_put(o);
				}
			}
			sqlite3_reset(events);
			sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
			rows += n;
		} while (n == BATCH);
	}
	printf("%lld %.6f %lld\n", (long long)rows, now_s() - t0, (long long)bytes);
	sqlite3_finalize(events);
	sqlite3_close(db);
	for (i = 0; i < nids; i++)
		free(ids[i]);
	free(ids);
	free(buf);
	sqlite3_free(uri);
	ZSTD_freeDCtx(dctx);
	json_tokener_free(tok);
	return 0;
}
