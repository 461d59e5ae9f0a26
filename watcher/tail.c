/* tail: inotify (or polling) over sessions folders, lines by byte offset. */
#include "watcher/tail.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"

#define TAIL_CHUNK (1u * 1024 * 1024)
/* How much of a new transcript is read for its first event's time. */
#define TAIL_FIRST_EVENT_BYTES 16384
/* A first event this much older than the last heartbeat still counts as new. */
#define TAIL_CLOCK_SKEW_MS (2 * 60 * 1000)
#define TAIL_DIR_MASK \
	(IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
	    IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define TAIL_TREE_MASK \
	(IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | \
	    IN_ONLYDIR)

struct tail_watch {
	int wd;
	char *path; /* an agents/ or agents/<id>/ folder */
	int seen;
};

struct tail {
	char *root;
	int agents_mode;
	struct tail_ops ops;
	int ifd;
	int polling;
	int root_lost;    /* root is gone: look for it every poll interval */
	int initial;      /* inside the first scan: unknown files start at their end */
	int64_t since_ms; /* the last commit before this start */
	int64_t alive_ms; /* the last moment the watcher was alive before it */
	struct tail_dir **dirs;
	size_t ndirs;
	struct tail_watch *watches;
	size_t nwatches;
	struct tail_file **buckets;
	struct tail_file **files; /* every file, for scans */
	size_t nfiles, capfiles, nbuckets;
	struct tail_file **queue; /* files to read in this batch */
	size_t nqueue, capqueue;
	struct tail_file **dirty;
	size_t ndirty, capdirty;
	int64_t bytes_read, rescans, overflows, bad_lines;
	int64_t refused;   /* reads refused: not a regular file, or an outside link */
	int outside_links; /* FOLLOW_OUTSIDE_LINKS: links out of root are read too */
};

static uint64_t
tail_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static int
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
static int
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

static int
tail_isdir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The sessions folder layout: 1 when root holds <agent>/sessions folders. */
static int
tail_detect_agents(const char *root)
{
	DIR *d;
	struct dirent *de;
	const char *base = strrchr(root, '/');
	int agents = -1;

	base = base != NULL ? base + 1 : root;
	if ((d = opendir(root)) == NULL)
		return 0;
	while (agents < 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, "sessions.json") == 0 || tail_is_transcript(de->d_name))
			agents = 0;
	}
	closedir(d);
	if (agents >= 0)
		return agents;
	if (strcmp(base, "sessions") == 0)
		return 0;
	return 1;
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

static void
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
	struct tail_file *f = t->buckets[tail_hash(path) % t->nbuckets];

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
		size_t h = tail_hash(f->path) % n;

		f->hnext = t->buckets[h];
		t->buckets[h] = f;
	}
}

/* The file for path, made when new (offset 0: a file created at run time). */
static struct tail_file *
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
		h = tail_hash(path) % t->nbuckets;
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

static void
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

static void
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

/* Offset just past the last '\n' of an open file of size bytes. */
static int64_t
tail_end_offset(int fd, int64_t size)
{
	char buf[65536];
	int64_t pos = size;

	while (pos > 0) {
		size_t want = pos > (int64_t)sizeof(buf) ? sizeof(buf) : (size_t)pos;
		ssize_t n = pread(fd, buf, want, pos - (int64_t)want);
		ssize_t i;

		if (n != (ssize_t)want)
			return size;
		for (i = n - 1; i >= 0; i--) {
			if (buf[i] == '\n')
				return pos - (int64_t)want + i + 1;
		}
		pos -= (int64_t)want;
	}
	return 0;
}

