/*
 * tail_scan: finding sessions folders and transcripts under TRANSCRIPT_DIR,
 * the inotify watches on them and the events they give (see tail_int.h).
 */
#include "watcher/tail_int.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"

int
tail_isdir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The sessions folder layout: 1 when root holds <agent>/sessions folders. */
int
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

/* agents/ mode: watches each agents/<id> folder and follows its sessions/. */
static void
tail_scan_agents(struct tail *t)
{
	char path[PATH_MAX];
	DIR *dh = opendir(t->root);
	struct dirent *de;

	t->root_lost = dh == NULL;
	if (dh == NULL)
		return;
	tail_watch_ensure(t, t->root);
	while ((de = readdir(dh)) != NULL) {
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
	closedir(dh);
}

/* Drops the watches and folders the last scan did not see. */
static void
tail_drop_unseen(struct tail *t)
{
	size_t i, j;

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

/* Finds folders (new agents, new sessions folders) and drops vanished ones. */
static void
tail_scan_dirs(struct tail *t)
{
	int was_lost = t->root_lost;
	size_t i;

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
		tail_scan_agents(t);
	}
	if (t->root_lost != was_lost) {
		if (t->root_lost)
			log_warn("TRANSCRIPT_DIR is gone, looking for it every poll interval",
			    "root", t->root);
		else
			log_info("TRANSCRIPT_DIR is back", "root", t->root);
	}
	tail_drop_unseen(t);
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
