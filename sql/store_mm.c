/* store_mm: the Mattermost poster's rows and its queries over boxes. */
#include "sql/store_mm.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/xmalloc.h"
#include "sql/store_int.h"

/*
 * Every watcher-made top-level box with the highest revision in its
 * subtree, kept when that is above what mm_posts says was posted.
 */
static void
store_mm_dirty_row(sqlite3_stmt *s, void *elem)
{
	struct store_mm_dirty *d = elem;

	d->box_id = store_col_text(s, 0);
	d->tree_revision = sqlite3_column_int64(s, 1);
}

static void
store_mm_dirty_rows_free(void *list, size_t n)
{
	store_mm_dirty_free(list, n);
}

int
store_mm_dirty(store *st, size_t limit, struct store_mm_dirty **out, size_t *n)
{
	static const char sql[] =
	    "WITH RECURSIVE tree (top, id, rev) AS ("
	    " SELECT id, id, revision FROM boxes"
	    "  WHERE parent_id IS NULL AND source = 'watcher'"
	    " UNION ALL"
	    " SELECT t.top, b.id, b.revision FROM boxes AS b JOIN tree AS t ON b.parent_id = t.id"
	    "), tops (top, rev) AS (SELECT top, max(rev) FROM tree GROUP BY top) "
	    "SELECT tops.top, tops.rev FROM tops LEFT JOIN mm_posts AS p ON p.box_id = tops.top "
	    "WHERE p.box_id IS NULL OR p.posted_revision < tops.rev "
	    "ORDER BY tops.rev LIMIT ?1";
	sqlite3_stmt *s = store_stmt(st, sql);
	void *list = NULL;
	int rc = STORE_ERROR;

	*n = 0;
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, (sqlite3_int64)limit);
		rc = store_rows(
		    st, s, sizeof(**out), store_mm_dirty_row, store_mm_dirty_rows_free, &list, n);
	}
	*out = list;
	return rc;
}

void
store_mm_dirty_free(struct store_mm_dirty *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(list[i].box_id);
	free(list);
}

/*
 * Depth-first order: each row carries a path of zero-padded start times and
 * row ids from the top, so sorting on it puts children right after their
 * parent and siblings in start order.
 */
static void
store_mm_box_row(sqlite3_stmt *s, void *elem)
{
	store_box_read(s, elem);
}

static void
store_mm_box_rows_free(void *list, size_t n)
{
	store_box_list_free(list, n);
}

int
store_mm_tree(store *st, const char *id, struct store_box **out, size_t *n)
{
	static const char sql[] =
	    "WITH RECURSIVE tree (id, path) AS ("
	    " SELECT id, '' FROM boxes WHERE id = ?1"
	    " UNION ALL"
	    " SELECT b.id, t.path || printf('/%020d.%020d', b.start_time_ms, b.rowid)"
	    "  FROM boxes AS b JOIN tree AS t ON b.parent_id = t.id"
	    ") SELECT " STORE_BOX_COLUMNS_OF(
	        "b.") " FROM tree JOIN boxes AS b ON b.id = tree.id ORDER BY tree.path";
	sqlite3_stmt *s = store_stmt(st, sql);
	void *list = NULL;
	int rc = STORE_ERROR;

	*n = 0;
	if (s != NULL) {
		store_bind_text(s, 1, id);
		rc = store_rows(
		    st, s, sizeof(**out), store_mm_box_row, store_mm_box_rows_free, &list, n);
	}
	if (rc == STORE_OK && *n == 0)
		rc = STORE_NOTFOUND;
	*out = list;
	return rc;
}

int
store_mm_post_get(store *st, const char *box_id, struct store_mm_post *out)
{
	static const char sql[] =
	    "SELECT box_id, channel_id, root_id, mode, state, pending_post_id, post_id, "
	    "posted_text, intent_ms, unsure_ms, posted_revision, final_sent, updated_ms "
	    "FROM mm_posts WHERE box_id = ?1";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, box_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->box_id = store_col_text(s, 0);
		out->channel_id = store_col_text(s, 1);
		out->root_id = store_col_text(s, 2);
		out->mode = store_col_text(s, 3);
		out->state = store_col_text(s, 4);
		out->pending_post_id = store_col_text(s, 5);
		out->post_id = store_col_text(s, 6);
		out->posted_text = store_col_text(s, 7);
		out->intent_ms = sqlite3_column_int64(s, 8);
		out->unsure_ms = sqlite3_column_int64(s, 9);
		out->posted_revision = sqlite3_column_int64(s, 10);
		out->final_sent = sqlite3_column_int(s, 11);
		out->updated_ms = sqlite3_column_int64(s, 12);
		rc = STORE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = STORE_NOTFOUND;
	} else {
		rc = store_fail(st, rc);
	}
	sqlite3_reset(s);
	return rc;
}