/* "2026-04-14T09:12:03.000Z" (UTC, fraction optional) in ms, or 0. */
static int64_t
tail_iso_ms(const char *s)
{
	struct tm tm = { 0 };
	int ms = 0, n = 0;
	char frac[8] = "";

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	        &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
		return 0;
	if (s[n] == '.' && sscanf(s + n + 1, "%3[0-9]", frac) == 1)
		ms = atoi(frac) * (strlen(frac) == 1 ? 100 : strlen(frac) == 2 ? 10 : 1);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

/*
 * The time of the first event of an open transcript (the header's or the
 * first message's timestamp, within its first lines), or 0 when none is
 * found.
 */
static int64_t
tail_first_event_ms(int fd)
{
	char buf[TAIL_FIRST_EVENT_BYTES + 1], *line, *nl;
	ssize_t n = pread(fd, buf, TAIL_FIRST_EVENT_BYTES, 0);
	int64_t ms = 0;
	int i;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (line = buf, i = 0; ms == 0 && i < 8 && (nl = strchr(line, '\n')) != NULL;
	     line = nl + 1, i++) {
		json_object *o, *v, *msg;

		*nl = '\0';
		if ((o = json_tokener_parse(line)) == NULL)
			continue;
		if (json_object_object_get_ex(o, "message", &msg) &&
		    json_object_object_get_ex(msg, "timestamp", &v) &&
		    json_object_is_type(v, json_type_int) && json_object_get_int64(v) > 0)
			ms = json_object_get_int64(v);
		else if (json_object_object_get_ex(o, "timestamp", &v) &&
		    json_object_is_type(v, json_type_string))
			ms = tail_iso_ms(json_object_get_string(v));
		json_object_put(o);
	}
	return ms;
}

/*
 * 1 when the open file, unknown to the store, may have begun while the
 * watcher was down (since_ms: its last heartbeat): the file was born after
 * it (when the filesystem tells) and its first event is not older than it
 * (less a margin for clock skew).  A file copied in from a backup or
 * another host is new to the filesystem but its events are old: it is
 * not news.  Without a time inside, its birth after the last commit
 * decides.  0 before any commit (the first start ever).
 */
static int
tail_born_after(struct tail *t, int fd)
{
	struct statx stx;
	int64_t born, first;

	if (t->since_ms <= 0)
		return 0;
	if ((first = tail_first_event_ms(fd)) > 0)
		return first >= (t->alive_ms > 0 ? t->alive_ms : t->since_ms) - TAIL_CLOCK_SKEW_MS;
	/* no time inside: the filesystem's birth time against the last commit */
	if (statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &stx) != 0 || !(stx.stx_mask & STATX_BTIME))
		return 0;
	born = (int64_t)stx.stx_btime.tv_sec * 1000 + stx.stx_btime.tv_nsec / 1000000;
	return born >= t->since_ms;
}

void
tail_set_since(struct tail *t, int64_t since_ms, int64_t alive_ms)
{
	t->since_ms = since_ms;
	t->alive_ms = alive_ms;
}

static void
tail_reset(struct tail *t, struct tail_file *f)
{
	int had = f->offset > 0 || f->len > 0 || f->skipping;

	f->offset = 0;
	f->len = 0;
	f->skipping = 0;
	f->skipped = 0;
	if (had)
		t->ops.reset(t->ops.arg, f);
}

/* Hands over the complete lines among the n bytes just added at buf+len. */
static void
tail_lines(struct tail *t, struct tail_file *f, size_t n)
{
	char *b = f->buf, *nl;
	size_t start = 0, i = f->len, end = f->len + n;

	while (i < end && (nl = memchr(b + i, '\n', end - i)) != NULL) {
		size_t linelen = (size_t)(nl - (b + start));

		if (f->skipping) {
			f->offset += f->skipped + (int64_t)linelen + 1;
			f->skipping = 0;
			f->skipped = 0;
		} else {
			if (linelen > 0)
				t->ops.line(t->ops.arg, f, b + start, linelen);
			f->offset += (int64_t)linelen + 1;
		}
		start = (size_t)(nl - b) + 1;
		i = start;
	}
	if (f->skipping) {
		f->skipped += (int64_t)(end - start);
		f->len = 0;
		return;
	}
	memmove(b, b + start, end - start);
	f->len = end - start;
	if (f->len > TAIL_MAX_LINE) {
		f->skipping = 1;
		f->skipped = (int64_t)f->len;
		f->len = 0;
		t->bad_lines++;
		t->ops.bad_line(t->ops.arg, f, "line longer than 16 MiB");
	}
}

