/* watcher: the main loop (tail → model → store → notices). */
#include "watcher/watcher.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/log.h"
#include "common/notify.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "sql/store.h"
#include "sql/store_watcher.h"
#include "watcher/box.h"
#include "watcher/labels.h"
#include "watcher/forward.h"
#include "watcher/health_http.h"
#include "watcher/mm_poster.h"
#include "watcher/ocdb.h"
#include "watcher/sessions.h"
#include "watcher/tail.h"

#define WATCHER_BUSY_TIMEOUT_MS 1000
#define WATCHER_RETRY_MS 250
#define WATCHER_SAFETY_RESCAN_MS 30000
#define WATCHER_MAX_FDS 8
/* Clock slack when comparing file birth times with our last commit. */
#define WATCHER_BORN_SLACK_MS 2000

/* Upper bounds (ms) of the append-to-store latency histogram (metrics). */
static const int64_t watcher_lat_le[] = { 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000,
	10000 };
#define WATCHER_LAT_N (sizeof(watcher_lat_le) / sizeof(watcher_lat_le[0]))

/* Lines read and refused per agent (file layout), for the metrics. */
struct watcher_agent_lines {
	char *agent;
	int64_t lines_read, bad_lines;
};

struct watcher;

/* One descriptor the loop waits on; add a row to wait on one more. */
struct watcher_fd {
	int fd;
	void (*fn)(struct watcher *w);
};

/* One periodic task; add a row for one more. */
struct watcher_task {
	const char *name;
	int64_t interval_ms;
	int64_t next_ms; /* monotonic */
	void (*fn)(struct watcher *w, int64_t now);
	int enabled;
};

struct watcher {
	const struct wcfg *cfg;
	store *st;
	struct labels *labels;
	struct box_model *model;
	struct tail *tail;
	struct ocdb *ocdb; /* OpenClaw 2026.8+ agents: their SQLite databases */
	struct notify *notify;
	int epfd, sigfd;
	int stop;
	int rescan_now;
	int64_t started_ms;
	int64_t lines_read, parse_errors, bad_utf8, commits, commit_busy, notices;
	int64_t index_loads, index_errors;
	/* metrics: per-agent counts, and read times of uncommitted inputs */
	struct watcher_agent_lines *agent_lines;
	size_t nagent_lines;
	int64_t *lat_pending; /* monotonic ms each uncommitted line was read */
	size_t nlat, caplat;
	int64_t lat_counts[WATCHER_LAT_N + 1], lat_sum_ms;
	int64_t ocdb_seen; /* events_read at the last commit */
	int64_t retry_at;  /* monotonic ms of the next commit try, 0: none */
	struct watcher_fd fds[WATCHER_MAX_FDS];
	int nfds;
	struct watcher_task *tasks;
	int ntasks;
	/* the last failed store write (not busy), for health: 0 when none */
	int64_t write_failed_ms;
	char write_error[128];
	struct forward *fwd;        /* NULL without PLUGIN_URL */
	struct health_http *health; /* NULL with HEALTH_PORT=0 */
	/* SESSIONS_JSON outside the folder: its last stat, an inotify watch */
	int64_t sj_ino, sj_size, sj_mtime;
	struct tail_dir *sj_dir;
	int sj_fd;
};

/* ---- from the tailer to the model ---- */

/* 1 when path is TRANSCRIPT_DIR (written with or without trailing slashes). */
static int
watcher_is_root(struct watcher *w, const char *path)
{
	const char *root = w->cfg->transcript_dir;
	size_t n = strlen(root);

	while (n > 1 && root[n - 1] == '/')
		n--;
	return strlen(path) == n && strncmp(path, root, n) == 0;
}

static struct sessions_index *
watcher_index(struct watcher *w, struct tail_dir *d)
{
	const char *path = NULL;

	if (d->user != NULL)
		return d->user;
	if (w->cfg->sessions_json != NULL && watcher_is_root(w, d->path)) {
		path = w->cfg->sessions_json;
		w->sj_dir = d;
	}
	d->user = xmalloc(sizeof(struct sessions_index));
	sessions_init(d->user, d->path, path);
	return d->user;
}

static void
watcher_on_index(void *arg, struct tail_dir *d)
{
	struct watcher *w = arg;
	struct sessions_index *idx = watcher_index(w, d);
	char err[512];
	size_t i;

	if (sessions_load(idx, w->cfg->default_channel, err, sizeof(err)) != 0) {
		w->index_errors++;
		if (idx->gen > 0)
			log_warn("keeping the last good session index", "err", err);
		else
			log_debug("no session index yet", "err", err);
		return;
	}
	w->index_loads++;
	log_debug("session index loaded", "path", idx->path, "sessions", LOG_I64(idx->n));
	for (i = 0; i < idx->n; i++) {
		const struct sessions_entry *e = &idx->entries[i];
		struct box_meta meta = {
			.agent_id = d->agent_id,
			.channel_id = e->channel_id,
			.root_id = e->root_id,
			.target = e->target,
			.label = e->label,
			.parent_key = e->parent_key,
		};

		box_set_meta(w->model, e->key, &meta);
	}
}

