/*
 * ocdb: follows OpenClaw 2026.8+ agent databases (see ocdb.h).
 *
 * This file holds the public side, the cursors and one agent's run; the
 * other jobs are in ocdb_find.c, ocdb_probe.c, ocdb_read.c and ocdb_meta.c
 * (see ocdb_int.h).  The SQL reads the gateway's own file
 * (openclaw-agent.sqlite), which this program never writes; the livestatus
 * store's SQL stays in sql/.
 */
#include "watcher/ocdb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "sql/stats_names.h"
#include "sql/store_ocdb.h"
#include "watcher/ocdb_int.h"

static const char *const ocdb_state_names[] = {
	"closed",
	"ok",
	"refused",
	"error",
	"missing",
};

/* ---- small helpers ------------------------------------------------- */

void **
ocdb_map_slot(struct ocdb_map *m, const char *key, int create)
{
	size_t i, j, oldcap;
	char **oldkeys;
	void **oldvals;

	if (create && (m->n + 1) * 2 > m->cap) {
		oldkeys = m->keys;
		oldvals = m->vals;
		oldcap = m->cap;
		m->cap = oldcap ? oldcap * 2 : 64;
		m->keys = xcalloc(m->cap, sizeof(*m->keys));
		m->vals = xcalloc(m->cap, sizeof(*m->vals));
		for (i = 0; i < oldcap; i++) {
			if (oldkeys[i] == NULL)
				continue;
			j = util_hash_str(oldkeys[i]) & (m->cap - 1);
			while (m->keys[j] != NULL)
				j = (j + 1) & (m->cap - 1);
			m->keys[j] = oldkeys[i];
			m->vals[j] = oldvals[i];
		}
		free(oldkeys);
		free(oldvals);
	}
	if (m->cap == 0)
		return NULL;
	i = util_hash_str(key) & (m->cap - 1);
	while (m->keys[i] != NULL) {
		if (strcmp(m->keys[i], key) == 0)
			return &m->vals[i];
		i = (i + 1) & (m->cap - 1);
	}
	if (!create)
		return NULL;
	m->keys[i] = xstrdup(key);
	m->n++;
	return &m->vals[i];
}

void *
ocdb_map_get(struct ocdb_map *m, const char *key)
{
	void **v = ocdb_map_slot(m, key, 0);

	return v != NULL ? *v : NULL;
}

void
ocdb_set(char **dst, const char *src)
{
	if (*dst != NULL && src != NULL && strcmp(*dst, src) == 0)
		return;
	free(*dst);
	*dst = src != NULL ? xstrdup(src) : NULL;
}

/* ---- sinks ----------------------------------------------------------- */

static void
ocdb_box_meta(void *arg, const char *key, const struct box_meta *meta)
{
	box_set_meta(arg, key, meta);
}

static void
ocdb_box_event(
    void *arg, const char *agent_id, const char *key, const struct tx_event *ev, int64_t now)
{
	box_feed_event(arg, agent_id, key, ev, now);
}

static void
ocdb_box_compacted(void *arg, const char *key, int64_t now)
{
	box_compacted(arg, key, now);
}

static void
ocdb_box_started(void *arg, const char *agent_id, const char *key, int announce, int64_t now)
{
	box_run_start(arg, agent_id, key, announce, now);
}

void
ocdb_box_sink(struct box_model *m, struct ocdb_sink *out)
{
	out->arg = m;
	out->meta = ocdb_box_meta;
	out->event = ocdb_box_event;
	out->compacted = ocdb_box_compacted;
	out->started = ocdb_box_started;
}

/* ---- cursors --------------------------------------------------------- */

static struct ocdb_cur *
ocdb_cur_get(struct ocdb_agent *a, const char *sid, const char *key, int create)
{
	void **slot = ocdb_map_slot(&a->curs, sid, create);
	struct ocdb_cur *c;

	if (slot == NULL)
		return NULL;
	if (*slot == NULL) {
		c = xcalloc(1, sizeof(*c));
		c->sid = xstrdup(sid);
		c->key = xstrdup(key != NULL ? key : "");
		c->last_id = xstrdup("");
		c->seq = -1;
		*slot = c;
	}
	return *slot;
}

