/*
 * store_int: what the store's own .c files share (store.c and the
 * per-program parts such as store_watcher.c).  Nothing outside sql/
 * includes this.
 *
 * store_stmt() returns a prepared statement for a static SQL string,
 * prepared once per connection and reset before it is handed out; key it
 * by the string's address, so pass a static const array, not a temporary.
 * store_fail() turns an SQLite result code into STORE_BUSY or STORE_ERROR
 * and remembers the message for store_errmsg().
 */
#ifndef LS_STORE_INT_H
#define LS_STORE_INT_H

#include <sqlite3.h>

#include "sql/store.h"

#define STORE_STMT_MAX 64

struct store_stmt_slot {
	const char *sql;
	sqlite3_stmt *stmt;
};

struct store {
	sqlite3 *db;
	char *path;
	char errmsg[256];
	int nstmt;
	struct store_stmt_slot stmts[STORE_STMT_MAX];
	/* Called after a commit that bumped the revision (store_on_revision()). */
	store_revision_fn on_revision;
	void *on_revision_arg;
	int64_t revision_pending; /* the revision the open transaction bumped to, or 0 */
	int64_t began_us;         /* when BEGIN IMMEDIATE succeeded (util_mono_us()) */
	int64_t last_hold_us;     /* store_last_hold_us() */
};

sqlite3_stmt *store_stmt(store *st, const char *sql);
int store_fail(store *st, int rc);

/* Column helpers: a NULL column becomes "" (or NULL for _null). */
char *store_col_text(sqlite3_stmt *s, int col);
char *store_col_text_null(sqlite3_stmt *s, int col);

/*
 * A column that holds a time or a duration in ms, within [lo, STORE_MS_MAX]:
 * the store is input too (another process writes it, a disk can garble
 * it), and its readers do arithmetic on these values that must not
 * overflow.  STORE_MS_MAX is about 31,700 years.
 */
#define STORE_MS_MAX ((int64_t)1000000000000000)
int64_t store_col_ms(sqlite3_stmt *s, int col, int64_t lo);

/* Binds text, or NULL when s is NULL. */
int store_bind_text(sqlite3_stmt *s, int idx, const char *v);

/* Runs a statement that returns no rows; STORE_OK or a failure code. */
int store_step_done(store *st, sqlite3_stmt *s);

/*
 * The boxes table's columns in the order store_box_read() expects them,
 * each prefixed with t (a table alias such as "b." or "").
 */
#define STORE_BOX_COLUMNS_OF(t) \
	t "id, " t "session_key, " t "agent_id, " t "channel_id, " t "root_id, " t "post_id, " t \
	  "parent_id, " t "label, " t "bot_user_id, " t "status, " t "lines, " t "model, " t \
	  "source, " t "start_time_ms, " t "end_time_ms, " t "last_update_ms, " t \
	  "token_count, " t "revision, " t "gateway, " t "gateway_revision"
#define STORE_BOX_COLUMNS STORE_BOX_COLUMNS_OF("")

/* Reads a row selected with STORE_BOX_COLUMNS_OF() into b (owned by b). */
void store_box_read(sqlite3_stmt *s, struct store_box *b);

/*
 * Steps s (prepared and bound) to its end, reading each row with read()
 * into a new zeroed element of size bytes.  On success the array and its
 * length go to *out and *n (NULL and 0 when there is no row); on failure
 * free_list() releases what was read and the failure code is returned.
 */
int store_rows(store *st, sqlite3_stmt *s, size_t size, void (*read)(sqlite3_stmt *, void *),
    void (*free_list)(void *, size_t), void **out, size_t *n);

/* store_rows() readers of a list of boxes: STORE_BOX_COLUMNS, then rowid as seq. */
void store_box_row_seq(sqlite3_stmt *s, void *elem);
void store_box_rows_free(void *list, size_t n);

/* Bumps the store-wide revision in a write transaction. */
int store_bump_revision(store *st, int64_t *out);

#endif
