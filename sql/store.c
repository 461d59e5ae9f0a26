/* store: opening, migrating and the box and heartbeat tables. */
#include "sql/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "common/xmalloc.h"

/* sql/schema.sql, embedded at build time (build/gen/schema_sql.c). */
extern const char store_schema_sql[];

static const char store_migration_mark[] = "-- migration ";

static atomic_llong store_busy_count;

int64_t
store_busy_total(void)
{
	return (int64_t)atomic_load(&store_busy_count);
}

int
store_fail(store *st, int rc)
{
	int primary = rc & 0xff;

	snprintf(st->errmsg, sizeof(st->errmsg), "%s", sqlite3_errmsg(st->db));
	if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
		atomic_fetch_add(&store_busy_count, 1);
		return STORE_BUSY;
	}
	return primary == SQLITE_FULL ? STORE_FULL : STORE_ERROR;
}

sqlite3_stmt *
store_stmt(store *st, const char *sql)
{
	sqlite3_stmt *s;
	int i;

	for (i = 0; i < st->nstmt; i++) {
		if (st->stmts[i].sql == sql) {
			sqlite3_reset(st->stmts[i].stmt);
			sqlite3_clear_bindings(st->stmts[i].stmt);
			return st->stmts[i].stmt;
		}
	}
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
		snprintf(st->errmsg, sizeof(st->errmsg), "%s", sqlite3_errmsg(st->db));
		return NULL;
	}
	if (st->nstmt < STORE_STMT_MAX) {
		st->stmts[st->nstmt].sql = sql;
		st->stmts[st->nstmt].stmt = s;
		st->nstmt++;
	} else {
		/* The cache is sized for every statement the programs use. */
		abort();
	}
	return s;
}

char *
store_col_text(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	return xstrdup(t != NULL ? (const char *)t : "");
}

char *
store_col_text_null(sqlite3_stmt *s, int col)
{
	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return NULL;
	return store_col_text(s, col);
}

int64_t
store_col_ms(sqlite3_stmt *s, int col, int64_t lo)
{
	int64_t v = sqlite3_column_int64(s, col);

	return v < lo ? lo : v > STORE_MS_MAX ? STORE_MS_MAX : v;
}

int
store_bind_text(sqlite3_stmt *s, int idx, const char *v)
{
	if (v == NULL)
		return sqlite3_bind_null(s, idx);
	return sqlite3_bind_text(s, idx, v, -1, SQLITE_TRANSIENT);
}

int
store_step_done(store *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return store_fail(st, rc);
	return STORE_OK;
}

static int
store_exec(store *st, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		snprintf(st->errmsg, sizeof(st->errmsg), "%s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
			atomic_fetch_add(&store_busy_count, 1);
			return STORE_BUSY;
		}
		return (rc & 0xff) == SQLITE_FULL ? STORE_FULL : STORE_ERROR;
	}
	return STORE_OK;
}

int
store_begin(store *st)
{
	int rc = store_exec(st, "BEGIN IMMEDIATE");

	if (rc == STORE_OK)
		st->began_us = util_mono_us();
	return rc;
}

int
store_begin_read(store *st)
{
	return store_exec(st, "BEGIN");
}

int
store_commit(store *st)
{
	int rc = store_exec(st, "COMMIT");

	if (rc == STORE_OK && st->began_us > 0) {
		st->last_hold_us = util_mono_us() - st->began_us;
		st->began_us = 0;
	}
	/* A failed COMMIT (busy) leaves the transaction open: it may be retried. */
	if (rc == STORE_OK && st->revision_pending > 0) {
		if (st->on_revision != NULL)
			st->on_revision(st->on_revision_arg, st->revision_pending);
		st->revision_pending = 0;
	}
	return rc;
}

int64_t
store_last_hold_us(const store *st)
{
	return st->last_hold_us;
}

