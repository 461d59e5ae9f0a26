/*
 * ocdb_find: finding OpenClaw agent databases under the root (folders
 * agents/<id>/agent, a lone agentDir, a sessions/ folder) and the inotify
 * watches that say when to look again (see ocdb_int.h).
 */
#include "watcher/ocdb_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"

/* ---- small helpers ------------------------------------------------- */

static int
ocdb_is_dir(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/*
 * 1 when path is a database to open: a regular file, reached without a
 * link out of the root (unless FOLLOW_OUTSIDE_LINKS).  A FIFO, socket,
 * device or folder of that name, or an outside link, is never opened (a
 * blocking open of a FIFO would freeze the watcher); one warning each.
 */
int
ocdb_is_file(struct ocdb *o, const char *path, struct stat *sb)
{
	struct stat tmp;
	const char *why;
	void **warned;
	int fd;

	if (sb == NULL)
		sb = &tmp;
	if ((fd = util_open_regular(path, o->root, o->cfg.outside_links, &why)) < 0) {
		if (why != NULL && (warned = ocdb_map_slot(&o->refused, path, 1)) != NULL &&
		    *warned == NULL) {
			*warned = o; /* any non-NULL mark */
			log_warn("not an openclaw database, skipped", "path", path, "why", why);
		}
		return 0;
	}
	if (fstat(fd, sb) != 0 || !S_ISREG(sb->st_mode)) {
		close(fd);
		return 0;
	}
	close(fd);
	return 1;
}

static const char *
ocdb_base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}

/* The parent folder of path, newly allocated ("." for a bare name). */
static char *
ocdb_dirname(const char *path)
{
	const char *s = strrchr(path, '/');

	if (s == NULL)
		return xstrdup(".");
	if (s == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(s - path));
}

/* ---- discovery -------------------------------------------------------- */

static void
ocdb_watch(struct ocdb *o, const char *path, enum ocdb_watch_kind kind)
{
	uint32_t mask = IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF |
	    IN_MOVE_SELF | IN_ONLYDIR;
	size_t i;
	int wd;

	if (o->ifd < 0 || o->poll_only)
		return;
	for (i = 0; i < o->nwatch; i++)
		if (strcmp(o->watches[i].path, path) == 0)
			return;
	if (kind == W_DBDIR)
		mask |= IN_MODIFY | IN_CLOSE_WRITE;
	wd = inotify_add_watch(o->ifd, path, mask);
	if (wd < 0) {
		log_warn("cannot watch folder, checking on a timer instead", "path", path, "err",
		    strerror(errno));
		o->poll_only = 1;
		return;
	}
	if (o->nwatch == o->capwatch) {
		o->capwatch = o->capwatch ? o->capwatch * 2 : 16;
		o->watches = xreallocarray(o->watches, o->capwatch, sizeof(*o->watches));
	}
	o->watches[o->nwatch].wd = wd;
	o->watches[o->nwatch].kind = kind;
	o->watches[o->nwatch].path = xstrdup(path);
	o->nwatch++;
}

static void
ocdb_found(struct ocdb *o, const char *dir, const char *id, int by_folder)
{
	struct ocdb_agent *a = NULL;
	struct stat sb;
	char *path = xasprintf("%s/%s", dir, OCDB_FILE_NAME);
	size_t i;

	for (i = 0; i < o->nagent; i++) {
		if (strcmp(o->agents[i]->path, path) == 0) {
			a = o->agents[i];
			break;
		}
	}
	if (a == NULL) {
		a = xcalloc(1, sizeof(*a));
		a->id = xstrdup(id);
		a->dir = xstrdup(dir);
		a->path = path;
		path = NULL;
		a->by_folder = by_folder;
		a->from_start = o->initial_done;
		a->state = AG_CLOSED;
		if (o->nagent == o->capagent) {
			o->capagent = o->capagent ? o->capagent * 2 : 8;
			o->agents = xreallocarray(o->agents, o->capagent, sizeof(*o->agents));
		}
		o->agents[o->nagent++] = a;
	}
	a->seen = 1;
	if (a->state == AG_MISSING) {
		a->state = AG_CLOSED;
		a->retry_at = 0;
	} else if (a->db != NULL && ocdb_is_file(o, a->path, &sb) &&
	    (sb.st_ino != a->ino || sb.st_dev != a->dev)) {
		log_info("openclaw database replaced, reopening", "path", a->path);
		ocdb_close_db(a);
		a->state = AG_CLOSED;
		a->retry_at = 0;
	}
	free(path);
}

/*
 * agents/<id>: watched for agent/ appearing; followed when it has the
 * file, else listed as a file-layout agent when it has sessions/.
 */
