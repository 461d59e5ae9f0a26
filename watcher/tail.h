/*
 * tail: follows OpenClaw's sessions folders and hands over complete lines.
 *
 * The root is either one sessions folder or an agents/ folder holding
 * <agentId>/sessions/ folders (agents and their folders may appear later).
 * Every sessions folder is watched with inotify; a lost event queue
 * (IN_Q_OVERFLOW) or a lost watch leads to a full rescan, which compares
 * every file with what was read and so misses nothing.  Where inotify cannot
 * be used (or polling is forced), the caller runs tail_rescan() every poll
 * interval instead and gets the same result later.
 *
 * Transcripts are read by byte offset: only '\n'-terminated lines are handed
 * over, a partial last line is kept until it is complete, a line longer than
 * TAIL_MAX_LINE is dropped (reported through bad_line) and reading goes on
 * after it.  A file that shrinks or gets a new inode is reported through
 * reset and read again from its start.  Names that are not live transcripts
 * (".checkpoint.", ".trajectory.", ".reset.", ".deleted.", "*.lock",
 * "*.tmp", "sessions.json.bak.*") are ignored; "<transcript>.lock" files
 * are reported as the gateway's run lock of that transcript, which may
 * exist before the transcript itself.
 *
 * Where reading starts: at the offset given by tail_restore() (stored by an
 * earlier run; a different inode or a smaller file means from the start,
 * with reset); else, for a file present when tail_start() first scans, at
 * its end (no backlog); likewise for a file already in a folder that shows
 * up later (a new agent, a folder moved in) unless its run lock is held (a
 * new agent's first run); else (created later) at its first byte.  A folder
 * that goes away keeps its files' places: when it comes back they go on.
 *
 * Work per call is bounded (TAIL_READ_BUDGET bytes per file): when more is
 * waiting, tail_backlog() is non-zero and the caller calls tail_continue()
 * again without sleeping.  All callbacks run inside tail_start(),
 * tail_handle(), tail_rescan() and tail_continue(), in this order per batch:
 * index (sessions.json changed), locks that appeared, lines of each file,
 * then locks that went away.
 *
 * Offsets: every file whose (inode, offset) changed since tail_mark_clean()
 * is listed by tail_dirty(); the caller stores them with the lines' effects
 * in one transaction and then calls tail_mark_clean().
 *
 * A transcript that goes away from a folder that is still there (`/new` and
 * `/reset` rename it to "<name>.reset.<ts>", a deletion renames it to
 * ".deleted.") is finished: what was appended to it since the last read is
 * read from the renamed file (found by its inode) first, then, once its run
 * lock is gone too, the file is listed by tail_dirty() with gone set: the
 * caller deletes its stored offset, and tail_mark_clean() forgets it.  The
 * same happens at start-up for a stored file that is no longer there.
 */
#ifndef LS_WATCHER_TAIL_H
#define LS_WATCHER_TAIL_H

#include <stddef.h>
#include <stdint.h>

#define TAIL_MAX_LINE (16u * 1024 * 1024)
#define TAIL_READ_BUDGET (4u * 1024 * 1024)

struct tail_dir {
	char *path;                                 /* the sessions folder */
	char *agent_id;                             /* from agents/<id>/sessions, else "main" */
	void *user;                                 /* the caller's (its session index) */
	int wd;                                     /* inotify watch, -1 when none */
	int64_t json_ino, json_size, json_mtime_ns; /* sessions.json as last seen */
	int seen;
};

struct tail_file {
	char *path;       /* absolute */
	const char *name; /* basename, inside path */
	struct tail_dir *dir;
	uint64_t inode; /* 0: not seen yet */
	int64_t offset; /* end of the last complete line handed over */
	int exists;
	int lock; /* "<path>.lock" present */
	/* The caller's per-file cache (tail frees key). */
	char *key;
	unsigned key_gen;
	/* private */
	char *buf;
	size_t len, cap;
	int64_t skipped; /* bytes of an over-long line dropped so far */
	int skipping;
	uint64_t committed_inode;
	int64_t committed_offset;
	int dirty, queued, lock_check, lock_seen, seen, backlog, restored, saved;
	int gone;     /* vanished: the caller deletes its row, then it is freed */
	int refused;  /* not a regular file, or a link out of the root: warned once */
	int with_dir; /* found in the first scan of a folder that came later */
	struct tail_file *hnext;
};

