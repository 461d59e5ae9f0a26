/* api_cache: per-revision snapshots of every box as SessionData JSON. */
#include "fcgi/api_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "fcgi/api_box.h"

/* Filtered lists kept per snapshot; more are built per request. */
#define API_SNAP_LISTS 8

struct api_snap_box {
	char *id;
	char *channel_id;
	char *status;
	int top;
	size_t parent; /* index of the parent box, SIZE_MAX for none */
	char *json;
	size_t len;
	size_t kids_at, kids_len; /* the children array inside json */
	int nested;               /* json is in its parent's children array */
	int uniform;              /* every box nested under it has its channel or none */
};

struct api_snap_list {
	int used;
	char *status;  /* NULL: any */
	char *channel; /* NULL: any */
	char *data;
	size_t len;
};

struct api_snapshot {
	atomic_int refs;
	int64_t revision;
	struct api_snap_box *boxes; /* start order */
	size_t n;
	size_t *by_id;       /* indexes into boxes, sorted by id */
	size_t *child_start; /* CSR: children of i are child[child_start[i] ..] */
	size_t *child;
	pthread_mutex_t lock; /* guards lists */
	struct api_snap_list lists[API_SNAP_LISTS];
};

struct api_cache {
	pthread_mutex_t lock;  /* guards cur */
	pthread_mutex_t build; /* one builder at a time */
	struct api_snapshot *cur;
};

/* Build-time view of the store's list. */
struct api_snap_build {
	struct store_box *list;
	size_t n;
	size_t *child_start; /* CSR: children of i are child[child_start[i] ..] */
	size_t *child;
	unsigned char *state; /* 0 new, 1 in progress, 2 done */
	struct api_snapshot *s;
};

static int
api_snap_cmp_index(const void *a, const void *b, void *arg)
{
	const struct store_box *list = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return strcmp(list[x].id, list[y].id);
}

static size_t
api_snap_find(const struct store_box *list, const size_t *by_id, size_t n, const char *id)
{
	size_t lo = 0, hi = n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(id, list[by_id[mid]].id);
		if (c == 0)
			return by_id[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return SIZE_MAX;
}

/* 1 when a box in channel child shows under a box in channel parent as its own. */
static int
api_snap_inherits(const char *child, const char *parent)
{
	return child == NULL || child[0] == '\0' || (parent != NULL && strcmp(child, parent) == 0);
}

static void
api_snap_serialize(struct api_snap_build *bd, size_t i, int depth)
{
	struct api_buf children = { 0 }, out = { 0 };
	struct api_snap_box *sb = &bd->s->boxes[i];
	size_t k, c;
	int first = 1, uniform = 1;

	bd->state[i] = 1;
	api_buf_put(&children, "[", 1);
	if (depth < API_CACHE_MAX_DEPTH) {
		for (k = bd->child_start[i]; k < bd->child_start[i + 1]; k++) {
			c = bd->child[k];
			if (bd->state[c] == 0)
				api_snap_serialize(bd, c, depth + 1);
			if (bd->state[c] != 2)
				continue; /* a cycle: never made by the API */
			bd->s->boxes[c].nested = 1;
			if (!bd->s->boxes[c].uniform ||
			    !api_snap_inherits(bd->list[c].channel_id, bd->list[i].channel_id))
				uniform = 0;
			if (!first)
				api_buf_put(&children, ",", 1);
			api_buf_put(&children, bd->s->boxes[c].json, bd->s->boxes[c].len);
			first = 0;
		}
	}
	api_buf_put(&children, "]", 1);
	sb->kids_at = api_box_json_at(&out, &bd->list[i], children.data, children.len);
	sb->kids_len = children.len;
	sb->uniform = uniform;
	sb->json = api_buf_steal(&out, &sb->len);
	api_buf_free(&children);
	bd->state[i] = 2;
}

/* Takes the strings it keeps out of list. */
static struct api_snapshot *
api_snap_build(struct store_box *list, size_t n, int64_t revision)
{
	struct api_snapshot *s = xcalloc(1, sizeof(*s));
	struct api_snap_build bd = { .list = list, .n = n, .s = s };
	size_t *parent = xcalloc(n + 1, sizeof(*parent)), *fill, i, p;
	struct api_buf all = { 0 };
	int first = 1;

	atomic_init(&s->refs, 1);
	s->revision = revision;
	s->n = n;
	s->boxes = xcalloc(n + 1, sizeof(*s->boxes));
	s->by_id = xcalloc(n + 1, sizeof(*s->by_id));
	pthread_mutex_init(&s->lock, NULL);
	for (i = 0; i < n; i++)
		s->by_id[i] = i;
	qsort_r(s->by_id, n, sizeof(*s->by_id), api_snap_cmp_index, list);

	bd.child_start = xcalloc(n + 2, sizeof(*bd.child_start));
	bd.child = xcalloc(n + 1, sizeof(*bd.child));
	bd.state = xcalloc(n + 1, 1);
	fill = xcalloc(n + 1, sizeof(*fill));
	for (i = 0; i < n; i++) {
		parent[i] = list[i].parent_id != NULL
		    ? api_snap_find(list, s->by_id, n, list[i].parent_id)
		    : SIZE_MAX;
		if (parent[i] != SIZE_MAX)
			bd.child_start[parent[i] + 1]++;
	}
	for (i = 0; i < n; i++)
		bd.child_start[i + 1] += bd.child_start[i];
	for (i = 0; i < n; i++) {
		p = parent[i];
		if (p != SIZE_MAX)
			bd.child[bd.child_start[p] + fill[p]++] = i;
	}
	for (i = 0; i < n; i++) {
		s->boxes[i].top = parent[i] == SIZE_MAX;
		s->boxes[i].parent = parent[i];
		if (s->boxes[i].top && bd.state[i] == 0)
			api_snap_serialize(&bd, i, 0);
	}
	for (i = 0; i < n; i++)
		if (bd.state[i] == 0)
			api_snap_serialize(&bd, i, 0);

	api_buf_put(&all, "[", 1);
	for (i = 0; i < n; i++) {
		s->boxes[i].id = list[i].id;
		s->boxes[i].channel_id = list[i].channel_id;
		s->boxes[i].status = list[i].status;
		list[i].id = list[i].channel_id = list[i].status = NULL;
		if (!s->boxes[i].top)
			continue;
		if (!first)
			api_buf_put(&all, ",", 1);
		api_buf_put(&all, s->boxes[i].json, s->boxes[i].len);
		first = 0;
	}
	api_buf_put(&all, "]", 1);
	s->lists[0].used = 1;
	s->lists[0].data = api_buf_steal(&all, &s->lists[0].len);

	free(parent);
	free(fill);
	s->child_start = bd.child_start; /* for the filtered views */
	s->child = bd.child;
	free(bd.state);
	return s;
}

static void
api_snap_free(struct api_snapshot *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->boxes[i].id);
		free(s->boxes[i].channel_id);
		free(s->boxes[i].status);
		free(s->boxes[i].json);
	}
	for (i = 0; i < API_SNAP_LISTS; i++) {
		free(s->lists[i].status);
		free(s->lists[i].channel);
		free(s->lists[i].data);
	}
	pthread_mutex_destroy(&s->lock);
	free(s->boxes);
	free(s->by_id);
	free(s->child_start);
	free(s->child);
	free(s);
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