void
store_rollback(store *st)
{
	st->revision_pending = 0;
	st->began_us = 0;
	if (!sqlite3_get_autocommit(st->db))
		(void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

void
store_on_revision(store *st, store_revision_fn fn, void *arg)
{
	st->on_revision = fn;
	st->on_revision_arg = arg;
}

void
store_interrupt(store *st)
{
	sqlite3_interrupt(st->db);
}

const char *
store_errmsg(store *st)
{
	return st->errmsg;
}

const char *
store_path(store *st)
{
	return st->path;
}

/* Number of the migration block starting at p (just past the mark). */
static int
store_migration_number(const char *p)
{
	long n = strtol(p + sizeof(store_migration_mark) - 1, NULL, 10);

	return n > 0 && n < INT_MAX ? (int)n : 0;
}

int
store_schema_latest(void)
{
	const char *p = store_schema_sql;
	int latest = 0;

	while ((p = strstr(p, store_migration_mark)) != NULL) {
		latest = store_migration_number(p);
		p++;
	}
	return latest;
}

int
store_schema_version(store *st)
{
	sqlite3_stmt *s;
	int v = -1;

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* Applies every migration above the file's version, in one transaction. */
static int
store_migrate(store *st)
{
	const char *p, *next;
	char *block = NULL, pragma[64];
	int rc, have, n, latest = store_schema_latest();

	if ((rc = store_begin(st)) != STORE_OK)
		return rc;
	have = store_schema_version(st);
	if (have < 0) {
		rc = store_fail(st, sqlite3_errcode(st->db));
		goto out;
	}
	if (have > latest) {
		snprintf(st->errmsg, sizeof(st->errmsg),
		    "schema version %d is newer than this program knows (%d)", have, latest);
		rc = STORE_ERROR;
		goto out;
	}
	for (p = strstr(store_schema_sql, store_migration_mark); p != NULL; p = next) {
		n = store_migration_number(p);
		next = strstr(p + 1, store_migration_mark);
		if (n <= have)
			continue;
		block = xstrndup(p, next ? (size_t)(next - p) : strlen(p));
		if ((rc = store_exec(st, block)) != STORE_OK)
			goto out;
		free(block);
		block = NULL;
	}
	if (latest > have) {
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", latest);
		if ((rc = store_exec(st, pragma)) != STORE_OK)
			goto out;
	}
	rc = store_commit(st);
out:
	free(block);
	if (rc != STORE_OK)
		store_rollback(st);
	return rc;
}

int
store_open(const char *path, store **out, char *err, size_t errlen)
{
	return store_open_ms(path, STORE_BUSY_TIMEOUT_MS, out, err, errlen);
}

/*
 * Creates the store file, when missing, with a mode that does not depend on
 * the umask: 0600, or 0660 when its folder is a shared one (setgid and
 * group-writable, as deploy/ makes it: the responder, another user of the
 * group, writes the store and its -wal/-shm files, which SQLite creates
 * with the store file's mode).  SQLite then opens the existing file.
 */
static void
store_create_file(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	struct stat st;
	mode_t mode = 0600;
	int fd;

	if (stat(path, &st) == 0 || errno != ENOENT || strncmp(path, "file:", 5) == 0 ||
	    strcmp(path, ":memory:") == 0)
		return;
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	if (stat(dir, &st) == 0 && (st.st_mode & S_ISGID) && (st.st_mode & S_IWGRP))
		mode = 0660;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)) < 0)
		return; /* SQLite says why */
	(void)fchmod(fd, mode);
	close(fd);
}

/*
 * SQLite's page caches start without the 20 pages each one allocates at
 * once by default.  Every temporary b-tree of a query (a UNION, a recursive
 * CTE's queue, an ORDER BY without an index) has its own page cache, made
 * and freed within the statement: the 86 KB allocated and touched each
 * time, and given back to the kernel after, cost the responder's tree
 * query most of its time (page faults, heap trims) and the watcher a
 * third of its CPU.  Pages are allocated one at a time instead, as they
 * are used.  Must run before SQLite is initialized, so once, before the
 * first connection.
 */
static void
store_config_sqlite(void)
{
	sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
}