void
ocdb_cur_dirty(struct ocdb_agent *a, struct ocdb_cur *c)
{
	if (c->dirty)
		return;
	c->dirty = 1;
	if (a->ndirty == a->capdirty) {
		a->capdirty = a->capdirty ? a->capdirty * 2 : 32;
		a->dirty_list = xreallocarray(a->dirty_list, a->capdirty, sizeof(*a->dirty_list));
	}
	a->dirty_list[a->ndirty++] = c;
}

static void
ocdb_cur_free(struct ocdb_cur *c)
{
	free(c->sid);
	free(c->key);
	free(c->gen);
	free(c->last_id);
	free(c);
}

int
ocdb_load(struct ocdb *o, struct ocdb_agent *a)
{
	struct store_ocdb_agent row;
	struct store_ocdb_cursor *list = NULL;
	struct ocdb_cur *c;
	size_t n = 0, i;
	int rc;

	rc = store_ocdb_agent_get(o->st, a->store_path, &row);
	if (rc == STORE_NOTFOUND) {
		a->loaded = 1;
		return 0;
	}
	if (rc != STORE_OK)
		return -1;
	a->known = 1;
	a->high_water = row.high_water;
	store_ocdb_agent_free(&row);
	if (store_ocdb_cursor_list(o->st, a->store_path, &list, &n) != STORE_OK)
		return -1;
	for (i = 0; i < n; i++) {
		c = ocdb_cur_get(a, list[i].session_id, list[i].session_key, 1);
		ocdb_set(&c->gen, list[i].generation);
		c->seq = list[i].seq;
		c->updated = list[i].updated_at;
		ocdb_set(&c->last_id, list[i].last_event_id);
		c->last_ms = list[i].last_event_ms;
	}
	store_ocdb_cursor_list_free(list, n);
	a->loaded = 1;
	return 0;
}

/* ---- one agent --------------------------------------------------------- */

/* First sight of a database that was there before: every window's cursor
 * goes to its end, so nothing old is shown. */