void
api_snapshot_list(
    struct api_snapshot *s, const char *status, const char *channel_id, struct api_resp *resp)
{
	struct api_snap_list *slot = NULL;
	struct api_buf b = { 0 };
	size_t i;
	int first = 1;

	if (status == NULL && channel_id == NULL) {
		/* Made with the snapshot and never changed: no lock needed. */
		api_snap_point(s, s->lists[0].data, s->lists[0].len, resp);
		return;
	}
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < API_SNAP_LISTS; i++) {
		if (!s->lists[i].used) {
			if (slot == NULL)
				slot = &s->lists[i];
			continue;
		}
		if (api_snap_same(s->lists[i].status, status) &&
		    api_snap_same(s->lists[i].channel, channel_id)) {
			api_snap_point(s, s->lists[i].data, s->lists[i].len, resp);
			pthread_mutex_unlock(&s->lock);
			return;
		}
	}
	api_buf_put(&b, "[", 1);
	for (i = 0; i < s->n; i++) {
		if (!s->boxes[i].top ||
		    (status != NULL && strcmp(s->boxes[i].status, status) != 0) ||
		    (channel_id != NULL && strcmp(s->boxes[i].channel_id, channel_id) != 0))
			continue;
		if (!first)
			api_buf_put(&b, ",", 1);
		api_buf_put(&b, s->boxes[i].json, s->boxes[i].len);
		first = 0;
	}
	api_buf_put(&b, "]", 1);
	if (slot != NULL) {
		/* Lists stay until the snapshot goes: responses point into them. */
		slot->used = 1;
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
 * Appends box i as a reader who may see channel eff (box i's own, or the
 * one it shows under) sees it: its sub-agents in other channels only when
 * may() accepts theirs, at every depth.
 */
static void
api_snap_put_for(const struct api_snapshot *s, size_t i, const char *eff,
    int (*may)(void *arg, const char *channel), void *arg, struct api_buf *b)
{
	const struct api_snap_box *sb = &s->boxes[i];
	const char *ch;
	size_t k, c;
	int first = 1;

	if (sb->uniform) {
		api_buf_put(b, sb->json, sb->len);
		return;
	}
	api_buf_put(b, sb->json, sb->kids_at);
	api_buf_put(b, "[", 1);
	for (k = s->child_start[i]; k < s->child_start[i + 1]; k++) {
		c = s->child[k];
		if (!s->boxes[c].nested)
			continue;
		ch = s->boxes[c].channel_id;
		if (!api_snap_inherits(ch, eff) && !may(arg, ch))
			continue;
		if (!first)
			api_buf_put(b, ",", 1);
		api_snap_put_for(s, c, api_snap_inherits(ch, NULL) ? eff : ch, may, arg, b);
		first = 0;
	}
	api_buf_put(b, "]", 1);
	api_buf_put(b, sb->json + sb->kids_at + sb->kids_len, sb->len - sb->kids_at - sb->kids_len);
}

void
api_snapshot_list_for(struct api_snapshot *s, const char *status, const char *channel_id,
    int (*may)(void *arg, const char *channel), void *arg, struct api_resp *resp)
{
	const char *last = NULL;
	size_t i;
	int first = 1, ok = 0;

	/* Boxes and their fragments never change once the snapshot is built. */
	resp->body.len = 0;
	api_buf_put(&resp->body, "[", 1);
	for (i = 0; i < s->n; i++) {
		if (!s->boxes[i].top ||
		    (status != NULL && strcmp(s->boxes[i].status, status) != 0) ||
		    (channel_id != NULL && strcmp(s->boxes[i].channel_id, channel_id) != 0))
			continue;
		if (last == NULL || strcmp(last, s->boxes[i].channel_id) != 0) {
			last = s->boxes[i].channel_id;
			ok = may(arg, last);
		}
		if (!ok)
			continue;
		if (!first)
			api_buf_put(&resp->body, ",", 1);
		api_snap_put_for(s, i, last, may, arg, &resp->body);
		first = 0;
	}
	api_buf_put(&resp->body, "]", 1);
}

/* The index of box id in s->boxes, or SIZE_MAX. */
static size_t
api_snap_index(const struct api_snapshot *s, const char *id)
{
	size_t lo = 0, hi = s->n, mid, i;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		i = s->by_id[mid];
		c = strcmp(id, s->boxes[i].id);
		if (c == 0)
			return i;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return SIZE_MAX;
}

int
api_snapshot_box(
    struct api_snapshot *s, const char *id, struct api_resp *resp, const char **channel_id)
{
	size_t i = api_snap_index(s, id);

	if (i == SIZE_MAX)
		return -1;
	api_snap_point(s, s->boxes[i].json, s->boxes[i].len, resp);
	if (channel_id != NULL)
		*channel_id = s->boxes[i].channel_id;
	return 0;
}

int
api_snapshot_box_for(struct api_snapshot *s, const char *id,
    int (*may)(void *arg, const char *channel), void *arg, struct api_resp *resp)
{
	size_t i = api_snap_index(s, id), j, depth;
	const char *eff = NULL;

	if (i == SIZE_MAX)
		return -1;
	/* Its own channel, else the nearest one above it. */
	for (j = i, depth = 0; j != SIZE_MAX && depth <= API_CACHE_MAX_DEPTH; depth++) {
		if (!api_snap_inherits(s->boxes[j].channel_id, NULL)) {
			eff = s->boxes[j].channel_id;
			break;
		}
		j = s->boxes[j].parent;
	}
	if (eff == NULL || !may(arg, eff))
		return 1;
	resp->body.len = 0;
	api_snap_put_for(s, i, eff, may, arg, &resp->body);
	return 0;
}

const char *
api_snapshot_top_channel(const struct api_snapshot *s, const char *id)
{
	size_t i = api_snap_index(s, id), depth;

	for (depth = 0; i != SIZE_MAX && depth <= API_CACHE_MAX_DEPTH; depth++) {
		if (s->boxes[i].top)
			return s->boxes[i].channel_id;
		i = s->boxes[i].parent;
	}
	return NULL; /* deeper than the API shows, or a cycle */
}

struct api_cache *
api_cache_new(void)
{
	struct api_cache *c = xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->build, NULL);
	return c;
}

