/*
 * store_ckpt: WAL checkpoints on a thread of their own, for writers that
 * must not stall.
 *
 * By default SQLite checkpoints inside the commit that takes the WAL past
 * 1,000 pages: that commit copies the pages into the database file and
 * syncs it, several milliseconds during which the writer does nothing else.
 * The watcher commits after every burst of lines (hundreds a second with
 * many sessions), and the responder's API writes commit beside a cleanup
 * that writes hundreds of pages per batch, so those stalls were the tail of
 * their latencies.  store_ckpt_start() moves them to a thread with its own
 * connection: the commits of the writers it watches only note the WAL's
 * size (a WAL hook) and wake the thread past STORE_CKPT_PAGES; the thread
 * runs a PASSIVE checkpoint, which never waits for a lock and never blocks
 * a writer or a reader.  store_ckpt_stop() joins the thread and gives the
 * writers back SQLite's own checkpoints.
 */
#ifndef LS_STORE_CKPT_H
#define LS_STORE_CKPT_H

#include <stddef.h>

#include "sql/store.h"

/* WAL pages after a commit beyond which the thread checkpoints (SQLite's own default). */
#define STORE_CKPT_PAGES 1000

struct store_ckpt;

/*
 * Starts the checkpoint thread with its own connection to the store at
 * path; NULL with err set when it cannot (writers then keep SQLite's own
 * checkpoints).
 */
struct store_ckpt *store_ckpt_start(const char *path, char *err, size_t errlen);

/*
 * From now on writer's commits wake the thread instead of checkpointing
 * themselves.  Call before writer is used, from the thread that set it up;
 * c may be NULL (nothing changes).
 */
void store_ckpt_watch(struct store_ckpt *c, store *writer);

/*
 * Stops the thread and gives the watched writers SQLite's own checkpoints
 * back: call while they are still open and no longer used.  NULL is fine.
 */
void store_ckpt_stop(struct store_ckpt *c);

/* Checkpoints the thread has run (for tests and health). */
long store_ckpt_count(struct store_ckpt *c);

#endif