static const char *
store_mm_str(const char *s)
{
	return s != NULL ? s : "";
}

int
store_mm_post_put(store *st, const struct store_mm_post *p)
{
	static const char sql[] =
	    "INSERT OR REPLACE INTO mm_posts (box_id, channel_id, root_id, mode, state, "
	    "pending_post_id, post_id, posted_text, intent_ms, unsure_ms, posted_revision, "
	    "final_sent, updated_ms) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, p->box_id);
	store_bind_text(s, 2, store_mm_str(p->channel_id));
	store_bind_text(s, 3, store_mm_str(p->root_id));
	store_bind_text(s, 4, p->mode);
	store_bind_text(s, 5, p->state);
	store_bind_text(s, 6, store_mm_str(p->pending_post_id));
	store_bind_text(s, 7, store_mm_str(p->post_id));
	store_bind_text(s, 8, store_mm_str(p->posted_text));
	sqlite3_bind_int64(s, 9, p->intent_ms);
	sqlite3_bind_int64(s, 10, p->unsure_ms);
	sqlite3_bind_int64(s, 11, p->posted_revision);
	sqlite3_bind_int(s, 12, p->final_sent);
	sqlite3_bind_int64(s, 13, util_now_ms());
	return store_step_done(st, s);
}

int
store_mm_set_post(
    store *st, const char *box_id, const char *post_id, const char *channel_id, int *changed)
{
	static const char sql[] =
	    "UPDATE boxes SET post_id = ?2, "
	    "channel_id = CASE WHEN channel_id = '' THEN ?3 ELSE channel_id END, "
	    "revision = (SELECT revision + 1 FROM store_meta WHERE id = 1) "
	    "WHERE id = ?1 AND (post_id <> ?2 OR (channel_id = '' AND ?3 <> ''))";
	static const char exists_sql[] = "SELECT 1 FROM boxes WHERE id = ?1";
	sqlite3_stmt *s;
	int64_t rev;
	int rc;

	if (changed != NULL)
		*changed = 0;
	if ((s = store_stmt(st, sql)) == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, box_id);
	store_bind_text(s, 2, post_id);
	store_bind_text(s, 3, store_mm_str(channel_id));
	if ((rc = store_step_done(st, s)) != STORE_OK)
		return rc;
	if (sqlite3_changes(st->db) > 0) {
		if (changed != NULL)
			*changed = 1;
		/* The UPDATE stamped revision + 1; make it the store's revision. */
		return store_bump_revision(st, &rev);
	}
	if ((s = store_stmt(st, exists_sql)) == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, box_id);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return STORE_OK;
	return rc == SQLITE_DONE ? STORE_NOTFOUND : store_fail(st, rc);
}

int
store_mm_target(store *st, const char *box_id, char **target)
{
	static const char sql[] = "SELECT w.target FROM boxes AS b JOIN watcher_sessions AS w "
	                          "ON w.session_key = b.session_key WHERE b.id = ?1";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc;

	*target = NULL;
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, box_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		*target = rc == SQLITE_ROW ? store_col_text(s, 0) : xstrdup("");
		rc = STORE_OK;
	} else {
		rc = store_fail(st, rc);
	}
	sqlite3_reset(s);
	return rc;
}

int
store_mm_plugin_off(store *st, int64_t *n)
{
	static const char sql[] = "UPDATE mm_posts SET posted_revision = 0 WHERE mode = 'plugin' "
	                          "AND state = 'posted' AND final_sent = 0";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc;

	*n = 0;
	if (s == NULL)
		return STORE_ERROR;
	if ((rc = store_step_done(st, s)) == STORE_OK)
		*n = sqlite3_changes(st->db);
	return rc;
}

