/*
 * store_ckpt: WAL checkpoints on a thread of their own, for a writer that
 * must not stall.
 *
 * By default SQLite checkpoints inside the commit that takes the WAL past
 * 1,000 pages: that commit copies the pages into the database file and
 * syncs it, several milliseconds during which the writer does nothing else.
 * The watcher commits after every burst of lines (hundreds a second with
 * many sessions), so those stalls were the tail of its append -> API
 * latency.  store_ckpt_start() moves them to a thread with its own
 * connection: the writer's commits only note the WAL's size (a WAL hook)
 * and wake the thread past STORE_CKPT_PAGES; the thread runs a PASSIVE
 * checkpoint, which never waits for a lock and never blocks the writer or
 * the readers.  store_ckpt_stop() joins the thread and gives the writer
 * back SQLite's own checkpoints.
 */
#ifndef LS_STORE_CKPT_H
#define LS_STORE_CKPT_H

#include <stddef.h>

#include "sql/store.h"

/* WAL pages after a commit beyond which the thread checkpoints (SQLite's own default). */
#define STORE_CKPT_PAGES 1000

struct store_ckpt;

/*
 * Starts checkpointing writer's store (at path) on a thread; NULL with err
 * set when the thread or its connection cannot start (the writer then
 * keeps SQLite's own checkpoints).
 */
struct store_ckpt *store_ckpt_start(store *writer, const char *path, char *err, size_t errlen);

/* Stops the thread and restores the writer's own checkpoints; NULL is fine. */
void store_ckpt_stop(struct store_ckpt *c);

/* Checkpoints the thread has run (for tests and health). */
long store_ckpt_count(struct store_ckpt *c);

#endif