/* The session key of a transcript: sessions.json, else sticky, else by name. */
static const char *
watcher_key(struct tail_file *f)
{
	struct sessions_index *idx = f->dir != NULL ? f->dir->user : NULL;
	const struct sessions_entry *e = NULL;
	char id[256];
	const char *p;
	size_t n;

	if (f->key != NULL && (idx == NULL || f->key_gen == idx->gen))
		return f->key;
	if (idx != NULL) {
		f->key_gen = idx->gen;
		e = sessions_by_file(idx, f->path);
		if (e == NULL && f->key == NULL) {
			/* <id>.jsonl, <id>-topic-<thread>.jsonl, <ISO>_<id>.jsonl */
			n = strlen(f->name) - 6;
			if ((p = strstr(f->name, "-topic-")) != NULL)
				n = (size_t)(p - f->name);
			snprintf(id, sizeof(id), "%.*s", (int)n, f->name);
			e = sessions_by_id(idx, id);
			if (e == NULL && (p = strrchr(id, '_')) != NULL)
				e = sessions_by_id(idx, p + 1);
		}
	}
	if (e != NULL) {
		if (f->key == NULL || strcmp(f->key, e->key) != 0) {
			free(f->key);
			f->key = xstrdup(e->key);
		}
	} else if (f->key == NULL) {
		f->key = xasprintf("agent:%s:file:%.*s", f->dir ? f->dir->agent_id : "main",
		    (int)(strlen(f->name) - 6), f->name);
	}
	return f->key;
}

static const char *
watcher_agent(struct tail_file *f)
{
	return f->dir != NULL ? f->dir->agent_id : "";
}

/* 1 when f's key is only a guess from its name (no index entry names it). */
static int
watcher_key_guessed(struct tail_file *f, const char *key)
{
	char *guess = xasprintf("agent:%s:file:%.*s", f->dir ? f->dir->agent_id : "main",
	    (int)(strlen(f->name) - 6), f->name);
	int r = strcmp(guess, key) == 0;

	free(guess);
	return r;
}

/*
 * The session key of a header's parentSession (a session id, or the path or
 * name of the parent's transcript), or NULL when nothing names it.
 */
static const char *
watcher_parent_key(struct watcher *w, struct tail_file *f, const char *parent)
{
	struct sessions_index *idx = f->dir != NULL ? f->dir->user : NULL;
	const struct sessions_entry *e = NULL;
	struct tail_file *pf;
	const char *base = strrchr(parent, '/'), *p;
	char id[512], path[4096];
	size_t n;

	base = base != NULL ? base + 1 : parent;
	n = (p = strstr(base, ".jsonl")) != NULL ? (size_t)(p - base) : strlen(base);
	if (n == 0 || n >= sizeof(id) || f->dir == NULL)
		return NULL;
	snprintf(id, sizeof(id), "%.*s", (int)n, base);
	if (*parent == '/')
		snprintf(path, sizeof(path), "%s", parent);
	else
		snprintf(path, sizeof(path), "%s/%s.jsonl", f->dir->path, id);
	if (idx != NULL && (e = sessions_by_file(idx, path)) == NULL &&
	    (e = sessions_by_id(idx, id)) == NULL && (p = strrchr(id, '_')) != NULL)
		e = sessions_by_id(idx, p + 1);
	if (e != NULL)
		return e->key;
	/* The parent transcript as followed (itself maybe a successor). */
	if ((pf = tail_file_find(w->tail, path)) != NULL && pf != f && pf->key != NULL &&
	    !watcher_key_guessed(pf, pf->key))
		return pf->key;
	return NULL;
}

/*
 * The first line of a transcript that no index entry names: a successor
 * (compaction, fork) whose header has parentSession continues that session.
 */
