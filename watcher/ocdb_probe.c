/*
 * ocdb_probe: opening an OpenClaw agent database read-only, checking its
 * version and shape, and preparing the reads the shape allows (see
 * ocdb_int.h).  The SQL reads the gateway's own file, never written here.
 */
#include "watcher/ocdb_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"

/* file:<path>?mode=ro with the path percent-encoded where a URI needs it. */
static char *
ocdb_uri(const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	static const char head[] = "file:", tail[] = "?mode=ro";
	size_t n = strlen(path);
	char *uri = xmalloc(sizeof(head) - 1 + n * 3 + sizeof(tail)), *p = uri;
	const unsigned char *s;

	memcpy(p, head, sizeof(head) - 1);
	p += sizeof(head) - 1;
	for (s = (const unsigned char *)path; *s; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("/-_.~", *s) != NULL) {
			*p++ = (char)*s;
		} else {
			*p++ = '%';
			*p++ = hex[*s >> 4];
			*p++ = hex[*s & 15];
		}
	}
	memcpy(p, tail, sizeof(tail)); /* with its NUL */
	return uri;
}

/* ---- opening and probing ---------------------------------------------- */

/* The reads that depend on the shape (st_dv lives as long as the handle). */
static void
ocdb_finalize(struct ocdb_agent *a)
{
	sqlite3_stmt **sts[] = { &a->st_changed, &a->st_gen, &a->st_max, &a->st_events, &a->st_node,
		&a->st_conv, &a->st_starts };
	size_t i;

	for (i = 0; i < sizeof(sts) / sizeof(sts[0]); i++) {
		sqlite3_finalize(*sts[i]);
		*sts[i] = NULL;
	}
}

void
ocdb_close_db(struct ocdb_agent *a)
{
	ocdb_finalize(a);
	sqlite3_finalize(a->st_dv);
	a->st_dv = NULL;
	sqlite3_close(a->db);
	a->db = NULL;
	a->have_dv = 0;
}

/* name as an SQL identifier: in double quotes, inner quotes doubled. */
static char *
ocdb_quote_ident(const char *name)
{
	size_t n = strlen(name), i, j = 0;
	char *out = xmalloc(2 * n + 3);

	out[j++] = '"';
	for (i = 0; i < n; i++) {
		if (name[i] == '"')
			out[j++] = '"';
		out[j++] = name[i];
	}
	out[j++] = '"';
	out[j] = '\0';
	return out;
}

/* Interrupts a read of a that runs past its time (sqlite3_progress_handler). */
static int
ocdb_progress(void *arg)
{
	struct ocdb_agent *a = arg;

	return a->read_until > 0 && util_mono_ms() > a->read_until;
}

/* Columns of a table (PRAGMA table_info), as a ",a,b,c," string; NULL when
 * the table does not exist.  *pk gets its first primary-key column. */
static char *
ocdb_columns(sqlite3 *db, const char *table, char **pk)
{
	char sql[128], *cols = NULL;
	size_t len = 0, cap = 0, n;
	sqlite3_stmt *s;
	const char *name;

	if (pk != NULL)
		*pk = NULL;
	snprintf(sql, sizeof(sql), "PRAGMA table_info(%s)", table);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return NULL;
	while (sqlite3_step(s) == SQLITE_ROW) {
		name = (const char *)sqlite3_column_text(s, 1);
		if (name == NULL)
			continue;
		n = strlen(name);
		if (len + n + 3 > cap) {
			cap = (len + n + 3) * 2;
			cols = xrealloc(cols, cap);
		}
		if (len == 0)
			cols[len++] = ',';
		memcpy(cols + len, name, n);
		len += n;
		cols[len++] = ',';
		cols[len] = '\0';
		if (pk != NULL && *pk == NULL && sqlite3_column_int(s, 5) == 1)
			*pk = xstrdup(name);
	}
	sqlite3_finalize(s);
	return cols;
}

static int
ocdb_has(const char *cols, const char *col)
{
	char pat[64];

	if (cols == NULL)
		return 0;
	snprintf(pat, sizeof(pat), ",%s,", col);
	return strstr(cols, pat) != NULL;
}

static int
ocdb_prepare(struct ocdb_agent *a, sqlite3_stmt **st, const char *sql)
{
	if (sqlite3_prepare_v3(a->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) == SQLITE_OK)
		return 0;
	snprintf(a->why, sizeof(a->why), "cannot prepare a read: %s", sqlite3_errmsg(a->db));
	return -1;
}

/* A column of t when cols has it, else NULL. */
static const char *
ocdb_opt(const char *cols, const char *col, const char *expr)
{
	return ocdb_has(cols, col) ? expr : "NULL";
}

