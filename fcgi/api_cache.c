/* api_cache: per-revision snapshots of the boxes as SessionData JSON, in two parts. */
#include "fcgi/api_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "fcgi/api_part.h"

/* Filtered lists kept per snapshot; more are built per request. */
#define API_SNAP_LISTS 8

/*
 * Finished boxes the hot part may carry (trees that ended after the cold
 * part was read) before the whole store is read again into a new cold part.
 */
#define API_CACHE_HOT_SPARE 2048

/*
 * Boxes written since the cold part's revision beyond which the whole store
 * is read at once (the hot trees would be most of it).
 */
#define API_CACHE_HOT_MAX_CHANGED 16384

/*
 * Deletions since the cold part beyond which a new cold part is wanted, when
 * they are also more than a quarter of it.  The deleted boxes stay in the
 * cold part's memory until then; a new one costs a full read of the store
 * (seconds of CPU for a million boxes), so it waits until it frees enough
 * to be worth it: a retention that deletes a few percent of a big store
 * makes none.
 */
#define API_CACHE_GONE_SPARE 1024

struct api_snap_list {
	char *status;  /* NULL: any */
	char *channel; /* NULL: any */
	char *data;
	size_t len;
};

/*
 * What a reader sees at one revision: every tree of the hot part, and the
 * trees of the cold part whose top-level box is neither in the hot part nor
 * deleted.
 */
struct api_snapshot {
	atomic_int refs;
	int64_t revision;
	int64_t deletes;    /* the store's delete count at revision */
	int64_t gone_rowid; /* the newest deletion its cold part's marks took in */
	struct api_part *hot;
	struct api_part *cold;
	_Atomic(struct api_snap_list *) all; /* the unfiltered list, made on first use */
	pthread_mutex_t lock;                /* guards lists and the making of all */
	struct api_snap_list lists[API_SNAP_LISTS];
	size_t nlists;
};

struct api_cache {
	pthread_mutex_t lock;  /* guards cur */
	pthread_mutex_t build; /* one builder at a time; guards the cold fields */
	struct api_snapshot *cur;
	struct api_part *cold; /* the last full read */
	int64_t cold_revision; /* its revision */
	int64_t cold_deletes;  /* the store's delete count then */
	int64_t gone_rowid;    /* the last deletion since cold applied to it */
	int64_t gone_seen;     /* deletions since cold applied to it */

	/* the compactor (api_cache_start_compactor) */
	pthread_t compactor;
	int started;               /* its thread was started */
	atomic_int compacting;     /* its thread runs with its store */
	pthread_mutex_t wake_lock; /* guards wanted and stop */
	pthread_cond_t wake;
	int wanted, stop;
	char *db_path;
	store *compact_st; /* its store while it runs */
	atomic_long compactions;
	atomic_long merges; /* hot parts made from the last one (api_cache_hot_since) */
};

static void
api_snap_list_free(struct api_snap_list *l)
{
	if (l == NULL)
		return;
	free(l->status);
	free(l->channel);
	free(l->data);
}

static void
api_snap_free(struct api_snapshot *s)
{
	struct api_snap_list *all = atomic_load(&s->all);
	size_t i;

	for (i = 0; i < s->nlists; i++)
		api_snap_list_free(&s->lists[i]);
	api_snap_list_free(all);
	free(all);
	pthread_mutex_destroy(&s->lock);
	api_part_unref(s->hot);
	api_part_unref(s->cold);
	free(s);
}

/* A snapshot of the two parts and the deleted ids; takes the caller's references. */
static struct api_snapshot *
api_snap_new(int64_t revision, int64_t deletes, int64_t gone_rowid, struct api_part *hot,
    struct api_part *cold)
{
	struct api_snapshot *s = xcalloc(1, sizeof(*s));

	atomic_init(&s->refs, 1);
	atomic_init(&s->all, NULL);
	s->revision = revision;
	s->deletes = deletes;
	s->gone_rowid = gone_rowid;
	s->hot = hot;
	s->cold = cold;
	pthread_mutex_init(&s->lock, NULL);
	return s;
}

void
api_snapshot_ref(struct api_snapshot *s)
{
	atomic_fetch_add(&s->refs, 1);
}