static void
ocdb_agent_folder(struct ocdb *o, const char *folder)
{
	char *dir = xasprintf("%s/agent", folder), *file = NULL, *sessions;
	int found = 0;

	ocdb_watch(o, folder, W_AGENT);
	if (ocdb_is_dir(dir)) {
		ocdb_watch(o, dir, W_DBDIR);
		file = xasprintf("%s/%s", dir, OCDB_FILE_NAME);
		if ((found = ocdb_is_file(o, file, NULL)) != 0)
			ocdb_found(o, dir, ocdb_base(folder), 1);
	}
	sessions = xasprintf("%s/sessions", folder);
	if (!found && ocdb_is_dir(sessions)) {
		o->file_agents =
		    xreallocarray(o->file_agents, (o->nfile + 1) * 2, sizeof(*o->file_agents));
		o->file_agents[o->nfile * 2] = xstrdup(ocdb_base(folder));
		o->file_agents[o->nfile * 2 + 1] = sessions;
		o->nfile++;
		sessions = NULL;
	}
	free(sessions);
	free(file);
	free(dir);
}

void
ocdb_discover(struct ocdb *o)
{
	const char *root = o->root;
	char *p = xasprintf("%s/%s", root, OCDB_FILE_NAME), *q = NULL, *up = NULL;
	struct dirent *de;
	DIR *d;
	size_t i;

	for (i = 0; i < o->nagent; i++)
		o->agents[i]->seen = 0;
	for (i = 0; i < o->nfile * 2; i++)
		free(o->file_agents[i]);
	o->nfile = 0;
	if (ocdb_is_file(o, p, NULL)) {
		/* The root is an agentDir itself. */
		up = ocdb_dirname(root);
		ocdb_watch(o, root, W_DBDIR);
		if (strcmp(ocdb_base(root), "agent") == 0)
			ocdb_found(o, root, ocdb_base(up), 1);
		else
			ocdb_found(o, root, ocdb_base(root), 0);
		goto sweep;
	}
	if (strcmp(ocdb_base(root), "sessions") == 0) {
		/* One agent's sessions/ folder: its database is beside it. */
		up = ocdb_dirname(root);
		ocdb_agent_folder(o, up);
		goto sweep;
	}
	q = xasprintf("%s/agent", root);
	free(p);
	p = xasprintf("%s/sessions", root);
	if (ocdb_is_dir(q) || ocdb_is_dir(p)) {
		ocdb_agent_folder(o, root);
		goto sweep;
	}
	ocdb_watch(o, root, W_ROOT);
	if ((d = opendir(root)) == NULL)
		goto sweep;
	while ((de = readdir(d)) != NULL) {
		char *folder;

		if (de->d_name[0] == '.')
			continue;
		folder = xasprintf("%s/%s", root, de->d_name);
		if (ocdb_is_dir(folder))
			ocdb_agent_folder(o, folder);
		free(folder);
	}
	closedir(d);
sweep:
	for (i = 0; i < o->nagent; i++) {
		struct ocdb_agent *a = o->agents[i];

		if (!a->seen && a->state != AG_MISSING) {
			log_info("openclaw database gone", "path", a->path);
			ocdb_close_db(a);
			a->state = AG_MISSING;
		}
	}
	free(p);
	free(q);
	free(up);
}

/* ---- inotify ---------------------------------------------------------- */

static struct ocdb_watch *
ocdb_watch_by_wd(struct ocdb *o, int wd)
{
	size_t i;

	for (i = 0; i < o->nwatch; i++)
		if (o->watches[i].wd == wd)
			return &o->watches[i];
	return NULL;
}

static void
ocdb_watch_drop(struct ocdb *o, struct ocdb_watch *w)
{
	free(w->path);
	*w = o->watches[--o->nwatch];
}

static void
ocdb_db_event(struct ocdb *o, const struct ocdb_watch *w, const struct inotify_event *ev)
{
	size_t i, n = strlen(OCDB_FILE_NAME);
	const char *name = ev->name;
	int is_db = strcmp(name, OCDB_FILE_NAME) == 0;

	if (strncmp(name, OCDB_FILE_NAME, n) != 0 ||
	    !(is_db || strcmp(name + n, "-wal") == 0 || strcmp(name + n, "-journal") == 0))
		return;
	if (is_db && (ev->mask & (IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM)))
		o->rescan = 1;
	for (i = 0; i < o->nagent; i++) {
		if (strcmp(o->agents[i]->dir, w->path) == 0) {
			o->agents[i]->pending = 1;
			o->agents[i]->rechecks = OCDB_RECHECKS;
		}
	}
}

void
ocdb_drain(struct ocdb *o)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	struct ocdb_watch *w;
	ssize_t n;
	char *p;
	size_t i;

	if (o->ifd < 0)
		return;
	while ((n = read(o->ifd, buf, sizeof(buf))) > 0) {
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW) {
				o->rescan = 1;
				for (i = 0; i < o->nagent; i++)
					o->agents[i]->pending = 1;
				continue;
			}
			if ((w = ocdb_watch_by_wd(o, ev->wd)) == NULL)
				continue;
			if (ev->mask & IN_IGNORED) {
				ocdb_watch_drop(o, w);
				o->rescan = 1;
				continue;
			}
			if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
				o->rescan = 1;
				continue;
			}
			if (w->kind == W_DBDIR && ev->len > 0)
				ocdb_db_event(o, w, ev);
			else if (ev->len > 0 &&
			    ((ev->mask & IN_ISDIR) || strcmp(ev->name, "agent") == 0))
				o->rescan = 1;
		}
	}
}
