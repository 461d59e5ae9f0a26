/*
 * api_cleanup: the responder's periodic cleanup of the store.
 *
 * Every CLEANUP_INTERVAL_S (and once at start) active boxes with no update
 * for STALE_AFTER_S become interrupted and finished top-level boxes that
 * ended more than DELETE_AFTER_S ago are deleted with their children, in
 * one write transaction (store_cleanup_changes), then one change notice
 * per box goes out.  The thread has its own store handle and notifier and
 * stops when stop_fd (an eventfd) becomes readable.
 */
#ifndef LS_API_CLEANUP_H
#define LS_API_CLEANUP_H

#include <pthread.h>
#include <stdint.h>

#include "common/notify.h"
#include "sql/store.h"
#include "fcgi/api_config.h"

struct api_cleanup {
	pthread_t thread;
	const struct api_config *cfg;
	store *st;
	struct notify *notify;
	int stop_fd;
};

/* One cleanup pass at now_ms; returns a STORE_ code. */
int api_cleanup_once(store *st, struct notify *n, const struct api_config *cfg, int64_t now_ms);

/* Starts the thread; c->cfg, st, notify and stop_fd are set by the caller. */
int api_cleanup_start(struct api_cleanup *c);
void api_cleanup_join(struct api_cleanup *c);

#endif
