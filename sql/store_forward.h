/*
 * store_forward: the gateway side of forwarding boxes to a central status
 * API (watcher/forward.c).
 *
 * The boxes table is the outbox: every change stamps a box with the next
 * store revision, so "what the central has not acknowledged" is every box
 * whose revision is above one number, the cursor (forward_state).  The
 * cursor belongs to one central (url) and to one life of the central's
 * store (central_store_id): when either changes, the cursor goes back to 0
 * and every box is sent again; the central keeps a box only when the
 * forwarded revision is newer than what it has, so resending is harmless.
 *
 * Box changes the central refused for good (a 4xx other than 429) are set
 * aside in forward_rejects with the reason; the cursor moves past them.
 *
 * Conventions of store.h: STORE_OK or a negative code, writes inside
 * store_begin() ... store_commit(), strings owned by the structs.
 */
#ifndef LS_STORE_FORWARD_H
#define LS_STORE_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#include "sql/store.h"

struct store_forward_state {
	char *url;              /* the central the cursor is for ("" at first) */
	char *central_store_id; /* its store id when last acknowledged */
	int64_t acked_revision; /* every change up to this one is acknowledged */
	int64_t acked_ms;       /* when the cursor last moved */
};

int store_forward_state_get(store *st, struct store_forward_state *out);
/* Writes the cursor (in a write transaction). */
int store_forward_state_put(store *st, const struct store_forward_state *in);
void store_forward_state_free(struct store_forward_state *s);

/*
 * Boxes changed after revision `after`, oldest change first, at most
 * limit; *out is freed with store_box_list_free().
 */
int
store_forward_pending(store *st, int64_t after, size_t limit, struct store_box **out, size_t *n);

/*
 * How many boxes changed after revision `after`, and the oldest
 * last_update_ms among them (0 when none).
 */
int store_forward_backlog(store *st, int64_t after, int64_t *count, int64_t *oldest_ms);

/* Sets one box change aside with the central's status and reason (write tx). */
int store_forward_reject(store *st, const char *box_id, int64_t revision, int status,
    const char *reason, int64_t now_ms);

/* Rows in forward_rejects. */
int store_forward_rejects_count(store *st, int64_t *out);

#endif
