/* store_watcher: transcript offsets, session state and box writes. */
#include "sql/store_watcher.h"

#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "sql/store_int.h"

int
store_watcher_box_put(store *st, struct store_box *b)
{
	static const char sql[] =
	    "INSERT INTO boxes (id, session_key, agent_id, channel_id, root_id, parent_id, "
	    "label, status, lines, model, source, start_time_ms, end_time_ms, "
	    "last_update_ms, token_count, revision, gateway) VALUES "
	    "(?1, ?2, ?3, ?4, ?5, (SELECT id FROM boxes WHERE id = ?6), ?7, ?8, ?9, ?10, "
	    "'watcher', ?11, ?12, ?13, ?14, ?15, coalesce(?16, '')) "
	    "ON CONFLICT (id) DO UPDATE SET session_key = ?2, agent_id = ?3, "
	    "channel_id = CASE WHEN ?4 <> '' THEN ?4 ELSE channel_id END, "
	    "root_id = ?5, parent_id = (SELECT id FROM boxes WHERE id = ?6), label = ?7, "
	    "status = ?8, lines = ?9, "
	    "model = ?10, start_time_ms = ?11, end_time_ms = ?12, last_update_ms = ?13, "
	    "token_count = ?14, revision = ?15, gateway = coalesce(?16, gateway)";
	sqlite3_stmt *s;
	int64_t rev;
	int rc;

	if ((rc = store_bump_revision(st, &rev)) != STORE_OK)
		return rc;
	if ((s = store_stmt(st, sql)) == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, b->id);
	store_bind_text(s, 2, b->session_key ? b->session_key : "");
	store_bind_text(s, 3, b->agent_id ? b->agent_id : "");
	store_bind_text(s, 4, b->channel_id ? b->channel_id : "");
	store_bind_text(s, 5, b->root_id ? b->root_id : "");
	store_bind_text(s, 6, b->parent_id);
	store_bind_text(s, 7, b->label ? b->label : "");
	store_bind_text(s, 8, b->status ? b->status : "active");
	store_bind_text(s, 9, b->lines ? b->lines : "[]");
	store_bind_text(s, 10, b->model ? b->model : "");
	sqlite3_bind_int64(s, 11, b->start_time_ms);
	if (b->end_time_ms == STORE_NO_TIME)
		sqlite3_bind_null(s, 12);
	else
		sqlite3_bind_int64(s, 12, b->end_time_ms);
	sqlite3_bind_int64(s, 13, b->last_update_ms);
	sqlite3_bind_int64(s, 14, b->token_count);
	sqlite3_bind_int64(s, 15, rev);
	store_bind_text(s, 16, b->gateway);
	if ((rc = store_step_done(st, s)) == STORE_OK)
		b->revision = rev;
	return rc;
}

int
store_watcher_file_put(store *st, const char *path, int64_t inode, int64_t offset,
    const char *session_key, const char *agent_id, int64_t now_ms)
{
	static const char sql[] =
	    "INSERT OR REPLACE INTO watcher_files (path, inode, offset, session_key, "
	    "agent_id, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, path);
	sqlite3_bind_int64(s, 2, inode);
	sqlite3_bind_int64(s, 3, offset);
	store_bind_text(s, 4, session_key ? session_key : "");
	store_bind_text(s, 5, agent_id ? agent_id : "");
	sqlite3_bind_int64(s, 6, now_ms);
	return store_step_done(st, s);
}

int
store_watcher_file_delete(store *st, const char *path)
{
	static const char sql[] = "DELETE FROM watcher_files WHERE path = ?1";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, path);
	return store_step_done(st, s);
}

static void
store_watcher_file_row(sqlite3_stmt *s, void *elem)
{
	struct store_watcher_file *f = elem;

	f->path = store_col_text(s, 0);
	f->inode = sqlite3_column_int64(s, 1);
	f->offset = sqlite3_column_int64(s, 2);
	f->session_key = store_col_text(s, 3);
	f->agent_id = store_col_text(s, 4);
	f->updated_ms = sqlite3_column_int64(s, 5);
}

static void
store_watcher_file_rows_free(void *list, size_t n)
{
	store_watcher_file_list_free(list, n);
}

int
store_watcher_file_list(store *st, struct store_watcher_file **out, size_t *n)
{
	static const char sql[] =
	    "SELECT path, inode, offset, session_key, agent_id, updated_ms FROM watcher_files";
	sqlite3_stmt *s = store_stmt(st, sql);
	void *list = NULL;
	int rc = STORE_ERROR;

	*n = 0;
	if (s != NULL)
		rc = store_rows(st, s, sizeof(**out), store_watcher_file_row,
		    store_watcher_file_rows_free, &list, n);
	*out = list;
	return rc;
}

void
store_watcher_file_list_free(struct store_watcher_file *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(list[i].path);
		free(list[i].session_key);
		free(list[i].agent_id);
	}
	free(list);
}

int
store_watcher_session_put(store *st, const char *session_key, const char *box_id, const char *state,
    const char *target, int64_t now_ms)
{
	static const char sql[] =
	    "INSERT OR REPLACE INTO watcher_sessions (session_key, box_id, state, target, "
	    "updated_ms) VALUES (?1, ?2, ?3, ?4, ?5)";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, session_key);
	store_bind_text(s, 2, box_id);
	store_bind_text(s, 3, state ? state : "{}");
	store_bind_text(s, 4, target ? target : "");
	sqlite3_bind_int64(s, 5, now_ms);
	return store_step_done(st, s);
}

static void
store_watcher_session_row(sqlite3_stmt *s, void *elem)
{
	struct store_watcher_session *w = elem;

	w->session_key = store_col_text(s, 0);
	w->box_id = store_col_text_null(s, 1);
	w->state = store_col_text(s, 2);
	w->target = store_col_text(s, 3);
}

static void
store_watcher_session_rows_free(void *list, size_t n)
{
	store_watcher_session_list_free(list, n);
}

int
store_watcher_session_list(store *st, struct store_watcher_session **out, size_t *n)
{
	static const char sql[] = "SELECT session_key, box_id, state, target FROM watcher_sessions";
	sqlite3_stmt *s = store_stmt(st, sql);
	void *list = NULL;
	int rc = STORE_ERROR;

	*n = 0;
	if (s != NULL)
		rc = store_rows(st, s, sizeof(**out), store_watcher_session_row,
		    store_watcher_session_rows_free, &list, n);
	*out = list;
	return rc;
}

void
store_watcher_session_list_free(struct store_watcher_session *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(list[i].session_key);
		free(list[i].box_id);
		free(list[i].state);
		free(list[i].target);
	}
	free(list);
}

int
store_watcher_clock_put(store *st, int64_t now_ms)
{
	static const char sql[] = "INSERT INTO watcher_clock (id, last_alive_ms) VALUES (1, ?1) "
	                          "ON CONFLICT (id) DO UPDATE SET last_alive_ms = "
	                          "max(last_alive_ms, ?1)";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, now_ms);
	return store_step_done(st, s);
}

int
store_watcher_clock_get(store *st, int64_t *out)
{
	static const char sql[] = "SELECT last_alive_ms FROM watcher_clock WHERE id = 1";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc;

	*out = 0;
	if (s == NULL)
		return STORE_ERROR;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(s, 0);
		rc = STORE_OK;
	} else {
		rc = rc == SQLITE_DONE ? STORE_OK : store_fail(st, rc);
	}
	sqlite3_reset(s);
	return rc;
}
