/*
 * box: turns transcript events into status boxes (see box.h).  This file
 * holds sessions and runs; events into lines are in box_events.c, what goes
 * to and comes from the store in box_state.c (see box_int.h).
 */
#include "watcher/box.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "watcher/box_int.h"

struct box_model *
box_model_new(const struct box_config *cfg)
{
	struct box_model *m = xcalloc(1, sizeof(*m));

	m->cfg = *cfg;
	if (m->cfg.max_lines < 1)
		m->cfg.max_lines = 1;
	m->parser = tx_parser_new();
	m->nbuckets = 256;
	m->buckets = xcalloc(m->nbuckets, sizeof(*m->buckets));
	return m;
}

void
box_run_free(struct box_run *r)
{
	int i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nlines; i++) {
		free(r->lines[i].text);
		free(r->lines[i].call_id);
	}
	free(r->lines);
	free(r->parent_id);
	free(r->model);
	free(r);
}

static void
box_pending_clear(struct box_session *s)
{
	size_t i;

	for (i = 0; i < s->npending; i++)
		free(s->pending[i]);
	s->npending = 0;
}

static void
box_session_free(struct box_session *s)
{
	box_pending_clear(s);
	free(s->pending);
	box_run_free(s->run);
	free(s->key);
	free(s->agent_id);
	free(s->channel_id);
	free(s->root_id);
	free(s->target);
	free(s->label);
	free(s->parent_key);
	free(s->model);
	free(s);
}

void
box_model_free(struct box_model *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nbuckets; i++) {
		struct box_session *s = m->buckets[i], *next;

		for (; s != NULL; s = next) {
			next = s->next;
			box_session_free(s);
		}
	}
	free(m->buckets);
	free(m->dirty);
	for (i = 0; i < m->nretired; i++)
		box_run_free(m->retired[i].run);
	free(m->retired);
	for (i = 0; i < m->ndeleted; i++)
		free(m->deleted[i]);
	free(m->deleted);
	tx_parser_free(m->parser);
	free(m);
}

char *
box_key_agent(const char *key)
{
	const char *p, *end;

	if (strncmp(key, "agent:", 6) != 0)
		return xstrdup("");
	p = key + 6;
	end = strchr(p, ':');
	return end != NULL ? xstrndup(p, (size_t)(end - p)) : xstrdup(p);
}

static struct box_session *
box_find(struct box_model *m, const char *key)
{
	struct box_session *s = m->buckets[util_hash_str(key) % m->nbuckets];

	for (; s != NULL; s = s->next) {
		if (strcmp(s->key, key) == 0)
			return s;
	}
	return NULL;
}

