/*
 * tail_int: what the tailer's files share (private to watcher/tail*.c; the
 * interface is watcher/tail.h).
 *
 * The tailer is split by job:
 *   tail.c       the handle, the file table, dirty and queued files, stats
 *   tail_read.c  reading bytes: new lines, rewrites, vanished files, locks
 *   tail_scan.c  finding folders and files, inotify watches and events
 */
#ifndef LS_WATCHER_TAIL_INT_H
#define LS_WATCHER_TAIL_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/inotify.h>

#include "watcher/tail.h"

#define TAIL_CHUNK (1u * 1024 * 1024)
/* Room a buffer keeps past a line not yet ended (tail_trim). */
#define TAIL_SLACK 4096u
/* How much of a new transcript is read for its first event's time. */
#define TAIL_FIRST_EVENT_BYTES 16384
/* A first event this much older than the last heartbeat still counts as new. */
#define TAIL_CLOCK_SKEW_MS (2 * 60 * 1000)
#define TAIL_DIR_MASK \
	(IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
	    IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define TAIL_TREE_MASK \
	(IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | \
	    IN_ONLYDIR)

struct tail_watch {
	int wd;
	char *path; /* an agents/ or agents/<id>/ folder */
	int seen;
};

struct tail {
	char *root;
	int agents_mode;
	struct tail_ops ops;
	int ifd;
	int polling;
	int root_lost;    /* root is gone: look for it every poll interval */
	int initial;      /* inside the first scan: unknown files start at their end */
	int64_t since_ms; /* the last commit before this start */
	int64_t alive_ms; /* the last moment the watcher was alive before it */
	struct tail_dir **dirs;
	size_t ndirs;
	struct tail_watch *watches;
	size_t nwatches;
	struct tail_file **buckets;
	struct tail_file **files; /* every file, for scans */
	size_t nfiles, capfiles, nbuckets;
	struct tail_file **queue; /* files to read in this batch */
	size_t nqueue, capqueue;
	struct tail_file **dirty;
	size_t ndirty, capdirty;
	int64_t bytes_read, rescans, overflows, bad_lines;
	int64_t refused;   /* reads refused: not a regular file, or an outside link */
	int outside_links; /* FOLLOW_OUTSIDE_LINKS: links out of root are read too */
};

/* ---- tail.c ------------------------------------------------------------- */

int tail_ends_with(const char *s, const char *suffix);
/* "<transcript>.lock" for a live transcript name: 1. */
int tail_is_lock(const char *name);
void tail_dir_free(struct tail *t, struct tail_dir *d);
/* The file for path, made when new (offset 0: a file created at run time). */
struct tail_file *tail_file_get(struct tail *t, const char *path, struct tail_dir *d);
/* Queues f to be read in this batch. */
void tail_queue(struct tail *t, struct tail_file *f);
/* Marks f's offset to be stored. */
void tail_mark_dirty(struct tail *t, struct tail_file *f);

/* ---- tail_read.c -------------------------------------------------------- */

/* Reports new locks, reads the queued files, then reports gone locks. */
void tail_flush(struct tail *t);
/* f is no longer in its folder: reads what was appended, then drops it. */
void tail_vanished(struct tail *t, struct tail_file *f);

/* ---- tail_scan.c -------------------------------------------------------- */

int tail_isdir(const char *path);
/* The sessions folder layout: 1 when root holds <agent>/sessions folders. */
int tail_detect_agents(const char *root);

#endif
