/*
 * box_int: what the box model's files share (private to watcher/box*.c; the
 * interface is watcher/box.h).
 *
 * The model is split by job:
 *   box.c         sessions and runs: the table, starting, linking and ending
 *                 runs, metadata, re-keying, time passing, stats
 *   box_events.c  transcript events into status lines
 *   box_state.c   what is written to the store (changes, state JSON) and
 *                 read back at start-up (restore)
 */
#ifndef LS_WATCHER_BOX_INT_H
#define LS_WATCHER_BOX_INT_H

#include <stddef.h>
#include <stdint.h>

#include "watcher/box.h"
#include "watcher/transcript.h"

enum box_status {
	BOX_ACTIVE,
	BOX_DONE,
	BOX_ERROR,
	BOX_INTERRUPTED,
};

/* a + b for counts that are each at most TX_NUMBER_MAX: never past INT64_MAX. */
static inline int64_t
box_add_capped(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

struct box_line {
	char *text;
	char *call_id; /* set while the line waits for its tool result */
	int spawn;     /* a sub-agent line: never gets a suffix */
};

struct box_run {
	char id[40];
	char *parent_id;
	enum box_status status;
	struct box_line *lines;
	int nlines;
	int64_t start_ms, end_ms, last_update_ms;
	int64_t tokens;
	char *model;
	int reported; /* the run is visible (a child whose parent is known) */
	int thinking; /* the only line is BOX_THINKING_LINE */
};

struct box_session {
	char *key;
	char *agent_id;
	char *channel_id, *root_id, *target, *label, *parent_key;
	char *model; /* newest model seen on the session */
	struct box_run *run;
	char **pending; /* tool call ids without a result */
	size_t npending, cappending;
	int lock;
	int run_locked;    /* the lock was held during the current run */
	int run_dropped;   /* the current run is not shown (MAX_ACTIVE_SESSIONS) */
	int last_tool_use; /* the last assistant line stopped for toolUse */
	int wait_child;    /* the run is over but a sub-agent's box is active */
	int64_t last_activity_ms;
	int dirty, box_dirty;
	struct box_session *next; /* hash chain */
};

/* A run replaced by a fresh one before its last change was committed. */
struct box_retired {
	struct box_session *s;
	struct box_run *run;
};

struct box_model {
	struct box_config cfg;
	struct tx_parser *parser;
	struct box_session **buckets;
	size_t nbuckets, nsessions;
	struct box_session **dirty;
	size_t ndirty, capdirty;
	struct box_retired *retired;
	size_t nretired, capretired;
	char **deleted; /* ids of stored boxes to delete (merged into another) */
	size_t ndeleted;
	int64_t started, dropped;
	int64_t numbers_dropped; /* transcript numbers out of bounds (tx_event) */
};

/* ---- box.c -------------------------------------------------------------- */

int box_active(const struct box_session *s);
void box_end(struct box_model *m, struct box_session *s, enum box_status st, int64_t now);
struct box_session *box_get(struct box_model *m, const char *key, const char *agent_id);
int box_has_active_child(struct box_model *m, const struct box_session *s);
void box_link_parent(struct box_model *m, struct box_session *s, int64_t now);
void box_mark(struct box_model *m, struct box_session *s, int box_changed);
void box_run_free(struct box_run *r);
void box_set_str(char **dst, const char *v);
struct box_run *box_start(struct box_model *m, struct box_session *s, int64_t now);
struct box_run *box_work(struct box_model *m, struct box_session *s, int64_t now);

/* ---- box_events.c ------------------------------------------------------- */

void box_add_line(struct box_model *m, struct box_session *s, char *text, const char *call_id,
    int spawn, int64_t now);
void box_check_finished(struct box_model *m, struct box_session *s, int64_t now);
int box_is_announce_key(const char *key);
void box_line_clear(struct box_line *l);
void box_pending_add(struct box_session *s, const char *id);
void box_thinking(struct box_model *m, struct box_session *s, int64_t now);

#endif