int
store_mm_api_posted(store *st, const char *box_id, const char *channel_id, const char *root_id,
    const char *post_id, const char *text)
{
	struct store_mm_post p;
	char *pending = xasprintf("livestatus:%s", box_id);
	int rc;

	memset(&p, 0, sizeof(p));
	p.box_id = (char *)box_id;
	p.channel_id = (char *)channel_id;
	p.root_id = (char *)root_id;
	p.mode = (char *)"plugin";
	p.state = (char *)"posted";
	p.pending_post_id = pending;
	p.post_id = (char *)post_id;
	p.posted_text = (char *)text;
	p.intent_ms = util_now_ms();
	rc = store_mm_post_put(st, &p);
	free(pending);
	return rc;
}

int
store_mm_final_claim(store *st, const char *box_id, char **post_id)
{
	static const char claim_sql[] =
	    "UPDATE mm_posts SET final_sent = 1, updated_ms = ?2 "
	    "WHERE box_id = ?1 AND mode = 'plugin' AND state = 'posted' AND final_sent = 0 "
	    "AND post_id <> '' AND EXISTS (SELECT 1 FROM boxes AS b WHERE b.id = ?1 "
	    "AND b.source = 'api' AND b.parent_id IS NULL AND b.status <> 'active')";
	static const char post_sql[] = "SELECT post_id FROM mm_posts WHERE box_id = ?1";
	sqlite3_stmt *s;
	int rc;

	*post_id = NULL;
	if ((s = store_stmt(st, claim_sql)) == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, box_id);
	sqlite3_bind_int64(s, 2, util_now_ms());
	if ((rc = store_step_done(st, s)) != STORE_OK)
		return rc;
	if (sqlite3_changes(st->db) == 0)
		return STORE_NOTFOUND;
	if ((s = store_stmt(st, post_sql)) == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, box_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*post_id = store_col_text(s, 0);
		rc = STORE_OK;
	} else {
		rc = rc == SQLITE_DONE ? STORE_NOTFOUND : store_fail(st, rc);
	}
	sqlite3_reset(s);
	return rc;
}

int
store_mm_final_result(store *st, const char *box_id, int final_sent, const char *state,
    const char *text, int64_t revision)
{
	static const char sql[] =
	    "UPDATE mm_posts SET final_sent = ?2, state = coalesce(?3, state), "
	    "posted_text = coalesce(?4, posted_text), "
	    "posted_revision = CASE WHEN ?4 IS NULL THEN posted_revision ELSE ?5 END, "
	    "updated_ms = ?6 WHERE box_id = ?1";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, box_id);
	sqlite3_bind_int(s, 2, final_sent != 0);
	store_bind_text(s, 3, state);
	store_bind_text(s, 4, text);
	sqlite3_bind_int64(s, 5, revision);
	sqlite3_bind_int64(s, 6, util_now_ms());
	return store_step_done(st, s);
}

int
store_mm_dm_get(store *st, const char *user_id, char **channel_id)
{
	static const char sql[] = "SELECT channel_id FROM mm_direct_channels WHERE user_id = ?1";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc;

	*channel_id = NULL;
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, user_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*channel_id = store_col_text(s, 0);
		rc = STORE_OK;
	} else {
		rc = rc == SQLITE_DONE ? STORE_NOTFOUND : store_fail(st, rc);
	}
	sqlite3_reset(s);
	return rc;
}

int
store_mm_dm_put(store *st, const char *user_id, const char *channel_id)
{
	static const char sql[] =
	    "INSERT OR REPLACE INTO mm_direct_channels (user_id, channel_id, updated_ms) "
	    "VALUES (?1, ?2, ?3)";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, user_id);
	store_bind_text(s, 2, channel_id);
	sqlite3_bind_int64(s, 3, util_now_ms());
	return store_step_done(st, s);
}

void
store_mm_post_free(struct store_mm_post *p)
{
	if (p == NULL)
		return;
	free(p->box_id);
	free(p->channel_id);
	free(p->root_id);
	free(p->mode);
	free(p->state);
	free(p->pending_post_id);
	free(p->post_id);
	free(p->posted_text);
	memset(p, 0, sizeof(*p));
}