int
store_open_ms(const char *path, int busy_timeout_ms, store **out, char *err, size_t errlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	store *st = xcalloc(1, sizeof(*st));
	int rc;

	pthread_once(&once, store_config_sqlite);
	st->path = xstrdup(path);
	store_create_file(path);
	rc = sqlite3_open_v2(
	    path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path,
		    st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		rc = STORE_ERROR;
		goto fail;
	}
	/* Before any statement, so that even the first one waits for a lock. */
	sqlite3_busy_timeout(st->db, busy_timeout_ms);
	sqlite3_extended_result_codes(st->db, 1);
	if ((rc = store_exec(st, "PRAGMA journal_mode = WAL")) != STORE_OK ||
	    (rc = store_exec(st, "PRAGMA synchronous = NORMAL")) != STORE_OK ||
	    (rc = store_exec(st, "PRAGMA foreign_keys = ON")) != STORE_OK ||
	    (rc = store_migrate(st)) != STORE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path, st->errmsg);
		goto fail;
	}
	*out = st;
	return STORE_OK;
fail:
	store_close(st);
	return rc;
}

void
store_close(store *st)
{
	int i;

	if (st == NULL)
		return;
	for (i = 0; i < st->nstmt; i++)
		sqlite3_finalize(st->stmts[i].stmt);
	sqlite3_close(st->db);
	free(st->path);
	free(st);
}

int
store_bump_revision(store *st, int64_t *out)
{
	static const char sql[] =
	    "UPDATE store_meta SET revision = revision + 1 WHERE id = 1 RETURNING revision";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc;

	if (s == NULL)
		return STORE_ERROR;
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		rc = store_fail(st, rc);
		sqlite3_reset(s);
		return rc;
	}
	*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (st->on_revision != NULL) {
		/* Outside a transaction the bump is committed already. */
		if (sqlite3_get_autocommit(st->db))
			st->on_revision(st->on_revision_arg, *out);
		else
			st->revision_pending = *out;
	}
	return STORE_OK;
}

int
store_revision(store *st, int64_t *out)
{
	static const char sql[] = "SELECT revision FROM store_meta WHERE id = 1";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc;

	if (s == NULL)
		return STORE_ERROR;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(s, 0);
		rc = STORE_OK;
	} else {
		rc = rc == SQLITE_DONE ? STORE_ERROR : store_fail(st, rc);
	}
	sqlite3_reset(s);
	return rc;
}

int
store_revision_deletes(store *st, int64_t *revision, int64_t *deletes)
{
	static const char sql[] = "SELECT revision, deletes FROM store_meta WHERE id = 1";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc;

	if (s == NULL)
		return STORE_ERROR;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*revision = sqlite3_column_int64(s, 0);
		*deletes = sqlite3_column_int64(s, 1);
		rc = STORE_OK;
	} else {
		rc = rc == SQLITE_DONE ? STORE_ERROR : store_fail(st, rc);
	}
	sqlite3_reset(s);
	return rc;
}

int
store_box_route_channel(store *st, const char *id, char *buf, size_t len)
{
	static const char sql[] =
	    "WITH RECURSIVE up (id, parent_id, channel_id, depth) AS ("
	    " SELECT id, parent_id, channel_id, 0 FROM boxes WHERE id = ?1"
	    " UNION ALL"
	    " SELECT b.id, b.parent_id, b.channel_id, up.depth + 1"
	    "  FROM boxes AS b JOIN up ON b.id = up.parent_id"
	    "  WHERE up.channel_id = '' AND up.depth < 64"
	    ") SELECT channel_id FROM up WHERE channel_id <> '' ORDER BY depth LIMIT 1";
	sqlite3_stmt *s = store_stmt(st, sql);
	const unsigned char *v;
	int rc;

	if (len > 0)
		buf[0] = '\0';
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		v = sqlite3_column_text(s, 0);
		if (v != NULL && len > 0)
			snprintf(buf, len, "%s", (const char *)v);
		rc = STORE_OK;
	} else {
		rc = rc == SQLITE_DONE ? STORE_OK : store_fail(st, rc);
	}
	sqlite3_reset(s);
	return rc;
}

