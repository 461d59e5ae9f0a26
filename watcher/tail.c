/*
 * tail: follows transcript files (see tail.h).  This file holds the handle,
 * the file table, dirty and queued files and the stats; reading is in
 * tail_read.c, finding folders and inotify in tail_scan.c (see tail_int.h).
 */
#include "watcher/tail.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "watcher/tail_int.h"

int
tail_ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

int
tail_is_transcript(const char *name)
{
	if (name[0] == '.' || !tail_ends_with(name, ".jsonl"))
		return 0;
	return strstr(name, ".checkpoint.") == NULL && strstr(name, ".trajectory.") == NULL &&
	    strstr(name, ".reset.") == NULL && strstr(name, ".deleted.") == NULL;
}

/* "<transcript>.lock" for a live transcript name: 1. */
int
tail_is_lock(const char *name)
{
	size_t n = strlen(name);
	char base[NAME_MAX + 1];

	if (n <= 5 || n - 5 > NAME_MAX || !tail_ends_with(name, ".jsonl.lock"))
		return 0;
	memcpy(base, name, n - 5);
	base[n - 5] = '\0';
	return tail_is_transcript(base);
}

struct tail *
tail_new(const char *root, const struct tail_ops *ops, int use_inotify, char *err, size_t errlen)
{
	struct tail *t;
	size_t n = strlen(root);

	if (!tail_isdir(root)) {
		snprintf(err, errlen, "TRANSCRIPT_DIR: %s is not a readable folder", root);
		return NULL;
	}
	t = xcalloc(1, sizeof(*t));
	while (n > 1 && root[n - 1] == '/')
		n--;
	t->root = xstrndup(root, n);
	t->ops = *ops;
	t->agents_mode = tail_detect_agents(t->root);
	t->nbuckets = 256;
	t->buckets = xcalloc(t->nbuckets, sizeof(*t->buckets));
	t->ifd = -1;
	if (use_inotify) {
		t->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (t->ifd < 0)
			log_warn("inotify unavailable, polling instead", "err", strerror(errno));
	}
	t->polling = t->ifd < 0;
	return t;
}

static void
tail_file_free(struct tail_file *f)
{
	free(f->path);
	free(f->key);
	free(f->buf);
	free(f);
}

void
tail_dir_free(struct tail *t, struct tail_dir *d)
{
	if (t->ops.dir_gone != NULL)
		t->ops.dir_gone(t->ops.arg, d);
	free(d->path);
	free(d->agent_id);
	free(d);
}

void
tail_free(struct tail *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nfiles; i++)
		tail_file_free(t->files[i]);
	for (i = 0; i < t->ndirs; i++)
		tail_dir_free(t, t->dirs[i]);
	for (i = 0; i < t->nwatches; i++)
		free(t->watches[i].path);
	if (t->ifd >= 0)
		close(t->ifd);
	free(t->watches);
	free(t->dirs);
	free(t->files);
	free(t->buckets);
	free(t->queue);
	free(t->dirty);
	free(t->root);
	free(t);
}

int
tail_fd(struct tail *t)
{
	return t->ifd;
}

int
tail_polling(struct tail *t)
{
	return t->polling || t->root_lost;
}

static struct tail_file *
tail_find(struct tail *t, const char *path)
{
	struct tail_file *f = t->buckets[util_hash_str(path) % t->nbuckets];

	for (; f != NULL; f = f->hnext) {
		if (strcmp(f->path, path) == 0)
			return f;
	}
	return NULL;
}

static void
tail_rehash(struct tail *t)
{
	size_t i, n = t->nbuckets * 4;

	free(t->buckets);
	t->buckets = xcalloc(n, sizeof(*t->buckets));
	t->nbuckets = n;
	for (i = 0; i < t->nfiles; i++) {
		struct tail_file *f = t->files[i];
		size_t h = util_hash_str(f->path) % n;

		f->hnext = t->buckets[h];
		t->buckets[h] = f;
	}
}

/* The file for path, made when new (offset 0: a file created at run time). */
struct tail_file *
tail_file_get(struct tail *t, const char *path, struct tail_dir *d)
{
	struct tail_file *f = tail_find(t, path);
	size_t h;

	if (f != NULL) {
		if (d != NULL)
			f->dir = d;
		return f;
	}
	f = xcalloc(1, sizeof(*f));
	f->path = xstrdup(path);
	f->name = strrchr(f->path, '/') != NULL ? strrchr(f->path, '/') + 1 : f->path;
	f->dir = d;
	if (t->nfiles == t->capfiles) {
		t->capfiles = t->capfiles ? t->capfiles * 2 : 64;
		t->files = xreallocarray(t->files, t->capfiles, sizeof(*t->files));
	}
	t->files[t->nfiles++] = f;
	if (t->nfiles > t->nbuckets * 2) {
		tail_rehash(t);
	} else {
		h = util_hash_str(path) % t->nbuckets;
		f->hnext = t->buckets[h];
		t->buckets[h] = f;
	}
	return f;
}

