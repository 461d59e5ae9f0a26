/* api_part: building whole trees of boxes as SessionData JSON. */
#include "fcgi/api_part.h"

#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "fcgi/api_box.h"

/* Build-time view of the store's list. */
struct api_part_builder {
	struct store_box *list;
	size_t n;
	size_t *child_start; /* CSR: children of i are child[child_start[i] ..] */
	size_t *child;
	unsigned char *state; /* 0 new, 1 in progress, 2 done */
	struct api_part *p;
};

static int
api_part_cmp_index(const void *a, const void *b, void *arg)
{
	const struct store_box *list = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return strcmp(list[x].id, list[y].id);
}

static size_t
api_part_find(const struct store_box *list, const size_t *by_id, size_t n, const char *id)
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

int
api_part_inherits(const char *child, const char *parent)
{
	return child == NULL || child[0] == '\0' || (parent != NULL && strcmp(child, parent) == 0);
}

static void
api_part_serialize(struct api_part_builder *bd, size_t i, int depth)
{
	struct api_buf children = { 0 }, out = { 0 };
	struct api_part_box *sb = &bd->p->boxes[i];
	size_t k, c;
	int first = 1, uniform = 1;

	bd->state[i] = 1;
	api_buf_put(&children, "[", 1);
	if (depth < API_PART_MAX_DEPTH) {
		for (k = bd->child_start[i]; k < bd->child_start[i + 1]; k++) {
			c = bd->child[k];
			if (bd->state[c] == 0)
				api_part_serialize(bd, c, depth + 1);
			if (bd->state[c] != 2)
				continue; /* a cycle: never made by the API */
			bd->p->boxes[c].nested = 1;
			if (!bd->p->boxes[c].uniform ||
			    !api_part_inherits(bd->list[c].channel_id, bd->list[i].channel_id))
				uniform = 0;
			if (!first)
				api_buf_put(&children, ",", 1);
			api_buf_put(&children, bd->p->boxes[c].json, bd->p->boxes[c].len);
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

/* Fills the parent indexes and the children (CSR) of the boxes in bd. */
static void
api_part_link(struct api_part_builder *bd, size_t *parent)
{
	const struct store_box *list = bd->list;
	size_t n = bd->n, *fill = xcalloc(n + 1, sizeof(*fill)), i, p;

	bd->child_start = xcalloc(n + 2, sizeof(*bd->child_start));
	bd->child = xcalloc(n + 1, sizeof(*bd->child));
	for (i = 0; i < n; i++) {
		parent[i] = list[i].parent_id != NULL
		    ? api_part_find(list, bd->p->by_id, n, list[i].parent_id)
		    : SIZE_MAX;
		if (parent[i] != SIZE_MAX)
			bd->child_start[parent[i] + 1]++;
	}
	for (i = 0; i < n; i++)
		bd->child_start[i + 1] += bd->child_start[i];
	for (i = 0; i < n; i++) {
		p = parent[i];
		if (p != SIZE_MAX)
			bd->child[bd->child_start[p] + fill[p]++] = i;
	}
	free(fill);
}

struct api_part *
api_part_build(struct store_box *list, size_t n)
{
	struct api_part *p = xcalloc(1, sizeof(*p));
	struct api_part_builder bd = { .list = list, .n = n, .p = p };
	size_t *parent = xcalloc(n + 1, sizeof(*parent)), i;

	atomic_init(&p->refs, 1);
	p->n = n;
	p->boxes = xcalloc(n + 1, sizeof(*p->boxes));
	p->by_id = xcalloc(n + 1, sizeof(*p->by_id));
	p->tops = xcalloc(n + 1, sizeof(*p->tops));
	for (i = 0; i < n; i++)
		p->by_id[i] = i;
	qsort_r(p->by_id, n, sizeof(*p->by_id), api_part_cmp_index, list);
	bd.state = xcalloc(n + 1, 1);
	api_part_link(&bd, parent);
	for (i = 0; i < n; i++) {
		p->boxes[i].top = parent[i] == SIZE_MAX;
		p->boxes[i].parent = parent[i];
		if (p->boxes[i].top && bd.state[i] == 0)
			api_part_serialize(&bd, i, 0);
	}
	for (i = 0; i < n; i++)
		if (bd.state[i] == 0)
			api_part_serialize(&bd, i, 0);
	for (i = 0; i < n; i++) {
		struct api_part_box *sb = &p->boxes[i];

		sb->id = list[i].id;
		sb->channel_id = list[i].channel_id;
		sb->status = list[i].status;
		sb->start_ms = list[i].start_time_ms;
		sb->seq = list[i].seq;
		list[i].id = list[i].channel_id = list[i].status = NULL;
		if (sb->top)
			p->tops[p->ntops++] = i;
		if (strcmp(sb->status, "active") == 0)
			p->active++;
	}
	free(parent);
	free(bd.state);
	p->child_start = bd.child_start;
	p->child = bd.child;
	return p;
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

/* The id of the parent of box i of p; NULL for a top-level box. */
static const char *
api_part_parent_id(const struct api_part *p, size_t i)
{
	return p->boxes[i].parent == SIZE_MAX ? NULL : p->boxes[p->boxes[i].parent].id;
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