int
store_id(store *st, char *buf, size_t len)
{
	static const char sql[] = "SELECT store_id FROM store_meta WHERE id = 1";
	sqlite3_stmt *s = store_stmt(st, sql);
	const unsigned char *v;
	int rc;

	if (len > 0)
		buf[0] = '\0';
	if (s == NULL)
		return STORE_ERROR;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		v = sqlite3_column_text(s, 0);
		if (v != NULL && len > 0)
			snprintf(buf, len, "%s", (const char *)v);
		rc = STORE_OK;
	} else {
		rc = rc == SQLITE_DONE ? STORE_ERROR : store_fail(st, rc);
	}
	sqlite3_reset(s);
	return rc;
}

void
store_box_read(sqlite3_stmt *s, struct store_box *b)
{
	b->id = store_col_text(s, 0);
	b->session_key = store_col_text(s, 1);
	b->agent_id = store_col_text(s, 2);
	b->channel_id = store_col_text(s, 3);
	b->root_id = store_col_text(s, 4);
	b->post_id = store_col_text(s, 5);
	b->parent_id = store_col_text_null(s, 6);
	b->label = store_col_text(s, 7);
	b->bot_user_id = store_col_text(s, 8);
	b->status = store_col_text(s, 9);
	b->lines = store_col_text(s, 10);
	b->model = store_col_text(s, 11);
	b->source = store_col_text(s, 12);
	b->start_time_ms = sqlite3_column_int64(s, 13);
	b->end_time_ms =
	    sqlite3_column_type(s, 14) == SQLITE_NULL ? STORE_NO_TIME : sqlite3_column_int64(s, 14);
	b->last_update_ms = sqlite3_column_int64(s, 15);
	b->token_count = sqlite3_column_int64(s, 16);
	b->revision = sqlite3_column_int64(s, 17);
	b->gateway = store_col_text(s, 18);
	b->gateway_revision = sqlite3_column_int64(s, 19);
}

static const char *
store_or_empty(const char *s)
{
	return s != NULL ? s : "";
}

int
store_box_put(store *st, struct store_box *b)
{
	static const char sql[] =
	    "INSERT INTO boxes (" STORE_BOX_COLUMNS ") VALUES "
	    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
	    "coalesce(?19, ''), coalesce(?20, 0)) "
	    "ON CONFLICT (id) DO UPDATE SET session_key = ?2, agent_id = ?3, "
	    "channel_id = ?4, root_id = ?5, post_id = ?6, parent_id = ?7, label = ?8, "
	    "bot_user_id = ?9, status = ?10, lines = ?11, model = ?12, source = ?13, "
	    "start_time_ms = ?14, end_time_ms = ?15, last_update_ms = ?16, "
	    "token_count = ?17, revision = ?18, gateway = coalesce(?19, gateway), "
	    "gateway_revision = coalesce(?20, gateway_revision)";
	sqlite3_stmt *s;
	int64_t rev;
	int rc;

	if ((rc = store_bump_revision(st, &rev)) != STORE_OK)
		return rc;
	if ((s = store_stmt(st, sql)) == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, b->id);
	store_bind_text(s, 2, store_or_empty(b->session_key));
	store_bind_text(s, 3, store_or_empty(b->agent_id));
	store_bind_text(s, 4, store_or_empty(b->channel_id));
	store_bind_text(s, 5, store_or_empty(b->root_id));
	store_bind_text(s, 6, store_or_empty(b->post_id));
	store_bind_text(s, 7, b->parent_id);
	store_bind_text(s, 8, store_or_empty(b->label));
	store_bind_text(s, 9, store_or_empty(b->bot_user_id));
	store_bind_text(s, 10, b->status != NULL ? b->status : "active");
	store_bind_text(s, 11, b->lines != NULL ? b->lines : "[]");
	store_bind_text(s, 12, store_or_empty(b->model));
	store_bind_text(s, 13, b->source != NULL ? b->source : "api");
	sqlite3_bind_int64(s, 14, b->start_time_ms);
	if (b->end_time_ms == STORE_NO_TIME)
		sqlite3_bind_null(s, 15);
	else
		sqlite3_bind_int64(s, 15, b->end_time_ms);
	sqlite3_bind_int64(s, 16, b->last_update_ms);
	sqlite3_bind_int64(s, 17, b->token_count);
	sqlite3_bind_int64(s, 18, rev);
	store_bind_text(s, 19, b->gateway);
	if (b->gateway_revision > 0)
		sqlite3_bind_int64(s, 20, b->gateway_revision);
	else
		sqlite3_bind_null(s, 20);
	if ((rc = store_step_done(st, s)) == STORE_OK)
		b->revision = rev;
	return rc;
}