static int
ocdb_skip_to_end(struct ocdb *o, struct ocdb_agent *a)
{
	struct ocdb_win *w = NULL;
	struct ocdb_cur *c;
	size_t n = 0, i;
	int64_t maxseq;
	char *gen;
	int rc;

	if ((rc = sqlite3_exec(a->db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK)
		return ocdb_read_failed(o, a, rc);
	if (ocdb_changed(o, a, INT64_MIN, &w, &n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (w[i].archived)
			continue;
		if ((rc = ocdb_gen_max(a, w[i].sid, &gen, &maxseq)) != SQLITE_OK) {
			ocdb_wins_free(w, n);
			return ocdb_read_failed(o, a, rc);
		}
		c = ocdb_cur_get(a, w[i].sid, w[i].key, 1);
		free(c->gen);
		c->gen = gen;
		c->seq = maxseq;
		c->updated = w[i].updated;
		c->last_ms = w[i].updated;
		ocdb_cur_dirty(a, c);
		if (w[i].updated > a->high_water)
			a->high_water = w[i].updated;
	}
	ocdb_wins_free(w, n);
	if ((rc = sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
		return ocdb_read_failed(o, a, rc);
	return 0;
}

/* 1 when another connection committed since the last look, 0 when not,
 * -1 when the look failed (retried on its timer). */
static int
ocdb_data_changed(struct ocdb *o, struct ocdb_agent *a)
{
	int64_t v;
	int rc;

	rc = sqlite3_step(a->st_dv);
	v = rc == SQLITE_ROW ? sqlite3_column_int64(a->st_dv, 0) : 0;
	sqlite3_reset(a->st_dv);
	if (rc != SQLITE_ROW)
		return ocdb_read_failed(o, a, rc);
	if (a->have_dv && v == a->data_version)
		return 0;
	a->have_dv = 1;
	a->data_version = v;
	return 1;
}

static int64_t
ocdb_agent_run(struct ocdb *o, struct ocdb_agent *a, int64_t *budget, int64_t now)
{
	struct ocdb_win *w = NULL;
	struct ocdb_cur *c;
	size_t n = 0, i;
	int64_t fed = 0, top;
	int done = 1, failed = 0, rc;

	a->more = 0;
	if (!a->known) {
		if (!a->from_start && ocdb_skip_to_end(o, a) < 0)
			return 0;
		a->known = 1;
		a->dirty = 1;
	}
	if (ocdb_node_starts(o, a, now) < 0)
		return 0;
	if (ocdb_changed(o, a, a->high_water - OCDB_SLACK_MS, &w, &n) < 0)
		return 0;
	top = a->high_water;
	for (i = 0; i < n; i++) {
		c = ocdb_cur_get(a, w[i].sid, w[i].key, 0);
		if (w[i].archived) {
			if (c != NULL && !c->gone) {
				c->gone = 1;
				ocdb_cur_dirty(a, c);
			}
		} else if (c == NULL || c->gone || c->updated != w[i].updated) {
			if (*budget <= 0) {
				done = 0;
				break;
			}
			c = ocdb_cur_get(a, w[i].sid, w[i].key, 1);
			c->gone = 0;
			ocdb_set(&c->key, w[i].key);
			ocdb_meta(o, a, &w[i]);
			rc = ocdb_session(o, a, c, w[i].updated, budget, &fed, now);
			if (rc <= 0) {
				done = 0;
				failed = rc < 0;
				break;
			}
		}
		if (w[i].updated > top)
			top = w[i].updated;
	}
	ocdb_wins_free(w, n);
	/* A failed read is retried on its timer (ocdb_read_failed), not at once. */
	a->more = !done && !failed && a->state == AG_OK;
	if (done && top != a->high_water) {
		a->high_water = top;
		a->dirty = 1;
	}
	return fed;
}

/* ---- the public side --------------------------------------------------- */

int
ocdb_new(const struct ocdb_config *cfg, store *st, const struct ocdb_sink *sink, struct ocdb **out,
    char *err, size_t errlen)
{
	struct ocdb *o;
	size_t n;

	*out = NULL;
	if (cfg->root == NULL || *cfg->root == '\0') {
		snprintf(err, errlen, "no folder to follow");
		return -1;
	}
	o = xcalloc(1, sizeof(*o));
	o->cfg = *cfg;
	if (o->cfg.poll_interval_ms <= 0)
		o->cfg.poll_interval_ms = 1000;
	if (o->cfg.batch_rows <= 0)
		o->cfg.batch_rows = OCDB_BATCH_ROWS;
	if (o->cfg.run_rows <= 0)
		o->cfg.run_rows = OCDB_RUN_ROWS;
	if (o->cfg.busy_timeout_ms <= 0)
		o->cfg.busy_timeout_ms = OCDB_BUSY_TIMEOUT_MS;
	if (o->cfg.read_limit_ms <= 0)
		o->cfg.read_limit_ms = OCDB_READ_LIMIT_MS;
	o->root = xstrdup(cfg->root);
	n = strlen(o->root);
	while (n > 1 && o->root[n - 1] == '/')
		o->root[--n] = '\0';
	o->cfg.root = o->root;
	o->st = st;
	o->sink = *sink;
	o->parser = tx_parser_new();
	o->dctx = ZSTD_createDCtx();
	o->ifd = -1;
	if (!cfg->no_inotify) {
		o->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (o->ifd < 0)
			log_warn("inotify unavailable, checking openclaw databases on a timer",
			    "err", strerror(errno));
	}
	o->poll_only = o->ifd < 0;
	o->rescan = 1;
	*out = o;
	return 0;
}

static void
ocdb_agent_free(struct ocdb_agent *a)
{
	size_t i;

	ocdb_close_db(a);
	for (i = 0; i < a->curs.cap; i++) {
		if (a->curs.keys[i] == NULL)
			continue;
		free(a->curs.keys[i]);
		ocdb_cur_free(a->curs.vals[i]);
	}
	for (i = 0; i < a->keys.cap; i++) {
		struct ocdb_keyinfo *k = a->keys.vals[i];

		if (a->keys.keys[i] == NULL)
			continue;
		free(a->keys.keys[i]);
		free(k->sid);
		free(k);
	}
	free(a->curs.keys);
	free(a->curs.vals);
	free(a->keys.keys);
	free(a->keys.vals);
	free(a->dirty_list);
	free(a->id);
	free(a->dir);
	free(a->path);
	free(a->store_path);
	free(a->app_version);
	free(a->refused_logged);
	free(a);
}

void
ocdb_free(struct ocdb *o)
{
	size_t i;

	if (o == NULL)
		return;
	for (i = 0; i < o->nagent; i++)
		ocdb_agent_free(o->agents[i]);
	for (i = 0; i < o->nwatch; i++)
		free(o->watches[i].path);
	for (i = 0; i < o->nfile * 2; i++)
		free(o->file_agents[i]);
	free(o->file_agents);
	free(o->agents);
	free(o->watches);
	for (i = 0; i < o->refused.cap; i++)
		free(o->refused.keys[i]);
	free(o->refused.keys);
	free(o->refused.vals);
	if (o->ifd >= 0)
		close(o->ifd);
	tx_parser_free(o->parser);
	ZSTD_freeDCtx(o->dctx);
	free(o->root);
	free(o);
}

int
ocdb_fd(const struct ocdb *o)
{
	return o->ifd;
}

/* Keeps in *best (-1: none yet) the nearer of it and a timer due at `at`. */
static void
ocdb_nearer(int64_t *best, int64_t at, int64_t mono)
{
	int64_t d = at > mono ? at - mono : 0;

	if (*best < 0 || d < *best)
		*best = d;
}

int64_t
ocdb_timeout(const struct ocdb *o)
{
	int64_t mono = util_mono_ms(), best = -1;
	int open = 0;
	size_t i;

	if (o->rescan || !o->initial_done)
		return 0;
	for (i = 0; i < o->nagent; i++) {
		const struct ocdb_agent *a = o->agents[i];

		if (a->more || (a->pending && a->db != NULL))
			return 0;
		open += a->db != NULL;
		if (a->recheck_at > 0)
			ocdb_nearer(&best, a->recheck_at, mono);
		if (a->state == AG_ERROR || a->state == AG_CLOSED)
			ocdb_nearer(&best, a->retry_at, mono);
	}
	/* Timed checks: of open databases (safety, or polling), and of the
	 * folders when polling; with inotify and nothing open, none. */
	if (open > 0 || o->poll_only)
		ocdb_nearer(&best, o->next_check, mono);
	if (o->poll_only)
		ocdb_nearer(&best, o->next_rescan, mono);
	return best;
}

int64_t
ocdb_run(struct ocdb *o, int64_t now)
{
	int64_t mono = util_mono_ms(), fed = 0, budget = o->cfg.run_rows;
	struct ocdb_agent *a;
	int check_all = 0, recheck, changed;
	size_t i;

	ocdb_drain(o);
	if (o->rescan || (o->poll_only && mono >= o->next_rescan)) {
		o->rescan = 0;
		ocdb_discover(o);
		o->next_rescan = mono +
		    (o->cfg.poll_interval_ms > OCDB_RESCAN_MS ? o->cfg.poll_interval_ms
		                                              : OCDB_RESCAN_MS);
	}
	if (mono >= o->next_check) {
		check_all = 1;
		o->next_check = mono + (o->poll_only ? o->cfg.poll_interval_ms : OCDB_SAFETY_MS);
	}
	for (i = 0; i < o->nagent; i++) {
		a = o->agents[i];
		if (a->state == AG_MISSING)
			continue;
		if ((a->state == AG_CLOSED || a->state == AG_ERROR) && mono >= a->retry_at) {
			ocdb_open_db(o, a);
			if (a->state == AG_OK)
				a->pending = 1;
		}
		if (a->db == NULL)
			continue;
		recheck = a->recheck_at > 0 && mono >= a->recheck_at;
		if (!(a->pending || a->more || check_all || recheck))
			continue;
		if (budget <= 0)
			break;
		a->pending = 0;
		if (recheck)
			a->recheck_at = 0;
		/* this agent's reads of this run: the busy wait, then the limit */
		a->read_until = util_mono_ms() + o->cfg.busy_timeout_ms + a->read_limit_ms;
		if ((changed = ocdb_data_changed(o, a)) < 0)
			continue;
		if (!changed && !a->more) {
			if (a->rechecks > 0) {
				a->rechecks--;
				a->recheck_at = util_mono_ms() + OCDB_RECHECK_MS;
			}
			continue;
		}
		if (changed && a->state == AG_REFUSED) {
			/* The gateway may have upgraded the file: look again. */
			if (ocdb_probe(a) < 0) {
				if (a->state == AG_REFUSED)
					ocdb_log_refused(a);
				else
					ocdb_read_failed(o, a, SQLITE_ERROR);
				continue;
			}
			if (!a->loaded && ocdb_load(o, a) < 0) {
				ocdb_read_failed(o, a, SQLITE_ERROR);
				continue;
			}
			ocdb_set(&a->refused_logged, NULL);
			log_info("following openclaw database", "path", a->path, "agent", a->id,
			    "version", LOG_I64(a->version));
			a->have_dv = 0;
			(void)ocdb_data_changed(o, a);
		}
		if (a->state != AG_OK)
			continue;
		fed += ocdb_agent_run(o, a, &budget, now);
	}
	o->initial_done = 1;
	return fed;
}

int
ocdb_dirty(const struct ocdb *o)
{
	size_t i;

	for (i = 0; i < o->nagent; i++)
		if (o->agents[i]->known && (o->agents[i]->dirty || o->agents[i]->ndirty > 0))
			return 1;
	return 0;
}

int
ocdb_save(struct ocdb *o, int64_t now)
{
	struct store_ocdb_agent row;
	struct store_ocdb_cursor cr;
	struct ocdb_cur *c;
	size_t i, j;
	int rc;

	for (i = 0; i < o->nagent; i++) {
		struct ocdb_agent *a = o->agents[i];

		if (!a->dirty && a->ndirty == 0)
			continue;
		if (!a->known)
			continue;
		row.db_path = a->store_path;
		row.agent_id = a->id;
		row.high_water = a->high_water;
		row.schema_version = a->version;
		if ((rc = store_ocdb_agent_put(o->st, &row, now)) != STORE_OK)
			return rc;
		for (j = 0; j < a->ndirty; j++) {
			c = a->dirty_list[j];
			if (c->gone) {
				rc = store_ocdb_cursor_delete(o->st, a->store_path, c->sid);
			} else {
				cr.session_id = c->sid;
				cr.session_key = c->key;
				cr.generation = c->gen != NULL ? c->gen : (char *)"";
				cr.seq = c->seq;
				cr.updated_at = c->updated;
				cr.last_event_id = c->last_id;
				cr.last_event_ms = c->last_ms;
				rc = store_ocdb_cursor_put(o->st, a->store_path, &cr, now);
			}
			if (rc != STORE_OK)
				return rc;
		}
	}
	return STORE_OK;
}

void
ocdb_saved(struct ocdb *o)
{
	size_t i, j;

	for (i = 0; i < o->nagent; i++) {
		struct ocdb_agent *a = o->agents[i];

		if (!a->known)
			continue;
		for (j = 0; j < a->ndirty; j++)
			a->dirty_list[j]->dirty = 0;
		a->ndirty = 0;
		a->dirty = 0;
	}
}

void
ocdb_stats(const struct ocdb *o, struct ocdb_stats *out)
{
	size_t i;

	*out = o->stats;
	out->agents = out->refused = 0;
	for (i = 0; i < o->nagent; i++) {
		if (o->agents[i]->state == AG_OK)
			out->agents++;
		else if (o->agents[i]->state == AG_REFUSED)
			out->refused++;
	}
}

json_object *
ocdb_agents_json(const struct ocdb *o)
{
	json_object *arr = json_object_new_array(), *j;
	size_t i;

	for (i = 0; i < o->nagent; i++) {
		const struct ocdb_agent *a = o->agents[i];

		j = json_object_new_object();
		json_object_object_add(j, "agent", json_object_new_string(a->id));
		json_object_object_add(j, "layout", json_object_new_string("sqlite"));
		json_object_object_add(j, "path", json_object_new_string(a->path));
		json_object_object_add(
		    j, "schema_version", a->version > 0 ? json_object_new_int(a->version) : NULL);
		json_object_object_add(j, "app_version",
		    a->app_version != NULL ? json_object_new_string(a->app_version) : NULL);
		json_object_object_add(
		    j, "state", json_object_new_string(ocdb_state_names[a->state]));
		if (a->why[0] != '\0' && a->state != AG_OK)
			json_object_object_add(j, "error", json_object_new_string(a->why));
		json_object_object_add(j, "sessions", json_object_new_int64((int64_t)a->curs.n));
		json_object_object_add(
		    j, stats_key(STATS_AGENTS_EVENTS_READ), json_object_new_int64(a->events_read));
		json_object_object_add(
		    j, stats_key(STATS_AGENTS_ROWS_BAD), json_object_new_int64(a->rows_bad));
		json_object_array_add(arr, j);
	}
	for (i = 0; i < o->nfile; i++) {
		j = json_object_new_object();
		json_object_object_add(j, "agent", json_object_new_string(o->file_agents[i * 2]));
		json_object_object_add(j, "layout", json_object_new_string("files"));
		json_object_object_add(
		    j, "path", json_object_new_string(o->file_agents[i * 2 + 1]));
		json_object_array_add(arr, j);
	}
	return arr;
}
