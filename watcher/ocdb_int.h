/*
 * ocdb_int: what the OpenClaw database reader's files share (private to
 * watcher/ocdb*.c; the interface is watcher/ocdb.h).
 *
 * The reader is split by job:
 *   ocdb.c        the public side, cursors, and one agent's run
 *   ocdb_find.c   finding agents: discovery of folders and files, inotify
 *   ocdb_probe.c  opening a database read-only, probing its schema,
 *                 preparing the reads
 *   ocdb_read.c   reading changed windows and rows, zstd, feeding events
 *   ocdb_meta.c   session metadata: session_nodes, conversations, and the
 *                 node rows that start a run's box
 * All of them work on the same struct ocdb and struct ocdb_agent, defined
 * here; nothing here is used outside those files.
 */
#ifndef LS_WATCHER_OCDB_INT_H
#define LS_WATCHER_OCDB_INT_H

#include <sqlite3.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <zstd.h>

#include "sql/store.h"
#include "watcher/ocdb.h"
#include "watcher/transcript.h"

/* transcript_updated_at comes from the gateway's wall clock: look back this
 * far past the high-water mark so a small clock step loses nothing. */
#define OCDB_SLACK_MS 10000
/* A session_nodes row older than this when first seen starts no box. */
#define OCDB_NODE_FRESH_MS 60000
/* After an inotify event with no new commit yet (the WAL index is updated
 * just after the frames are written), look again this soon, this often. */
#define OCDB_RECHECK_MS 20
#define OCDB_RECHECKS 3
#define OCDB_RETRY_MS 5000
/*
 * A database that makes one read (a statement, or a probe) last longer than
 * this is skipped with a warning and retried later: a huge, corrupt or
 * hostile file never holds the watcher.  Checked every OCDB_PROGRESS_STEPS
 * virtual-machine steps.
 */
#define OCDB_READ_LIMIT_MS 5000
#define OCDB_PROGRESS_STEPS 10000
#define OCDB_BUSY_RETRY_MS 100
#define OCDB_RESCAN_MS 2000

enum ocdb_state {
	AG_CLOSED,  /* found, not open yet (or reopening) */
	AG_OK,      /* open and followed */
	AG_REFUSED, /* open, version or shape not supported */
	AG_ERROR,   /* cannot be opened or read; retried */
	AG_MISSING, /* the file went away */
};

enum ocdb_watch_kind {
	W_ROOT,  /* an agents/ folder: agent folders appear */
	W_AGENT, /* agents/<id>: its agent/ folder appears */
	W_DBDIR, /* the folder holding the database */
};

/* One session window's cursor: the last event given to the model. */
struct ocdb_cur {
	char *sid;
	char *key;
	char *gen;       /* rewrite generation; NULL until first read */
	int64_t seq;     /* last seq given (or skipped); -1 none */
	int64_t updated; /* transcript_updated_at when last caught up */
	char *last_id;   /* id of the last event given; "" unknown */
	int64_t last_ms; /* its time, or the time the cursor was set */
	int dirty;
	int gone; /* cold-archived: forget it */
};

/* What was last told to the model about a key. */
struct ocdb_keyinfo {
	int64_t node_updated;
	int64_t start_updated; /* the node's updated_at that last started a box */
	char *sid;
};

/* A string-keyed hash table (open addressing, never shrinks). */
struct ocdb_map {
	char **keys;
	void **vals;
	size_t cap, n;
};

struct ocdb_agent {
	char *id;
	char *dir;        /* the folder holding the file */
	char *path;       /* dir/openclaw-agent.sqlite */
	char *store_path; /* its real path: the key of its cursors */
	dev_t dev;
	ino_t ino;
	sqlite3 *db;
	int64_t read_until; /* monotonic ms: reads past it are interrupted */
	int read_limit_ms;
	enum ocdb_state state;
	char why[256];
	int version;
	char *app_version;
	int by_folder; /* the id comes from agents/<id>/agent */
	/* the shape, probed on open */
	int has_zstd, has_gen, has_cold;
	sqlite3_stmt *st_dv, *st_changed, *st_gen, *st_max, *st_events, *st_node, *st_conv;
	sqlite3_stmt *st_starts; /* session_nodes rows of runs starting; NULL: no status */
	int64_t data_version;
	int have_dv;
	int64_t high_water;
	int64_t node_water; /* session_nodes.updated_at seen; 0 until the first look */
	int loaded;         /* cursors loaded from the store */
	int known;          /* the store has (or will have) its row */
	int from_start;     /* appeared while running: read from seq 0 */
	int dirty;          /* agent row to save */
	int pending;        /* inotify said something changed */
	int more;           /* the last run's budget ran out here */
	int rechecks;
	int64_t recheck_at;
	int64_t retry_at;
	int seen; /* discovery sweep mark */
	char *refused_logged;
	struct ocdb_map curs; /* sid -> struct ocdb_cur */
	struct ocdb_map keys; /* key -> struct ocdb_keyinfo */
	struct ocdb_cur **dirty_list;
	size_t ndirty, capdirty;
	int64_t events_read, rows_bad;
};

