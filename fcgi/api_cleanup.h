/*
 * api_cleanup: the responder's periodic cleanup of the store.
 *
 * Every CLEANUP_INTERVAL_S (and once at start) active boxes with no update
 * for STALE_AFTER_S become interrupted and finished top-level boxes that
 * ended more than DELETE_AFTER_S ago are deleted with their children, in
 * write transactions of at most API_CLEANUP_BATCH top-level boxes each
 * (store_cleanup_changes), so that a long backlog (a lower DELETE_AFTER_S,
 * a store kept for long) never holds the write lock for long; after each,
 * one change notice per box goes out.  A backlog starts with batches of
 * API_CLEANUP_BATCH_START (its first pages are cold); a transaction that
 * held the lock longer than API_CLEANUP_HOLD_US halves the next batch
 * (down to API_CLEANUP_BATCH_MIN), one under a quarter of it doubles the
 * next (up to API_CLEANUP_BATCH): big boxes, a slow disk or busy cores
 * make the batches smaller rather than the lock's holds longer.  The
 * thread does one batch at a time, API_CLEANUP_PAUSE_MS apart while a
 * backlog is left: at most about 2,500 deletions a second, which keeps the
 * write lock free most of the time and stays well within what the
 * responder's snapshots follow without a full read (fcgi/api_cache.h).  Batches of 64 rather than 256 took the
 * p99 of a write -> read beside a retention in bench_growth (a million
 * boxes) from 32 to 21 ms before the other fixes of docs/benchmarks.md.
 * The thread has its own store handle and notifier and stops when stop_fd
 * (an eventfd) becomes readable.  With a revision link (REVISION_DIR), it
 * also moves the link up to the store's revision every
 * API_CLEANUP_REVDIR_MS, in case a writer failed to (sql/store_revdir.h).
 */
#ifndef LS_API_CLEANUP_H
#define LS_API_CLEANUP_H

#include <pthread.h>
#include <stdint.h>

#include "common/notify.h"
#include "sql/store.h"
#include "fcgi/api_config.h"

struct store_revdir;

struct api_cleanup {
	pthread_t thread;
	const struct api_config *cfg;
	store *st;
	struct notify *notify;
	struct store_revdir *revdir; /* NULL: no revision link */
	int stop_fd;
};

/* Top-level boxes deleted per write transaction: at most, at least, at first. */
#define API_CLEANUP_BATCH 64
#define API_CLEANUP_BATCH_MIN 4
#define API_CLEANUP_BATCH_START 16
/* The write lock hold the batch size aims under (half the 10 ms goal). */
#define API_CLEANUP_HOLD_US 5000
/* The longest api_cleanup_once() passes go on between looks at the time. */
#define API_CLEANUP_PASS_MS 1000
/* How often the thread checks the revision link. */
#define API_CLEANUP_REVDIR_MS 1000
/* The thread's pause between batches of a backlog. */
#define API_CLEANUP_PAUSE_MS 25

/* What a run of batches did: logged once, when the backlog is done. */
struct api_cleanup_tally {
	size_t interrupted, deleted;
	int64_t revision;
	int64_t longest_us; /* the longest hold of the write lock that changed something */
	size_t batches;     /* transactions that changed something */
	size_t slow;        /* of them, those that held the lock over 2 * the aim */
	size_t limit;       /* the next batch's size; 0: API_CLEANUP_BATCH_START */
	int64_t aim_us;     /* the hold to aim under; 0: API_CLEANUP_HOLD_US */
};

/* The batch size after a batch of limit boxes held the lock hold_us (aim_us the aim). */
size_t api_cleanup_next_limit(size_t limit, int64_t hold_us, int64_t aim_us);

/*
 * One pass at now_ms: batches until nothing is left or budget_ms passed,
 * added to *t; *more says a backlog is left.  Returns a STORE_ code.
 */
int api_cleanup_pass(store *st, struct notify *n, const struct api_config *cfg, int64_t now_ms,
    int64_t budget_ms, struct api_cleanup_tally *t, int *more);

/* Logs what *t counts (when anything) and zeroes it. */
void api_cleanup_report(struct api_cleanup_tally *t);

/* Passes until nothing is left; returns a STORE_ code. */
int api_cleanup_once(store *st, struct notify *n, const struct api_config *cfg, int64_t now_ms);

/* Starts the thread; c->cfg, st, notify, revdir and stop_fd are set by the caller. */
int api_cleanup_start(struct api_cleanup *c);
void api_cleanup_join(struct api_cleanup *c);

#endif