static int tail_read_fd(struct tail *t, struct tail_file *f, int fd, int64_t size, size_t budget);
static void tail_vanished(struct tail *t, struct tail_file *f);

/* Reads what is new in f, at most TAIL_READ_BUDGET bytes. */
static void
tail_read(struct tail *t, struct tail_file *f)
{
	struct stat st;
	const char *why;
	int fd;

	f->backlog = 0;
	fd = util_open_regular(f->path, t->root, t->outside_links, &why);
	if (fd < 0 && why != NULL) {
		/* a FIFO, socket, device, folder or outside link: never read */
		if (!f->refused)
			log_warn("not a transcript, skipped", "path", f->path, "why", why);
		f->refused = 1;
		t->refused++;
		return;
	}
	if (fd < 0) {
		if (errno != ENOENT)
			log_warn("cannot open transcript", "path", f->path, "err", strerror(errno));
		f->exists = 0;
		if (errno == ENOENT && (f->inode != 0 || f->saved))
			tail_vanished(t, f);
		return;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto out;
	f->exists = 1;
	if (f->inode != 0 && (uint64_t)st.st_ino != f->inode) {
		tail_reset(t, f);
	} else if (f->inode == 0 && !f->restored &&
	    ((t->initial && !tail_born_after(t, fd)) || (f->with_dir && !f->lock))) {
		/* Present when its folder was first seen, never read: start at its end. */
		f->offset = tail_end_offset(fd, (int64_t)st.st_size);
		log_debug("old transcript, reading from its end", "path", f->path, "offset",
		    LOG_I64(f->offset));
	} else if ((int64_t)st.st_size < f->offset + (int64_t)f->len + f->skipped) {
		tail_reset(t, f);
	}
	f->inode = (uint64_t)st.st_ino;
	f->gone = 0;
	f->with_dir = 0;
	if (tail_read_fd(t, f, fd, (int64_t)st.st_size, TAIL_READ_BUDGET))
		f->backlog = 1;
out:
	close(fd);
	tail_mark_dirty(t, f);
}

/*
 * Reads f's open fd from where f stands up to size, at most budget bytes;
 * 1 when bytes are left because the budget ran out.
 */
static int
tail_read_fd(struct tail *t, struct tail_file *f, int fd, int64_t size, size_t budget)
{
	int64_t pos = f->offset + (int64_t)f->len + f->skipped;

	while (pos < size && budget > 0) {
		size_t want = (size_t)(size - pos);
		ssize_t n;

		if (want > TAIL_CHUNK)
			want = TAIL_CHUNK;
		if (want > budget)
			want = budget;
		if (f->len + want > f->cap) {
			f->cap = f->len + want + 4096;
			f->buf = xrealloc(f->buf, f->cap);
		}
		n = pread(fd, f->buf + f->len, want, pos);
		if (n <= 0) {
			if (n < 0)
				log_warn("cannot read transcript", "path", f->path, "err",
				    strerror(errno));
			break;
		}
		pos += n;
		budget -= (size_t)n;
		t->bytes_read += n;
		tail_lines(t, f, (size_t)n);
	}
	if (f->cap > TAIL_CHUNK * 2 && f->len < f->cap / 4) {
		f->cap = f->len + 4096;
		f->buf = xrealloc(f->buf, f->cap);
	}
	/* Left for later only when the budget ran out (not on a short read). */
	return pos < size && budget == 0;
}

/*
 * f is no longer in its folder.  When it was renamed to a name that is not
 * live (".reset.", ".deleted.", ...), the lines appended since the last
 * read are read from there.  Once no run lock is left, f is gone.
 */
static void
tail_vanished(struct tail *t, struct tail_file *f)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *dh;
	int fd;

	f->exists = 0;
	f->backlog = 0;
	if (f->gone || f->dir == NULL || !tail_isdir(f->dir->path))
		return;
	if (f->inode != 0 && (dh = opendir(f->dir->path)) != NULL) {
		while ((de = readdir(dh)) != NULL) {
			if (de->d_name[0] == '.' || tail_is_transcript(de->d_name) ||
			    tail_ends_with(de->d_name, ".lock") ||
			    snprintf(path, sizeof(path), "%s/%s", f->dir->path, de->d_name) >=
			        (int)sizeof(path))
				continue;
			if (stat(path, &st) != 0 || (uint64_t)st.st_ino != f->inode ||
			    !S_ISREG(st.st_mode))
				continue;
			if ((fd = util_open_regular(path, t->root, t->outside_links, NULL)) < 0)
				break;
			if (fstat(fd, &st) == 0 && (uint64_t)st.st_ino == f->inode &&
			    st.st_size >= f->offset + (int64_t)f->len + f->skipped) {
				if (st.st_size > f->offset + (int64_t)f->len + f->skipped)
					log_info("transcript renamed, reading its last lines",
					    "path", f->path, "to", de->d_name);
				while (tail_read_fd(t, f, fd, (int64_t)st.st_size, SIZE_MAX))
					;
			}
			close(fd);
			break;
		}
		closedir(dh);
	}
	if (snprintf(path, sizeof(path), "%s.lock", f->path) < (int)sizeof(path) &&
	    access(path, F_OK) == 0) {
		tail_mark_dirty(t, f); /* the run goes on: look again when its lock goes */
		return;
	}
	log_debug("transcript gone", "path", f->path);
	f->gone = 1;
	f->len = 0;
	tail_mark_dirty(t, f);
	/* Its lock went with it (at start-up the stored state may say it is held). */
	if (f->lock || t->initial) {
		f->lock = 0;
		t->ops.lock(t->ops.arg, f, 0);
	}
}