void
api_snapshot_unref(struct api_snapshot *s)
{
	if (s != NULL && atomic_fetch_sub(&s->refs, 1) == 1)
		api_snap_free(s);
}

int64_t
api_snapshot_revision(const struct api_snapshot *s)
{
	return s->revision;
}

/* ---- walking the visible boxes ---- */

/* 1 when the cold tree under top-level box i of the cold part is not what readers see. */
static int
api_snap_cold_hidden(const struct api_snapshot *s, size_t i)
{
	return api_part_gone(s->cold, i, s->revision) ||
	    api_part_index(s->hot, s->cold->boxes[i].id) != SIZE_MAX;
}

/* The top-level boxes a list shows, in list order, one at a time. */
struct api_snap_iter {
	const struct api_snapshot *s;
	const char *status;  /* NULL: any */
	const char *channel; /* NULL: any */
	size_t a, b;         /* next of s->hot->tops, of s->cold->tops */
};

static void
api_snap_iter_init(
    struct api_snap_iter *it, const struct api_snapshot *s, const char *status, const char *channel)
{
	it->s = s;
	it->status = status;
	it->channel = channel;
	it->a = 0;
	/*
	 * A tree that was active when the cold part was read is still active or
	 * has changed since: it is hot.  No visible cold box is active.
	 */
	it->b = status != NULL && strcmp(status, "active") == 0 ? s->cold->ntops : 0;
}

static int
api_snap_match(const struct api_part_box *sb, const char *status, const char *channel)
{
	return (status == NULL || strcmp(sb->status, status) == 0) &&
	    (channel == NULL || strcmp(sb->channel_id, channel) == 0);
}

/* 1 when box x comes before box y in a list. */
static int
api_snap_before(const struct api_part_box *x, const struct api_part_box *y)
{
	return x->start_ms < y->start_ms || (x->start_ms == y->start_ms && x->seq < y->seq);
}

/* The next top-level box to list: 1 and its part and index, or 0 at the end. */
static int
api_snap_next(struct api_snap_iter *it, const struct api_part **p, size_t *i)
{
	const struct api_part *h = it->s->hot, *c = it->s->cold;
	const struct api_part_box *cb;

	while (
	    it->a < h->ntops && !api_snap_match(&h->boxes[h->tops[it->a]], it->status, it->channel))
		it->a++;
	for (; it->b < c->ntops; it->b++) {
		cb = &c->boxes[c->tops[it->b]];
		/* a cold tree whose top-level box is hot shows as the hot one */
		if (api_snap_match(cb, it->status, it->channel) &&
		    !api_snap_cold_hidden(it->s, c->tops[it->b]))
			break;
	}
	if (it->a == h->ntops && it->b == c->ntops)
		return 0;
	if (it->b == c->ntops ||
	    (it->a < h->ntops &&
	        api_snap_before(&h->boxes[h->tops[it->a]], &c->boxes[c->tops[it->b]]))) {
		*p = h;
		*i = h->tops[it->a++];
	} else {
		*p = c;
		*i = c->tops[it->b++];
	}
	return 1;
}

/* Finds box id: 1 and its part and index, or 0 when the snapshot does not show it. */
static int
api_snap_locate(const struct api_snapshot *s, const char *id, const struct api_part **p, size_t *i)
{
	const struct api_part *c = s->cold;
	size_t j, depth;

	if ((*i = api_part_index(s->hot, id)) != SIZE_MAX) {
		*p = s->hot;
		return 1;
	}
	if ((*i = api_part_index(c, id)) == SIZE_MAX)
		return 0;
	*p = c;
	/* a cold copy in a tree that is hot or deleted now is not there any more */
	for (j = *i, depth = 0; j != SIZE_MAX && depth <= API_PART_MAX_DEPTH; depth++) {
		if (c->boxes[j].top)
			return !api_snap_cold_hidden(s, j);
		j = c->boxes[j].parent;
	}
	return 1; /* deeper than the API shows, or a cycle: as it was read */
}

/* ---- answers ---- */

static int
api_snap_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
api_snap_release(void *hold)
{
	api_snapshot_unref(hold);
}

