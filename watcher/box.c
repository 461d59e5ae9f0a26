/* box: the status model (events to status boxes, lifecycle, persistence). */
#include "watcher/box.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"

enum box_status {
	BOX_ACTIVE,
	BOX_DONE,
	BOX_ERROR,
	BOX_INTERRUPTED,
};

/* a + b for counts that are each at most TX_NUMBER_MAX: never past INT64_MAX. */
static int64_t
box_add_capped(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static const char *const box_status_names[] = { "active", "done", "error", "interrupted" };

struct box_line {
	char *text;
	char *call_id; /* set while the line waits for its tool result */
	int spawn;     /* a sub-agent line: never gets a suffix */
};

struct box_run {
	char id[40];
	char *parent_id;
	enum box_status status;
	struct box_line *lines;
	int nlines;
	int64_t start_ms, end_ms, last_update_ms;
	int64_t tokens;
	char *model;
	int reported; /* the run is visible (a child whose parent is known) */
	int thinking; /* the only line is BOX_THINKING_LINE */
};

struct box_session {
	char *key;
	char *agent_id;
	char *channel_id, *root_id, *target, *label, *parent_key;
	char *model; /* newest model seen on the session */
	struct box_run *run;
	char **pending; /* tool call ids without a result */
	size_t npending, cappending;
	int lock;
	int run_locked;    /* the lock was held during the current run */
	int run_dropped;   /* the current run is not shown (MAX_ACTIVE_SESSIONS) */
	int last_tool_use; /* the last assistant line stopped for toolUse */
	int wait_child;    /* the run is over but a sub-agent's box is active */
	int64_t last_activity_ms;
	int dirty, box_dirty;
	struct box_session *next; /* hash chain */
};

/* A run replaced by a fresh one before its last change was committed. */
struct box_retired {
	struct box_session *s;
	struct box_run *run;
};

struct box_model {
	struct box_config cfg;
	struct tx_parser *parser;
	struct box_session **buckets;
	size_t nbuckets, nsessions;
	struct box_session **dirty;
	size_t ndirty, capdirty;
	struct box_retired *retired;
	size_t nretired, capretired;
	char **deleted; /* ids of stored boxes to delete (merged into another) */
	size_t ndeleted;
	int64_t started, dropped;
	int64_t numbers_dropped; /* transcript numbers out of bounds (tx_event) */
};

static uint64_t
box_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

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

static void
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
	struct box_session *s = m->buckets[box_hash(key) % m->nbuckets];

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
			size_t h = box_hash(s->key) % n;

			next = s->next;
			s->next = b[h];
			b[h] = s;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = n;
}

static struct box_session *
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
	h = box_hash(key) % m->nbuckets;
	s->next = m->buckets[h];
	m->buckets[h] = s;
	m->nsessions++;
	return s;
}

static void
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

static int
box_active(const struct box_session *s)
{
	return s->run != NULL && s->run->status == BOX_ACTIVE;
}

static void
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

static struct box_run *box_start(struct box_model *m, struct box_session *s, int64_t now);

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
static void
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
static struct box_run *
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
static struct box_run *
box_work(struct box_model *m, struct box_session *s, int64_t now)
{
	if (box_active(s)) {
		s->last_activity_ms = now;
		return s->run;
	}
	return box_start(m, s, now);
}

static void box_check_finished(struct box_model *m, struct box_session *s, int64_t now);
static void box_line_clear(struct box_line *l);
static void box_add_line(struct box_model *m, struct box_session *s, char *text,
    const char *call_id, int spawn, int64_t now);

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
static int
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

static void
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

/* Shows BOX_THINKING_LINE in a box that has no line yet. */
static void
box_thinking(struct box_model *m, struct box_session *s, int64_t now)
{
	if (!box_active(s) || s->run->nlines > 0)
		return;
	box_add_line(m, s, xstrdup(BOX_THINKING_LINE), NULL, 0, now);
	s->run->thinking = 1;
}

static int
box_is_announce_key(const char *key)
{
	return strstr(key, ":announce:") != NULL;
}