static void
tail_file_remove(struct tail *t, struct tail_file *f)
{
	size_t i;

	for (i = 0; i < t->nfiles; i++) {
		if (t->files[i] == f) {
			t->files[i] = t->files[--t->nfiles];
			break;
		}
	}
	tail_file_free(f);
	tail_rehash(t);
}

void
tail_restore(struct tail *t, const char *path, uint64_t inode, int64_t offset, const char *key)
{
	struct tail_file *f = tail_file_get(t, path, NULL);

	f->inode = f->committed_inode = inode;
	f->offset = f->committed_offset = offset;
	f->restored = 1;
	f->saved = 1;
	if (key != NULL && *key != '\0') {
		free(f->key);
		f->key = xstrdup(key);
		f->key_gen = 0;
	}
}

void
tail_queue(struct tail *t, struct tail_file *f)
{
	if (f->queued)
		return;
	f->queued = 1;
	if (t->nqueue == t->capqueue) {
		t->capqueue = t->capqueue ? t->capqueue * 2 : 64;
		t->queue = xreallocarray(t->queue, t->capqueue, sizeof(*t->queue));
	}
	t->queue[t->nqueue++] = f;
}

void
tail_mark_dirty(struct tail *t, struct tail_file *f)
{
	if (f->dirty)
		return;
	/* A file known only by its lock is stored too: it is not "old" later. */
	if (f->saved && !f->gone && f->inode == f->committed_inode &&
	    f->offset == f->committed_offset)
		return;
	f->dirty = 1;
	if (t->ndirty == t->capdirty) {
		t->capdirty = t->capdirty ? t->capdirty * 2 : 64;
		t->dirty = xreallocarray(t->dirty, t->capdirty, sizeof(*t->dirty));
	}
	t->dirty[t->ndirty++] = f;
}

struct tail_file *
tail_file_find(struct tail *t, const char *path)
{
	struct tail_file *f = tail_find(t, path);

	return f != NULL && !f->gone ? f : NULL;
}

int
tail_lock_held(struct tail *t, const char *key, const struct tail_file *except)
{
	size_t i;

	for (i = 0; i < t->nfiles; i++) {
		const struct tail_file *f = t->files[i];

		if (f != except && f->lock && f->key != NULL && strcmp(f->key, key) == 0)
			return 1;
	}
	return 0;
}

size_t
tail_dirty(struct tail *t, struct tail_file ***out)
{
	*out = t->dirty;
	return t->ndirty;
}

void
tail_mark_clean(struct tail *t)
{
	size_t i, ngone = 0;

	for (i = 0; i < t->ndirty; i++) {
		struct tail_file *f = t->dirty[i];

		f->dirty = 0;
		f->saved = 1;
		f->committed_inode = f->inode;
		f->committed_offset = f->offset;
		ngone += f->gone != 0;
	}
	t->ndirty = 0;
	/* Vanished files whose rows are deleted now: forget them. */
	for (i = 0; ngone > 0 && i < t->nfiles;) {
		if (t->files[i]->gone && !t->files[i]->queued) {
			tail_file_remove(t, t->files[i]);
			ngone--;
			continue;
		}
		i++;
	}
}

void
tail_continue(struct tail *t)
{
	size_t i;

	for (i = 0; i < t->nfiles; i++) {
		if (t->files[i]->backlog)
			tail_queue(t, t->files[i]);
	}
	tail_flush(t);
}

int
tail_backlog(struct tail *t)
{
	size_t i;

	for (i = 0; i < t->nfiles; i++) {
		if (t->files[i]->backlog)
			return 1;
	}
	return 0;
}

void
tail_stats(struct tail *t, struct tail_stats *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < t->nfiles; i++)
		out->files += t->files[i]->exists;
	out->dirs = (int64_t)t->ndirs;
	out->bytes_read = t->bytes_read;
	out->rescans = t->rescans;
	out->overflows = t->overflows;
	out->bad_lines = t->bad_lines;
	out->refused = t->refused;
	out->inotify = !t->polling;
}

void
tail_follow_outside_links(struct tail *t, int on)
{
	t->outside_links = on;
}