/* The columns of the tables the reads use, as ocdb_columns() gives them. */
struct ocdb_shape {
	char *win, *ev, *nodes, *marks, *cold, *conv;
	char *conv_pk; /* conversations' key column */
};

static void
ocdb_shape_free(struct ocdb_shape *sh)
{
	free(sh->win);
	free(sh->ev);
	free(sh->nodes);
	free(sh->marks);
	free(sh->cold);
	free(sh->conv);
	free(sh->conv_pk);
}

/*
 * The version: user_version, and schema_meta's primary row (role, version,
 * agent id, app version), which must agree.  0 when supported; -1 with
 * a->why set and a->state refused (or error when it cannot be read).
 */
static int
ocdb_probe_version(struct ocdb_agent *a)
{
	const char *role = NULL;
	sqlite3_stmt *s = NULL;
	int uv, mv = -1, rc = -1;

	if (sqlite3_prepare_v2(a->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		a->state = AG_ERROR;
		snprintf(
		    a->why, sizeof(a->why), "cannot read user_version: %s", sqlite3_errmsg(a->db));
		goto out;
	}
	uv = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	s = NULL;
	a->version = uv;
	if (sqlite3_prepare_v2(a->db,
	        "SELECT role, schema_version, agent_id, app_version "
	        "FROM schema_meta WHERE meta_key = 'primary'",
	        -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW) {
		role = (const char *)sqlite3_column_text(s, 0);
		mv = sqlite3_column_type(s, 1) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 1);
		if (!a->by_folder && sqlite3_column_text(s, 2) != NULL &&
		    *sqlite3_column_text(s, 2) != '\0')
			ocdb_set(&a->id, (const char *)sqlite3_column_text(s, 2));
		ocdb_set(&a->app_version, (const char *)sqlite3_column_text(s, 3));
		if (role != NULL && strcmp(role, "agent") != 0) {
			snprintf(a->why, sizeof(a->why), "schema_meta role is %s, not agent", role);
			goto out;
		}
	}
	if (uv < OCDB_SCHEMA_MIN || uv > OCDB_SCHEMA_MAX) {
		snprintf(a->why, sizeof(a->why),
		    "schema version %d is not supported (supported: %d-%d)", uv, OCDB_SCHEMA_MIN,
		    OCDB_SCHEMA_MAX);
		goto out;
	}
	if (mv < 0) {
		snprintf(
		    a->why, sizeof(a->why), "schema version %d: no schema_meta primary row", uv);
		goto out;
	}
	if (mv != uv) {
		snprintf(a->why, sizeof(a->why),
		    "schema_meta says version %d but user_version is %d", mv, uv);
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(s);
	return rc;
}

/*
 * The shape: reads the columns into sh, checks the ones every read needs,
 * and notes the optional tables.  0 when usable; -1 with a->why set.
 */
static int
ocdb_probe_shape(struct ocdb_agent *a, struct ocdb_shape *sh)
{
	static const char *const need_windows[] = { "session_id", "session_key",
		"transcript_updated_at", NULL };
	static const char *const need_events[] = { "session_id", "seq", "event_json", NULL };
	static const char *const need_nodes[] = { "session_key", "entry_json", NULL };
	const char *missing = NULL, *mtable = NULL;
	int i;

	sh->win = ocdb_columns(a->db, "session_windows", NULL);
	sh->ev = ocdb_columns(a->db, "transcript_events", NULL);
	sh->nodes = ocdb_columns(a->db, "session_nodes", NULL);
	sh->marks = ocdb_columns(a->db, "transcript_rewrite_watermarks", NULL);
	sh->cold = ocdb_columns(a->db, "session_transcript_cold_archives", NULL);
	sh->conv = ocdb_columns(a->db, "conversations", &sh->conv_pk);
	for (i = 0; missing == NULL && need_windows[i] != NULL; i++)
		if (!ocdb_has(sh->win, need_windows[i]))
			mtable = "session_windows", missing = need_windows[i];
	for (i = 0; missing == NULL && need_events[i] != NULL; i++)
		if (!ocdb_has(sh->ev, need_events[i]))
			mtable = "transcript_events", missing = need_events[i];
	for (i = 0; missing == NULL && need_nodes[i] != NULL; i++)
		if (!ocdb_has(sh->nodes, need_nodes[i]))
			mtable = "session_nodes", missing = need_nodes[i];
	if (missing == NULL && a->version >= 23 &&
	    (!ocdb_has(sh->ev, "event_zstd") || !ocdb_has(sh->ev, "event_utf8_bytes")))
		mtable = "transcript_events", missing = "event_zstd";
	if (missing != NULL) {
		snprintf(a->why, sizeof(a->why), "schema version %d: %s has no column %s",
		    a->version, mtable, missing);
		return -1;
	}
	a->has_zstd = ocdb_has(sh->ev, "event_zstd") && ocdb_has(sh->ev, "event_utf8_bytes");
	a->has_gen = ocdb_has(sh->marks, "generation") && ocdb_has(sh->marks, "session_id");
	a->has_cold = ocdb_has(sh->cold, "session_id");
	return 0;
}

/* Prepares the transcript reads: changed windows, generation, last seq,
 * rows.  0, or -1 with a->why set. */
static int
ocdb_prepare_reads(struct ocdb_agent *a, const struct ocdb_shape *sh)
{
	char *sql;
	int rc = -1;

	sql = xasprintf("SELECT w.session_id, w.session_key, w.transcript_updated_at, "
	                "%s, %s, %s FROM session_windows AS w WHERE w.transcript_updated_at > ?1 "
	                "ORDER BY w.transcript_updated_at, w.session_id",
	    ocdb_opt(sh->win, "spawned_by", "w.spawned_by"),
	    ocdb_opt(sh->win, "primary_conversation_id", "w.primary_conversation_id"),
	    a->has_cold ? "EXISTS (SELECT 1 FROM session_transcript_cold_archives AS c "
	                  "WHERE c.session_id = w.session_id)"
	                : "0");
	if (ocdb_prepare(a, &a->st_changed, sql) < 0)
		goto out;
	if (a->has_gen &&
	    ocdb_prepare(a, &a->st_gen,
	        "SELECT generation FROM "
	        "transcript_rewrite_watermarks WHERE session_id = ?1") < 0)
		goto out;
	if (ocdb_prepare(
	        a, &a->st_max, "SELECT max(seq) FROM transcript_events WHERE session_id = ?1") < 0)
		goto out;
	free(sql);
	sql = xasprintf("SELECT seq, event_json, %s, %s FROM transcript_events "
	                "WHERE session_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
	    a->has_zstd ? "event_zstd" : "NULL", a->has_zstd ? "event_utf8_bytes" : "NULL");
	if (ocdb_prepare(a, &a->st_events, sql) < 0)
		goto out;
	rc = 0;
out:
	free(sql);
	return rc;
}

/* Prepares the metadata reads: session_nodes, the rows that start runs,
 * conversations.  0, or -1 with a->why set. */
static int
ocdb_prepare_meta(struct ocdb_agent *a, const struct ocdb_shape *sh)
{
	const char *nodes = sh->nodes, *conv = sh->conv;
	char *sql, *quoted;
	int rc = -1;

	sql = xasprintf("SELECT entry_json, %s, %s, %s, %s, %s, %s FROM session_nodes "
	                "WHERE session_key = ?1",
	    ocdb_opt(nodes, "updated_at", "updated_at"),
	    ocdb_opt(nodes, "spawned_by", "spawned_by"), ocdb_opt(nodes, "label", "label"),
	    ocdb_opt(nodes, "created_via", "created_via"),
	    ocdb_opt(nodes, "parent_session_key", "parent_session_key"),
	    ocdb_opt(nodes, "display_name", "display_name"));
	if (ocdb_prepare(a, &a->st_node, sql) < 0)
		goto out;
	free(sql);
	sql = NULL;
	/*
	 * Under the gateway a run's session_nodes row (and its window, with no
	 * transcript_updated_at) is written seconds before its transcript's
	 * first event: status NULL while the run is prepared.  Such a row
	 * starts the box.  Status 'running' comes only after the first events,
	 * and may outlive the run's last one, so it starts nothing.
	 */
	if (ocdb_has(nodes, "status") && ocdb_has(nodes, "updated_at") &&
	    ocdb_has(nodes, "current_session_id")) {
		sql = xasprintf("SELECT n.session_key, n.current_session_id, n.updated_at, "
		                "%s, %s FROM session_nodes AS n LEFT JOIN session_windows AS w "
		                "ON w.session_id = n.current_session_id "
		                "WHERE n.updated_at > ?1 AND n.status IS NULL AND "
		                "w.transcript_updated_at IS NULL%s "
		                "ORDER BY n.updated_at",
		    ocdb_opt(sh->win, "spawned_by", "w.spawned_by"),
		    ocdb_opt(sh->win, "primary_conversation_id", "w.primary_conversation_id"),
		    ocdb_has(nodes, "created_via")
		        ? " AND coalesce(n.created_via, '') NOT IN ('cron', 'internal', 'plugin')"
		        : "");
		if (ocdb_prepare(a, &a->st_starts, sql) < 0)
			goto out;
		free(sql);
		sql = NULL;
	}
	if (sh->conv_pk != NULL && ocdb_has(conv, "kind")) {
		/* the key column's name comes from the file: quoted, never pasted */
		quoted = ocdb_quote_ident(sh->conv_pk);
		sql = xasprintf("SELECT kind, %s, %s, %s, %s FROM conversations WHERE %s = ?1",
		    ocdb_opt(conv, "peer_id", "peer_id"), ocdb_opt(conv, "thread_id", "thread_id"),
		    ocdb_opt(conv, "native_channel_id", "native_channel_id"),
		    ocdb_opt(conv, "channel", "channel"), quoted);
		free(quoted);
		if (ocdb_prepare(a, &a->st_conv, sql) < 0)
			goto out;
	}
	rc = 0;
out:
	free(sql);
	return rc;
}

/*
 * Reads the version and the shape, and prepares the reads.  0 when
 * supported; -1 with a->why set (a->state says refused or error).
 */
int
ocdb_probe(struct ocdb_agent *a)
{
	struct ocdb_shape sh;
	int rc = -1;

	memset(&sh, 0, sizeof(sh));
	ocdb_finalize(a);
	a->state = AG_REFUSED;
	if (ocdb_probe_version(a) < 0 || ocdb_probe_shape(a, &sh) < 0)
		goto out;
	a->state = AG_ERROR;
	if (ocdb_prepare_reads(a, &sh) < 0 || ocdb_prepare_meta(a, &sh) < 0)
		goto out;
	a->state = AG_OK;
	a->why[0] = '\0';
	rc = 0;
out:
	ocdb_shape_free(&sh);
	if (rc < 0)
		ocdb_finalize(a);
	return rc;
}

void
ocdb_log_refused(struct ocdb_agent *a)
{
	if (a->refused_logged != NULL && strcmp(a->refused_logged, a->why) == 0)
		return;
	ocdb_set(&a->refused_logged, a->why);
	if (a->version == 0) {
		/* Being created: the gateway has not written its schema yet. */
		log_info("openclaw database not initialised yet", "path", a->path);
		return;
	}
	log_error("openclaw database refused", "path", a->path, "agent", a->id, "version",
	    LOG_I64(a->version), "err", a->why);
}

/* Opens the file read-only and probes it; the state says how it went. */
void
ocdb_open_db(struct ocdb *o, struct ocdb_agent *a)
{
	char *uri, rp[PATH_MAX];
	struct stat sb;
	int rc;

	ocdb_close_db(a);
	if (!ocdb_is_file(o, a->path, &sb)) {
		a->state = AG_MISSING;
		return;
	}
	a->dev = sb.st_dev;
	a->ino = sb.st_ino;
	if (a->store_path == NULL)
		a->store_path = xstrdup(realpath(a->path, rp) != NULL ? rp : a->path);
	uri = ocdb_uri(a->path);
	rc = sqlite3_open_v2(
	    uri, &a->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
	free(uri);
	if (rc == SQLITE_OK) {
		/* Before any statement, so the first read waits for a lock too. */
		sqlite3_busy_timeout(a->db, o->cfg.busy_timeout_ms);
		a->read_limit_ms = o->cfg.read_limit_ms;
		a->read_until = util_mono_ms() + o->cfg.busy_timeout_ms + a->read_limit_ms;
		sqlite3_progress_handler(a->db, OCDB_PROGRESS_STEPS, ocdb_progress, a);
		sqlite3_extended_result_codes(a->db, 1);
		rc = sqlite3_exec(a->db, "PRAGMA query_only = ON", NULL, NULL, NULL);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v3(
		    a->db, "PRAGMA data_version", -1, SQLITE_PREPARE_PERSISTENT, &a->st_dv, NULL);
	if (rc != SQLITE_OK) {
		snprintf(a->why, sizeof(a->why), "cannot open: %s",
		    a->db != NULL ? sqlite3_errmsg(a->db) : sqlite3_errstr(rc));
		goto fail;
	}
	if (ocdb_probe(a) < 0) {
		if (a->state == AG_REFUSED) {
			ocdb_log_refused(a);
			return;
		}
		goto fail;
	}
	if (!a->loaded && ocdb_load(o, a) < 0) {
		snprintf(a->why, sizeof(a->why), "cannot read cursors: %s", store_errmsg(o->st));
		goto fail;
	}
	ocdb_set(&a->refused_logged, NULL);
	a->pending = 1;
	log_info("following openclaw database", "path", a->path, "agent", a->id, "version",
	    LOG_I64(a->version), "app_version", a->app_version != NULL ? a->app_version : "");
	return;
fail:
	log_error("cannot follow openclaw database", "path", a->path, "err", a->why);
	ocdb_close_db(a);
	a->state = AG_ERROR;
	a->retry_at = util_mono_ms() + OCDB_RETRY_MS;
}