static void
api_snap_point(struct api_snapshot *s, const char *data, size_t len, struct api_resp *resp)
{
	api_snapshot_ref(s);
	if (resp->release != NULL)
		resp->release(resp->hold);
	resp->hold = s;
	resp->release = api_snap_release;
	resp->blob_data = data;
	resp->blob_len = len;
}

/* Writes into b the JSON array of the top-level boxes that match. */
static void
api_snap_join(
    const struct api_snapshot *s, const char *status, const char *channel_id, struct api_buf *b)
{
	const struct api_part *p;
	struct api_snap_iter it;
	size_t i;
	int first = 1;

	api_snap_iter_init(&it, s, status, channel_id);
	api_buf_put(b, "[", 1);
	while (api_snap_next(&it, &p, &i)) {
		if (!first)
			api_buf_put(b, ",", 1);
		api_buf_put(b, p->boxes[i].json, p->boxes[i].len);
		first = 0;
	}
	api_buf_put(b, "]", 1);
}

/* The unfiltered list: made once per snapshot, then read without a lock. */
static void
api_snap_list_all(struct api_snapshot *s, struct api_resp *resp)
{
	struct api_snap_list *all = atomic_load(&s->all);
	struct api_buf b = { 0 };

	if (all == NULL) {
		pthread_mutex_lock(&s->lock);
		if ((all = atomic_load(&s->all)) == NULL) {
			all = xcalloc(1, sizeof(*all));
			api_snap_join(s, NULL, NULL, &b);
			all->data = api_buf_steal(&b, &all->len);
			atomic_store(&s->all, all);
		}
		pthread_mutex_unlock(&s->lock);
	}
	api_snap_point(s, all->data, all->len, resp);
}

void
api_snapshot_list(
    struct api_snapshot *s, const char *status, const char *channel_id, struct api_resp *resp)
{
	struct api_snap_list *slot;
	struct api_buf b = { 0 };
	size_t i;

	if (status == NULL && channel_id == NULL) {
		api_snap_list_all(s, resp);
		return;
	}
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->nlists; i++) {
		slot = &s->lists[i];
		if (api_snap_same(slot->status, status) &&
		    api_snap_same(slot->channel, channel_id)) {
			api_snap_point(s, slot->data, slot->len, resp);
			pthread_mutex_unlock(&s->lock);
			return;
		}
	}
	api_snap_join(s, status, channel_id, &b);
	if (s->nlists < API_SNAP_LISTS) {
		/* Lists stay until the snapshot goes: responses point into them. */
		slot = &s->lists[s->nlists++];
		slot->status = status != NULL ? xstrdup(status) : NULL;
		slot->channel = channel_id != NULL ? xstrdup(channel_id) : NULL;
		slot->data = api_buf_steal(&b, &slot->len);
		api_snap_point(s, slot->data, slot->len, resp);
	} else {
		resp->body.len = 0;
		api_buf_put(&resp->body, b.data, b.len);
		api_buf_free(&b);
	}
	pthread_mutex_unlock(&s->lock);
}

/*
 * Appends box i of p as a reader who may see channel eff (box i's own, or
 * the one it shows under) sees it: its sub-agents in other channels only
 * when may() accepts theirs, at every depth.
 */
static void
api_snap_put_for(const struct api_part *p, size_t i, const char *eff,
    int (*may)(void *arg, const char *channel), void *arg, struct api_buf *b)
{
	const struct api_part_box *sb = &p->boxes[i];
	const char *ch;
	size_t k, c;
	int first = 1;

	if (sb->uniform) {
		api_buf_put(b, sb->json, sb->len);
		return;
	}
	api_buf_put(b, sb->json, sb->kids_at);
	api_buf_put(b, "[", 1);
	for (k = p->child_start[i]; k < p->child_start[i + 1]; k++) {
		c = p->child[k];
		if (!p->boxes[c].nested)
			continue;
		ch = p->boxes[c].channel_id;
		if (!api_part_inherits(ch, eff) && !may(arg, ch))
			continue;
		if (!first)
			api_buf_put(b, ",", 1);
		api_snap_put_for(p, c, api_part_inherits(ch, NULL) ? eff : ch, may, arg, b);
		first = 0;
	}
	api_buf_put(b, "]", 1);
	api_buf_put(b, sb->json + sb->kids_at + sb->kids_len, sb->len - sb->kids_at - sb->kids_len);
}

