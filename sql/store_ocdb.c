/* store_ocdb: the watcher's cursors into OpenClaw agent databases. */
#include "sql/store_ocdb.h"

#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "sql/store_int.h"

int
store_ocdb_agent_get(store *st, const char *db_path, struct store_ocdb_agent *out)
{
	static const char sql[] = "SELECT db_path, agent_id, high_water, schema_version "
	                          "FROM watcher_ocdb_agents WHERE db_path = ?1";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, db_path);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->db_path = store_col_text(s, 0);
		out->agent_id = store_col_text(s, 1);
		out->high_water = sqlite3_column_int64(s, 2);
		out->schema_version = sqlite3_column_int64(s, 3);
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
store_ocdb_agent_put(store *st, const struct store_ocdb_agent *a, int64_t now_ms)
{
	static const char sql[] =
	    "INSERT INTO watcher_ocdb_agents "
	    "(db_path, agent_id, high_water, schema_version, updated_ms) "
	    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (db_path) DO UPDATE SET "
	    "agent_id = ?2, high_water = ?3, schema_version = ?4, updated_ms = ?5";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, a->db_path);
	store_bind_text(s, 2, a->agent_id != NULL ? a->agent_id : "");
	sqlite3_bind_int64(s, 3, a->high_water);
	sqlite3_bind_int64(s, 4, a->schema_version);
	sqlite3_bind_int64(s, 5, now_ms);
	return store_step_done(st, s);
}

static void
store_ocdb_cursor_row(sqlite3_stmt *s, void *elem)
{
	struct store_ocdb_cursor *c = elem;

	c->session_id = store_col_text(s, 0);
	c->session_key = store_col_text(s, 1);
	c->generation = store_col_text(s, 2);
	c->seq = sqlite3_column_int64(s, 3);
	c->updated_at = sqlite3_column_int64(s, 4);
	c->last_event_id = store_col_text(s, 5);
	c->last_event_ms = sqlite3_column_int64(s, 6);
}

static void
store_ocdb_cursor_rows_free(void *list, size_t n)
{
	store_ocdb_cursor_list_free(list, n);
}

int
store_ocdb_cursor_list(store *st, const char *db_path, struct store_ocdb_cursor **out, size_t *n)
{
	static const char sql[] = "SELECT session_id, session_key, generation, seq, updated_at, "
	                          "last_event_id, last_event_ms FROM watcher_ocdb_cursors "
	                          "WHERE db_path = ?1 ORDER BY session_id";
	sqlite3_stmt *s = store_stmt(st, sql);
	void *list = NULL;
	int rc = STORE_ERROR;

	*n = 0;
	if (s != NULL) {
		store_bind_text(s, 1, db_path);
		rc = store_rows(st, s, sizeof(**out), store_ocdb_cursor_row,
		    store_ocdb_cursor_rows_free, &list, n);
	}
	*out = list;
	return rc;
}

int
store_ocdb_cursor_put(
    store *st, const char *db_path, const struct store_ocdb_cursor *c, int64_t now_ms)
{
	static const char sql[] =
	    "INSERT INTO watcher_ocdb_cursors (db_path, session_id, session_key, "
	    "generation, seq, updated_at, last_event_id, last_event_ms, updated_ms) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
	    "ON CONFLICT (db_path, session_id) DO UPDATE SET session_key = ?3, "
	    "generation = ?4, seq = ?5, updated_at = ?6, last_event_id = ?7, "
	    "last_event_ms = ?8, updated_ms = ?9";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, db_path);
	store_bind_text(s, 2, c->session_id);
	store_bind_text(s, 3, c->session_key != NULL ? c->session_key : "");
	store_bind_text(s, 4, c->generation != NULL ? c->generation : "");
	sqlite3_bind_int64(s, 5, c->seq);
	sqlite3_bind_int64(s, 6, c->updated_at);
	store_bind_text(s, 7, c->last_event_id != NULL ? c->last_event_id : "");
	sqlite3_bind_int64(s, 8, c->last_event_ms);
	sqlite3_bind_int64(s, 9, now_ms);
	return store_step_done(st, s);
}

int
store_ocdb_cursor_delete(store *st, const char *db_path, const char *session_id)
{
	static const char sql[] =
	    "DELETE FROM watcher_ocdb_cursors WHERE db_path = ?1 AND session_id = ?2";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, db_path);
	store_bind_text(s, 2, session_id);
	return store_step_done(st, s);
}

void
store_ocdb_agent_free(struct store_ocdb_agent *a)
{
	if (a == NULL)
		return;
	free(a->db_path);
	free(a->agent_id);
	memset(a, 0, sizeof(*a));
}

void
store_ocdb_cursor_free(struct store_ocdb_cursor *c)
{
	if (c == NULL)
		return;
	free(c->session_id);
	free(c->session_key);
	free(c->generation);
	free(c->last_event_id);
	memset(c, 0, sizeof(*c));
}

void
store_ocdb_cursor_list_free(struct store_ocdb_cursor *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		store_ocdb_cursor_free(&list[i]);
	free(list);
}