static void
tail_check_lock(struct tail *t, struct tail_file *f, int force)
{
	char path[PATH_MAX];
	int present;

	f->lock_check = 0;
	if (snprintf(path, sizeof(path), "%s.lock", f->path) >= (int)sizeof(path))
		return;
	present = access(path, F_OK) == 0;
	if (present)
		tail_mark_dirty(t, f);
	if (!present && f->lock && f->exists && !f->gone) {
		/*
		 * The gateway appends before it lets go of the lock: what was
		 * written up to now belongs to the run, read it before the run
		 * ends (the file may have grown since it was read above).
		 */
		tail_read(t, f);
		if (f->backlog) {
			f->lock_check = 1; /* again once the rest is read */
			return;
		}
	}
	if (present != f->lock || force) {
		f->lock = present;
		t->ops.lock(t->ops.arg, f, present);
	}
}

/* Reports new locks, reads the queued files, then reports gone locks. */
static void
tail_flush(struct tail *t)
{
	char path[PATH_MAX];
	size_t i;

	/* A lock that appeared was taken before the lines now waiting. */
	for (i = 0; i < t->nqueue; i++) {
		struct tail_file *f = t->queue[i];

		if (!f->lock_check || f->lock ||
		    snprintf(path, sizeof(path), "%s.lock", f->path) >= (int)sizeof(path))
			continue;
		if (access(path, F_OK) == 0) {
			f->lock = 1;
			tail_mark_dirty(t, f);
			t->ops.lock(t->ops.arg, f, 1);
		}
	}
	for (i = 0; i < t->nqueue; i++)
		tail_read(t, t->queue[i]);
	/* A lock that went away was released after its lines. */
	for (i = 0; i < t->nqueue; i++) {
		struct tail_file *f = t->queue[i];

		f->queued = 0;
		if (f->lock_check)
			tail_check_lock(t, f, t->initial && f->restored);
	}
	t->nqueue = 0;
}

