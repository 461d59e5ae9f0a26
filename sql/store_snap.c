/*
 * store_snap: what the responder's snapshot of the boxes reads
 * (fcgi/api_cache.h): the boxes written since a revision, the deletions
 * since, every box in one pass, and the trees a snapshot reads again.
 */
#include "sql/store_int.h"

#include <stdlib.h>
#include <string.h>

int
store_box_changed_since(store *st, int64_t since, int64_t limit, int64_t *out)
{
	static const char sql[] =
	    "SELECT count(*) FROM (SELECT 1 FROM boxes WHERE revision > ?1 LIMIT ?2)";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc;

	*out = 0;
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, since);
	sqlite3_bind_int64(s, 2, limit);
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

static void
store_gone_row(sqlite3_stmt *s, void *elem)
{
	struct store_gone *g = elem;

	g->rowid = sqlite3_column_int64(s, 0);
	g->id = store_col_text(s, 1);
	g->top = sqlite3_column_type(s, 2) == SQLITE_NULL;
}

static void
store_gone_rows_free(void *list, size_t n)
{
	store_gone_free(list, n);
}

void
store_gone_free(struct store_gone *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(list[i].id);
	free(list);
}

int
store_box_gone(store *st, int64_t since, int64_t after_rowid, struct store_gone **out, size_t *n)
{
	static const char sql[] = "SELECT rowid, id, parent_id FROM boxes_gone "
	                          "WHERE revision >= ?1 AND rowid > ?2 ORDER BY rowid";
	sqlite3_stmt *s = store_stmt(st, sql);
	void *list = NULL;
	int rc = STORE_ERROR;

	*n = 0;
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, since);
		sqlite3_bind_int64(s, 2, after_rowid);
		rc = store_rows(
		    st, s, sizeof(**out), store_gone_row, store_gone_rows_free, &list, n);
	}
	*out = list;
	return rc;
}

/* A row of STORE_BOX_COLUMNS and rowid as a box whose strings point into the statement. */
static void
store_box_view(sqlite3_stmt *s, struct store_box *b)
{
	const char *t[13];
	int i;

	for (i = 0; i < 13; i++) {
		t[i] = (const char *)sqlite3_column_text(s, i);
		if (t[i] == NULL && i != 6)
			t[i] = "";
	}
	b->id = (char *)t[0];
	b->session_key = (char *)t[1];
	b->agent_id = (char *)t[2];
	b->channel_id = (char *)t[3];
	b->root_id = (char *)t[4];
	b->post_id = (char *)t[5];
	b->parent_id = (char *)t[6];
	b->label = (char *)t[7];
	b->bot_user_id = (char *)t[8];
	b->status = (char *)t[9];
	b->lines = (char *)t[10];
	b->model = (char *)t[11];
	b->source = (char *)t[12];
	b->start_time_ms = sqlite3_column_int64(s, 13);
	b->end_time_ms =
	    sqlite3_column_type(s, 14) == SQLITE_NULL ? STORE_NO_TIME : sqlite3_column_int64(s, 14);
	b->last_update_ms = sqlite3_column_int64(s, 15);
	b->token_count = sqlite3_column_int64(s, 16);
	b->revision = sqlite3_column_int64(s, 17);
	b->gateway = (char *)sqlite3_column_text(s, 18);
	if (b->gateway == NULL)
		b->gateway = (char *)"";
	b->gateway_revision = sqlite3_column_int64(s, 19);
	b->seq = sqlite3_column_int64(s, 20);
}

int
store_box_each(store *st, void (*fn)(void *arg, const struct store_box *b), void *arg)
{
	static const char sql[] = "SELECT " STORE_BOX_COLUMNS ", rowid FROM boxes ORDER BY rowid";
	sqlite3_stmt *s = store_stmt(st, sql);
	struct store_box b;
	int rc;

	if (s == NULL)
		return STORE_ERROR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&b, 0, sizeof(b));
		store_box_view(s, &b);
		fn(arg, &b);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? STORE_OK : store_fail(st, rc);
}

/* The rows of the trees that the tree query sql (?1: since) finds, in list order. */
static int
store_box_trees(store *st, const char *sql, int64_t since, struct store_box **out, size_t *n)
{
	sqlite3_stmt *s = store_stmt(st, sql);
	void *list = NULL;
	int rc = STORE_ERROR;

	*n = 0;
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, since);
		rc = store_rows(
		    st, s, sizeof(**out), store_box_row_seq, store_box_rows_free, &list, n);
	}
	*out = list;
	return rc;
}

/*
 * The tree query: seed is the boxes that make a tree wanted; up their
 * parent chains (UNION ends a cycle); down every box under the top-level
 * ones found.
 */
#define STORE_TREES(seed) \
	"WITH RECURSIVE " \
	"seed(id) AS (" seed "), " \
	"up(id, parent_id) AS (SELECT b.id, b.parent_id FROM boxes AS b JOIN seed USING (id) " \
	"UNION SELECT b.id, b.parent_id FROM boxes AS b JOIN up ON b.id = up.parent_id), " \
	"down(id) AS (SELECT id FROM up WHERE parent_id IS NULL " \
	"UNION SELECT b.id FROM boxes AS b JOIN down ON b.parent_id = down.id) " \
	"SELECT " STORE_BOX_COLUMNS ", rowid FROM boxes WHERE id IN (SELECT id FROM down) " \
	"ORDER BY start_time_ms, rowid"

/* Boxes written after ?1, and the parents of boxes deleted since. */
#define STORE_SEED_CHANGED \
	"SELECT id FROM boxes WHERE revision > ?1 " \
	"UNION SELECT parent_id FROM boxes_gone INDEXED BY boxes_gone_children " \
	"WHERE revision >= ?1 AND parent_id IS NOT NULL"

int
store_box_list_hot(store *st, int64_t since, struct store_box **out, size_t *n)
{
	static const char sql[] =
	    STORE_TREES("SELECT id FROM boxes WHERE status = 'active' UNION " STORE_SEED_CHANGED);

	return store_box_trees(st, sql, since, out, n);
}

int
store_box_list_changed(store *st, int64_t since, struct store_box **out, size_t *n)
{
	/* a box deleted since and made again under the same id is written since too */
	static const char sql[] = STORE_TREES(
	    STORE_SEED_CHANGED " UNION SELECT id FROM boxes_gone INDEXED BY boxes_gone_by_revision "
	                       "WHERE revision >= ?1");

	return store_box_trees(st, sql, since, out, n);
}