struct tail_ops {
	void *arg;
	/* A folder appeared (also at start) or its sessions.json changed. */
	void (*index)(void *arg, struct tail_dir *d);
	void (*line)(void *arg, struct tail_file *f, const char *line, size_t len);
	/* A line was dropped: longer than TAIL_MAX_LINE. */
	void (*bad_line)(void *arg, struct tail_file *f, const char *why);
	/* The file was truncated or replaced; reading restarts at 0. */
	void (*reset)(void *arg, struct tail_file *f);
	void (*lock)(void *arg, struct tail_file *f, int present);
	/* A folder is forgotten (gone, or tail_free()): release d->user. */
	void (*dir_gone)(void *arg, struct tail_dir *d);
};

struct tail_stats {
	int64_t files, dirs, bytes_read, rescans, overflows, bad_lines;
	int64_t refused; /* reads refused: FIFO, socket, device, folder, outside link */
	int inotify;     /* 1 when inotify is in use */
};

struct tail;

/*
 * A tailer of root (not yet scanning).  use_inotify 0 forces polling.
 * Returns NULL with a message in err when root cannot be read.
 */
struct tail *
tail_new(const char *root, const struct tail_ops *ops, int use_inotify, char *err, size_t errlen);
void tail_free(struct tail *t);

/*
 * Transcripts are opened without blocking and only when they are regular
 * files; a symbolic link is followed only when it stays inside root,
 * unless on (FOLLOW_OUTSIDE_LINKS=1).  Anything refused is warned about
 * once per file and counted (tail_stats.refused).
 */
void tail_follow_outside_links(struct tail *t, int on);

/* Before tail_start(): what an earlier run stored for path. */
void
tail_restore(struct tail *t, const char *path, uint64_t inode, int64_t offset, const char *key);

/*
 * Before tail_start(): the times (ms since the epoch) of the earlier run's
 * last commit and of its last moment alive (heartbeat or clean stop).  A
 * file present at the first scan with no stored offset may have begun
 * while the watcher was down, and is read from its start, when its first
 * event is not older than alive_ms (less two minutes of clock skew); a
 * file without a time inside, when it was born (statx btime) after
 * since_ms.  Others (a folder restored from a backup or copied from
 * another host) are read from their end: nothing old is shown.  0: unknown.
 */
void tail_set_since(struct tail *t, int64_t since_ms, int64_t alive_ms);

/* The first scan: folders, sessions.json files, transcripts, locks. */
void tail_start(struct tail *t);

/* The inotify descriptor to wait on, or -1 when polling. */
int tail_fd(struct tail *t);
/*
 * 1 when the caller must call tail_rescan() every poll interval: polling, or
 * the root folder is gone (nothing can tell when it comes back).
 */
int tail_polling(struct tail *t);

/* Reads the pending inotify events and acts on them. */
void tail_handle(struct tail *t);
/* Compares every folder and file with what was read (overflow, polling). */
void tail_rescan(struct tail *t);
/* Goes on reading files that hit the per-call budget. */
void tail_continue(struct tail *t);
int tail_backlog(struct tail *t);

/*
 * 1 when a file other than except whose key (the caller's cache) is key
 * holds its run lock: a session rotated to a successor file may hold two.
 */
int tail_lock_held(struct tail *t, const char *key, const struct tail_file *except);

/* The file followed at path, or NULL. */
struct tail_file *tail_file_find(struct tail *t, const char *path);

size_t tail_dirty(struct tail *t, struct tail_file ***out);
void tail_mark_clean(struct tail *t);

void tail_stats(struct tail *t, struct tail_stats *out);

/* 1 when a file name in a sessions folder is a live transcript. */
int tail_is_transcript(const char *name);

#endif
