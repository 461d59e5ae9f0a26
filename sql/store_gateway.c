/* store_gateway: forwarded boxes' owners and the central's gateways table. */
#include "sql/store_gateway.h"

#include <stdlib.h>

#include "sql/store_int.h"

int
store_gateway_box(store *st, const char *id, char **gateway, int64_t *gateway_revision)
{
	static const char sql[] = "SELECT gateway, gateway_revision FROM boxes WHERE id = ?1";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc;

	*gateway = NULL;
	*gateway_revision = 0;
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*gateway = store_col_text(s, 0);
		*gateway_revision = sqlite3_column_int64(s, 1);
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
store_gateway_touch(store *st, const char *name, int64_t now_ms, int64_t lag_ms, int64_t queue,
    const char *version, int64_t stored, int64_t rejected)
{
	static const char sql[] =
	    "INSERT INTO gateways (name, first_seen_ms, last_contact_ms, lag_ms, queue, "
	    "boxes_received, rejected, version) "
	    "VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, coalesce(?7, '')) "
	    "ON CONFLICT (name) DO UPDATE SET last_contact_ms = ?2, lag_ms = ?3, queue = ?4, "
	    "boxes_received = boxes_received + ?5, rejected = rejected + ?6, "
	    "version = coalesce(?7, version)";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, name);
	sqlite3_bind_int64(s, 2, now_ms);
	sqlite3_bind_int64(s, 3, lag_ms);
	sqlite3_bind_int64(s, 4, queue);
	sqlite3_bind_int64(s, 5, stored);
	sqlite3_bind_int64(s, 6, rejected);
	store_bind_text(s, 7, version);
	return store_step_done(st, s);
}

static void
store_gateway_row(sqlite3_stmt *s, void *elem)
{
	struct store_gateway *g = elem;

	g->name = store_col_text(s, 0);
	g->first_seen_ms = store_col_ms(s, 1, 0);
	g->last_contact_ms = store_col_ms(s, 2, 0);
	g->lag_ms = store_col_ms(s, 3, 0);
	g->queue = sqlite3_column_int64(s, 4);
	g->boxes_received = sqlite3_column_int64(s, 5);
	g->rejected = sqlite3_column_int64(s, 6);
	g->version = store_col_text(s, 7);
}

static void
store_gateway_rows_free(void *list, size_t n)
{
	store_gateway_list_free(list, n);
}

int
store_gateway_list(store *st, struct store_gateway **out, size_t *n)
{
	static const char sql[] =
	    "SELECT name, first_seen_ms, last_contact_ms, lag_ms, queue, boxes_received, "
	    "rejected, version FROM gateways ORDER BY name";
	sqlite3_stmt *s = store_stmt(st, sql);
	void *list = NULL;
	int rc = STORE_ERROR;

	*n = 0;
	if (s != NULL)
		rc = store_rows(
		    st, s, sizeof(**out), store_gateway_row, store_gateway_rows_free, &list, n);
	*out = list;
	return rc;
}

void
store_gateway_list_free(struct store_gateway *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(list[i].name);
		free(list[i].version);
	}
	free(list);
}
