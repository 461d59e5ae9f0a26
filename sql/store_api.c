/* store_api: the responder's cleanup with the list of what changed. */
#include "sql/store_api.h"

#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "sql/store_int.h"

struct store_change_list {
	struct store_change *items;
	size_t n;
	size_t cap;
};

/* Runs a statement returning (id, channel_id) rows into the list. */
static int
store_api_collect(store *st, sqlite3_stmt *s, int deleted, struct store_change_list *l)
{
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (l->n == l->cap) {
			l->cap = l->cap ? l->cap * 2 : 16;
			l->items = xreallocarray(l->items, l->cap, sizeof(*l->items));
		}
		l->items[l->n].id = store_col_text(s, 0);
		l->items[l->n].channel_id = store_col_text(s, 1);
		l->items[l->n].deleted = deleted;
		l->n++;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? STORE_OK : store_fail(st, rc);
}

int
store_cleanup_changes(store *st, int64_t now_ms, int64_t stale_ms, int64_t delete_ms, int64_t limit,
    struct store_change **out, size_t *n, int64_t *revision)
{
	static const char stale_sql[] =
	    "UPDATE boxes SET status = 'interrupted', end_time_ms = ?1, "
	    "last_update_ms = ?1, revision = ?2 "
	    "WHERE status = 'active' AND last_update_ms < ?3 "
	    "RETURNING id, channel_id";
	static const char delete_sql[] =
	    "DELETE FROM boxes WHERE id IN (SELECT id FROM boxes INDEXED BY boxes_to_delete "
	    "WHERE parent_id IS NULL "
	    "AND status <> 'active' AND coalesce(end_time_ms, last_update_ms) < ?1 LIMIT ?2) "
	    "RETURNING id, channel_id";
	struct store_change_list l = { 0 };
	sqlite3_stmt *s;
	int64_t rev = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = store_begin(st)) != STORE_OK)
		return rc;
	if ((rc = store_revision(st, &rev)) != STORE_OK)
		goto out;
	*revision = rev;
	rc = STORE_ERROR;
	if ((s = store_stmt(st, stale_sql)) == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, now_ms);
	sqlite3_bind_int64(s, 2, rev + 1);
	sqlite3_bind_int64(s, 3, now_ms - stale_ms);
	if ((rc = store_api_collect(st, s, 0, &l)) != STORE_OK)
		goto out;
	rc = STORE_ERROR;
	if ((s = store_stmt(st, delete_sql)) == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, now_ms - delete_ms);
	sqlite3_bind_int64(s, 2, limit > 0 ? limit : -1);
	if ((rc = store_api_collect(st, s, 1, &l)) != STORE_OK)
		goto out;
	if (l.n > 0 && (rc = store_bump_revision(st, revision)) != STORE_OK)
		goto out;
	rc = store_commit(st);
out:
	if (rc != STORE_OK) {
		store_rollback(st);
		store_changes_free(l.items, l.n);
		*revision = rev;
		return rc;
	}
	*out = l.items;
	*n = l.n;
	return STORE_OK;
}

void
store_changes_free(struct store_change *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(list[i].id);
		free(list[i].channel_id);
	}
	free(list);
}