void
api_snapshot_list_for(struct api_snapshot *s, const char *status, const char *channel_id,
    int (*may)(void *arg, const char *channel), void *arg, struct api_resp *resp)
{
	const struct api_part *p;
	struct api_snap_iter it;
	const char *last = NULL;
	size_t i;
	int first = 1, ok = 0;

	/* Boxes and their fragments never change once the snapshot is built. */
	resp->body.len = 0;
	api_buf_put(&resp->body, "[", 1);
	api_snap_iter_init(&it, s, status, channel_id);
	while (api_snap_next(&it, &p, &i)) {
		if (last == NULL || strcmp(last, p->boxes[i].channel_id) != 0) {
			last = p->boxes[i].channel_id;
			ok = may(arg, last);
		}
		if (!ok)
			continue;
		if (!first)
			api_buf_put(&resp->body, ",", 1);
		api_snap_put_for(p, i, last, may, arg, &resp->body);
		first = 0;
	}
	api_buf_put(&resp->body, "]", 1);
}

int
api_snapshot_box(
    struct api_snapshot *s, const char *id, struct api_resp *resp, const char **channel_id)
{
	const struct api_part *p;
	size_t i;

	if (!api_snap_locate(s, id, &p, &i))
		return -1;
	api_snap_point(s, p->boxes[i].json, p->boxes[i].len, resp);
	if (channel_id != NULL)
		*channel_id = p->boxes[i].channel_id;
	return 0;
}

int
api_snapshot_box_for(struct api_snapshot *s, const char *id,
    int (*may)(void *arg, const char *channel), void *arg, struct api_resp *resp)
{
	const struct api_part *p;
	const char *eff = NULL;
	size_t i, j, depth;

	if (!api_snap_locate(s, id, &p, &i))
		return -1;
	/* Its own channel, else the nearest one above it. */
	for (j = i, depth = 0; j != SIZE_MAX && depth <= API_PART_MAX_DEPTH; depth++) {
		if (!api_part_inherits(p->boxes[j].channel_id, NULL)) {
			eff = p->boxes[j].channel_id;
			break;
		}
		j = p->boxes[j].parent;
	}
	if (eff == NULL || !may(arg, eff))
		return 1;
	resp->body.len = 0;
	api_snap_put_for(p, i, eff, may, arg, &resp->body);
	return 0;
}

const char *
api_snapshot_top_channel(const struct api_snapshot *s, const char *id)
{
	const struct api_part *p;
	size_t i, depth;

	if (!api_snap_locate(s, id, &p, &i))
		return NULL;
	for (depth = 0; i != SIZE_MAX && depth <= API_PART_MAX_DEPTH; depth++) {
		if (p->boxes[i].top)
			return p->boxes[i].channel_id;
		i = p->boxes[i].parent;
	}
	return NULL; /* deeper than the API shows, or a cycle */
}

/* ---- the cache ---- */

struct api_cache *
api_cache_new(void)
{
	struct api_cache *c = xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->build, NULL);
	pthread_mutex_init(&c->wake_lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	atomic_init(&c->compactions, 0);
	atomic_init(&c->compacting, 0);
	return c;
}

void
api_cache_free(struct api_cache *c)
{
	if (c == NULL)
		return;
	if (c->started) {
		pthread_mutex_lock(&c->wake_lock);
		c->stop = 1;
		if (c->compact_st != NULL)
			store_interrupt(c->compact_st); /* a full read in progress ends now */
		pthread_cond_signal(&c->wake);
		pthread_mutex_unlock(&c->wake_lock);
		pthread_join(c->compactor, NULL);
	}
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->wake_lock);
	free(c->db_path);
	api_snapshot_unref(c->cur);
	api_part_unref(c->cold);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->build);
	free(c);
}

/* The cached snapshot when it is at revision, referenced; else NULL. */
static struct api_snapshot *
api_cache_current(struct api_cache *c, int64_t revision)
{
	struct api_snapshot *s = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->cur != NULL && c->cur->revision == revision) {
		s = c->cur;
		api_snapshot_ref(s);
	}
	pthread_mutex_unlock(&c->lock);
	return s;
}