static void
tail_index_check(struct tail *t, struct tail_dir *d, int force)
{
	char path[PATH_MAX];
	struct stat st;
	int64_t ino = 0, size = -1, mt = 0;

	if (snprintf(path, sizeof(path), "%s/sessions.json", d->path) >= (int)sizeof(path))
		return;
	if (stat(path, &st) == 0) {
		ino = (int64_t)st.st_ino;
		size = (int64_t)st.st_size;
		mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	}
	if (!force && ino == d->json_ino && size == d->json_size && mt == d->json_mtime_ns)
		return;
	d->json_ino = ino;
	d->json_size = size;
	d->json_mtime_ns = mt;
	t->ops.index(t->ops.arg, d);
}

/* Lists a sessions folder: transcripts to read, locks present. */
static void
tail_scan_files(struct tail *t, struct tail_dir *d, int first)
{
	char path[PATH_MAX];
	DIR *dh;
	struct dirent *de;
	size_t i;

	if ((dh = opendir(d->path)) == NULL) {
		log_warn("cannot list sessions folder", "path", d->path, "err", strerror(errno));
		return;
	}
	for (i = 0; i < t->nfiles; i++) {
		if (t->files[i]->dir == d)
			t->files[i]->seen = t->files[i]->lock_seen = 0;
	}
	while ((de = readdir(dh)) != NULL) {
		struct tail_file *f;
		size_t n = strlen(de->d_name);

		if (tail_is_transcript(de->d_name)) {
			if (snprintf(path, sizeof(path), "%s/%s", d->path, de->d_name) >=
			    (int)sizeof(path))
				continue;
			f = tail_file_get(t, path, d);
			f->seen = 1;
			if (first && !t->initial && f->inode == 0 && !f->saved)
				f->with_dir = 1;
			tail_queue(t, f);
		} else if (tail_is_lock(de->d_name)) {
			if (snprintf(path, sizeof(path), "%s/%.*s", d->path, (int)(n - 5),
			        de->d_name) >= (int)sizeof(path))
				continue;
			f = tail_file_get(t, path, d);
			f->lock_seen = 1;
			tail_queue(t, f);
		}
	}
	closedir(dh);
	for (i = 0; i < t->nfiles; i++) {
		struct tail_file *f = t->files[i];

		if (f->dir != d)
			continue;
		if (f->lock != f->lock_seen || (t->initial && f->restored))
			f->lock_check = 1;
		if (f->lock_check)
			tail_queue(t, f);
		if (!f->seen)
			f->exists = 0;
		if (!f->seen && !f->lock_seen && !f->gone && (f->inode != 0 || f->saved))
			tail_vanished(t, f);
	}
}

static int
tail_add_watch(struct tail *t, const char *path, uint32_t mask)
{
	int wd;

	if (t->ifd < 0)
		return -1;
	wd = inotify_add_watch(t->ifd, path, mask);
	if (wd < 0) {
		log_warn("cannot watch folder, polling it", "path", path, "err", strerror(errno));
		t->polling = 1;
	}
	return wd;
}

static struct tail_dir *
tail_dir_find(struct tail *t, const char *path)
{
	size_t i;

	for (i = 0; i < t->ndirs; i++) {
		if (strcmp(t->dirs[i]->path, path) == 0)
			return t->dirs[i];
	}
	return NULL;
}

static void
tail_dir_ensure(struct tail *t, const char *path, const char *agent_id)
{
	struct tail_dir *d = tail_dir_find(t, path);

	if (d != NULL) {
		d->seen = 1;
		if (d->wd < 0 && t->ifd >= 0)
			d->wd = tail_add_watch(t, d->path, TAIL_DIR_MASK);
		return;
	}
	d = xcalloc(1, sizeof(*d));
	d->path = xstrdup(path);
	d->agent_id = xstrdup(agent_id);
	d->seen = 1;
	d->json_size = -1;
	d->wd = tail_add_watch(t, d->path, TAIL_DIR_MASK);
	t->dirs = xreallocarray(t->dirs, t->ndirs + 1, sizeof(*t->dirs));
	t->dirs[t->ndirs++] = d;
	log_info("following sessions folder", "path", d->path, "agent", d->agent_id);
	tail_index_check(t, d, 1);
	tail_scan_files(t, d, 1);
}

