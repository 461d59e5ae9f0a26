/*
 * store: the livestatus SQLite database, the only C module that speaks SQL.
 *
 * Both programs open the same file through this module.  store_open()
 * creates the file if needed, switches it to WAL, sets the busy timeout,
 * turns on foreign keys and applies the migrations of sql/schema.sql that
 * the file does not have yet (in one BEGIN IMMEDIATE transaction, so the
 * first of two programs opening a new file does it and the second sees it
 * done).  A store handle is one SQLite connection: use it from one thread
 * at a time; threads open a handle each.
 *
 * Writes happen inside store_begin() ... store_commit(), which is
 * BEGIN IMMEDIATE: the write lock is taken up front, so a read-then-write
 * transaction can never fail half-way with SQLITE_BUSY.  Every function
 * that changes a box bumps the store-wide revision and stamps the box with
 * it; callers do not manage revisions.  Reads may run outside a
 * transaction (each statement sees a consistent snapshot) or inside
 * store_begin_read() ... store_commit() when several must agree.
 *
 * Return codes: STORE_OK (0), or a negative code.  STORE_BUSY means the
 * database stayed locked past the busy timeout (retry later; nothing was
 * written), STORE_NOTFOUND that the row does not exist, STORE_FULL that
 * the disk (or the database's size limit) is full (SQLITE_FULL: nothing
 * was written), STORE_ERROR anything else.  store_errmsg() then says why,
 * for the log (never for an HTTP client: it may name internals).  After an
 * error inside a write transaction the caller calls store_rollback().
 *
 * Strings in the structs below are owned by the struct and released with
 * the matching _free() function; a zeroed struct is valid to free.
 */
#ifndef LS_STORE_H
#define LS_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct store store;

enum {
	STORE_OK = 0,
	STORE_ERROR = -1,
	STORE_BUSY = -2,
	STORE_NOTFOUND = -3,
	STORE_FULL = -4,
};

/* end_time_ms of a box that has not ended. */
#define STORE_NO_TIME INT64_C(-1)

/* Busy timeout set on every connection unless store_open_ms() says else. */
#define STORE_BUSY_TIMEOUT_MS 5000

/* One status box; see docs/api.md for the meaning of fields. */
struct store_box {
	char *id;
	char *session_key;
	char *agent_id;
	char *channel_id;
	char *root_id;
	char *post_id;
	char *parent_id; /* NULL for a top-level box */
	char *label;
	char *bot_user_id;
	char *status; /* active, done, error or interrupted */
	char *lines;  /* JSON array of strings, oldest first */
	char *model;
	char *source; /* "api" or "watcher" */
	int64_t start_time_ms;
	int64_t end_time_ms; /* STORE_NO_TIME while active */
	int64_t last_update_ms;
	int64_t token_count;
	int64_t revision; /* set by the store on every write */
	/*
	 * The gateway that made the box ('' for API boxes); on a put, NULL
	 * keeps the stored value.  gateway_revision: the gateway's revision
	 * of a forwarded box (0 otherwise); on a put, 0 keeps the stored one.
	 */
	char *gateway;
	int64_t gateway_revision;
	int64_t seq; /* the row's rowid: creation order; read by the lists only */
};

/*
 * The running watcher's liveness row.  Its times are read clamped to
 * [0, about 31,700 years], the interval to >= 1 ms.
 */
struct store_heartbeat {
	int64_t pid;
	int64_t started_ms;
	int64_t last_heartbeat_ms;
	int64_t interval_ms;
	char *breaker; /* closed, open, half_open, or NULL without Mattermost */
	char *stats;   /* JSON object of counters */
};

/* Counts for health and metrics. */
struct store_counts {
	int64_t active;
	int64_t done;
	int64_t error;
	int64_t interrupted;
	int64_t total;
};

int store_open(const char *path, store **out, char *err, size_t errlen);
int store_open_ms(const char *path, int busy_timeout_ms, store **out, char *err, size_t errlen);
void store_close(store *st);

const char *store_errmsg(store *st);

/*
 * Makes the statement running on st (from another thread) stop soon with
 * an error; for a long read that is no longer wanted.
 */
void store_interrupt(store *st);
const char *store_path(store *st);

/* PRAGMA user_version of the open file; the newest this build knows. */
int store_schema_version(store *st);
int store_schema_latest(void);

/* Times any statement of this process met a busy database (all handles). */
int64_t store_busy_total(void);

int store_begin(store *st);      /* BEGIN IMMEDIATE */
int store_begin_read(store *st); /* BEGIN (deferred), for consistent reads */
int store_commit(store *st);
void store_rollback(store *st);