/* Makes *mine a reference to s (which the caller keeps its own of). */
static void
api_cache_remember(struct api_snapshot **mine, struct api_snapshot *s)
{
	if (mine == NULL || *mine == s)
		return;
	api_snapshot_ref(s);
	api_snapshot_unref(*mine);
	*mine = s;
}

/* A part of every box (full) or of the hot trees since revision since; STORE_OK or its error. */
static int
api_cache_part(store *st, int full, int64_t since, struct api_part **out)
{
	struct store_box *list = NULL;
	size_t n = 0;
	int rc;

	if (full)
		return api_part_read_all(st, out);
	rc = store_box_list_hot(st, since, &list, &n);
	if (rc == STORE_OK)
		*out = api_part_build(list, n);
	store_box_list_free(list, n);
	return rc;
}

/*
 * What the snapshot at revision rev and deletes (the store's count) needs
 * of the cold part: *need 2 when a full read must come first (there is no
 * cold part, most boxes changed since it, or the store no longer lists all
 * the deletions since), 1 when a new cold part is wanted (many deletions
 * since), else 0.  Marks the top-level boxes deleted since the last call
 * in the cold part, for readers at rev and later.
 */
static int
api_cache_since(struct api_cache *c, store *st, int64_t rev, int64_t deletes, int *need)
{
	const int64_t limit = API_CACHE_HOT_MAX_CHANGED + 1;
	struct store_gone *gone = NULL;
	int64_t changed = 0;
	size_t n = 0, i, j;
	int rc;

	*need = 2;
	if (c->cold == NULL)
		return STORE_OK;
	if ((rc = store_box_changed_since(st, c->cold_revision, limit, &changed)) != STORE_OK ||
	    changed >= limit)
		return rc;
	if ((rc = store_box_gone(st, c->cold_revision, c->gone_rowid, &gone, &n)) != STORE_OK)
		return rc;
	for (i = 0; i < n; i++) {
		c->gone_rowid = gone[i].rowid;
		c->gone_seen++;
		if (gone[i].top && (j = api_part_index(c->cold, gone[i].id)) != SIZE_MAX)
			api_part_mark_gone(c->cold, j, rev);
	}
	store_gone_free(gone, n);
	if (c->gone_seen != deletes - c->cold_deletes)
		return STORE_OK; /* some went before they were read: the marks are not whole */
	*need = c->gone_seen > API_CACHE_GONE_SPARE && c->gone_seen > (int64_t)c->cold->n / 4;
	return STORE_OK;
}

/* Reads the whole store (in a read transaction) into a part. */
static int
api_cache_read_all(store *st, struct api_part **out, int64_t *rev, int64_t *deletes)
{
	int rc;

	*out = NULL;
	if ((rc = store_begin_read(st)) != STORE_OK)
		return rc;
	if ((rc = store_revision_deletes(st, rev, deletes)) != STORE_OK ||
	    (rc = api_cache_part(st, 1, 0, out)) != STORE_OK || (rc = store_commit(st)) != STORE_OK)
		store_rollback(st);
	return rc;
}

/* Makes part the cold part, read at rev with the store's delete count deletes. */
static void
api_cache_set_cold(struct api_cache *c, struct api_part *part, int64_t rev, int64_t deletes)
{
	api_part_unref(c->cold);
	c->cold = part;
	c->cold_revision = rev;
	c->cold_deletes = deletes;
	c->gone_rowid = 0;
	c->gone_seen = 0;
}

/*
 * The hot part at the store's revision made from the last snapshot's (the
 * caller holds c->build): its trees, with those written since read again
 * in their place (api_part_merge()), so that a write costs the trees it
 * touched rather than every active one.  *out stays NULL when the last
 * snapshot stands on another cold part, the store no longer lists every
 * deletion since, or a box moved to another tree: then the caller reads
 * the hot trees whole.
 */