static void
watcher_header(struct watcher *w, struct tail_file *f, const char *line, size_t len)
{
	const char *key = watcher_key(f), *parent, *pkey;
	json_tokener *tok;
	json_object *o, *v = NULL;
	char *old;

	if (f->offset != 0 || len < 20 || memmem(line, len, "parentSession", 13) == NULL ||
	    !watcher_key_guessed(f, key))
		return;
	if ((tok = json_tokener_new()) == NULL)
		return;
	o = json_tokener_parse_ex(tok, line, (int)len);
	json_tokener_free(tok);
	if (o != NULL && json_object_is_type(o, json_type_object) &&
	    json_object_object_get_ex(o, "type", &v) &&
	    strcmp(json_object_get_string(v), "session") == 0 &&
	    json_object_object_get_ex(o, "parentSession", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    *(parent = json_object_get_string(v)) != '\0' &&
	    (pkey = watcher_parent_key(w, f, parent)) != NULL && strcmp(pkey, key) != 0) {
		log_info(
		    "successor transcript continues its session", "path", f->path, "session", pkey);
		old = f->key;
		f->key = xstrdup(pkey);
		box_rekey(w->model, old, f->key, util_now_ms());
		free(old);
	}
	json_object_put(o);
}

/* Counts one line read from f (bad: refused) for the metrics. */
static void
watcher_count_line(struct watcher *w, struct tail_file *f, int bad)
{
	const char *agent = watcher_agent(f);
	struct watcher_agent_lines *a = NULL;
	size_t i;

	for (i = 0; i < w->nagent_lines && a == NULL; i++)
		if (strcmp(w->agent_lines[i].agent, agent) == 0)
			a = &w->agent_lines[i];
	if (a == NULL) {
		w->agent_lines =
		    xreallocarray(w->agent_lines, w->nagent_lines + 1, sizeof(*w->agent_lines));
		a = &w->agent_lines[w->nagent_lines++];
		a->agent = xstrdup(agent);
		a->lines_read = a->bad_lines = 0;
	}
	a->lines_read++;
	a->bad_lines += bad != 0;
	if (w->nlat == w->caplat) {
		w->caplat = w->caplat ? w->caplat * 2 : 256;
		w->lat_pending = xreallocarray(w->lat_pending, w->caplat, sizeof(int64_t));
	}
	w->lat_pending[w->nlat++] = util_mono_ms();
}

/* After a commit: every input read since the last one reached the store. */
static void
watcher_count_committed(struct watcher *w, int64_t events, int64_t since)
{
	int64_t now = util_mono_ms(), d;
	size_t i, b;

	for (i = 0; i < w->nlat + (size_t)events; i++) {
		d = now - (i < w->nlat ? w->lat_pending[i] : since);
		for (b = 0; b < WATCHER_LAT_N && d > watcher_lat_le[b]; b++)
			;
		w->lat_counts[b]++;
		w->lat_sum_ms += d;
	}
	w->nlat = 0;
}

static void
watcher_on_line(void *arg, struct tail_file *f, const char *line, size_t len)
{
	struct watcher *w = arg;
	int rc;

	w->lines_read++;
	if (f->offset == 0)
		watcher_header(w, f, line, len);
	rc = box_feed_line(w->model, watcher_agent(f), watcher_key(f), line, len, util_now_ms());
	watcher_count_line(w, f, rc != TX_OK);
	if (rc == TX_OK)
		return;
	w->parse_errors++;
	if (rc == TX_BAD_UTF8)
		w->bad_utf8++;
	log_warn(rc == TX_BAD_UTF8 ? "skipping a line that is not UTF-8"
	                           : "skipping a line that is not a JSON object",
	    "path", f->path, "offset", LOG_I64(f->offset));
}

static void
watcher_on_bad_line(void *arg, struct tail_file *f, const char *why)
{
	struct watcher *w = arg;

	w->lines_read++;
	w->parse_errors++;
	watcher_count_line(w, f, 1);
	log_warn("skipping a line", "path", f->path, "offset", LOG_I64(f->offset), "why", why);
}

static void
watcher_on_reset(void *arg, struct tail_file *f)
{
	struct watcher *w = arg;

	log_info("transcript rewritten, reading it again", "path", f->path);
	box_compacted(w->model, watcher_key(f), util_now_ms());
}

static void
watcher_on_lock(void *arg, struct tail_file *f, int present)
{
	struct watcher *w = arg;

	const char *key = watcher_key(f);

	log_debug("run lock", "path", f->path, "present", present ? "1" : "0");
	/* The session may hold a second lock on its successor file. */
	if (!present && tail_lock_held(w->tail, key, f))
		return;
	box_lock(w->model, watcher_agent(f), key, present, util_now_ms());
}

/* SESSIONS_JSON kept outside the folder: no event of its own, so stat it. */
static void
watcher_check_sessions_json(struct watcher *w)
{
	struct stat st;
	int64_t mt;

	if (w->sj_dir == NULL || stat(w->cfg->sessions_json, &st) != 0)
		return;
	mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	if ((int64_t)st.st_ino == w->sj_ino && (int64_t)st.st_size == w->sj_size &&
	    mt == w->sj_mtime)
		return;
	w->sj_ino = (int64_t)st.st_ino;
	w->sj_size = (int64_t)st.st_size;
	w->sj_mtime = mt;
	watcher_on_index(w, w->sj_dir);
}

/* ---- store ---- */

/*
 * POST-COMMIT HOOK.  Called after every successful commit that changed at
 * least one box, with the store revision of the last change.  The
 * Mattermost poster (its own thread and store handle) is woken here, e.g.
 * by writing to its eventfd; it then reads the changed boxes from the store.
 */
static void
watcher_committed(struct watcher *w, int64_t revision, size_t nboxes)
{
	(void)revision;
	(void)nboxes;
	mm_poster_kick();
	forward_kick(w->fwd);
}

/*
 * Writes the changed boxes, each parent before the sub-agent boxes that name
 * it (parent_id is a foreign key; a run and its child may be new in the same
 * batch, in any order).
 */
static int
watcher_put_boxes(struct watcher *w, struct box_change *ch, size_t n, size_t *nboxes, int64_t *rev)
{
	unsigned char *done = xcalloc(n + 1, 1);
	size_t i, j, k, left = 0;
	int rc = STORE_OK, progress, force = 0;

	for (i = 0; i < n; i++)
		left += ch[i].has_box != 0;
	while (left > 0) {
		progress = 0;
		/* Replaced (older) runs first, so that rows go in the order runs began. */
		for (k = 0; k < 2 * n && rc == STORE_OK; k++) {
			const char *pid;

			i = k % n;
			if (!ch[i].has_box || done[i] || ch[i].retired != (k < n))
				continue;
			pid = ch[i].box.parent_id;
			for (j = 0; !force && pid != NULL && j < n; j++) {
				if (j != i && ch[j].has_box && !done[j] &&
				    strcmp(ch[j].box.id, pid) == 0)
					break;
			}
			if (!force && pid != NULL && j < n)
				continue; /* its parent first */
			ch[i].box.gateway = (char *)w->cfg->gateway_name;
			rc = store_watcher_box_put(w->st, &ch[i].box);
			ch[i].box.gateway = NULL; /* not the change's to free */
			if (rc != STORE_OK)
				break;
			done[i] = 1;
			left--;
			progress = 1;
			(*nboxes)++;
			*rev = ch[i].box.revision;
		}
		if (rc != STORE_OK)
			break;
		force = !progress; /* a cycle cannot happen; never loop on one */
	}
	free(done);
	return rc;
}

/* Writes every pending change in one transaction; 0, or a STORE_ code. */
static int
watcher_commit(struct watcher *w)
{
	struct box_change *ch = NULL;
	struct tail_file **files;
	struct ocdb_stats os;
	char **del;
	size_t n, nf, ndel, i, nboxes = 0;
	int64_t now = util_now_ms(), rev = 0, since = util_mono_ms();
	int rc;

	n = box_changes(w->model, &ch);
	ndel = box_deleted(w->model, &del);
	nf = tail_dirty(w->tail, &files);
	if (n == 0 && nf == 0 && !ocdb_dirty(w->ocdb))
		return STORE_OK;
	if ((rc = store_begin(w->st)) != STORE_OK)
		goto out;
	for (i = 0; i < ndel; i++) {
		if ((rc = store_box_delete(w->st, del[i])) != STORE_OK && rc != STORE_NOTFOUND)
			goto out;
		rc = STORE_OK;
	}
	if ((rc = watcher_put_boxes(w, ch, n, &nboxes, &rev)) != STORE_OK)
		goto out;
	for (i = 0; i < n; i++) {
		struct box_change *c = &ch[i];

		if (c->retired)
			continue;
		if ((rc = store_watcher_session_put(
		         w->st, c->session_key, c->box_id, c->state, c->target, now)) != STORE_OK)
			goto out;
	}
	for (i = 0; i < nf; i++) {
		struct tail_file *f = files[i];

		if (f->gone)
			rc = store_watcher_file_delete(w->st, f->path);
		else
			rc = store_watcher_file_put(w->st, f->path, (int64_t)f->inode, f->offset,
			    f->key, watcher_agent(f), now);
		if (rc != STORE_OK)
			goto out;
	}
	if ((rc = ocdb_save(w->ocdb, now)) != STORE_OK)
		goto out;
	rc = store_commit(w->st);
out:
	if (rc != STORE_OK) {
		store_rollback(w->st);
		if (rc == STORE_BUSY) {
			w->commit_busy++;
			log_warn("store busy, keeping changes for the next try", "changes",
			    LOG_I64(n + nf));
		} else {
			log_error("cannot write to the store", "err", store_errmsg(w->st));
			w->write_failed_ms = util_now_ms();
			snprintf(w->write_error, sizeof(w->write_error), "%s", store_errmsg(w->st));
		}
		w->retry_at = util_mono_ms() + WATCHER_RETRY_MS;
		box_changes_free(ch, n);
		return rc;
	}
	w->retry_at = 0;
	w->commits++;
	ocdb_stats(w->ocdb, &os);
	watcher_count_committed(w, os.events_read - w->ocdb_seen, since);
	w->ocdb_seen = os.events_read;
	tail_mark_clean(w->tail);
	ocdb_saved(w->ocdb);
	for (i = 0; i < n; i++) {
		const char *chan = ch[i].box.channel_id;
		char route[128];

		if (!ch[i].has_box)
			continue;
		/* a sub-agent without a channel is heard in its parent's */
		if ((chan == NULL || *chan == '\0') && ch[i].box.parent_id != NULL &&
		    store_box_route_channel(w->st, ch[i].box.id, route, sizeof(route)) == STORE_OK)
			chan = route;
		notify_box(w->notify, ch[i].box.revision, ch[i].box.id, chan);
		w->notices++;
	}
	if (nboxes > 0)
		watcher_committed(w, rev, nboxes);
	box_changes_free(ch, n);
	box_mark_clean(w->model); /* frees what the change list pointed into */
	return STORE_OK;
}

/* Resident memory (bytes) and open descriptors of this process, or -1. */
static void
watcher_proc(int64_t *rss, int64_t *fds)
{
	struct dirent *de;
	long pages = -1;
	FILE *f;
	DIR *d;

	*rss = *fds = -1;
	if ((f = fopen("/proc/self/statm", "r")) != NULL) {
		if (fscanf(f, "%*s %ld", &pages) == 1)
			*rss = (int64_t)pages * sysconf(_SC_PAGESIZE);
		fclose(f);
	}
	if ((d = opendir("/proc/self/fd")) != NULL) {
		*fds = -1; /* the folder's own descriptor */
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				(*fds)++;
		closedir(d);
	}
}

/*
 * The figures fcgi/metrics.c turns into series: lines per agent (file
 * layout; database agents count theirs in "agents"), the append-to-store
 * latency histogram (counts per bucket, the last above the highest bound),
 * store busy waits, memory and descriptors.
 */
static void
watcher_metrics_json(struct watcher *w, json_object *o)
{
	json_object *agents = json_object_new_object(), *h, *le, *counts, *a;
	int64_t rss, fds;
	size_t i;

	for (i = 0; i < w->nagent_lines; i++) {
		a = json_object_new_object();
		json_object_object_add(
		    a, "lines_read", json_object_new_int64(w->agent_lines[i].lines_read));
		json_object_object_add(
		    a, "bad_lines", json_object_new_int64(w->agent_lines[i].bad_lines));
		json_object_object_add(agents, w->agent_lines[i].agent, a);
	}
	json_object_object_add(o, "agent_lines", agents);
	h = json_object_new_object();
	le = json_object_new_array();
	counts = json_object_new_array();
	for (i = 0; i < WATCHER_LAT_N; i++)
		json_object_array_add(le, json_object_new_int64(watcher_lat_le[i]));
	for (i = 0; i <= WATCHER_LAT_N; i++)
		json_object_array_add(counts, json_object_new_int64(w->lat_counts[i]));
	json_object_object_add(h, "le", le);
	json_object_object_add(h, "counts", counts);
	json_object_object_add(h, "sum", json_object_new_int64(w->lat_sum_ms));
	json_object_object_add(o, "append_latency_ms", h);
	json_object_object_add(o, "store_busy", json_object_new_int64(store_busy_total()));
	watcher_proc(&rss, &fds);
	json_object_object_add(o, "rss_bytes", json_object_new_int64(rss));
	json_object_object_add(o, "open_fds", json_object_new_int64(fds));
}

/* Forwarding figures for the heartbeat (nothing without PLUGIN_URL). */
static void
watcher_forward_stats_json(struct watcher *w, json_object *o)
{
	struct forward_status fs;

	if (w->fwd == NULL)
		return;
	forward_status(w->fwd, &fs);
	json_object_object_add(o, "forward_state", json_object_new_string(fs.state));
	json_object_object_add(o, "forward_queue", json_object_new_int64(fs.queue));
	json_object_object_add(o, "forward_lag_ms", json_object_new_int64(fs.lag_ms));
	json_object_object_add(o, "forward_requests", json_object_new_int64(fs.requests));
	json_object_object_add(o, "forward_failures", json_object_new_int64(fs.failures));
	json_object_object_add(o, "forward_boxes_sent", json_object_new_int64(fs.boxes_sent));
	json_object_object_add(o, "forward_bytes_sent", json_object_new_int64(fs.bytes_sent));
	json_object_object_add(o, "forward_rejected", json_object_new_int64(fs.rejected));
	json_object_object_add(o, "forward_resends", json_object_new_int64(fs.resends));
	json_object_object_add(o, "forward_error", json_object_new_string(fs.last_error));
}

static char *
watcher_stats_json(struct watcher *w)
{
	struct box_stats bs;
	struct tail_stats ts;
	struct ocdb_stats os;
	json_object *o = json_object_new_object();
	char *out;

	box_stats(w->model, &bs);
	tail_stats(w->tail, &ts);
	ocdb_stats(w->ocdb, &os);
#define WATCHER_STAT(k, v) json_object_object_add(o, k, json_object_new_int64(v))
	WATCHER_STAT("lines_read", w->lines_read + os.events_read);
	WATCHER_STAT("parse_errors", w->parse_errors + os.parse_errors + os.rows_bad);
	WATCHER_STAT("bad_utf8", w->bad_utf8);
	WATCHER_STAT("oversized_lines", ts.bad_lines);
	WATCHER_STAT("active_boxes", bs.active_boxes);
	WATCHER_STAT("boxes_started", bs.boxes_started);
	WATCHER_STAT("runs_dropped", bs.dropped);
	WATCHER_STAT("numbers_dropped", bs.numbers_dropped);
	WATCHER_STAT("sessions", bs.sessions);
	WATCHER_STAT("files", ts.files);
	WATCHER_STAT("folders", ts.dirs);
	WATCHER_STAT("bytes_read", ts.bytes_read);
	WATCHER_STAT("rescans", ts.rescans);
	WATCHER_STAT("overflows", ts.overflows);
	WATCHER_STAT("files_refused", ts.refused);
	WATCHER_STAT("commits", w->commits);
	WATCHER_STAT("commit_busy", w->commit_busy);
	WATCHER_STAT("store_write_failed_ms", w->write_failed_ms);
	WATCHER_STAT("notices", w->notices);
	WATCHER_STAT("index_loads", w->index_loads);
	WATCHER_STAT("index_errors", w->index_errors);
	WATCHER_STAT("db_agents", os.agents);
	WATCHER_STAT("db_refused", os.refused);
	WATCHER_STAT("db_events_read", os.events_read);
	WATCHER_STAT("db_rows_bad", os.rows_bad);
	WATCHER_STAT("db_rereads", os.rereads);
	WATCHER_STAT("db_busy", os.busy);
#undef WATCHER_STAT
	json_object_object_add(o, "store_write_error", json_object_new_string(w->write_error));
	mm_poster_stats_json(o);
	watcher_forward_stats_json(w, o);
	json_object_object_add(o, "agents", ocdb_agents_json(w->ocdb));
	watcher_metrics_json(w, o);
	json_object_object_add(o, "inotify", json_object_new_boolean(ts.inotify));
	out = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return out;
}

/* ---- periodic tasks ---- */

static void
watcher_task_heartbeat(struct watcher *w, int64_t now)
{
	struct store_heartbeat hb = { 0 };
	const char *brk;
	int rc;

	(void)now;
	hb.pid = getpid();
	hb.started_ms = w->started_ms;
	hb.last_heartbeat_ms = util_now_ms();
	hb.interval_ms = w->cfg->heartbeat_s * 1000;
	brk = mm_poster_breaker_state();
	hb.breaker = brk != NULL ? xstrdup(brk) : NULL;
	hb.stats = watcher_stats_json(w);
	if ((rc = store_begin(w->st)) == STORE_OK &&
	    (rc = store_heartbeat_put(w->st, &hb)) == STORE_OK &&
	    (rc = store_watcher_clock_put(w->st, hb.last_heartbeat_ms)) == STORE_OK)
		rc = store_commit(w->st);
	if (rc != STORE_OK) {
		store_rollback(w->st);
		log_warn("cannot write the heartbeat", "err", store_errmsg(w->st));
	}
	free(hb.stats);
	free(hb.breaker);
}

static void
watcher_task_poll(struct watcher *w, int64_t now)
{
	(void)now;
	tail_rescan(w->tail);
}

static void
watcher_task_safety(struct watcher *w, int64_t now)
{
	(void)now;
	if (!tail_polling(w->tail))
		tail_rescan(w->tail);
}

/* ---- descriptors ---- */

static void
watcher_fd_tail(struct watcher *w)
{
	/* The index first: lines of a session it just named get the right key. */
	watcher_check_sessions_json(w);
	tail_handle(w->tail);
}

static int watcher_add_fd(struct watcher *w, int fd, void (*fn)(struct watcher *));

/* SESSIONS_JSON's folder changed: reload the index when it is the file. */
static void
watcher_fd_sessions_json(struct watcher *w)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(w->sj_fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		;
	watcher_check_sessions_json(w);
}

/*
 * SESSIONS_JSON lives outside TRANSCRIPT_DIR, or under another name: watch
 * its folder so that a change is seen at once, not at the next wake-up.
 */
static void
watcher_watch_sessions_json(struct watcher *w)
{
	const char *path = w->cfg->sessions_json, *slash;
	char dir[4096];

	w->sj_fd = -1;
	if (path == NULL)
		return;
	if (w->sj_dir == NULL) {
		log_warn("SESSIONS_JSON is only used with TRANSCRIPT_DIR set to one sessions "
		         "folder; ignoring it",
		    "path", path, "root", w->cfg->transcript_dir);
		return;
	}
	if (w->cfg->force_poll)
		return;
	slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	if ((w->sj_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
		return;
	if (inotify_add_watch(w->sj_fd, dir,
	        IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MODIFY |
	            IN_ONLYDIR) < 0 ||
	    watcher_add_fd(w, w->sj_fd, watcher_fd_sessions_json) != 0) {
		log_warn("cannot watch the folder of SESSIONS_JSON, checking it on each wake-up",
		    "path", dir, "err", strerror(errno));
		close(w->sj_fd);
		w->sj_fd = -1;
	}
}

static void
watcher_fd_ocdb(struct watcher *w)
{
	ocdb_run(w->ocdb, util_now_ms());
}

static void
watcher_fd_signal(struct watcher *w)
{
	struct signalfd_siginfo si;

	while (read(w->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			log_info("stopping", "signal", si.ssi_signo == SIGTERM ? "TERM" : "INT");
			w->stop = 1;
		} else {
			w->rescan_now = 1;
		}
	}
}

static int
watcher_add_fd(struct watcher *w, int fd, void (*fn)(struct watcher *))
{
	struct epoll_event ev = { .events = EPOLLIN };

	if (fd < 0 || w->nfds == WATCHER_MAX_FDS)
		return -1;
	ev.data.u32 = (uint32_t)w->nfds;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		return -1;
	w->fds[w->nfds].fd = fd;
	w->fds[w->nfds].fn = fn;
	w->nfds++;
	return 0;
}

/* ---- start-up ---- */

static int
watcher_restore(struct watcher *w)
{
	struct store_watcher_session *ss = NULL;
	struct store_watcher_file *fs = NULL;
	size_t ns = 0, nf = 0, i;
	int64_t since = 0, alive = 0;
	int rc;

	if ((rc = store_watcher_session_list(w->st, &ss, &ns)) != STORE_OK ||
	    (rc = store_watcher_file_list(w->st, &fs, &nf)) != STORE_OK) {
		log_error("cannot read the watcher's state", "err", store_errmsg(w->st));
		goto out;
	}
	for (i = 0; i < ns; i++) {
		struct store_box box;
		int have = 0;

		if (ss[i].box_id != NULL && store_box_get(w->st, ss[i].box_id, &box) == STORE_OK)
			have = 1;
		if (box_restore(w->model, ss[i].session_key, ss[i].state, have ? &box : NULL) != 0)
			log_warn(
			    "cannot read a stored session state", "session", ss[i].session_key);
		if (have)
			store_box_free(&box);
	}
	for (i = 0; i < nf; i++) {
		tail_restore(
		    w->tail, fs[i].path, (uint64_t)fs[i].inode, fs[i].offset, fs[i].session_key);
		if (fs[i].updated_ms > since)
			since = fs[i].updated_ms;
	}
	/*
	 * Files born since we were last alive were missed while we were down;
	 * older ones (restored, copied in) are not news.
	 */
	if (store_watcher_clock_get(w->st, &alive) != STORE_OK || alive < since)
		alive = since;
	if (since == 0)
		since = alive; /* it ran before, but never read a line */
	tail_set_since(w->tail, since > 0 ? since - WATCHER_BORN_SLACK_MS : 0, alive);
	log_info("state restored", "sessions", LOG_I64(ns), "files", LOG_I64(nf));
out:
	store_watcher_session_list_free(ss, ns);
	store_watcher_file_list_free(fs, nf);
	return rc == STORE_OK ? 0 : -1;
}

static void
watcher_free(struct watcher *w)
{
	ocdb_free(w->ocdb);
	tail_free(w->tail);
	box_model_free(w->model);
	labels_free(w->labels);
	notify_free(w->notify);
	store_close(w->st);
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->sigfd >= 0)
		close(w->sigfd);
	if (w->sj_fd >= 0)
		close(w->sj_fd);
	while (w->nagent_lines > 0)
		free(w->agent_lines[--w->nagent_lines].agent);
	free(w->agent_lines);
	free(w->lat_pending);
}

static void
watcher_on_dir_gone(void *arg, struct tail_dir *d)
{
	struct watcher *w = arg;

	if (w->sj_dir == d)
		w->sj_dir = NULL;
	if (d->user != NULL) {
		sessions_clear(d->user);
		free(d->user);
		d->user = NULL;
	}
}

static const struct tail_ops watcher_tail_ops = {
	.index = watcher_on_index,
	.dir_gone = watcher_on_dir_gone,
	.line = watcher_on_line,
	.bad_line = watcher_on_bad_line,
	.reset = watcher_on_reset,
	.lock = watcher_on_lock,
};

/* Forwarding (PLUGIN_URL) and the health port (HEALTH_PORT); -1 on failure. */
static int
watcher_start_forward(struct watcher *w)
{
	const struct wcfg *cfg = w->cfg;
	struct forward_config fc = { 0 };
	char err[512];

	if (cfg->plugin_url != NULL && cfg->plugin_secret == NULL)
		log_warn(
		    "PLUGIN_URL is set without PLUGIN_SECRET: not forwarding (set PLUGIN_SECRET "
		    "to this gateway's key on the central API)",
		    "url", cfg->plugin_url);
	if (cfg->plugin_url != NULL && cfg->plugin_secret != NULL) {
		fc.url = cfg->plugin_url;
		fc.key = cfg->plugin_secret;
		fc.gateway = cfg->gateway_name;
		fc.ca_file = cfg->ca_file;
		fc.db = cfg->db;
		fc.connect_timeout_ms = cfg->forward_connect_timeout_ms;
		fc.timeout_ms = cfg->forward_timeout_ms;
		fc.max_backoff_ms = cfg->forward_max_backoff_s * 1000;
		if ((w->fwd = forward_start(&fc, err, sizeof(err))) == NULL) {
			log_error("cannot start forwarding (PLUGIN_URL)", "err", err);
			return -1;
		}
	}
	if (cfg->health_port > 0)
		w->health =
		    health_http_start(cfg->health_bind, (int)cfg->health_port, cfg->db, w->fwd);
	return 0;
}

int
watcher_run(const struct wcfg *cfg, int ready_fd)
{
	struct watcher w = { .cfg = cfg, .epfd = -1, .sigfd = -1, .sj_fd = -1 };
	struct watcher_task tasks[] = {
		{ "heartbeat", cfg->heartbeat_s * 1000, 0, watcher_task_heartbeat, 1 },
		{ "poll", cfg->poll_interval_ms, 0, watcher_task_poll, 0 },
		{ "safety-rescan", WATCHER_SAFETY_RESCAN_MS, 0, watcher_task_safety, 1 },
		/* MATTERMOST: the poster's own periodic work (plugin check every 60 s)
		 * goes here as one more row. */
	};
	struct tail_ops ops = watcher_tail_ops;
	struct mm_config mmc = { 0 };
	struct ocdb_config oc = { 0 };
	struct ocdb_sink sink;
	struct box_config bc;
	sigset_t mask;
	char err[512];
	int rc = 1, i;

	w.tasks = tasks;
	w.ntasks = (int)(sizeof(tasks) / sizeof(tasks[0]));
	w.started_ms = util_now_ms();
	if (store_open_ms(cfg->db, WATCHER_BUSY_TIMEOUT_MS, &w.st, err, sizeof(err)) != STORE_OK) {
		log_error("cannot open the store (LIVESTATUS_DB)", "path", cfg->db, "err", err);
		goto out;
	}
	if ((w.labels = labels_load(cfg->tool_labels_file, err, sizeof(err))) == NULL) {
		log_error("cannot load tool labels", "err", err);
		goto out;
	}
	bc.max_lines = (int)cfg->max_status_lines;
	bc.idle_timeout_ms = cfg->idle_timeout_s * 1000;
	bc.max_duration_ms = cfg->max_session_duration_s * 1000;
	bc.max_active = (int)cfg->max_active_sessions;
	bc.labels = w.labels;
	w.model = box_model_new(&bc);
	w.notify = notify_new(cfg->publish_url);
	ops.arg = &w;
	if ((w.tail = tail_new(cfg->transcript_dir, &ops, !cfg->force_poll, err, sizeof(err))) ==
	    NULL) {
		log_error("cannot follow transcripts", "err", err);
		goto out;
	}
	tail_follow_outside_links(w.tail, cfg->follow_outside_links);
	ocdb_box_sink(w.model, &sink);
	oc.root = cfg->transcript_dir;
	oc.poll_interval_ms = cfg->poll_interval_ms;
	oc.no_inotify = cfg->force_poll;
	oc.default_channel = cfg->default_channel;
	oc.outside_links = cfg->follow_outside_links;
	if (ocdb_new(&oc, w.st, &sink, &w.ocdb, err, sizeof(err)) != 0) {
		log_error("cannot follow openclaw databases", "err", err);
		goto out;
	}
	if (watcher_restore(&w) != 0)
		goto out;
	if (mm_config_from_env(&mmc, err, sizeof(err)) != 0) {
		log_error("bad configuration", "err", err);
		goto out;
	}
	if (mmc.url != NULL && mm_poster_start(&mmc, cfg->db) != 0)
		goto out;
	if (watcher_start_forward(&w) != 0)
		goto out;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((w.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    (w.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		log_error("cannot set up the event loop", "err", strerror(errno));
		goto out;
	}
	watcher_add_fd(&w, w.sigfd, watcher_fd_signal);
	/* MATTERMOST: one more descriptor (e.g. the poster's result eventfd) is
	 * one more watcher_add_fd() call here. */

	tail_start(w.tail);
	watcher_check_sessions_json(&w);
	if (tail_fd(w.tail) >= 0)
		watcher_add_fd(&w, tail_fd(w.tail), watcher_fd_tail);
	watcher_watch_sessions_json(&w);
	ocdb_run(w.ocdb, util_now_ms());
	if (ocdb_fd(w.ocdb) >= 0)
		watcher_add_fd(&w, ocdb_fd(w.ocdb), watcher_fd_ocdb);
	box_tick(w.model, util_now_ms());
	watcher_commit(&w);
	watcher_task_heartbeat(&w, util_mono_ms());
	tasks[0].next_ms = util_mono_ms() + tasks[0].interval_ms;
	{
		struct tail_stats ts;

		tail_stats(w.tail, &ts);
		log_info("watching", "root", cfg->transcript_dir, "folders", LOG_I64(ts.dirs),
		    "files", LOG_I64(ts.files), "mode", ts.inotify ? "inotify" : "polling", "db",
		    cfg->db, "version", LS_VERSION);
	}
	if (ready_fd >= 0) {
		if (write(ready_fd, "1", 1) != 1)
			log_warn("cannot signal readiness", "err", strerror(errno));
		close(ready_fd);
		ready_fd = -1;
		if (cfg->stderr_after_ready >= 0)
			dup2(cfg->stderr_after_ready, STDERR_FILENO);
	}

	while (!w.stop) {
		struct epoll_event evs[WATCHER_MAX_FDS];
		int64_t mono = util_mono_ms(), timeout = -1, d;
		int n;

		tasks[1].enabled = tail_polling(w.tail);
		for (i = 0; i < w.ntasks; i++) {
			if (!tasks[i].enabled)
				continue;
			if (tasks[i].next_ms == 0)
				tasks[i].next_ms = mono + tasks[i].interval_ms;
			d = tasks[i].next_ms - mono;
			if (timeout < 0 || d < timeout)
				timeout = d;
		}
		if ((d = box_next_deadline(w.model, util_now_ms())) >= 0 &&
		    (timeout < 0 || d + 1 < timeout))
			timeout = d + 1;
		if (w.retry_at > 0 && (timeout < 0 || w.retry_at - mono < timeout))
			timeout = w.retry_at - mono;
		if ((d = ocdb_timeout(w.ocdb)) >= 0 && (timeout < 0 || d < timeout))
			timeout = d;
		if (tail_backlog(w.tail) || w.rescan_now)
			timeout = 0;
		if (timeout < 0)
			timeout = 0;
		if (timeout > 60000)
			timeout = 60000;
		n = epoll_wait(w.epfd, evs, WATCHER_MAX_FDS, (int)timeout);
		if (n < 0 && errno != EINTR) {
			log_error("epoll_wait failed", "err", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++)
			w.fds[evs[i].data.u32].fn(&w);
		if (w.stop)
			break;
		if (w.rescan_now) {
			w.rescan_now = 0;
			log_info("rescanning on request");
			tail_rescan(w.tail);
		}
		if (tail_backlog(w.tail))
			tail_continue(w.tail);
		watcher_check_sessions_json(&w);
		mono = util_mono_ms();
		for (i = 0; i < w.ntasks; i++) {
			if (!tasks[i].enabled || tasks[i].next_ms > mono ||
			    tasks[i].fn == watcher_task_heartbeat)
				continue;
			tasks[i].next_ms = mono + tasks[i].interval_ms;
			tasks[i].fn(&w, mono);
		}
		if (ocdb_timeout(w.ocdb) == 0)
			ocdb_run(w.ocdb, util_now_ms());
		box_tick(w.model, util_now_ms());
		watcher_commit(&w);
		/* The heartbeat goes last so that its figures include this wake-up. */
		if (tasks[0].next_ms <= util_mono_ms()) {
			tasks[0].next_ms = util_mono_ms() + tasks[0].interval_ms;
			watcher_task_heartbeat(&w, mono);
		}
	}

	/* SIGTERM: what is still active was cut short. */
	box_interrupt_all(w.model, util_now_ms());
	for (i = 0; i < 20 && watcher_commit(&w) == STORE_BUSY; i++)
		;
	mm_poster_stop(); /* after the interrupted boxes are committed: posts them */
	health_http_stop(w.health);
	w.health = NULL;
	forward_stop(w.fwd, cfg->forward_flush_ms); /* the same for the central */
	w.fwd = NULL;
	if (store_begin(w.st) == STORE_OK && store_heartbeat_delete(w.st) == STORE_OK &&
	    store_watcher_clock_put(w.st, util_now_ms()) == STORE_OK)
		store_commit(w.st);
	store_rollback(w.st);
	{
		struct ocdb_stats os;

		/* Transcript lines from files and events from agent databases alike. */
		ocdb_stats(w.ocdb, &os);
		log_info("stopped", "lines_read", LOG_I64(w.lines_read + os.events_read),
		    "file_lines", LOG_I64(w.lines_read), "db_events", LOG_I64(os.events_read));
	}
	rc = 0;
out:
	if (ready_fd >= 0 && rc != 0)
		close(ready_fd);
	mm_poster_stop();
	health_http_stop(w.health);
	forward_stop(w.fwd, 0);
	mm_config_free(&mmc);
	watcher_free(&w);
	return rc;
}