void
api_cache_free(struct api_cache *c)
{
	if (c == NULL)
		return;
	api_snapshot_unref(c->cur);
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

int
api_cache_get(struct api_cache *c, store *st, struct api_snapshot **mine, struct api_snapshot **out)
{
	return api_cache_get_ex(c, st, mine, out, NULL, NULL);
}

int
api_cache_get_ex(struct api_cache *c, store *st, struct api_snapshot **mine,
    struct api_snapshot **out, void (*before_wait)(void *arg), void *arg)
{
	struct store_box *list = NULL;
	struct api_snapshot *s, *old;
	size_t n = 0;
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
	if ((rc = store_revision(st, &rev)) != STORE_OK ||
	    (rc = store_box_list(st, &list, &n)) != STORE_OK ||
	    (rc = store_commit(st)) != STORE_OK) {
		store_rollback(st);
		goto out;
	}
	s = api_snap_build(list, n, rev);
	api_snapshot_ref(s); /* the cache's reference */
	pthread_mutex_lock(&c->lock);
	old = c->cur;
	c->cur = s;
	pthread_mutex_unlock(&c->lock);
	api_snapshot_unref(old);
	*out = s;
	log_debug("built list snapshot", "revision", LOG_I64(rev), "boxes", LOG_I64(n));
out:
	pthread_mutex_unlock(&c->build);
	if (*out != NULL)
		api_cache_remember(mine, *out);
	store_box_list_free(list, n);
	return rc;
}
