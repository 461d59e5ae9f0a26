/*
 * api_cache: every box serialized once per store revision, shared by all
 * worker threads.
 *
 * A snapshot is an immutable picture of the store at one revision: each
 * box's SessionData JSON with its children nested, and the list answers
 * made from them.  Reads cost one "SELECT revision" plus a lookup; when the
 * revision moved, one thread reads the store again (the others wait for
 * it, then share the result).  Snapshots are reference counted: a response
 * keeps the one it points into until it is written, however many newer
 * ones appear meanwhile.
 *
 * A snapshot is made of two parts, so that the cost of a write does not
 * grow with the finished boxes kept in the store:
 *   - the cold part: the whole store as one full read found it, shared by
 *     every snapshot until the next full read;
 *   - the hot part: the whole trees that hold an active box or a box
 *     written since the cold part's revision (store_box_list_hot()), made
 *     at every revision from the last snapshot's hot part with only the
 *     trees written since read again (store_box_list_changed(),
 *     api_part_merge()), so that a write costs the trees it touched, not
 *     every active one; read whole after a full read, when the store no
 *     longer lists every deletion since, or when a box moved to another
 *     tree.
 * A reader sees every hot tree and the cold trees whose top-level box is
 * neither hot nor deleted (the store lists deletions: sql/schema.sql).  A
 * new cold part is needed at once when there is none, most boxes changed,
 * the store no longer lists every deletion since, or a box moved to
 * another tree; it is wanted when many boxes were deleted or the hot part
 * carries more than a few thousand finished boxes: then the compactor
 * thread (api_cache_start_compactor) reads the store in full while readers
 * go on with the parts they have, and swaps it in.  Without a compactor,
 * wanted means at once.
 *
 * The unfiltered list is made on first use and then read without a lock;
 * filtered lists (?status=, ?channel_id=) are made on first use from the
 * top-level fragments and kept in the snapshot, a few per snapshot.  A
 * reader that may see only some channels (a Mattermost login) gets the
 * same fragments, re-joined without the sub-agents of other channels
 * wherever a box has such a sub-agent under it (each box knows whether it
 * has: then its fragment is used whole).
 *
 * Children nest to any depth up to API_PART_MAX_DEPTH (fcgi/api_part.h);
 * deeper boxes (and boxes in a parent cycle, which the API never makes) are
 * left out.
 */
#ifndef LS_API_CACHE_H
#define LS_API_CACHE_H

#include <stdint.h>

#include "sql/store.h"
#include "fcgi/api_http.h"

struct api_cache;
struct api_snapshot;

struct api_cache *api_cache_new(void);
void api_cache_free(struct api_cache *c);

/*
 * The snapshot at the store's current revision, built when the cached one
 * is older; the caller owns a reference.  STORE_OK or a store error code.
 *
 * mine (may be NULL) is a worker's own reference to the last snapshot it
 * used: when that one is still current no lock is taken at all; otherwise
 * it is replaced.  Release it with api_snapshot_unref() when the worker
 * ends.
 */
int api_cache_get(
    struct api_cache *c, store *st, struct api_snapshot **mine, struct api_snapshot **out);

/*
 * The same; before it waits for a build (its own or another thread's), it
 * calls before_wait(arg) when that is not NULL.  A current snapshot costs
 * no call, no lock and no allocation.
 */
int api_cache_get_ex(struct api_cache *c, store *st, struct api_snapshot **mine,
    struct api_snapshot **out, void (*before_wait)(void *arg), void *arg);

/*
 * Starts the compactor thread, with its own connection to the store at
 * db_path; api_cache_free() stops it.  0, or -1 (logged) when the thread
 * cannot start: then full reads happen in the readers' way.
 */
int api_cache_start_compactor(struct api_cache *c, const char *db_path);

/* How many cold parts the compactor has read (for tests). */
long api_cache_compactions(struct api_cache *c);

/* How many hot parts were made from the last one rather than read whole (for tests). */
long api_cache_merges(struct api_cache *c);

int64_t api_snapshot_revision(const struct api_snapshot *s);
void api_snapshot_ref(struct api_snapshot *s);
void api_snapshot_unref(struct api_snapshot *s);

/*
 * Points resp's body at the JSON array of top-level boxes that match
 * status and channel_id (NULL matches any), taking a reference on s.
 */
void api_snapshot_list(
    struct api_snapshot *s, const char *status, const char *channel_id, struct api_resp *resp);

/*
 * Writes into resp's body the top-level boxes that match status and
 * channel_id and whose channel may(arg, channel) accepts: the list of a
 * reader who sees only some channels.  Their children are pruned the way
 * api_snapshot_box_for() does.  Not cached; may is called without any
 * lock held, once per run of boxes in the same channel and once per
 * sub-agent in another channel than its parent's (the caller caches its
 * answers).
 */
void api_snapshot_list_for(struct api_snapshot *s, const char *status, const char *channel_id,
    int (*may)(void *arg, const char *channel), void *arg, struct api_resp *resp);

/*
 * Points resp's body at the SessionData of box id (any depth) with its
 * children; 0, or -1 when the snapshot has no such box.  *channel_id (may
 * be NULL) gets the box's channel, valid while s is referenced.
 */
int api_snapshot_box(
    struct api_snapshot *s, const char *id, struct api_resp *resp, const char **channel_id);

/*
 * Writes into resp's body box id as a reader who sees only some channels
 * sees it.  A box's channel is its own, or when it has none the nearest
 * one above it (a DM's sub-agents carry none); the reader must be in it
 * (may() accepts it), and the same rule prunes the children at every depth:
 * a sub-agent in a channel the reader is not in is left out with all that
 * is under it.  0; 1 when the reader may not see the box (nothing
 * written; a box without any channel is no Mattermost reader's); -1 when
 * s has no such box.
 */
int api_snapshot_box_for(struct api_snapshot *s, const char *id,
    int (*may)(void *arg, const char *channel), void *arg, struct api_resp *resp);

/*
 * The channel of the top-level box above box id (its own when it is one),
 * valid while s is referenced; NULL when s has no such box or its parent
 * chain does not end at a top-level box.
 */
const char *api_snapshot_top_channel(const struct api_snapshot *s, const char *id);

#endif
