/*
 * forward: the watcher's feed to a central status API, for gateways on
 * other hosts than Mattermost's nginx (docs/deployments.md).
 *
 * Data flows one way: store -> forward -> central.  The forwarder is a
 * thread of livestatus-watcher with its own store handle; it never sees
 * transcripts.  The local store is the source of truth and the outbox:
 * every box whose store revision is above the cursor (store_forward.h) has
 * a change the central has not acknowledged.  Each round sends those
 * boxes, oldest change first, in one POST <PLUGIN_URL>/api/v1/gateway/boxes
 * (at most FORWARD_BATCH_MAX boxes and about 512 KiB, a parent always with
 * its pending children), and moves the cursor past them once the central
 * has answered for every one.  A restart, kill -9 or an outage therefore
 * loses nothing: the cursor is committed only after the answer, and a box
 * sent twice is harmless (the central keeps a box only when the forwarded
 * revision is newer than its own copy).
 *
 * After a start, an empty batch asks which store answers first: when it is
 * the watcher's own (one host, PLUGIN_URL left from v4.1 naming the local
 * API), there is nothing to forward (state same_store, logged once).
 *
 * Answers:
 *  - 200: per box "stored", "unchanged" or "rejected" (set aside in
 *    forward_rejects with the reason, logged, counted; never retried).  The
 *    answer's store_id names the central's store: when it changes (the
 *    central's store was lost and made anew) every box is sent again.
 *  - no answer, 5xx, 429, 408 or an unreadable 200: retried with
 *    exponential backoff and jitter (1 s doubling to FORWARD_MAX_BACKOFF_S),
 *    or after Retry-After when the central says so.
 *  - 401/403: the key is refused; state "auth_failed", retried at the
 *    backoff's pace (the key may be fixed on the central).
 *  - 413: the batch is halved; a single box still too large is rejected.
 *  - another 4xx: the batch is split to single boxes; a single box refused
 *    so is rejected.
 * A new kind of failure is logged once when it starts; recovery is logged
 * with the number of failed attempts.
 *
 * Wiring (watcher/watcher.c): forward_start() after the store is open,
 * forward_kick() after each commit that changed boxes, forward_stop() at
 * the end (flushes for at most flush_ms), forward_status() for health.
 */
#ifndef LS_WATCHER_FORWARD_H
#define LS_WATCHER_FORWARD_H

#include <stddef.h>
#include <stdint.h>

/* Most boxes in one request. */
#define FORWARD_BATCH_MAX 200

struct forward_config {
	const char *url;         /* PLUGIN_URL: the central API's base */
	const char *key;         /* PLUGIN_SECRET: this gateway's key */
	const char *gateway;     /* GATEWAY_NAME */
	const char *ca_file;     /* CA_FILE; NULL: the system's CAs */
	const char *db;          /* the local store */
	long connect_timeout_ms; /* FORWARD_CONNECT_TIMEOUT_MS */
	long timeout_ms;         /* FORWARD_TIMEOUT_MS, a whole request */
	long max_backoff_ms;     /* FORWARD_MAX_BACKOFF_S */
};

struct forward;

/* What health and metrics show; a copy taken under the forwarder's lock. */
struct forward_status {
	char state[16]; /* ok, retrying, auth_failed, same_store, stopped */
	char last_error[256];
	int64_t queue;  /* boxes with a change not yet acknowledged */
	int64_t lag_ms; /* age of the oldest unacknowledged change */
	int64_t acked_revision;
	int64_t requests; /* sent */
	int64_t failures; /* requests without a usable answer */
	int64_t boxes_sent;
	int64_t bytes_sent; /* request bodies */
	int64_t boxes_stored;
	int64_t boxes_unchanged;
	int64_t rejected;   /* box changes set aside */
	int64_t resends;    /* times every box was sent again (new central store) */
	int64_t last_ok_ms; /* wall clock of the last acknowledged batch, 0: none */
	long last_status;   /* HTTP status of the last answer, 0: none */
};

/*
 * Starts the thread; NULL with a reason in err when it cannot (store or
 * libcurl).  The config's strings are copied.
 */
struct forward *forward_start(const struct forward_config *cfg, char *err, size_t errlen);

/* Something was committed: look at the outbox now.  NULL is fine. */
void forward_kick(struct forward *f);

/*
 * Stops the thread after sending what is pending, for at most flush_ms
 * (or until the central fails), and frees f.  NULL is fine.
 */
void forward_stop(struct forward *f, long flush_ms);

/* The figures above; zeros and state "off" for NULL. */
void forward_status(struct forward *f, struct forward_status *out);

#endif
