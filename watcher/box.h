/*
 * box: the status model.  Transcript events become status boxes.
 *
 * The model keeps, per OpenClaw session key, the session's current box (one
 * run of that session: an id, status, status lines, tokens, model, times)
 * and the parser state that goes with it (tool calls still waiting for a
 * result, whether the gateway's .jsonl.lock is held, the last activity).
 * It does not care where lines come from: the file tailer feeds it today,
 * and a reader of OpenClaw's per-agent SQLite database (2026.8+) can feed
 * the same model through the same calls:
 *
 *   box_set_meta()   what sessions.json says about a key (channel, thread,
 *                    target, label, parent key); call it before or after lines
 *   box_feed_line()  one complete transcript line (bytes, no '\n')
 *   box_feed_event() the same for an already parsed line
 *   box_compacted()  the transcript was rewritten: "[session compacted ...]"
 *   box_lock()       the run lock appeared (present=1) or went away (0)
 *   box_tick()       time passes: idle timeout and maximum duration
 *   box_interrupt_all()  the watcher stops (SIGTERM): active boxes end
 *
 * The lifecycle is architecture.md's: a box starts at the first sign of work
 * (the lock appearing, an assistant line that is not a gateway copy, a tool
 * result) and ends when the lock is gone with no tool call pending (done),
 * on stopReason error/aborted or an openclaw:prompt-error (error), after
 * idle_timeout_ms without activity (done), after max_duration_ms (done, with
 * a line saying so), or on box_interrupt_all() (interrupted).  Without a
 * lock (never seen, or a source that has none) a run also ends when its last
 * assistant line stops for another reason than toolUse and no call is
 * pending.  A box with an active child box (a sub-agent) does not end that
 * way until the child's ends, nor at its idle timeout.  A run that fails
 * (stopReason error/aborted) ends with its errorMessage or errorCode as the
 * last line.  Events of a sub-agent announce run (tx_event.announce, or a
 * key with ":announce:") fold into an active box and never start one.  Activity after the end starts a fresh box with a new id; lines
 * that are not work (gateway copies, custom, model_change, session_info,
 * user, compaction) never start or resurrect one.  A sub-agent's session
 * (a parent key from box_set_meta() or from the parent's sessions_spawn
 * result, or a key with ":subagent:") gets a child box whose parent_id is
 * the parent session's current box; until its parent is known the child
 * box is kept in memory and not reported.
 *
 * Persistence: every change marks its session dirty.  box_changes() lists
 * the dirty sessions as store rows (the box, when it changed, and the
 * session's state as JSON); after the caller has committed them it calls
 * box_mark_clean().  When the commit fails nothing is marked clean, and the
 * next box_changes() reports the newest state of every session still dirty.
 * At start-up box_restore() loads what an earlier run stored.
 *
 * Times are the caller's clock (ms since the epoch).  A model is used from
 * one thread.
 */
#ifndef LS_WATCHER_BOX_H
#define LS_WATCHER_BOX_H

#include <stddef.h>
#include <stdint.h>

#include "sql/store.h"
#include "watcher/labels.h"
#include "watcher/transcript.h"

/* The line added when a box reaches max_duration_ms. */
#define BOX_MAX_DURATION_LINE "[max session duration reached - stopped tracking]"
#define BOX_COMPACTED_LINE "[session compacted - continuing]"
/* The only line of a box whose run started but has shown no event yet. */
#define BOX_THINKING_LINE "Thinking..."
/* Code points a status line keeps (before an [OK]/[ERR] suffix). */
#define BOX_LINE_MAX_CHARS 120

struct box_config {
	int max_lines;               /* MAX_STATUS_LINES */
	int64_t idle_timeout_ms;     /* IDLE_TIMEOUT_S */
	int64_t max_duration_ms;     /* MAX_SESSION_DURATION_S */
	int max_active;              /* MAX_ACTIVE_SESSIONS: top-level boxes */
	const struct labels *labels; /* borrowed; NULL: built-in table only */
};

