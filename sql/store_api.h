/*
 * store_api: the store functions only the responder (livestatus-fcgi)
 * uses.  Same contract as store.h: STORE_OK or a negative STORE_ code,
 * store_errmsg() for the log.
 *
 * store_cleanup_changes() is store_cleanup() that also says what it
 * changed, so the responder can publish one change notice per box: the
 * active boxes it marked interrupted (children included) and the finished
 * top-level boxes it deleted (their children go with them and are not
 * listed), at most limit of those (0: no limit) so that a long backlog goes
 * in several short transactions.  *revision is the store revision after
 * the cleanup (unchanged when nothing was done).  Free the list with
 * store_changes_free().
 */
#ifndef LS_STORE_API_H
#define LS_STORE_API_H

#include <stddef.h>
#include <stdint.h>

#include "sql/store.h"

struct store_change {
	char *id;
	char *channel_id;
	int deleted; /* 1 deleted, 0 marked interrupted */
};

int store_cleanup_changes(store *st, int64_t now_ms, int64_t stale_ms, int64_t delete_ms,
    int64_t limit, struct store_change **out, size_t *n, int64_t *revision);
void store_changes_free(struct store_change *list, size_t n);

#endif