/*
 * How long the last committed write transaction of st held the database's
 * write lock, in microseconds: from BEGIN IMMEDIATE's success to COMMIT's
 * return (what other writers may have waited), 0 before the first.
 */
int64_t store_last_hold_us(const store *st);

/* The store-wide revision. */
int store_revision(store *st, int64_t *out);

/*
 * fn(arg, revision) runs after each commit of st that bumped the store's
 * revision (and after a bump made outside a transaction), before
 * store_commit() returns: how sql/store_revdir.h moves its link.  fn NULL
 * removes it.
 */
typedef void (*store_revision_fn)(void *arg, int64_t revision);
void store_on_revision(store *st, store_revision_fn fn, void *arg);

/*
 * The store-wide revision and the number of boxes ever deleted, read
 * together: a reader that kept boxes of some revision finds what changed
 * since by revision, and needs a full read again when deletes moved.
 */
int store_revision_deletes(store *st, int64_t *revision, int64_t *deletes);

/* The store's identity (hex, made at creation) into buf of len bytes. */
int store_id(store *st, char *buf, size_t len);

/*
 * Writes box (insert, or update every column of an existing one: children
 * are kept).  Sets box->revision.  In a write transaction.
 */
int store_box_put(store *st, struct store_box *box);

int store_box_get(store *st, const char *id, struct store_box *out);

/*
 * The channel a box's change notices go to: its own channel_id, or for a
 * box without one the nearest non-empty one above it; "" when none.
 */
int store_box_route_channel(store *st, const char *id, char *buf, size_t len);

/* Deletes a box and, through the foreign key, its children. */
int store_box_delete(store *st, const char *id);

/*
 * Every box, parents and children alike, ordered by start time then
 * creation; *out is an array of *n boxes freed with store_box_list_free().
 */
int store_box_list(store *st, struct store_box **out, size_t *n);
void store_box_list_free(struct store_box *list, size_t n);

/*
 * Every box in creation (rowid) order, one at a time: fn gets a box whose
 * strings are the store's own, valid only during the call (copy what is
 * kept).  No sort: a million boxes sorted by start time would go through
 * SQLite's temporary files, where the caller sorts their indexes.
 */
int store_box_each(store *st, void (*fn)(void *arg, const struct store_box *b), void *arg);

/*
 * The hot part of the store: every box of each tree that holds an active
 * box, a box written after revision since, or a box whose child was
 * deleted since, whole trees from their top-level box down, ordered as
 * store_box_list() orders.  Its cost grows
 * with those trees, not with the finished boxes kept beside them.
 */
int store_box_list_hot(store *st, int64_t since, struct store_box **out, size_t *n);

/*
 * The trees that changed after revision since: every box of each tree that
 * holds a box written after since, a box whose child was deleted since, or
 * a box made again under the id of one deleted since; ordered the same way.
 * Its cost grows with the trees written, not with the active ones.
 */
int store_box_list_changed(store *st, int64_t since, struct store_box **out, size_t *n);

/* How many boxes were written after revision since, counting up to limit at most. */
int store_box_changed_since(store *st, int64_t since, int64_t limit, int64_t *out);

/* Deletions the store lists in boxes_gone (sql/schema.sql, migration 4). */
#define STORE_GONE_KEPT 65536

/* A deletion the store lists. */
struct store_gone {
	int64_t rowid; /* boxes_gone's rowid: the order of deletions */
	char *id;
	int top; /* 1 for a top-level box */
};

/*
 * The deletions the store lists that came after revision since (a reader
 * that read at revision since saw none of them) and after the deletion
 * after_rowid (0: all), oldest first; freed with store_gone_free().  The
 * store keeps the newest STORE_GONE_KEPT: compare what a reader found with
 * the moves of deletes (store_revision_deletes()).
 */
int
store_box_gone(store *st, int64_t since, int64_t after_rowid, struct store_gone **out, size_t *n);
void store_gone_free(struct store_gone *list, size_t n);

int store_box_counts(store *st, struct store_counts *out);

/*
 * The responder's cleanup, in its own write transaction: active boxes with
 * no update for stale_ms become interrupted; finished top-level boxes that
 * ended more than delete_ms ago are deleted with their children.  The
 * counts of each are returned.
 */
int store_cleanup(store *st, int64_t now_ms, int64_t stale_ms, int64_t delete_ms,
    int64_t *interrupted, int64_t *deleted);

int store_heartbeat_put(store *st, const struct store_heartbeat *hb);
int store_heartbeat_get(store *st, struct store_heartbeat *out);
int store_heartbeat_delete(store *st);

void store_box_free(struct store_box *box);
void store_heartbeat_free(struct store_heartbeat *hb);

#endif
