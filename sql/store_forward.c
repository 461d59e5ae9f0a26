/* store_forward: the forwarding cursor, the outbox query and set-aside changes. */
#include "sql/store_forward.h"

#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "sql/store_int.h"

int
store_forward_state_get(store *st, struct store_forward_state *out)
{
	static const char sql[] = "SELECT url, central_store_id, acked_revision, acked_ms "
	                          "FROM forward_state WHERE id = 1";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return STORE_ERROR;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->url = store_col_text(s, 0);
		out->central_store_id = store_col_text(s, 1);
		out->acked_revision = sqlite3_column_int64(s, 2);
		out->acked_ms = sqlite3_column_int64(s, 3);
		rc = STORE_OK;
	} else if (rc == SQLITE_DONE) {
		out->url = xstrdup("");
		out->central_store_id = xstrdup("");
		rc = STORE_OK;
	} else {
		rc = store_fail(st, rc);
	}
	sqlite3_reset(s);
	return rc;
}

int
store_forward_state_put(store *st, const struct store_forward_state *in)
{
	static const char sql[] =
	    "INSERT INTO forward_state (id, url, central_store_id, acked_revision, acked_ms) "
	    "VALUES (1, ?1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET url = ?1, "
	    "central_store_id = ?2, acked_revision = ?3, acked_ms = ?4";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, in->url != NULL ? in->url : "");
	store_bind_text(s, 2, in->central_store_id != NULL ? in->central_store_id : "");
	sqlite3_bind_int64(s, 3, in->acked_revision);
	sqlite3_bind_int64(s, 4, in->acked_ms);
	return store_step_done(st, s);
}

void
store_forward_state_free(struct store_forward_state *s)
{
	if (s == NULL)
		return;
	free(s->url);
	free(s->central_store_id);
	memset(s, 0, sizeof(*s));
}

static void
store_forward_box_row(sqlite3_stmt *s, void *elem)
{
	store_box_read(s, elem);
}

static void
store_forward_box_rows_free(void *list, size_t n)
{
	store_box_list_free(list, n);
}

int
store_forward_pending(store *st, int64_t after, size_t limit, struct store_box **out, size_t *n)
{
	static const char sql[] = "SELECT " STORE_BOX_COLUMNS " FROM boxes WHERE revision > ?1 "
	                          "ORDER BY revision LIMIT ?2";
	sqlite3_stmt *s = store_stmt(st, sql);
	void *list = NULL;
	int rc = STORE_ERROR;

	*n = 0;
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, after);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)limit);
		rc = store_rows(st, s, sizeof(**out), store_forward_box_row,
		    store_forward_box_rows_free, &list, n);
	}
	*out = list;
	return rc;
}

int
store_forward_backlog(store *st, int64_t after, int64_t *count, int64_t *oldest_ms)
{
	static const char sql[] =
	    "SELECT count(*), coalesce(min(last_update_ms), 0) FROM boxes WHERE revision > ?1";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc;

	*count = 0;
	*oldest_ms = 0;
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, after);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*count = sqlite3_column_int64(s, 0);
		*oldest_ms = sqlite3_column_int64(s, 1);
		rc = STORE_OK;
	} else {
		rc = store_fail(st, rc);
	}
	sqlite3_reset(s);
	return rc;
}

int
store_forward_reject(
    store *st, const char *box_id, int64_t revision, int status, const char *reason, int64_t now_ms)
{
	static const char sql[] = "INSERT OR REPLACE INTO forward_rejects "
	                          "(box_id, revision, status, reason, at_ms) "
	                          "VALUES (?1, ?2, ?3, ?4, ?5)";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, box_id);
	sqlite3_bind_int64(s, 2, revision);
	sqlite3_bind_int(s, 3, status);
	store_bind_text(s, 4, reason != NULL ? reason : "");
	sqlite3_bind_int64(s, 5, now_ms);
	return store_step_done(st, s);
}

int
store_forward_rejects_count(store *st, int64_t *out)
{
	static const char sql[] = "SELECT count(*) FROM forward_rejects";
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
		rc = store_fail(st, rc);
	}
	sqlite3_reset(s);
	return rc;
}
