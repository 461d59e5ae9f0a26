/*
 * api_stores: the responder's store handles, lent to its worker threads a
 * request at a time.
 *
 * Every SQLite connection keeps its own parsed schema, prepared statements
 * and page cache: about 170 KiB once it has served reads and writes.  One
 * connection per worker made that sixteen times over, though SQLite lets
 * one writer in at a time and most reads never reach the store (nginx
 * keeps them, or the shared snapshot answers them).  So the workers share
 * a few handles: a request takes one once its credentials are checked,
 * and gives it back when its answer is made, before the answer is sent.
 *
 * Reads and writes have handles of their own: a write may hold its handle
 * for STORE_BUSY_TIMEOUT_MS while another process holds the write lock,
 * and reads (WAL: never blocked by a writer) must not queue behind it.
 *
 * api_stores_take() waits when every handle of its kind is lent, at most
 * STORE_BUSY_TIMEOUT_MS, as long as SQLite itself waits for a lock; before
 * it waits it calls before_wait (the server lets another thread accept
 * meanwhile).  A handle is used by one thread at a time, which is all
 * SQLite's multi-thread mode (SQLITE_OPEN_NOMUTEX) asks.
 */
#ifndef LS_API_STORES_H
#define LS_API_STORES_H

#include <stddef.h>

#include "sql/store.h"

enum api_stores_use {
	API_STORES_READ,
	API_STORES_WRITE,
};

/* Handles of each kind for n worker threads: an eighth of them, at least 1. */
int api_stores_per_use(int threads);

struct api_stores;

/*
 * per_use handles for reads and as many for writes, of db_path; NULL with
 * a message in err when one cannot open.
 */
struct api_stores *api_stores_open(const char *db_path, int per_use, char *err, size_t errlen);

/* All handles, both kinds. */
int api_stores_count(const struct api_stores *p);

/* Handle i, for setting it up before the workers start (0 <= i < count). */
store *api_stores_at(struct api_stores *p, int i);

/*
 * A free handle for use, waiting for one when none is; NULL when none came
 * back within STORE_BUSY_TIMEOUT_MS (the caller answers "store busy").
 */
store *api_stores_take(
    struct api_stores *p, enum api_stores_use use, void (*before_wait)(void *arg), void *arg);

/* Gives back a handle api_stores_take() lent. */
void api_stores_give(struct api_stores *p, store *st);

/* Closes every handle (none may be lent); NULL is fine. */
void api_stores_close(struct api_stores *p);

#endif
