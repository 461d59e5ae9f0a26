/* api_part: building whole trees of boxes as SessionData JSON. */
#include "fcgi/api_part.h"

#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "fcgi/api_box.h"

/*
 * A part is built in two steps: each box's own JSON, with an empty
 * children array, as the store hands it over (api_part_add); then, once
 * every box is there, the links and the children nested into their
 * parents' JSON, deepest first (api_part_finish).
 */
struct api_part_builder {
	struct api_part *p;
	size_t cap;
	char **parent_ids;    /* per box, NULL for none */
	unsigned char *state; /* 0 new, 1 in progress, 2 done */
	struct api_buf buf;
};

/* The status of a box as one of the four static strings (boxes share them). */
static const char *
api_part_status(const char *s)
{
	static const char *const known[] = { "active", "done", "error", "interrupted" };
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(*known); i++)
		if (strcmp(s, known[i]) == 0)
			return known[i];
	return NULL;
}

/* Room for one more box at p->boxes[p->n] (and its parent id). */
static struct api_part_box *
api_part_slot(struct api_part_builder *bd)
{
	struct api_part *p = bd->p;

	if (p->n == bd->cap) {
		bd->cap = bd->cap ? bd->cap * 2 : 64;
		p->boxes = xreallocarray(p->boxes, bd->cap, sizeof(*p->boxes));
		bd->parent_ids = xreallocarray(bd->parent_ids, bd->cap, sizeof(*bd->parent_ids));
	}
	return &p->boxes[p->n];
}

/* Adds box b (read, not kept) with its own JSON. */
static void
api_part_add(struct api_part_builder *bd, const struct store_box *b)
{
	struct api_part *p = bd->p;
	struct api_part_box *sb = api_part_slot(bd);
	const char *status = api_part_status(b->status != NULL ? b->status : "");

	memset(sb, 0, sizeof(*sb));
	bd->buf.len = 0;
	sb->kids_at = api_box_json_at(&bd->buf, b, NULL, 0);
	sb->kids_len = 2; /* [] */
	sb->len = bd->buf.len;
	sb->json = xmalloc(sb->len + 1);
	memcpy(sb->json, bd->buf.data, sb->len);
	sb->json[sb->len] = '\0';
	sb->id = xstrdup(b->id);
	sb->channel_id = xstrdup(b->channel_id != NULL ? b->channel_id : "");
	sb->status = status != NULL ? (char *)status : xstrdup(b->status);
	sb->own_status = status == NULL;
	sb->start_ms = b->start_time_ms;
	sb->seq = b->seq;
	sb->uniform = 1;
	atomic_init(&sb->gone_rev, 0);
	bd->parent_ids[p->n] = b->parent_id != NULL ? xstrdup(b->parent_id) : NULL;
	p->n++;
}

static int
api_part_cmp_order(const void *a, const void *b, void *arg)
{
	const struct api_part_box *boxes = arg, *x = &boxes[*(const size_t *)a],
	                          *y = &boxes[*(const size_t *)b];

	if (x->start_ms != y->start_ms)
		return x->start_ms < y->start_ms ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Puts the boxes in list order: start time, then creation. */
static void
api_part_sort(struct api_part_builder *bd)
{
	struct api_part *p = bd->p;
	size_t n = p->n, i, *order = xcalloc(n + 1, sizeof(*order));
	struct api_part_box *boxes = xcalloc(n + 1, sizeof(*boxes));
	char **parent_ids = xcalloc(n + 1, sizeof(*parent_ids));

	for (i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), api_part_cmp_order, p->boxes);
	for (i = 0; i < n; i++) {
		memcpy(&boxes[i], &p->boxes[order[i]], sizeof(*boxes));
		parent_ids[i] = bd->parent_ids[order[i]];
	}
	free(p->boxes);
	free(bd->parent_ids);
	p->boxes = boxes;
	bd->parent_ids = parent_ids;
	free(order);
}

static int
api_part_cmp_index(const void *a, const void *b, void *arg)
{
	const struct api_part_box *boxes = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return strcmp(boxes[x].id, boxes[y].id);
}

int
api_part_inherits(const char *child, const char *parent)
{
	return child == NULL || child[0] == '\0' || (parent != NULL && strcmp(child, parent) == 0);
}