static void
box_line_clear(struct box_line *l)
{
	free(l->text);
	free(l->call_id);
	l->text = l->call_id = NULL;
}

static void
box_add_line(struct box_model *m, struct box_session *s, char *text, const char *call_id, int spawn,
    int64_t now)
{
	struct box_run *r = s->run;
	struct box_line *l;

	if (r->thinking) {
		r->thinking = 0;
		box_line_clear(&r->lines[0]);
		r->nlines = 0;
	}
	if (r->nlines == m->cfg.max_lines) {
		free(r->lines[0].text);
		free(r->lines[0].call_id);
		memmove(r->lines, r->lines + 1, (size_t)(r->nlines - 1) * sizeof(*r->lines));
		r->nlines--;
	}
	l = &r->lines[r->nlines++];
	l->text = text;
	l->call_id = call_id != NULL ? xstrdup(call_id) : NULL;
	l->spawn = spawn;
	r->last_update_ms = now;
	box_mark(m, s, 1);
}

static int
box_starts_with_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

char *
box_line_text(const char *text)
{
	const char *p = text, *line, *end;
	int in_meta = 0, after_meta = 0;

	if (text == NULL)
		return NULL;
	for (; *p != '\0'; p = *end ? end + 1 : end) {
		const char *b, *e;

		line = p;
		end = line + strcspn(line, "\n");
		b = line;
		e = end;
		while (b < e && (*b == ' ' || *b == '\t' || *b == '\r'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		if (in_meta) {
			/* Inside a fenced block after "(untrusted metadata)". */
			if (e - b >= 3 && strncmp(b, "```", 3) == 0)
				in_meta = 0;
			continue;
		}
		if (after_meta) {
			after_meta = 0;
			if (e - b >= 3 && strncmp(b, "```", 3) == 0) {
				in_meta = 1;
				continue;
			}
		}
		if (memmem(b, (size_t)(e - b), "(untrusted metadata)", 20) != NULL ||
		    memmem(b, (size_t)(e - b), "(untrusted, for context)", 24) != NULL) {
			after_meta = 1;
			continue;
		}
		/* [mattermost message id: ... channel: ...] and similar trailers */
		while (b < e && *b == '[' && box_starts_with_ci(b, "[mattermost ")) {
			const char *close = memchr(b, ']', (size_t)(e - b));
			int envelope = box_starts_with_ci(b, "[mattermost message id:");

			if (close == NULL)
				break;
			b = close + 1;
			while (b < e && (*b == ' ' || *b == '\t'))
				b++;
			if (!envelope) {
				/* "[Mattermost <label> id:<chan>] sender: text" */
				const char *colon = memchr(b, ':', (size_t)(e - b));

				if (colon != NULL && colon + 1 < e && colon[1] == ' ' &&
				    colon - b <= 64) {
					b = colon + 2;
					while (b < e && *b == ' ')
						b++;
				}
			}
		}
		if (b < e) {
			char *copy = xstrndup(b, (size_t)(e - b));

			copy[util_utf8_prefix(copy, BOX_LINE_MAX_CHARS)] = '\0';
			return copy;
		}
	}
	return NULL;
}

/* Code-point trim of a tool line, in place. */
static char *
box_trim_line(char *s)
{
	char *nl = s + strcspn(s, "\r\n");

	*nl = '\0';
	s[util_utf8_prefix(s, BOX_LINE_MAX_CHARS)] = '\0';
	return s;
}

static void
box_pending_add(struct box_session *s, const char *id)
{
	if (s->npending == s->cappending) {
		s->cappending = s->cappending ? s->cappending * 2 : 8;
		s->pending = xreallocarray(s->pending, s->cappending, sizeof(*s->pending));
	}
	s->pending[s->npending++] = xstrdup(id);
}

static int
box_pending_remove(struct box_session *s, const char *id)
{
	size_t i;

	for (i = 0; i < s->npending; i++) {
		if (strcmp(s->pending[i], id) == 0) {
			free(s->pending[i]);
			s->pending[i] = s->pending[--s->npending];
			return 1;
		}
	}
	return 0;
}

/*
 * A run whose lock went away ends when nothing is pending any more; a run
 * with no lock at all when the agent stopped and nothing is pending.
 */
static void
box_check_finished(struct box_model *m, struct box_session *s, int64_t now)
{
	if (!box_active(s) || s->lock || s->npending != 0 || (!s->run_locked && s->last_tool_use))
		return;
	if (box_has_active_child(m, s))
		s->wait_child = 1;
	else
		box_end(m, s, BOX_DONE, now);
}

/*
 * The last line of a failed run: its errorMessage and errorCode, or for an
 * abort without either "run aborted"; NULL when the run said nothing.
 */
static char *
box_error_line(const struct tx_event *ev)
{
	char *why = box_line_text(ev->error_message), *line;

	if (why == NULL)
		why = box_line_text(ev->error_code);
	if (why == NULL && strcmp(ev->stop_reason, "aborted") == 0)
		why = xstrdup("run aborted");
	if (why == NULL)
		return NULL;
	if (ev->error_message != NULL && ev->error_code != NULL && *ev->error_code != '\0' &&
	    strstr(why, ev->error_code) == NULL)
		line = xasprintf("Error: %s (%s)", why, ev->error_code);
	else
		line = xasprintf("Error: %s", why);
	free(why);
	return box_trim_line(line);
}

static void
box_assistant(struct box_model *m, struct box_session *s, const struct tx_event *ev, int64_t now)
{
	struct box_run *r;
	size_t i;

	if (tx_is_copy(ev))
		return;
	if (ev->model != NULL && *ev->model != '\0')
		box_set_str(&s->model, ev->model);
	if ((ev->announce || box_is_announce_key(s->key)) && !box_active(s))
		return; /* an announce run folds into an active box, never starts one */
	if ((r = box_work(m, s, now)) == NULL) {
		/* A run not shown ends as a shown one would (no lock: its stop). */
		if (!s->lock && ev->stop_reason != NULL && strcmp(ev->stop_reason, "toolUse") != 0)
			s->run_dropped = 0;
		return;
	}
	if (ev->model != NULL && *ev->model != '\0')
		box_set_str(&r->model, ev->model);
	r->tokens = box_add_capped(r->tokens, ev->input_tokens + ev->output_tokens);
	r->last_update_ms = now;
	box_mark(m, s, 1);
	for (i = 0; i < ev->nblocks; i++) {
		const struct tx_block *b = &ev->blocks[i];
		char *text;

		if (b->type == TX_BLOCK_TOOL_CALL) {
			int spawn = strcmp(b->name, "sessions_spawn") == 0;

			if (b->call_id != NULL)
				box_pending_add(s, b->call_id);
			text = labels_format(m->cfg.labels, b->name, b->args);
			if (text != NULL)
				box_add_line(m, s, box_trim_line(text), b->call_id, spawn, now);
		} else if ((text = box_line_text(b->text)) != NULL) {
			box_add_line(m, s, text, NULL, 0, now);
		}
	}
	s->last_tool_use = ev->stop_reason != NULL && strcmp(ev->stop_reason, "toolUse") == 0;
	if (ev->stop_reason != NULL &&
	    (strcmp(ev->stop_reason, "error") == 0 || strcmp(ev->stop_reason, "aborted") == 0)) {
		char *why = box_error_line(ev);

		if (why != NULL)
			box_add_line(m, s, why, NULL, 0, now);
		box_end(m, s, BOX_ERROR, now);
		return;
	}
	box_check_finished(m, s, now);
}

static void
box_tool_result(struct box_model *m, struct box_session *s, const struct tx_event *ev, int64_t now)
{
	struct box_run *r;
	int i;

	struct box_session *c = NULL;

	if (ev->announce && !box_active(s))
		return;
	if (ev->child_key != NULL && *ev->child_key != '\0') {
		c = box_get(m, ev->child_key, s->agent_id);
		if (c->parent_key == NULL || *c->parent_key == '\0') {
			box_set_str(&c->parent_key, s->key);
			box_link_parent(m, c, now);
			box_mark(m, c, 0);
		}
	}
	if ((r = box_work(m, s, now)) == NULL)
		return;
	/* An accepted sub-agent shows (thinking) now, and keeps its parent open. */
	if (c != NULL && c->run == NULL && box_start(m, c, now) != NULL)
		box_thinking(m, c, now);
	r->last_update_ms = now;
	box_mark(m, s, 1);
	if (ev->call_id == NULL)
		return;
	box_pending_remove(s, ev->call_id);
	for (i = r->nlines - 1; i >= 0; i--) {
		struct box_line *l = &r->lines[i];

		if (l->call_id == NULL || strcmp(l->call_id, ev->call_id) != 0)
			continue;
		if (!l->spawn) {
			char *t = xasprintf("%s%s", l->text, ev->is_error ? " [ERR]" : " [OK]");

			free(l->text);
			l->text = t;
		} else if (ev->spawn_error != NULL) {
			char *why = box_line_text(ev->spawn_error);
			char *t = why != NULL ? xasprintf("%s [ERR] %s", l->text, why)
			                      : xasprintf("%s [ERR]", l->text);

			free(why);
			free(l->text);
			l->text = t;
		}
		free(l->call_id);
		l->call_id = NULL;
		break;
	}
	box_check_finished(m, s, now);
}

void
box_feed_event(struct box_model *m, const char *agent_id, const char *key,
    const struct tx_event *ev, int64_t now)
{
	struct box_session *s = box_get(m, key, agent_id);

	m->numbers_dropped += ev->dropped_numbers;
	switch (ev->type) {
	case TX_ASSISTANT:
		box_assistant(m, s, ev, now);
		break;
	case TX_TOOL_RESULT:
		box_tool_result(m, s, ev, now);
		break;
	case TX_MODEL_CHANGE:
		if (ev->model != NULL && *ev->model != '\0') {
			box_set_str(&s->model, ev->model);
			if (box_active(s)) {
				box_set_str(&s->run->model, ev->model);
				box_mark(m, s, 1);
			}
		}
		break;
	case TX_COMPACTION:
		box_compacted(m, key, now);
		break;
	case TX_CUSTOM:
		if (!box_active(s))
			break;
		/* The run writes on (model retries write only custom rows): not idle. */
		s->last_activity_ms = now;
		if (ev->custom_type != NULL &&
		    strcmp(ev->custom_type, "openclaw:prompt-error") == 0)
			box_end(m, s, BOX_ERROR, now);
		break;
	case TX_USER:
		if (box_active(s))
			s->last_activity_ms = now;
		break;
	default:
		break;
	}
}

int
box_feed_line(struct box_model *m, const char *agent_id, const char *key, const char *line,
    size_t len, int64_t now)
{
	struct tx_event ev;
	int rc = tx_parse(m->parser, line, len, &ev);

	if (rc == TX_OK)
		box_feed_event(m, agent_id, key, &ev, now);
	tx_event_free(&ev);
	return rc;
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

static char *
box_lines_json(const struct box_run *r)
{
	json_object *a = json_object_new_array_ext(r->nlines);
	char *out;
	int i;

	for (i = 0; i < r->nlines; i++)
		json_object_array_add(a, json_object_new_string(r->lines[i].text));
	out = xstrdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
	json_object_put(a);
	return out;
}

static char *
box_state_json(const struct box_session *s)
{
	json_object *o = json_object_new_object(), *pend, *calls;
	char *out;
	size_t i;
	int j;

	json_object_object_add(o, "v", json_object_new_int(1));
	json_object_object_add(o, "lock", json_object_new_boolean(s->lock));
	json_object_object_add(o, "tool_use", json_object_new_boolean(s->last_tool_use));
	json_object_object_add(o, "run_locked", json_object_new_boolean(s->run_locked));
	json_object_object_add(o, "activity_ms", json_object_new_int64(s->last_activity_ms));
	json_object_object_add(o, "model", json_object_new_string(s->model ? s->model : ""));
	json_object_object_add(
	    o, "parent_key", json_object_new_string(s->parent_key ? s->parent_key : ""));
	pend = json_object_new_array();
	for (i = 0; i < s->npending; i++)
		json_object_array_add(pend, json_object_new_string(s->pending[i]));
	json_object_object_add(o, "pending", pend);
	calls = json_object_new_array();
	for (j = 0; s->run != NULL && j < s->run->nlines; j++) {
		const struct box_line *l = &s->run->lines[j];
		json_object *c;

		if (l->call_id == NULL)
			continue;
		c = json_object_new_array();
		json_object_array_add(c, json_object_new_int(j));
		json_object_array_add(c, json_object_new_string(l->call_id));
		json_object_array_add(c, json_object_new_boolean(l->spawn));
		json_object_array_add(calls, c);
	}
	json_object_object_add(o, "calls", calls);
	if (s->run != NULL)
		json_object_object_add(o, "reported", json_object_new_boolean(s->run->reported));
	out = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return out;
}

static void
box_change_fill(struct box_change *c, struct box_session *s, struct box_run *r)
{
	c->has_box = 1;
	c->box.id = r->id;
	c->box.session_key = s->key;
	c->box.agent_id = s->agent_id;
	c->box.channel_id = s->channel_id;
	c->box.root_id = s->root_id;
	c->box.parent_id = r->parent_id;
	c->box.label = s->label;
	c->box.status = (char *)box_status_names[r->status];
	c->box.lines = box_lines_json(r);
	c->box.model = r->model;
	c->box.source = "watcher";
	c->box.start_time_ms = r->start_ms;
	c->box.end_time_ms = r->end_ms;
	c->box.last_update_ms = r->last_update_ms;
	c->box.token_count = r->tokens;
}

size_t
box_changes(struct box_model *m, struct box_change **out)
{
	struct box_change *list;
	size_t i;

	*out = NULL;
	if (m->ndirty == 0 && m->nretired == 0)
		return 0;
	list = xcalloc(m->ndirty + m->nretired, sizeof(*list));
	for (i = 0; i < m->ndirty; i++) {
		struct box_session *s = m->dirty[i];
		struct box_change *c = &list[i];
		struct box_run *r = s->run;

		c->session_key = s->key;
		c->target = s->target;
		c->state = box_state_json(s);
		c->box_id = r != NULL && r->reported ? r->id : NULL;
		if (r == NULL || !r->reported || !s->box_dirty)
			continue;
		box_change_fill(c, s, r);
	}
	/* Runs replaced within this batch: their last state, no session row. */
	for (i = 0; i < m->nretired; i++) {
		struct box_change *c = &list[m->ndirty + i];

		c->session_key = m->retired[i].s->key;
		c->target = m->retired[i].s->target;
		c->retired = 1;
		box_change_fill(c, m->retired[i].s, m->retired[i].run);
	}
	*out = list;
	return m->ndirty + m->nretired;
}

void
box_changes_free(struct box_change *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(list[i].state);
		free(list[i].box.lines);
	}
	free(list);
}

void
box_mark_clean(struct box_model *m)
{
	size_t i;

	for (i = 0; i < m->ndirty; i++)
		m->dirty[i]->dirty = m->dirty[i]->box_dirty = 0;
	m->ndirty = 0;
	for (i = 0; i < m->nretired; i++)
		box_run_free(m->retired[i].run);
	m->nretired = 0;
	for (i = 0; i < m->ndeleted; i++)
		free(m->deleted[i]);
	m->ndeleted = 0;
}

static const char *
box_json_str(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int64_t
box_json_int(json_object *o, const char *key)
{
	json_object *v = NULL;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static int
box_json_bool(json_object *o, const char *key)
{
	json_object *v = NULL;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_boolean(v) : 0;
}

static enum box_status
box_status_parse(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(box_status_names) / sizeof(box_status_names[0]); i++) {
		if (s != NULL && strcmp(s, box_status_names[i]) == 0)
			return (enum box_status)i;
	}
	return BOX_INTERRUPTED;
}

int
box_restore(struct box_model *m, const char *key, const char *state, const struct store_box *box)
{
	json_object *o = json_tokener_parse(state != NULL ? state : "{}"), *a = NULL;
	struct box_session *s;
	struct box_run *r;
	const char *v;
	size_t i, n;
	int rc = -1;

	if (o == NULL || !json_object_is_type(o, json_type_object))
		goto out;
	s = box_get(m, key, box != NULL ? box->agent_id : NULL);
	s->lock = box_json_bool(o, "lock");
	s->last_tool_use = box_json_bool(o, "tool_use");
	s->run_locked = box_json_bool(o, "run_locked");
	s->last_activity_ms = box_json_int(o, "activity_ms");
	if ((v = box_json_str(o, "model")) != NULL && *v != '\0')
		box_set_str(&s->model, v);
	if ((v = box_json_str(o, "parent_key")) != NULL && *v != '\0')
		box_set_str(&s->parent_key, v);
	if (json_object_object_get_ex(o, "pending", &a) &&
	    json_object_is_type(a, json_type_array)) {
		n = json_object_array_length(a);
		for (i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(a, i);

			if (json_object_is_type(e, json_type_string))
				box_pending_add(s, json_object_get_string(e));
		}
	}
	rc = 0;
	if (box == NULL)
		goto out;
	box_run_free(s->run);
	r = s->run = xcalloc(1, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", box->id);
	r->parent_id = box->parent_id != NULL ? xstrdup(box->parent_id) : NULL;
	r->status = box_status_parse(box->status);
	r->lines = xcalloc((size_t)m->cfg.max_lines, sizeof(*r->lines));
	r->start_ms = box->start_time_ms;
	r->end_ms = box->end_time_ms;
	r->last_update_ms = box->last_update_ms;
	r->tokens = box->token_count;
	r->model = xstrdup(box->model != NULL ? box->model : "");
	r->reported = 1;
	box_set_str(&s->channel_id, box->channel_id);
	box_set_str(&s->root_id, box->root_id);
	box_set_str(&s->label, box->label);
	{
		json_object *lines = json_tokener_parse(box->lines != NULL ? box->lines : "[]");
		size_t first = 0;

		if (lines != NULL && json_object_is_type(lines, json_type_array)) {
			n = json_object_array_length(lines);
			if (n > (size_t)m->cfg.max_lines)
				first = n - (size_t)m->cfg.max_lines;
			for (i = first; i < n; i++) {
				json_object *e = json_object_array_get_idx(lines, i);

				r->lines[r->nlines++].text =
				    xstrdup(json_object_is_type(e, json_type_string)
				            ? json_object_get_string(e)
				            : "");
			}
		}
		json_object_put(lines);
		r->thinking = r->status == BOX_ACTIVE && r->nlines == 1 &&
		    strcmp(r->lines[0].text, BOX_THINKING_LINE) == 0;
		if (json_object_object_get_ex(o, "calls", &a) &&
		    json_object_is_type(a, json_type_array)) {
			n = json_object_array_length(a);
			for (i = 0; i < n; i++) {
				json_object *c = json_object_array_get_idx(a, i);
				int64_t idx;

				if (!json_object_is_type(c, json_type_array) ||
				    json_object_array_length(c) < 3)
					continue;
				idx = json_object_get_int64(json_object_array_get_idx(c, 0)) -
				    (int64_t)first;
				if (idx < 0 || idx >= r->nlines)
					continue;
				free(r->lines[idx].call_id);
				r->lines[idx].call_id = xstrdup(
				    json_object_get_string(json_object_array_get_idx(c, 1)));
				r->lines[idx].spawn =
				    json_object_get_boolean(json_object_array_get_idx(c, 2));
			}
		}
	}
out:
	json_object_put(o);
	return rc;
}