int
store_box_get(store *st, const char *id, struct store_box *out)
{
	static const char sql[] = "SELECT " STORE_BOX_COLUMNS " FROM boxes WHERE id = ?1";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		store_box_read(s, out);
		rc = STORE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = STORE_NOTFOUND;
	} else {
		rc = store_fail(st, rc);
	}
	sqlite3_reset(s);
	return rc;
}

int
store_box_delete(store *st, const char *id)
{
	static const char sql[] = "DELETE FROM boxes WHERE id = ?1";
	sqlite3_stmt *s;
	int64_t rev;
	int rc;

	if ((s = store_stmt(st, sql)) == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, id);
	if ((rc = store_step_done(st, s)) != STORE_OK)
		return rc;
	if (sqlite3_changes(st->db) == 0)
		return STORE_NOTFOUND;
	return store_bump_revision(st, &rev);
}

int
store_rows(store *st, sqlite3_stmt *s, size_t size, void (*read)(sqlite3_stmt *, void *),
    void (*free_list)(void *, size_t), void **out, size_t *n)
{
	char *list = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? cap * 2 : 16;
			list = xreallocarray(list, cap, size);
		}
		memset(list + len * size, 0, size);
		read(s, list + len * size);
		len++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		free_list(list, len);
		return store_fail(st, rc);
	}
	*out = list;
	*n = len;
	return STORE_OK;
}

void
store_box_row_seq(sqlite3_stmt *s, void *elem)
{
	struct store_box *b = elem;

	store_box_read(s, b);
	b->seq = sqlite3_column_int64(s, 20);
}

void
store_box_rows_free(void *list, size_t n)
{
	store_box_list_free(list, n);
}

int
store_box_list(store *st, struct store_box **out, size_t *n)
{
	static const char sql[] =
	    "SELECT " STORE_BOX_COLUMNS ", rowid FROM boxes ORDER BY start_time_ms, rowid";
	sqlite3_stmt *s = store_stmt(st, sql);
	void *list = NULL;
	int rc = STORE_ERROR;

	*n = 0;
	if (s != NULL)
		rc = store_rows(
		    st, s, sizeof(**out), store_box_row_seq, store_box_rows_free, &list, n);
	*out = list;
	return rc;
}

void
store_box_list_free(struct store_box *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		store_box_free(&list[i]);
	free(list);
}

int
store_box_counts(store *st, struct store_counts *out)
{
	static const char sql[] = "SELECT status, count(*) FROM boxes GROUP BY status";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return STORE_ERROR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *status = (const char *)sqlite3_column_text(s, 0);
		int64_t c = sqlite3_column_int64(s, 1);

		if (strcmp(status, "active") == 0)
			out->active = c;
		else if (strcmp(status, "done") == 0)
			out->done = c;
		else if (strcmp(status, "error") == 0)
			out->error = c;
		else if (strcmp(status, "interrupted") == 0)
			out->interrupted = c;
		out->total += c;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? STORE_OK : store_fail(st, rc);
}

