/*
 * box_state: a box model's changes as store rows (boxes, session state
 * JSON) and the restore of sessions and runs from them (see box_int.h).
 */
#include "watcher/box_int.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "watcher/wjson.h"

static const char *const box_status_names[] = { "active", "done", "error", "interrupted" };

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

/* The run's lines from the stored box (the newest max_lines) and, from the
 * state o, which of them wait for a tool result. */
static void
box_restore_lines(struct box_model *m, struct box_run *r, json_object *o, const char *text)
{
	json_object *lines = json_tokener_parse(text != NULL ? text : "[]"), *a = NULL;
	size_t first = 0, i, n;

	if (lines != NULL && json_object_is_type(lines, json_type_array)) {
		n = json_object_array_length(lines);
		if (n > (size_t)m->cfg.max_lines)
			first = n - (size_t)m->cfg.max_lines;
		for (i = first; i < n; i++) {
			json_object *e = json_object_array_get_idx(lines, i);

			r->lines[r->nlines++].text = xstrdup(
			    json_object_is_type(e, json_type_string) ? json_object_get_string(e)
			                                             : "");
		}
	}
	json_object_put(lines);
	r->thinking = r->status == BOX_ACTIVE && r->nlines == 1 &&
	    strcmp(r->lines[0].text, BOX_THINKING_LINE) == 0;
	if (!json_object_object_get_ex(o, "calls", &a) || !json_object_is_type(a, json_type_array))
		return;
	n = json_object_array_length(a);
	for (i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(a, i);
		int64_t idx;

		if (!json_object_is_type(c, json_type_array) || json_object_array_length(c) < 3)
			continue;
		idx = json_object_get_int64(json_object_array_get_idx(c, 0)) - (int64_t)first;
		if (idx < 0 || idx >= r->nlines)
			continue;
		free(r->lines[idx].call_id);
		r->lines[idx].call_id =
		    xstrdup(json_object_get_string(json_object_array_get_idx(c, 1)));
		r->lines[idx].spawn = json_object_get_boolean(json_object_array_get_idx(c, 2));
	}
}

/* s's current run, from its stored box and the state o. */
static void
box_restore_run(
    struct box_model *m, struct box_session *s, json_object *o, const struct store_box *box)
{
	struct box_run *r;

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
	box_restore_lines(m, r, o, box->lines);
}

int
box_restore(struct box_model *m, const char *key, const char *state, const struct store_box *box)
{
	json_object *o = json_tokener_parse(state != NULL ? state : "{}"), *a = NULL;
	struct box_session *s;
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
	if ((v = wjson_str(o, "model")) != NULL && *v != '\0')
		box_set_str(&s->model, v);
	if ((v = wjson_str(o, "parent_key")) != NULL && *v != '\0')
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
	if (box != NULL)
		box_restore_run(m, s, o, box);
out:
	json_object_put(o);
	return rc;
}
