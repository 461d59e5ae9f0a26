/*
 * api_part: whole trees of boxes serialized as SessionData JSON, read at
 * one store revision and immutable once built (fcgi/api_cache.h puts two of
 * them together into a snapshot).
 *
 * Each box keeps its JSON with its children nested and where the children
 * array sits inside it, so that a reader who may see only some channels
 * gets the same fragments re-joined (fcgi/api_cache.c).  Children nest to
 * any depth up to API_PART_MAX_DEPTH; deeper boxes (and boxes in a parent
 * cycle, which the API never makes) are left out of their parent's JSON.
 * Parts are reference counted.
 */
#ifndef LS_API_PART_H
#define LS_API_PART_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "sql/store.h"

#define API_PART_MAX_DEPTH 64

struct api_part_box {
	char *id;
	char *channel_id;
	char *status; /* one of four static strings, unless own_status */
	int own_status;
	int top;
	size_t parent; /* index of the parent box, SIZE_MAX for none */
	char *json;
	size_t len;
	size_t kids_at, kids_len; /* the children array inside json */
	int nested;               /* json is in its parent's children array */
	int uniform;              /* every box nested under it has its channel or none */
	int64_t start_ms, seq;    /* list order: start time, then creation */
	/*
	 * The first revision a reader knows the box was deleted at (0: not
	 * deleted); set once, after the part is built (api_part_mark_gone).
	 */
	_Atomic int64_t gone_rev;
};

struct api_part {
	atomic_int refs;
	struct api_part_box *boxes; /* list order */
	size_t n;
	size_t *by_id;       /* indexes into boxes, sorted by id */
	size_t *child_start; /* CSR: children of i are child[child_start[i] ..] */
	size_t *child;
	size_t *tops; /* the top-level boxes, list order */
	size_t ntops;
	size_t active; /* boxes with status active */
};

/*
 * A part of the n boxes of list (in list order, as the store lists them),
 * with one reference; list is left as it was.
 */
struct api_part *api_part_build(struct store_box *list, size_t n);

/*
 * The part old would be if read again after the store changed: the trees
 * of fresh (every tree written since old was read, whole) in place of
 * their old copies, old's other trees as they were, less those whose
 * top-level box is one of the ngone ids deleted since.  Every box is
 * copied; old and fresh are left as they are.  NULL when a box of fresh
 * sits in another tree in old (it moved: read it all again instead).
 */
struct api_part *api_part_merge(const struct api_part *old, const struct api_part *fresh,
    const char *const *gone, size_t ngone);

/*
 * A part of every box of the store (in a read transaction the caller
 * holds), read row by row without a list in between; STORE_OK or the
 * store's error.
 */
int api_part_read_all(store *st, struct api_part **out);
void api_part_ref(struct api_part *p);
void api_part_unref(struct api_part *p);

/*
 * Notes that box i of p is deleted for readers at revision and later
 * (the first note stays).  Readers of older revisions still see it.
 */
void api_part_mark_gone(struct api_part *p, size_t i, int64_t revision);

/* 1 when box i of p was deleted at or before revision. */
int api_part_gone(const struct api_part *p, size_t i, int64_t revision);

/* The index of box id in p->boxes, or SIZE_MAX. */
size_t api_part_index(const struct api_part *p, const char *id);

/*
 * 1 when a box of hot has another parent in cold: it moved to another tree
 * after cold was read, and the cold copy of its old tree still shows it.
 */
int api_part_moved(const struct api_part *hot, const struct api_part *cold);

/* 1 when a box in channel child shows under a box in channel parent as its own. */
int api_part_inherits(const char *child, const char *parent);

#endif