/* Nests the children of box i (deepest first) into its JSON. */
static void
api_part_nest(struct api_part_builder *bd, size_t i, int depth)
{
	struct api_part *p = bd->p;
	struct api_part_box *sb = &p->boxes[i];
	struct api_buf out = { 0 };
	size_t k, c;
	int first = 1;

	bd->state[i] = 1;
	if (p->child_start[i] == p->child_start[i + 1] || depth >= API_PART_MAX_DEPTH) {
		bd->state[i] = 2; /* no children, or deeper than shown: [] stays */
		return;
	}
	api_buf_put(&out, sb->json, sb->kids_at);
	api_buf_put(&out, "[", 1);
	for (k = p->child_start[i]; k < p->child_start[i + 1]; k++) {
		c = p->child[k];
		if (bd->state[c] == 0)
			api_part_nest(bd, c, depth + 1);
		if (bd->state[c] != 2)
			continue; /* a cycle: never made by the API */
		p->boxes[c].nested = 1;
		if (!p->boxes[c].uniform ||
		    !api_part_inherits(p->boxes[c].channel_id, sb->channel_id))
			sb->uniform = 0;
		if (!first)
			api_buf_put(&out, ",", 1);
		api_buf_put(&out, p->boxes[c].json, p->boxes[c].len);
		first = 0;
	}
	api_buf_put(&out, "]", 1);
	k = sb->kids_at + sb->kids_len; /* what follows the children */
	sb->kids_len = out.len - sb->kids_at;
	api_buf_put(&out, sb->json + k, sb->len - k);
	free(sb->json);
	sb->json = api_buf_steal(&out, &sb->len);
	bd->state[i] = 2;
}

/* Fills the parent indexes and the children (CSR) of the boxes. */
static void
api_part_link(struct api_part_builder *bd)
{
	struct api_part *p = bd->p;
	size_t n = p->n, *fill = xcalloc(n + 1, sizeof(*fill)), i, q;

	p->child_start = xcalloc(n + 2, sizeof(*p->child_start));
	p->child = xcalloc(n + 1, sizeof(*p->child));
	for (i = 0; i < n; i++) {
		p->boxes[i].parent =
		    bd->parent_ids[i] != NULL ? api_part_index(p, bd->parent_ids[i]) : SIZE_MAX;
		if (p->boxes[i].parent != SIZE_MAX)
			p->child_start[p->boxes[i].parent + 1]++;
	}
	for (i = 0; i < n; i++)
		p->child_start[i + 1] += p->child_start[i];
	for (i = 0; i < n; i++) {
		q = p->boxes[i].parent;
		if (q != SIZE_MAX)
			p->child[p->child_start[q] + fill[q]++] = i;
	}
	free(fill);
}

/* Sorts the boxes, indexes them by id and links them to their parents. */
static void
api_part_index_all(struct api_part_builder *bd)
{
	struct api_part *p = bd->p;
	size_t n = p->n, i;

	api_part_sort(bd);
	p->by_id = xcalloc(n + 1, sizeof(*p->by_id));
	p->tops = xcalloc(n + 1, sizeof(*p->tops));
	for (i = 0; i < n; i++)
		p->by_id[i] = i;
	qsort_r(p->by_id, n, sizeof(*p->by_id), api_part_cmp_index, p->boxes);
	api_part_link(bd);
}

/* The list of top-level boxes and the active count; frees the builder. */
static struct api_part *
api_part_done(struct api_part_builder *bd)
{
	struct api_part *p = bd->p;
	size_t i;

	for (i = 0; i < p->n; i++) {
		if (p->boxes[i].top)
			p->tops[p->ntops++] = i;
		if (strcmp(p->boxes[i].status, "active") == 0)
			p->active++;
		free(bd->parent_ids[i]);
	}
	free(bd->parent_ids);
	free(bd->state);
	api_buf_free(&bd->buf);
	return p;
}

/* The second step: links, nesting, the list of top-level boxes; frees the builder. */
static struct api_part *
api_part_finish(struct api_part_builder *bd)
{
	struct api_part *p = bd->p;
	size_t n = p->n, i;

	api_part_index_all(bd);
	bd->state = xcalloc(n + 1, 1);
	for (i = 0; i < n; i++) {
		p->boxes[i].top = p->boxes[i].parent == SIZE_MAX;
		if (p->boxes[i].top && bd->state[i] == 0)
			api_part_nest(bd, i, 0);
	}
	for (i = 0; i < n; i++)
		if (bd->state[i] == 0)
			api_part_nest(bd, i, 0);
	return api_part_done(bd);
}

static struct api_part *
api_part_new(struct api_part_builder *bd)
{
	memset(bd, 0, sizeof(*bd));
	bd->p = xcalloc(1, sizeof(*bd->p));
	atomic_init(&bd->p->refs, 1);
	return bd->p;
}

struct api_part *
api_part_build(struct store_box *list, size_t n)
{
	struct api_part_builder bd;
	size_t i;

	api_part_new(&bd);
	for (i = 0; i < n; i++)
		api_part_add(&bd, &list[i]);
	return api_part_finish(&bd);
}

static void
api_part_each(void *arg, const struct store_box *b)
{
	api_part_add(arg, b);
}

int
api_part_read_all(store *st, struct api_part **out)
{
	struct api_part_builder bd;
	int rc;

	api_part_new(&bd);
	rc = store_box_each(st, api_part_each, &bd);
	*out = api_part_finish(&bd);
	if (rc != STORE_OK) {
		api_part_unref(*out);
		*out = NULL;
	}
	return rc;
}

