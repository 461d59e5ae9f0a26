/*
 * ocdb: follows OpenClaw 2026.8+ agents, whose sessions live in SQLite.
 *
 * From OpenClaw 2026.8.1 the gateway keeps each agent's sessions and
 * transcripts in agents/<agentId>/agent/openclaw-agent.sqlite instead of
 * sessions.json and .jsonl files (docs/openclaw-formats.md).  This
 * module finds those databases, notices when they change, reads the new
 * transcript events and hands them to the status model (box.h) exactly as
 * the file tailer hands it lines, so both layouts give the same boxes.
 *
 * Finding: the root is TRANSCRIPT_DIR (wconfig makes it
 * $OPENCLAW_STATE_DIR/agents, else ~/.openclaw/agents, when unset).  It
 * may be an agents/ folder (every agents/<id>/agent/ holding the database
 * is followed), one agent's folder (agents/<id>), its agent/ folder
 * (the gateway's agentDir), or its sessions/ folder (the database beside it
 * is followed).  Folders without a database are watched, so an agent that
 * migrates while the watcher runs is picked up; its database is then new and
 * is read from its first event.  A database present at start-up that this
 * store has never seen is read from its end (no backlog), like a transcript
 * file; a known one resumes at its stored cursors.
 *
 * Reading another program's file: the database belongs to the gateway.  It
 * is opened read-only (a file: URI with mode=ro), the busy timeout is set
 * before the first statement, PRAGMA query_only is on, no writing pragma is
 * ever run, and every read is one short transaction, so the gateway's
 * checkpoints are never held back by more than one batch.  That is why this
 * file, and not the store module, holds SQL: it is the gateway's schema,
 * read only; the watcher's own cursors go through sql/store_ocdb.h.
 *
 * Versions: PRAGMA user_version and the schema_meta row must agree on a
 * version in OCDB_SCHEMA_MIN..OCDB_SCHEMA_MAX, and the tables must have the
 * columns this reader needs (probed with PRAGMA table_info; columns that
 * came later, such as event_zstd, are used when present).  Any other
 * database is refused with one log line naming the file and the version;
 * other agents keep working, and a refused file is probed again when it
 * changes (a gateway upgrade).
 *
 * Changes: inotify on each database's folder (the -wal file, the database,
 * its -journal, and files appearing), confirmed with PRAGMA data_version;
 * a timed data_version check every poll_interval_ms where inotify cannot be
 * used, and a slow safety check (OCDB_SAFETY_MS) where it can.  Per changed
 * session window (transcript_updated_at above the last one read): the
 * rewrite generation, then events after the cursor's seq in seq order.  A
 * new generation or fewer rows than the cursor means the transcript was
 * rewritten: the model gets box_compacted() ("[session compacted -
 * continuing]") and the session is read again from seq 0, skipping what was
 * already shown (up to the last event id given, or older than its time).
 * A rollover window (previous_session_id) has the same session key, so its
 * events continue that key's box.  zstd rows are decoded with libzstd; a
 * row that fails (bad frame, size not event_utf8_bytes, over
 * OCDB_MAX_EVENT_BYTES) is counted and skipped, as is a line that is not
 * JSON.  Cold-archived windows are ignored.  compaction and reset events
 * give the compacted line.  Sub-agent parents come from spawned_by or
 * entry_json.spawnedBy; channel, thread and DM target from the session key,
 * then entry_json (deliveryContext, lastTo, lastThreadId), then the
 * window's conversations row.  There is no lock file: the model's lock-less
 * mode ends a run on its last assistant event (see box.h).
 *
 * Main loop contract: poll ocdb_fd() for input (when >= 0) and wake after
 * ocdb_timeout() ms; then call ocdb_run(), which reads at most a budget of
 * rows (ocdb_timeout() is 0 while more are waiting).  In the write
 * transaction that stores the model's changes, call ocdb_save(); after a
 * successful commit, ocdb_saved().  A failed commit leaves the cursors
 * dirty for the next save, so boxes and cursors always land together.
 *
 * Errors: ocdb_new() fails only on bad configuration or a store that cannot
 * be read (-1, with err filled).  Trouble with one database (cannot open,
 * busy, corrupt, refused) is logged, shown in ocdb_agents_json(), and
 * retried; it never stops the others.  One struct ocdb is used from one
 * thread; it borrows the store and the sink for its lifetime.
 */
#ifndef LS_WATCHER_OCDB_H
#define LS_WATCHER_OCDB_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "sql/store.h"
#include "watcher/box.h"
#include "watcher/transcript.h"

