/*
 * watcher_input: from the tailer to the model: the session index of each
 * folder, the session key of each transcript, successor transcripts, lines
 * and run locks (see watcher_int.h).
 */
#include "watcher/watcher_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "watcher/sessions.h"

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

const char *
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
void
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

const struct tail_ops watcher_tail_ops = {
	.index = watcher_on_index,
	.dir_gone = watcher_on_dir_gone,
	.line = watcher_on_line,
	.bad_line = watcher_on_bad_line,
	.reset = watcher_on_reset,
	.lock = watcher_on_lock,
};
