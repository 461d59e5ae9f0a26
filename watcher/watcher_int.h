/*
 * watcher_int: what the watcher's files share (private to watcher/watcher*.c;
 * the interface is watcher/watcher.h).
 *
 * The main loop is split by job:
 *   watcher.c        start-up, the event loop, descriptors, periodic tasks
 *   watcher_input.c  from the tailer to the model: session index, keys,
 *                    successor transcripts, lines, locks
 *   watcher_store.c  the commit of each wake-up, and the restore at start
 *   watcher_stats.c  the figures: counts, latency, the heartbeat's stats JSON
 */
#ifndef LS_WATCHER_WATCHER_INT_H
#define LS_WATCHER_WATCHER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "common/notify.h"
#include "sql/store.h"
#include "sql/store_ckpt.h"
#include "sql/store_revdir.h"
#include "mm/mm_poster.h"
#include "watcher/box.h"
#include "watcher/forward.h"
#include "watcher/health_http.h"
#include "watcher/labels.h"
#include "watcher/ocdb.h"
#include "watcher/tail.h"
#include "watcher/wconfig.h"

#define WATCHER_BUSY_TIMEOUT_MS 1000
#define WATCHER_RETRY_MS 250
#define WATCHER_SAFETY_RESCAN_MS 30000
#define WATCHER_MAX_FDS 8
/* Clock slack when comparing file birth times with our last commit. */
#define WATCHER_BORN_SLACK_MS 2000

/* Buckets of the append-to-store latency histogram (watcher_stats.c). */
#define WATCHER_LAT_N 13

/* Lines read and refused per agent (file layout), for the metrics. */
struct watcher_agent_lines {
	char *agent;
	int64_t lines_read, bad_lines;
};

struct watcher;

/* One descriptor the loop waits on; add a row to wait on one more. */
struct watcher_fd {
	int fd;
	void (*fn)(struct watcher *w);
};

/* One periodic task; add a row for one more. */
struct watcher_task {
	const char *name;
	int64_t interval_ms;
	int64_t next_ms; /* monotonic */
	void (*fn)(struct watcher *w, int64_t now);
	int enabled;
};

struct watcher {
	const struct wcfg *cfg;
	store *st;
	struct store_ckpt *ckpt; /* the store's WAL checkpoints (NULL: in the commits) */
	struct labels *labels;
	struct box_model *model;
	struct tail *tail;
	struct ocdb *ocdb; /* OpenClaw 2026.8+ agents: their SQLite databases */
	struct notify *notify;
	int epfd, sigfd;
	int stop;
	int rescan_now;
	int64_t started_ms;
	int64_t lines_read, parse_errors, bad_utf8, commits, commit_busy, notices;
	int64_t index_loads, index_errors;
	/* metrics: per-agent counts, and read times of uncommitted inputs */
	struct watcher_agent_lines *agent_lines;
	size_t nagent_lines;
	int64_t *lat_pending; /* monotonic ms each uncommitted line was read */
	size_t nlat, caplat;
	int64_t lat_counts[WATCHER_LAT_N + 1], lat_sum_ms;
	int64_t ocdb_seen; /* events_read at the last commit */
	int64_t retry_at;  /* monotonic ms of the next commit try, 0: none */
	struct watcher_fd fds[WATCHER_MAX_FDS];
	int nfds;
	struct watcher_task *tasks;
	int ntasks;
	/* the last failed store write (not busy), for health: 0 when none */
	int64_t write_failed_ms;
	char write_error[128];
	struct mm_poster *poster;    /* its own thread; NULL without MM_URL */
	struct store_revdir *revdir; /* REVISION_DIR's link, moved by w->st and the poster */
	struct forward *fwd;         /* NULL without PLUGIN_URL */
	struct health_http *health;  /* NULL with HEALTH_PORT=0 */
	/* SESSIONS_JSON outside the folder: its last stat, an inotify watch */
	int64_t sj_ino, sj_size, sj_mtime;
	struct tail_dir *sj_dir;
	int sj_fd;
};

/* ---- watcher_input.c ---------------------------------------------------- */

/* The callbacks the tailer calls (arg: the struct watcher). */
extern const struct tail_ops watcher_tail_ops;
/* The agent id of f's folder ("" when none). */
const char *watcher_agent(struct tail_file *f);
/* Reloads SESSIONS_JSON kept outside the folder when it changed. */
void watcher_check_sessions_json(struct watcher *w);

/* ---- watcher_store.c ---------------------------------------------------- */

/* Writes every pending change in one transaction; 0, or a STORE_ code. */
int watcher_commit(struct watcher *w);
/* Restores the model and the file offsets from the store; 0, or -1. */
int watcher_restore(struct watcher *w);

/* ---- watcher_stats.c ---------------------------------------------------- */

/* Counts one line read from f (bad: refused) for the metrics. */
void watcher_count_line(struct watcher *w, struct tail_file *f, int bad);
/* After a commit: every input read since the last one reached the store. */
void watcher_count_committed(struct watcher *w, int64_t events, int64_t since);
/* The stats JSON of the heartbeat (its names: sql/stats_names.h), newly
 * allocated. */
char *watcher_stats_json(struct watcher *w);
/* Writes the heartbeat row with the stats JSON. */
void watcher_task_heartbeat(struct watcher *w, int64_t now);

#endif