#define OCDB_FILE_NAME "openclaw-agent.sqlite"
#define OCDB_SCHEMA_MIN 20
#define OCDB_SCHEMA_MAX 24
/* Largest compressed and decoded event (openclaw-sqlite.md). */
#define OCDB_MAX_EVENT_BYTES (4 << 20)
#define OCDB_BATCH_ROWS 256
#define OCDB_RUN_ROWS 4096
#define OCDB_BUSY_TIMEOUT_MS 250
#define OCDB_SAFETY_MS 1000

struct ocdb_config {
	const char *root;            /* TRANSCRIPT_DIR */
	int64_t poll_interval_ms;    /* POLL_INTERVAL_MS: checks without inotify */
	int no_inotify;              /* 1: timed checks only */
	int batch_rows;              /* rows per read transaction; 0: OCDB_BATCH_ROWS */
	int run_rows;                /* rows per ocdb_run(); 0: OCDB_RUN_ROWS */
	int busy_timeout_ms;         /* 0: OCDB_BUSY_TIMEOUT_MS */
	const char *default_channel; /* DEFAULT_CHANNEL for unrouted sessions, or NULL */
	int outside_links;           /* FOLLOW_OUTSIDE_LINKS: databases linked out of root */
	int read_limit_ms;           /* longest single read; 0: OCDB_READ_LIMIT_MS */
};

/*
 * Where events go: the status model (ocdb_box_sink()), or a test's
 * recorder.  Each callback mirrors the box.h function of the same name.
 */
struct ocdb_sink {
	void *arg;
	void (*meta)(void *arg, const char *key, const struct box_meta *meta);
	void (*event)(void *arg, const char *agent_id, const char *key, const struct tx_event *ev,
	    int64_t now);
	void (*compacted)(void *arg, const char *key, int64_t now);
	/* box_run_start(); may be NULL */
	void (*started)(
	    void *arg, const char *agent_id, const char *key, int announce, int64_t now);
};

struct ocdb_stats {
	int64_t agents;       /* databases followed */
	int64_t refused;      /* databases refused (version or shape) */
	int64_t events_read;  /* events given to the model */
	int64_t rows_bad;     /* rows skipped: zstd or size failures */
	int64_t parse_errors; /* rows skipped: not a JSON object or bad UTF-8 */
	int64_t rereads;      /* rewrites noticed */
	int64_t busy;         /* reads put off because the database was locked */
};

struct ocdb;

/* A sink that feeds m through box_set_meta/box_feed_event/box_compacted/box_run_start. */
void ocdb_box_sink(struct box_model *m, struct ocdb_sink *out);

int ocdb_new(const struct ocdb_config *cfg, store *st, const struct ocdb_sink *sink,
    struct ocdb **out, char *err, size_t errlen);
void ocdb_free(struct ocdb *o);

/* The inotify descriptor to poll for input, or -1 (timed checks only). */
int ocdb_fd(const struct ocdb *o);

/* Milliseconds until ocdb_run() is due (0: now), or -1: only on input. */
int64_t ocdb_timeout(const struct ocdb *o);

/* Notices changes and feeds new events; returns the number fed. */
int64_t ocdb_run(struct ocdb *o, int64_t now);

/* 1 when ocdb_save() has something to write. */
int ocdb_dirty(const struct ocdb *o);
/* Writes dirty cursors; inside the caller's store_begin(). */
int ocdb_save(struct ocdb *o, int64_t now);
/* After the commit of an ocdb_save(): the cursors are clean. */
void ocdb_saved(struct ocdb *o);

void ocdb_stats(const struct ocdb *o, struct ocdb_stats *out);

/*
 * A new JSON array for the heartbeat's stats, one object per agent found
 * under the root: {"agent","layout":"sqlite","path","schema_version",
 * "app_version","state":"ok"|"refused"|"error"|"closed"|"missing","error"?,
 * "sessions","events_read","rows_bad"} for a database, and
 * {"agent","layout":"files","path"} for an agent still on sessions/ files.
 */
json_object *ocdb_agents_json(const struct ocdb *o);

/*
 * Decodes one zstd frame of srclen bytes that must hold exactly expect
 * bytes (both at most OCDB_MAX_EVENT_BYTES); *out is a new NUL-terminated
 * buffer.  Returns 0, or -1 with *why saying what was wrong.  dctx may be
 * NULL (a context is made for the call).
 */
int ocdb_zstd_decode(
    void *dctx, const void *src, size_t srclen, int64_t expect, char **out, const char **why);

#endif
