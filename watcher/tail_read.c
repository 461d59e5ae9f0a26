/*
 * tail_read: reading transcript bytes: new complete lines, rewrites, a
 * new file's first event time, vanished files and run locks (see
 * tail_int.h).
 */
#include "watcher/tail_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"

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
	int ms = 0, n = 0, i;
	char frac[8] = "";

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	        &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
		return 0;
	if (s[n] == '.' && sscanf(s + n + 1, "%3[0-9]", frac) == 1) {
		/* ".5" is 500 ms, ".05" 50, ".005" 5 */
		for (i = 0; i < 3; i++)
			ms = ms * 10 + (frac[i] != '\0' ? frac[i] - '0' : 0);
	}
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

/*
 * Between reads f keeps only the start of a line not yet ended.  A read
 * sizes the buffer for what it takes (up to TAIL_CHUNK), and an idle
 * transcript should not go on holding that: with a hundred sessions the
 * buffers of their first reads were most of the watcher's heap.  A line
 * still growing keeps TAIL_SLACK bytes to grow into.
 */
static void
tail_trim(struct tail_file *f)
{
	if (f->len == 0) {
		free(f->buf);
		f->buf = NULL;
		f->cap = 0;
	} else if (f->cap - f->len > TAIL_SLACK) {
		f->cap = f->len + TAIL_SLACK;
		f->buf = xrealloc(f->buf, f->cap);
	}
}

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
			f->cap = f->len + want + TAIL_SLACK;
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
	tail_trim(f);
	/* Left for later only when the budget ran out (not on a short read). */
	return pos < size && budget == 0;
}

/*
 * f is no longer in its folder.  When it was renamed to a name that is not
 * live (".reset.", ".deleted.", ...), the lines appended since the last
 * read are read from there.  Once no run lock is left, f is gone.
 */
void
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
void
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