/* The id of the parent of box i of p; NULL for a top-level box. */
static const char *
api_part_parent_id(const struct api_part *p, size_t i)
{
	return p->boxes[i].parent == SIZE_MAX ? NULL : p->boxes[p->boxes[i].parent].id;
}

/*
 * The top-level box above box i of p (i itself when it is one), or
 * SIZE_MAX in a parent cycle.
 */
static size_t
api_part_top_of(const struct api_part *p, size_t i)
{
	size_t steps;

	for (steps = 0; steps <= p->n; steps++) {
		if (p->boxes[i].top)
			return i;
		i = p->boxes[i].parent;
	}
	return SIZE_MAX;
}

/* Adds box i of p, copied with its nested JSON as it is. */
static void
api_part_add_copy(struct api_part_builder *bd, const struct api_part *from, size_t i)
{
	struct api_part *p = bd->p;
	const struct api_part_box *src = &from->boxes[i];
	struct api_part_box *sb = api_part_slot(bd);
	const char *parent = api_part_parent_id(from, i);

	memcpy(sb, src, sizeof(*sb));
	sb->id = xstrdup(src->id);
	sb->channel_id = xstrdup(src->channel_id);
	if (src->own_status)
		sb->status = xstrdup(src->status);
	sb->json = xmalloc(src->len + 1);
	memcpy(sb->json, src->json, src->len + 1);
	atomic_init(&sb->gone_rev, 0);
	bd->parent_ids[p->n] = parent != NULL ? xstrdup(parent) : NULL;
	p->n++;
}

struct api_part *
api_part_merge(
    const struct api_part *old, const struct api_part *fresh, const char *const *gone, size_t ngone)
{
	struct api_part_builder bd;
	unsigned char *keep = xcalloc(old->n + 1, 1);
	struct api_part *out = NULL;
	size_t i, j, k, t;

	for (i = 0; i < fresh->n; i++) {
		if ((j = api_part_index(old, fresh->boxes[i].id)) == SIZE_MAX)
			continue;
		t = api_part_top_of(old, j);
		k = api_part_top_of(fresh, i);
		if (t == SIZE_MAX || k == SIZE_MAX ||
		    strcmp(old->boxes[t].id, fresh->boxes[k].id) != 0)
			goto out; /* moved to another tree: its old tree still shows it */
	}
	for (i = 0; i < old->ntops; i++)
		keep[old->tops[i]] = api_part_index(fresh, old->boxes[old->tops[i]].id) == SIZE_MAX;
	for (i = 0; i < ngone; i++)
		if ((j = api_part_index(old, gone[i])) != SIZE_MAX && old->boxes[j].top)
			keep[j] = 0; /* deleted, and its tree with it */
	api_part_new(&bd);
	for (i = 0; i < fresh->n; i++)
		api_part_add_copy(&bd, fresh, i);
	for (i = 0; i < old->n; i++)
		if ((t = api_part_top_of(old, i)) != SIZE_MAX && keep[t])
			api_part_add_copy(&bd, old, i);
	api_part_index_all(&bd);
	for (i = 0; i < bd.p->n; i++)
		bd.p->boxes[i].top = bd.p->boxes[i].parent == SIZE_MAX;
	out = api_part_done(&bd);
out:
	free(keep);
	return out;
}

void
api_part_unref(struct api_part *p)
{
	size_t i;

	if (p == NULL || atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	for (i = 0; i < p->n; i++) {
		free(p->boxes[i].id);
		free(p->boxes[i].channel_id);
		if (p->boxes[i].own_status)
			free(p->boxes[i].status);
		free(p->boxes[i].json);
	}
	free(p->boxes);
	free(p->by_id);
	free(p->child_start);
	free(p->child);
	free(p->tops);
	free(p);
}

size_t
api_part_index(const struct api_part *p, const char *id)
{
	size_t lo = 0, hi = p->n, mid, i;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		i = p->by_id[mid];
		c = strcmp(id, p->boxes[i].id);
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
api_part_moved(const struct api_part *hot, const struct api_part *cold)
{
	const char *a, *b;
	size_t i, j;

	for (i = 0; i < hot->n; i++) {
		if ((j = api_part_index(cold, hot->boxes[i].id)) == SIZE_MAX)
			continue;
		a = api_part_parent_id(hot, i);
		b = api_part_parent_id(cold, j);
		if ((a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0))
			return 1;
	}
	return 0;
}
void
api_part_ref(struct api_part *p)
{
	atomic_fetch_add(&p->refs, 1);
}

void
api_part_mark_gone(struct api_part *p, size_t i, int64_t revision)
{
	int64_t none = 0;

	atomic_compare_exchange_strong(&p->boxes[i].gone_rev, &none, revision);
}

int
api_part_gone(const struct api_part *p, size_t i, int64_t revision)
{
	int64_t at = atomic_load(&p->boxes[i].gone_rev);

	return at != 0 && at <= revision;
}