struct ocdb_watch {
	int wd;
	enum ocdb_watch_kind kind;
	char *path;
};

struct ocdb {
	struct ocdb_config cfg;
	char *root;
	store *st;
	struct ocdb_sink sink;
	int ifd;
	int poll_only;
	struct ocdb_watch *watches;
	size_t nwatch, capwatch;
	struct ocdb_agent **agents;
	size_t nagent, capagent;
	char **file_agents; /* id, path pairs: agents on the file layout */
	size_t nfile;
	int rescan;
	int initial_done;
	int64_t next_check;
	int64_t next_rescan;
	struct tx_parser *parser;
	ZSTD_DCtx *dctx;
	struct ocdb_stats stats;
	struct ocdb_map refused; /* paths warned about: not regular, outside links */
};

/* A row copied out of the read transaction, decoded after it. */
struct ocdb_row {
	int64_t seq;
	char *text;
	size_t len;
	void *blob;
	size_t bloblen;
	int64_t utf8_bytes; /* -1: NULL */
};

/* A changed session window. */
struct ocdb_win {
	char *sid;
	char *key;
	int64_t updated;
	char *spawned_by;
	char *conv;
	int archived;
};

/* ---- ocdb.c: helpers, cursors ------------------------------------------ */

/* The slot of key in m (created empty when create), NULL when absent. */
void **ocdb_map_slot(struct ocdb_map *m, const char *key, int create);
void *ocdb_map_get(struct ocdb_map *m, const char *key);
/* Replaces *dst with a copy of src (NULL frees it); same text: no change. */
void ocdb_set(char **dst, const char *src);
/* Marks a cursor to be saved. */
void ocdb_cur_dirty(struct ocdb_agent *a, struct ocdb_cur *c);
/* Loads a's cursors from the store; -1 on a store error. */
int ocdb_load(struct ocdb *o, struct ocdb_agent *a);

/* ---- ocdb_find.c ------------------------------------------------------- */

/* 1 when path is a regular file to open (see there); warns once if not. */
int ocdb_is_file(struct ocdb *o, const char *path, struct stat *sb);
/* Sweeps the root for agents: new ones added, gone ones marked missing. */
void ocdb_discover(struct ocdb *o);
/* Reads the pending inotify events: marks agents pending, asks a rescan. */
void ocdb_drain(struct ocdb *o);

/* ---- ocdb_probe.c ------------------------------------------------------ */

void ocdb_close_db(struct ocdb_agent *a);
/* Reads the version and the shape, prepares the reads: 0, or -1 with
 * a->why set and a->state refused or error. */
int ocdb_probe(struct ocdb_agent *a);
void ocdb_log_refused(struct ocdb_agent *a);
/* Opens the file read-only and probes it; the state says how it went. */
void ocdb_open_db(struct ocdb *o, struct ocdb_agent *a);

/* ---- ocdb_read.c ------------------------------------------------------- */

void ocdb_wins_free(struct ocdb_win *w, size_t n);
/* A read failed with rc: closes or retries (see there); always -1. */
int ocdb_read_failed(struct ocdb *o, struct ocdb_agent *a, int rc);
/* Windows changed since after; 0, or -1 after ocdb_read_failed(). */
int ocdb_changed(
    struct ocdb *o, struct ocdb_agent *a, int64_t after, struct ocdb_win **out, size_t *nout);
/* The session's generation ("" never rewritten) and last seq; an SQLite code. */
int ocdb_gen_max(struct ocdb_agent *a, const char *sid, char **gen, int64_t *maxseq);
/* Reads one changed window: 1 caught up, 0 budget ran out, -1 failed. */
int ocdb_session(struct ocdb *o, struct ocdb_agent *a, struct ocdb_cur *c, int64_t updated,
    int64_t *budget, int64_t *fed, int64_t now);

/* ---- ocdb_meta.c ------------------------------------------------------- */

/* Tells the model what the database says about w's key, when that changed. */
void ocdb_meta(struct ocdb *o, struct ocdb_agent *a, const struct ocdb_win *w);
/* Starts the boxes of runs whose session_nodes row says they started. */
int ocdb_node_starts(struct ocdb *o, struct ocdb_agent *a, int64_t now);

#endif