static int
api_cache_hot_since(struct api_cache *c, store *st, int64_t deletes, struct api_part **out)
{
	const struct api_snapshot *last = c->cur; /* only builders set it */
	struct store_gone *gone = NULL;
	struct store_box *list = NULL;
	struct api_part *fresh = NULL;
	const char **ids = NULL;
	size_t ngone = 0, n = 0, i;
	int rc;

	*out = NULL;
	if (last == NULL || last->cold != c->cold)
		return STORE_OK;
	/*
	 * The deletions after those the last snapshot's marks took in (on the
	 * same cold part, so the same count): a scan of boxes_gone from there,
	 * not of all of it.  The list may hold deletions a little older than
	 * the last snapshot, never fewer than those since, unless the store
	 * dropped some.
	 */
	if ((rc = store_box_gone(st, last->revision, last->gone_rowid, &gone, &ngone)) != STORE_OK)
		goto out;
	if ((int64_t)ngone < deletes - last->deletes)
		goto out;
	if ((rc = store_box_list_changed(st, last->revision, &list, &n)) != STORE_OK)
		goto out;
	fresh = api_part_build(list, n);
	ids = xcalloc(ngone + 1, sizeof(*ids));
	for (i = 0; i < ngone; i++)
		ids[i] = gone[i].id;
	if ((*out = api_part_merge(last->hot, fresh, ids, ngone)) != NULL)
		atomic_fetch_add(&c->merges, 1);
out:
	free(ids);
	api_part_unref(fresh);
	store_box_list_free(list, n);
	store_gone_free(gone, ngone);
	return rc;
}

/* Asks the compactor for a new cold part; 0 when there is none (then read in full). */
static int
api_cache_want(struct api_cache *c)
{
	if (!atomic_load(&c->compacting))
		return 0;
	pthread_mutex_lock(&c->wake_lock);
	c->wanted = 1;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->wake_lock);
	return 1;
}

/*
 * Reads the store (in a read transaction) into a snapshot at its revision:
 * the hot trees since the cold part's revision and the boxes deleted since.
 * The whole store is read again into a new cold part at once when
 * api_cache_since() says it must be or a box moved to another tree; when
 * one is only wanted (many deletions, too many finished boxes in the hot
 * part), the compactor reads it while readers go on, or without one at once.
 */
static int
api_cache_read(struct api_cache *c, store *st, struct api_snapshot **out)
{
	struct api_part *hot = NULL, *cold = NULL;
	int64_t rev, deletes;
	int rc, need;

	if ((rc = store_revision_deletes(st, &rev, &deletes)) != STORE_OK ||
	    (rc = api_cache_since(c, st, rev, deletes, &need)) != STORE_OK)
		return rc;
	if (need == 1 && !api_cache_want(c))
		need = 2;
	for (;;) {
		if (need == 2) {
			if ((rc = api_cache_part(st, 1, 0, &cold)) != STORE_OK)
				break;
			api_cache_set_cold(c, cold, rev, deletes);
		}
		if (need != 2 && hot == NULL &&
		    (rc = api_cache_hot_since(c, st, deletes, &hot)) != STORE_OK)
			break;
		if (hot == NULL && (rc = api_cache_part(st, 0, c->cold_revision, &hot)) != STORE_OK)
			break;
		if (need == 2 ||
		    (!api_part_moved(hot, c->cold) &&
		        (hot->n - hot->active <= API_CACHE_HOT_SPARE || api_cache_want(c))))
			break;
		api_part_unref(hot);
		hot = NULL;
		need = 2;
	}
	if (rc != STORE_OK)
		return rc;
	api_part_ref(c->cold);
	*out = api_snap_new(rev, deletes, c->gone_rowid, hot, c->cold);
	log_debug("built list snapshot", "revision", LOG_I64(rev), "hot", LOG_I64((int64_t)hot->n),
	    "cold", LOG_I64((int64_t)c->cold->n), "gone", LOG_I64(c->gone_seen), "full",
	    LOG_I64(need == 2));
	return STORE_OK;
}

/* ---- the compactor ---- */