/* What the session index says about a key; NULL fields count as "". */
struct box_meta {
	const char *agent_id;
	const char *channel_id;
	const char *root_id;
	const char *target; /* "user:<id>" when the DM channel is to be found */
	const char *label;
	const char *parent_key; /* spawnedBy */
};

/*
 * One dirty session as store rows; pointers live until box_changes_free()
 * and box_mark_clean().  A retired change is the last state of a run that a
 * fresh run replaced before it was committed: its box only (state NULL, no
 * session row).  A box's parent_id may name a box further down the list:
 * the caller writes parents first.
 */
struct box_change {
	const char *session_key;
	const char *target;
	int retired;
	int has_box;          /* box is filled (the box changed) */
	struct store_box box; /* lines and strings owned by the change list */
	const char *box_id;   /* the session's current box id, or NULL */
	char *state;          /* JSON object for watcher_sessions.state */
};

struct box_stats {
	int64_t sessions;        /* keys known */
	int64_t active_boxes;    /* active boxes, children included */
	int64_t boxes_started;   /* since the model was made */
	int64_t dropped;         /* runs not shown: MAX_ACTIVE_SESSIONS reached */
	int64_t numbers_dropped; /* counts/times out of bounds, dropped (tx_event) */
};

struct box_model;

struct box_model *box_model_new(const struct box_config *cfg);
void box_model_free(struct box_model *m);

void box_set_meta(struct box_model *m, const char *key, const struct box_meta *meta);

/* Parses and feeds one line; returns TX_OK or the TX_BAD_* code of tx_parse. */
int box_feed_line(struct box_model *m, const char *agent_id, const char *key, const char *line,
    size_t len, int64_t now);
void box_feed_event(struct box_model *m, const char *agent_id, const char *key,
    const struct tx_event *ev, int64_t now);
void box_compacted(struct box_model *m, const char *key, int64_t now);
void box_lock(struct box_model *m, const char *agent_id, const char *key, int present, int64_t now);
/*
 * A run of key started (the database's header or user message, a runtime
 * session.started / prompt.submitted event, session_nodes.status running):
 * a box shows now, with BOX_THINKING_LINE until its first line.  announce
 * is 1 for a sub-agent announce run, which never starts a box of its own.
 */
void box_run_start(
    struct box_model *m, const char *agent_id, const char *key, int announce, int64_t now);
void box_tick(struct box_model *m, int64_t now);

/*
 * old_key's transcript turned out to continue new_key (a successor file whose
 * header names its parent session): its lock, pending calls and active box
 * move to new_key.  When new_key has a box going already, old_key's lines
 * join it and old_key's box is listed by box_deleted() for the commit.
 */
void box_rekey(struct box_model *m, const char *old_key, const char *new_key, int64_t now);
/* Ids of stored boxes to delete in the next commit (until box_mark_clean()). */
size_t box_deleted(struct box_model *m, char ***ids);
void box_interrupt_all(struct box_model *m, int64_t now);

/* Milliseconds until the next box_tick() can change something, or -1. */
int64_t box_next_deadline(struct box_model *m, int64_t now);

void box_stats(struct box_model *m, struct box_stats *out);

size_t box_changes(struct box_model *m, struct box_change **out);
void box_changes_free(struct box_change *list, size_t n);
void box_mark_clean(struct box_model *m);

/*
 * Loads one stored session: its state JSON and its current box (NULL when
 * it has none or the row is gone).  Returns 0, or -1 on a state it cannot
 * read (the session then starts afresh).
 */
int
box_restore(struct box_model *m, const char *key, const char *state, const struct store_box *box);

/*
 * The status line for a thought or reply: Mattermost envelopes removed,
 * first non-empty line, trimmed, at most BOX_LINE_MAX_CHARS code points
 * without cutting a UTF-8 sequence.  NULL when nothing is left.
 */
char *box_line_text(const char *text);

/* The agent id in a key "agent:<id>:...", newly allocated; "" otherwise. */
char *box_key_agent(const char *key);

#endif