static void
box_grow(struct box_model *m)
{
	size_t n = m->nbuckets * 4, i;
	struct box_session **b = xcalloc(n, sizeof(*b));

	for (i = 0; i < m->nbuckets; i++) {
		struct box_session *s = m->buckets[i], *next;

		for (; s != NULL; s = next) {
			size_t h = util_hash_str(s->key) % n;

			next = s->next;
			s->next = b[h];
			b[h] = s;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = n;
}

struct box_session *
box_get(struct box_model *m, const char *key, const char *agent_id)
{
	struct box_session *s = box_find(m, key);
	size_t h;

	if (s != NULL) {
		if (*s->agent_id == '\0' && agent_id != NULL && *agent_id != '\0') {
			free(s->agent_id);
			s->agent_id = xstrdup(agent_id);
		}
		return s;
	}
	if (m->nsessions >= m->nbuckets * 2)
		box_grow(m);
	s = xcalloc(1, sizeof(*s));
	s->key = xstrdup(key);
	s->agent_id =
	    agent_id != NULL && *agent_id != '\0' ? xstrdup(agent_id) : box_key_agent(key);
	s->channel_id = xstrdup("");
	s->root_id = xstrdup("");
	s->target = xstrdup("");
	s->label = xstrdup("");
	h = util_hash_str(key) % m->nbuckets;
	s->next = m->buckets[h];
	m->buckets[h] = s;
	m->nsessions++;
	return s;
}

void
box_mark(struct box_model *m, struct box_session *s, int box_changed)
{
	if (box_changed && s->run != NULL)
		s->box_dirty = 1;
	if (s->dirty)
		return;
	s->dirty = 1;
	if (m->ndirty == m->capdirty) {
		m->capdirty = m->capdirty ? m->capdirty * 2 : 64;
		m->dirty = xreallocarray(m->dirty, m->capdirty, sizeof(*m->dirty));
	}
	m->dirty[m->ndirty++] = s;
}

static int
box_is_sub(const struct box_session *s)
{
	return (s->parent_key != NULL && *s->parent_key != '\0') ||
	    strstr(s->key, ":subagent:") != NULL;
}

int
box_active(const struct box_session *s)
{
	return s->run != NULL && s->run->status == BOX_ACTIVE;
}

void
box_set_str(char **dst, const char *v)
{
	if (v == NULL)
		v = "";
	if (*dst != NULL && strcmp(*dst, v) == 0)
		return;
	free(*dst);
	*dst = xstrdup(v);
}

static size_t
box_count_active_top(struct box_model *m)
{
	size_t i, n = 0;

	for (i = 0; i < m->nbuckets; i++) {
		struct box_session *s;

		for (s = m->buckets[i]; s != NULL; s = s->next) {
			if (box_active(s) && !box_is_sub(s))
				n++;
		}
	}
	return n;
}

/*
 * Makes s's run visible, and with it the runs of sub-agents that were
 * linked to it while it was not (nested sub-agents, any depth).
 */
static void
box_report(struct box_model *m, struct box_session *s)
{
	size_t i;

	if (s->run == NULL || s->run->reported)
		return;
	s->run->reported = 1;
	box_mark(m, s, 1);
	for (i = 0; i < m->nbuckets; i++) {
		struct box_session *c;

		for (c = m->buckets[i]; c != NULL; c = c->next) {
			if (c->run != NULL && !c->run->reported && c->run->parent_id != NULL &&
			    strcmp(c->run->parent_id, s->run->id) == 0)
				box_report(m, c);
		}
	}
}

/* Links a child's run to its parent's current box when the parent is known. */
void
box_link_parent(struct box_model *m, struct box_session *s, int64_t now)
{
	struct box_session *p;

	if (s->run == NULL || s->run->parent_id != NULL)
		return;
	if (s->parent_key == NULL || *s->parent_key == '\0' || strcmp(s->parent_key, s->key) == 0)
		return;
	p = box_get(m, s->parent_key, s->agent_id);
	if (p->run == NULL && box_start(m, p, now) == NULL)
		return;
	s->run->parent_id = xstrdup(p->run->id);
	if (*s->channel_id == '\0')
		box_set_str(&s->channel_id, p->channel_id);
	if (*s->root_id == '\0')
		box_set_str(&s->root_id, p->root_id);
	box_mark(m, s, 1);
	/* Shown only under a parent box that is shown itself. */
	if (p->run->reported)
		box_report(m, s);
}

/* s's run is replaced: kept for the commit when its last state is not stored. */
static void
box_drop_run(struct box_model *m, struct box_session *s)
{
	if (s->run != NULL && s->run->reported && s->box_dirty) {
		if (m->nretired == m->capretired) {
			m->capretired = m->capretired ? m->capretired * 2 : 8;
			m->retired = xreallocarray(m->retired, m->capretired, sizeof(*m->retired));
		}
		m->retired[m->nretired].s = s;
		m->retired[m->nretired].run = s->run;
		m->nretired++;
	} else {
		box_run_free(s->run);
	}
	s->run = NULL;
}

/* A fresh box for s; NULL when MAX_ACTIVE_SESSIONS top-level boxes run. */
struct box_run *
box_start(struct box_model *m, struct box_session *s, int64_t now)
{
	struct box_run *r;
	char hex[17];

	if (!box_is_sub(s) && m->cfg.max_active > 0 &&
	    box_count_active_top(m) >= (size_t)m->cfg.max_active) {
		/* Counted and logged once per run, not once per line of it. */
		if (!s->run_dropped) {
			s->run_dropped = 1;
			m->dropped++;
			log_warn("too many active boxes, not showing a run", "session", s->key,
			    "max_active_sessions", LOG_I64(m->cfg.max_active));
		}
		return NULL;
	}
	box_drop_run(m, s);
	box_pending_clear(s);
	s->run_dropped = 0;
	r = xcalloc(1, sizeof(*r));
	util_random_hex(hex, 8);
	snprintf(r->id, sizeof(r->id), "w%s", hex);
	r->status = BOX_ACTIVE;
	r->lines = xcalloc((size_t)m->cfg.max_lines, sizeof(*r->lines));
	r->start_ms = r->last_update_ms = now;
	r->end_ms = STORE_NO_TIME;
	r->model = xstrdup(s->model != NULL ? s->model : "");
	r->reported = !box_is_sub(s);
	s->run = r;
	s->last_activity_ms = now;
	s->last_tool_use = 0;
	s->wait_child = 0;
	s->run_locked = s->lock;
	m->started++;
	box_mark(m, s, 1);
	if (box_is_sub(s))
		box_link_parent(m, s, now);
	return r;
}

/* The active run of s, starting one when work shows up; NULL when none. */
struct box_run *
box_work(struct box_model *m, struct box_session *s, int64_t now)
{
	if (box_active(s)) {
		s->last_activity_ms = now;
		return s->run;
	}
	return box_start(m, s, now);
}

/* The session whose box is r's parent box, when it is active. */
static struct box_session *
box_active_parent(struct box_model *m, const struct box_session *s)
{
	struct box_session *p;

	if (s->run == NULL || s->run->parent_id == NULL || s->parent_key == NULL ||
	    *s->parent_key == '\0')
		return NULL;
	p = box_find(m, s->parent_key);
	if (p == NULL || !box_active(p) || strcmp(p->run->id, s->run->parent_id) != 0)
		return NULL;
	return p;
}

/* 1 when a sub-agent's box under s's current box is still active. */
int
box_has_active_child(struct box_model *m, const struct box_session *s)
{
	size_t i;

	if (s->run == NULL)
		return 0;
	for (i = 0; i < m->nbuckets; i++) {
		const struct box_session *c;

		for (c = m->buckets[i]; c != NULL; c = c->next) {
			if (c != s && box_active(c) && c->run->parent_id != NULL &&
			    strcmp(c->run->parent_id, s->run->id) == 0)
				return 1;
		}
	}
	return 0;
}

void
box_end(struct box_model *m, struct box_session *s, enum box_status st, int64_t now)
{
	struct box_session *p;

	if (!box_active(s))
		return;
	p = box_active_parent(m, s);
	if (s->run->thinking) {
		/* A run that showed nothing: no "thinking" left behind. */
		s->run->thinking = 0;
		box_line_clear(&s->run->lines[0]);
		s->run->nlines = 0;
	}
	s->run->status = st;
	s->run->end_ms = now;
	s->run->last_update_ms = now;
	box_pending_clear(s);
	box_mark(m, s, 1);
	if (p != NULL && p->wait_child && st != BOX_INTERRUPTED) {
		/* The parent waited for this child: it ends now, or idles from now. */
		p->wait_child = 0;
		p->last_activity_ms = now;
		box_check_finished(m, p, now);
	}
}

void
box_compacted(struct box_model *m, const char *key, int64_t now)
{
	struct box_session *s = box_find(m, key);

	if (s == NULL || !box_active(s))
		return;
	s->last_activity_ms = now;
	box_add_line(m, s, xstrdup(BOX_COMPACTED_LINE), NULL, 0, now);
}

void
box_lock(struct box_model *m, const char *agent_id, const char *key, int present, int64_t now)
{
	struct box_session *s = box_get(m, key, agent_id);

	if (s->lock != present) {
		s->lock = present;
		box_mark(m, s, 0);
	}
	if (!present)
		s->run_dropped = 0; /* that run is over, shown or not */
	if (present) {
		if (box_work(m, s, now) != NULL) {
			s->run_locked = 1;
			box_thinking(m, s, now);
		}
	} else if (box_active(s) && s->npending == 0) {
		if (box_has_active_child(m, s))
			s->wait_child = 1;
		else
			box_end(m, s, BOX_DONE, now);
	}
}

void
box_run_start(struct box_model *m, const char *agent_id, const char *key, int announce, int64_t now)
{
	struct box_session *s = box_get(m, key, agent_id);

	if (box_active(s)) {
		s->last_activity_ms = now;
		return;
	}
	if (announce || box_is_announce_key(key))
		return;
	if (box_start(m, s, now) != NULL)
		box_thinking(m, s, now);
}

void
box_set_meta(struct box_model *m, const char *key, const struct box_meta *meta)
{
	struct box_session *s = box_get(m, key, meta->agent_id), *p = NULL;
	const char *channel_id = meta->channel_id, *root_id = meta->root_id;
	const char *parent_key = meta->parent_key;
	int changed = 0;

	/* A linked sub-agent without a route of its own keeps its parent's. */
	if (parent_key == NULL || *parent_key == '\0')
		parent_key = s->parent_key;
	if (parent_key != NULL && *parent_key != '\0' && strcmp(parent_key, key) != 0 &&
	    s->run != NULL && s->run->parent_id != NULL)
		p = box_find(m, parent_key);
	if (p != NULL && (channel_id == NULL || *channel_id == '\0'))
		channel_id = p->channel_id;
	if (p != NULL && (root_id == NULL || *root_id == '\0'))
		root_id = p->root_id;

#define BOX_META_FIELD(f, v) \
	do { \
		const char *v_ = (v) != NULL ? (v) : ""; \
		if (s->f == NULL || strcmp(s->f, v_) != 0) { \
			box_set_str(&s->f, v_); \
			changed = 1; \
		} \
	} while (0)
	BOX_META_FIELD(channel_id, channel_id);
	BOX_META_FIELD(root_id, root_id);
	BOX_META_FIELD(target, meta->target);
	BOX_META_FIELD(label, meta->label);
	if (meta->parent_key != NULL && *meta->parent_key != '\0')
		BOX_META_FIELD(parent_key, meta->parent_key);
#undef BOX_META_FIELD
	if (!changed)
		return;
	box_mark(m, s, 1);
	if (s->run != NULL && box_is_sub(s))
		box_link_parent(m, s, s->run->last_update_ms);
}

void
box_rekey(struct box_model *m, const char *old_key, const char *new_key, int64_t now)
{
	struct box_session *o = box_find(m, old_key), *n;
	struct box_run *r;
	size_t i;
	int j;

	if (o == NULL || strcmp(old_key, new_key) == 0)
		return;
	n = box_get(m, new_key, o->agent_id);
	if (o->lock && !n->lock) {
		n->lock = 1;
		box_mark(m, n, 0);
	}
	if (box_active(o) && box_active(n)) {
		/* The run goes on in new_key's box: o's lines join it, o's box goes. */
		r = o->run;
		if (r->thinking)
			box_line_clear(&r->lines[0]); /* not carried over */
		for (j = r->thinking ? 1 : 0; j < r->nlines; j++) {
			box_add_line(
			    m, n, r->lines[j].text, r->lines[j].call_id, r->lines[j].spawn, now);
			free(r->lines[j].call_id);
			r->lines[j].text = r->lines[j].call_id = NULL;
		}
		r->nlines = 0;
		n->run->tokens = box_add_capped(n->run->tokens, r->tokens);
		for (i = 0; i < o->npending; i++)
			box_pending_add(n, o->pending[i]);
		n->run_locked |= o->lock;
		n->last_activity_ms = now;
		if (r->reported) {
			m->deleted =
			    xreallocarray(m->deleted, m->ndeleted + 1, sizeof(*m->deleted));
			m->deleted[m->ndeleted++] = xstrdup(r->id);
		}
		box_run_free(r);
		o->run = NULL;
		box_mark(m, n, 1);
	} else if (box_active(o)) {
		/* new_key has no run going: o's box becomes new_key's. */
		box_drop_run(m, n);
		box_pending_clear(n);
		n->run = o->run;
		o->run = NULL;
		for (i = 0; i < o->npending; i++)
			box_pending_add(n, o->pending[i]);
		n->last_tool_use = o->last_tool_use;
		n->run_locked = o->run_locked;
		n->last_activity_ms = o->last_activity_ms;
		free(n->run->parent_id);
		n->run->parent_id = NULL;
		n->run->reported = !box_is_sub(n);
		box_mark(m, n, 1);
		if (box_is_sub(n))
			box_link_parent(m, n, now);
	}
	o->lock = 0;
	o->run_locked = 0;
	box_pending_clear(o);
	box_mark(m, o, 0);
}

size_t
box_deleted(struct box_model *m, char ***ids)
{
	*ids = m->deleted;
	return m->ndeleted;
}

void
box_tick(struct box_model *m, int64_t now)
{
	size_t i;

	for (i = 0; i < m->nbuckets; i++) {
		struct box_session *s;

		for (s = m->buckets[i]; s != NULL; s = s->next) {
			if (!box_active(s))
				continue;
			if (m->cfg.max_duration_ms > 0 &&
			    now - s->run->start_ms >= m->cfg.max_duration_ms) {
				box_add_line(m, s, xstrdup(BOX_MAX_DURATION_LINE), NULL, 0, now);
				box_end(m, s, BOX_DONE, now);
			} else if (m->cfg.idle_timeout_ms > 0 &&
			    now - s->last_activity_ms >= m->cfg.idle_timeout_ms) {
				if (box_has_active_child(m, s)) {
					s->last_activity_ms = now; /* waits for its sub-agents */
					s->wait_child = 1;
				} else
					box_end(m, s, BOX_DONE, now);
			}
		}
	}
}

int64_t
box_next_deadline(struct box_model *m, int64_t now)
{
	int64_t best = -1, t;
	size_t i;

	for (i = 0; i < m->nbuckets; i++) {
		struct box_session *s;

		for (s = m->buckets[i]; s != NULL; s = s->next) {
			if (!box_active(s))
				continue;
			if (m->cfg.idle_timeout_ms > 0) {
				t = s->last_activity_ms + m->cfg.idle_timeout_ms - now;
				if (best < 0 || t < best)
					best = t;
			}
			if (m->cfg.max_duration_ms > 0) {
				t = s->run->start_ms + m->cfg.max_duration_ms - now;
				if (best < 0 || t < best)
					best = t;
			}
		}
	}
	return best < 0 ? -1 : best;
}

void
box_interrupt_all(struct box_model *m, int64_t now)
{
	size_t i;

	for (i = 0; i < m->nbuckets; i++) {
		struct box_session *s;

		for (s = m->buckets[i]; s != NULL; s = s->next)
			box_end(m, s, BOX_INTERRUPTED, now);
	}
}

void
box_stats(struct box_model *m, struct box_stats *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < m->nbuckets; i++) {
		struct box_session *s;

		for (s = m->buckets[i]; s != NULL; s = s->next) {
			if (box_active(s) && s->run->reported)
				out->active_boxes++;
		}
	}
	out->sessions = (int64_t)m->nsessions;
	out->boxes_started = m->started;
	out->dropped = m->dropped;
	out->numbers_dropped = m->numbers_dropped;
}