int
store_cleanup(store *st, int64_t now_ms, int64_t stale_ms, int64_t delete_ms, int64_t *interrupted,
    int64_t *deleted)
{
	static const char stale_sql[] =
	    "UPDATE boxes SET status = 'interrupted', end_time_ms = ?1, "
	    "last_update_ms = ?1, revision = ?2 "
	    "WHERE status = 'active' AND last_update_ms < ?3";
	static const char delete_sql[] =
	    "DELETE FROM boxes WHERE parent_id IS NULL AND status <> 'active' "
	    "AND coalesce(end_time_ms, last_update_ms) < ?1";
	sqlite3_stmt *s;
	int64_t rev = 0;
	int rc;

	*interrupted = *deleted = 0;
	if ((rc = store_begin(st)) != STORE_OK)
		return rc;
	if ((rc = store_revision(st, &rev)) != STORE_OK)
		goto out;
	rc = STORE_ERROR;
	if ((s = store_stmt(st, stale_sql)) == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, now_ms);
	sqlite3_bind_int64(s, 2, rev + 1);
	sqlite3_bind_int64(s, 3, now_ms - stale_ms);
	if ((rc = store_step_done(st, s)) != STORE_OK)
		goto out;
	*interrupted = sqlite3_changes(st->db);
	rc = STORE_ERROR;
	if ((s = store_stmt(st, delete_sql)) == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, now_ms - delete_ms);
	if ((rc = store_step_done(st, s)) != STORE_OK)
		goto out;
	*deleted = sqlite3_changes(st->db);
	if ((*interrupted > 0 || *deleted > 0) && (rc = store_bump_revision(st, &rev)) != STORE_OK)
		goto out;
	rc = store_commit(st);
out:
	if (rc != STORE_OK)
		store_rollback(st);
	return rc;
}

int
store_heartbeat_put(store *st, const struct store_heartbeat *hb)
{
	static const char sql[] = "INSERT OR REPLACE INTO watcher_heartbeat (id, pid, started_ms, "
	                          "last_heartbeat_ms, interval_ms, breaker, stats) "
	                          "VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, hb->pid);
	sqlite3_bind_int64(s, 2, hb->started_ms);
	sqlite3_bind_int64(s, 3, hb->last_heartbeat_ms);
	sqlite3_bind_int64(s, 4, hb->interval_ms);
	store_bind_text(s, 5, hb->breaker);
	store_bind_text(s, 6, hb->stats != NULL ? hb->stats : "{}");
	return store_step_done(st, s);
}

int
store_heartbeat_get(store *st, struct store_heartbeat *out)
{
	static const char sql[] =
	    "SELECT pid, started_ms, last_heartbeat_ms, interval_ms, breaker, stats "
	    "FROM watcher_heartbeat WHERE id = 1";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return STORE_ERROR;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->pid = sqlite3_column_int64(s, 0);
		out->started_ms = store_col_ms(s, 1, 0);
		out->last_heartbeat_ms = store_col_ms(s, 2, 0);
		out->interval_ms = store_col_ms(s, 3, 1);
		out->breaker = store_col_text_null(s, 4);
		out->stats = store_col_text(s, 5);
		rc = STORE_OK;
	} else {
		rc = rc == SQLITE_DONE ? STORE_NOTFOUND : store_fail(st, rc);
	}
	sqlite3_reset(s);
	return rc;
}

int
store_heartbeat_delete(store *st)
{
	static const char sql[] = "DELETE FROM watcher_heartbeat";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return STORE_ERROR;
	return store_step_done(st, s);
}

void
store_box_free(struct store_box *b)
{
	if (b == NULL)
		return;
	free(b->id);
	free(b->session_key);
	free(b->agent_id);
	free(b->channel_id);
	free(b->root_id);
	free(b->post_id);
	free(b->parent_id);
	free(b->label);
	free(b->bot_user_id);
	free(b->status);
	free(b->lines);
	free(b->model);
	free(b->source);
	free(b->gateway);
	memset(b, 0, sizeof(*b));
}

void
store_heartbeat_free(struct store_heartbeat *hb)
{
	if (hb == NULL)
		return;
	free(hb->breaker);
	free(hb->stats);
	memset(hb, 0, sizeof(*hb));
}