/* One full read in the compactor's own read transaction, then the swap. */
static void
api_cache_compact_once(struct api_cache *c, store *st)
{
	struct api_part *part = NULL;
	int64_t rev = 0, deletes = 0;

	if (api_cache_read_all(st, &part, &rev, &deletes) != STORE_OK) {
		pthread_mutex_lock(&c->wake_lock);
		if (!c->stop) /* else interrupted by api_cache_free() */
			log_warn("snapshot compactor: reading the store failed", "err",
			    store_errmsg(st));
		pthread_mutex_unlock(&c->wake_lock);
		return;
	}
	pthread_mutex_lock(&c->build);
	if (c->cold == NULL || rev > c->cold_revision) {
		api_cache_set_cold(c, part, rev, deletes);
		part = NULL;
	}
	pthread_mutex_unlock(&c->build);
	api_part_unref(part); /* a full read by a builder was newer */
	atomic_fetch_add(&c->compactions, 1);
	log_debug("snapshot compactor: new cold part", "revision", LOG_I64(rev));
}

static void *
api_cache_compact_run(void *arg)
{
	struct api_cache *c = arg;
	store *st = NULL;
	char err[256];

	if (store_open(c->db_path, &st, err, sizeof(err)) != STORE_OK) {
		log_warn("snapshot compactor: cannot open the store; full reads block readers",
		    "err", err);
		atomic_store(&c->compacting, 0);
		return NULL;
	}
	pthread_mutex_lock(&c->wake_lock);
	c->compact_st = st;
	for (;;) {
		while (!c->wanted && !c->stop)
			pthread_cond_wait(&c->wake, &c->wake_lock);
		if (c->stop)
			break;
		c->wanted = 0;
		pthread_mutex_unlock(&c->wake_lock);
		api_cache_compact_once(c, st);
		pthread_mutex_lock(&c->wake_lock);
	}
	c->compact_st = NULL;
	pthread_mutex_unlock(&c->wake_lock);
	store_close(st);
	return NULL;
}

int
api_cache_start_compactor(struct api_cache *c, const char *db_path)
{
	int rc;

	c->db_path = xstrdup(db_path);
	atomic_store(&c->compacting, 1);
	if ((rc = pthread_create(&c->compactor, NULL, api_cache_compact_run, c)) != 0) {
		atomic_store(&c->compacting, 0);
		log_warn("cannot start the snapshot compactor: full reads block readers", "err",
		    strerror(rc));
		return -1;
	}
	c->started = 1;
	return 0;
}

long
api_cache_compactions(struct api_cache *c)
{
	return atomic_load(&c->compactions);
}

long
api_cache_merges(struct api_cache *c)
{
	return atomic_load(&c->merges);
}

int
api_cache_get(struct api_cache *c, store *st, struct api_snapshot **mine, struct api_snapshot **out)
{
	return api_cache_get_ex(c, st, mine, out, NULL, NULL);
}

int
api_cache_get_ex(struct api_cache *c, store *st, struct api_snapshot **mine,
    struct api_snapshot **out, void (*before_wait)(void *arg), void *arg)
{
	struct api_snapshot *s = NULL, *old;
	int64_t rev;
	int rc;

	*out = NULL;
	if ((rc = store_revision(st, &rev)) != STORE_OK)
		return rc;
	if (mine != NULL && *mine != NULL && (*mine)->revision == rev) {
		api_snapshot_ref(*mine);
		*out = *mine;
		return STORE_OK;
	}
	if ((*out = api_cache_current(c, rev)) != NULL) {
		api_cache_remember(mine, *out);
		return STORE_OK;
	}
	if (before_wait != NULL)
		before_wait(arg);
	pthread_mutex_lock(&c->build);
	/* Another thread may have built it while this one waited. */
	if ((*out = api_cache_current(c, rev)) != NULL)
		goto out;
	if ((rc = store_begin_read(st)) != STORE_OK)
		goto out;
	if ((rc = api_cache_read(c, st, &s)) != STORE_OK || (rc = store_commit(st)) != STORE_OK) {
		store_rollback(st);
		api_snapshot_unref(s);
		goto out;
	}
	api_snapshot_ref(s); /* the cache's reference */
	pthread_mutex_lock(&c->lock);
	old = c->cur;
	c->cur = s;
	pthread_mutex_unlock(&c->lock);
	api_snapshot_unref(old);
	*out = s;
out:
	pthread_mutex_unlock(&c->build);
	if (*out != NULL)
		api_cache_remember(mine, *out);
	return rc;
}