static void
tail_watch_ensure(struct tail *t, const char *path)
{
	size_t i;
	int wd;

	for (i = 0; i < t->nwatches; i++) {
		if (strcmp(t->watches[i].path, path) == 0) {
			t->watches[i].seen = 1;
			return;
		}
	}
	if ((wd = tail_add_watch(t, path, TAIL_TREE_MASK)) < 0 && t->ifd >= 0)
		return;
	t->watches = xreallocarray(t->watches, t->nwatches + 1, sizeof(*t->watches));
	t->watches[t->nwatches].wd = wd;
	t->watches[t->nwatches].path = xstrdup(path);
	t->watches[t->nwatches].seen = 1;
	t->nwatches++;
}

/* The agent id of a lone sessions folder: agents/<id>/sessions, else main. */
static char *
tail_agent_of(const char *path)
{
	const char *end = strrchr(path, '/'), *start;

	if (end == NULL || strcmp(end, "/sessions") != 0)
		return xstrdup("main");
	start = end;
	while (start > path && start[-1] != '/')
		start--;
	if (start == end)
		return xstrdup("main");
	return xstrndup(start, (size_t)(end - start));
}

/* Finds folders (new agents, new sessions folders) and drops vanished ones. */
static void
tail_scan_dirs(struct tail *t)
{
	char path[PATH_MAX];
	int was_lost = t->root_lost;
	size_t i, j;

	for (i = 0; i < t->ndirs; i++)
		t->dirs[i]->seen = 0;
	for (i = 0; i < t->nwatches; i++)
		t->watches[i].seen = 0;
	if (!t->agents_mode) {
		t->root_lost = !tail_isdir(t->root);
		if (!t->root_lost) {
			char *agent = tail_agent_of(t->root);

			tail_dir_ensure(t, t->root, agent);
			free(agent);
		}
	} else {
		DIR *dh = opendir(t->root);
		struct dirent *de;

		t->root_lost = dh == NULL;
		if (dh != NULL)
			tail_watch_ensure(t, t->root);
		while (dh != NULL && (de = readdir(dh)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if (snprintf(path, sizeof(path), "%s/%s", t->root, de->d_name) >=
			        (int)sizeof(path) ||
			    !tail_isdir(path))
				continue;
			tail_watch_ensure(t, path);
			if (snprintf(path, sizeof(path), "%s/%s/sessions", t->root, de->d_name) >=
			        (int)sizeof(path) ||
			    !tail_isdir(path))
				continue;
			tail_dir_ensure(t, path, de->d_name);
		}
		if (dh != NULL)
			closedir(dh);
	}
	if (t->root_lost != was_lost) {
		if (t->root_lost)
			log_warn("TRANSCRIPT_DIR is gone, looking for it every poll interval",
			    "root", t->root);
		else
			log_info("TRANSCRIPT_DIR is back", "root", t->root);
	}
	for (i = 0; i < t->nwatches;) {
		if (t->watches[i].seen) {
			i++;
			continue;
		}
		if (t->ifd >= 0 && t->watches[i].wd >= 0)
			inotify_rm_watch(t->ifd, t->watches[i].wd);
		free(t->watches[i].path);
		t->watches[i] = t->watches[--t->nwatches];
	}
	for (i = 0; i < t->ndirs;) {
		struct tail_dir *d = t->dirs[i];

		if (d->seen) {
			i++;
			continue;
		}
		log_info("sessions folder gone", "path", d->path);
		if (t->ifd >= 0 && d->wd >= 0)
			inotify_rm_watch(t->ifd, d->wd);
		/* Its files keep their places: the folder may come back (a remount). */
		for (j = 0; j < t->nfiles; j++) {
			struct tail_file *f = t->files[j];

			if (f->dir != d)
				continue;
			f->dir = NULL;
			f->exists = 0;
			f->backlog = 0;
			if (f->lock) {
				/* Its lock went with the folder. */
				f->lock = 0;
				t->ops.lock(t->ops.arg, f, 0);
			}
		}
		tail_dir_free(t, d);
		t->dirs[i] = t->dirs[--t->ndirs];
	}
}

void
tail_start(struct tail *t)
{
	size_t i;

	t->initial = 1;
	tail_scan_dirs(t);
	/* Restored files whose folder is gone or that no longer exist. */
	for (i = 0; i < t->nfiles; i++) {
		struct tail_file *f = t->files[i];
		size_t j, n;

		if (!f->restored || f->dir != NULL)
			continue;
		f->restored = 0;
		/* Gone from a folder that is there: renamed (/new, /reset) or deleted. */
		n = (size_t)(f->name - f->path);
		for (j = 0; n > 0 && j < t->ndirs; j++) {
			if (strlen(t->dirs[j]->path) == n - 1 &&
			    strncmp(t->dirs[j]->path, f->path, n - 1) == 0) {
				f->dir = t->dirs[j];
				tail_vanished(t, f);
				break;
			}
		}
	}
	tail_flush(t);
	t->initial = 0;
	for (i = 0; i < t->nfiles; i++)
		t->files[i]->restored = 0;
}

void
tail_rescan(struct tail *t)
{
	size_t i;

	t->rescans++;
	tail_scan_dirs(t);
	for (i = 0; i < t->ndirs; i++) {
		tail_index_check(t, t->dirs[i], 0);
		tail_scan_files(t, t->dirs[i], 0);
	}
	tail_flush(t);
}

static struct tail_dir *
tail_dir_by_wd(struct tail *t, int wd)
{
	size_t i;

	for (i = 0; i < t->ndirs; i++) {
		if (t->dirs[i]->wd == wd)
			return t->dirs[i];
	}
	return NULL;
}

void
tail_handle(struct tail *t)
{
	char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
	char path[PATH_MAX];
	int overflow = 0, structure = 0;
	size_t i;
	ssize_t n;

	for (;;) {
		char *p;

		n = read(t->ifd, buf, sizeof(buf));
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		for (p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			struct tail_dir *d;
			struct tail_file *f;

			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				overflow = 1;
				continue;
			}
			if ((d = tail_dir_by_wd(t, ev->wd)) == NULL) {
				structure = 1;
				continue;
			}
			if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
				if (ev->mask & IN_IGNORED)
					d->wd = -1;
				structure = 1;
				continue;
			}
			if (ev->len == 0)
				continue;
			if (strcmp(ev->name, "sessions.json") == 0) {
				tail_index_check(t, d, 0);
			} else if (tail_is_transcript(ev->name)) {
				if (snprintf(path, sizeof(path), "%s/%s", d->path, ev->name) >=
				    (int)sizeof(path))
					continue;
				tail_queue(t, tail_file_get(t, path, d));
			} else if (tail_is_lock(ev->name)) {
				if (snprintf(path, sizeof(path), "%s/%.*s", d->path,
				        (int)(strlen(ev->name) - 5), ev->name) >= (int)sizeof(path))
					continue;
				f = tail_file_get(t, path, d);
				f->lock_check = 1;
				tail_queue(t, f);
			}
		}
	}
	if (overflow) {
		t->overflows++;
		log_warn("inotify queue overflowed, rescanning", "root", t->root);
		tail_flush(t);
		tail_rescan(t);
		return;
	}
	if (structure)
		tail_scan_dirs(t);
	/* sessions.json may have changed without an event of its own. */
	for (i = 0; i < t->ndirs && structure; i++)
		tail_index_check(t, t->dirs[i], 0);
	tail_flush(t);
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
