/*
 * box_events: transcript events into a run's status lines: assistant text
 * and tool calls, tool results, errors, the thinking line (see box_int.h).
 */
#include "watcher/box_int.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"

/* Shows BOX_THINKING_LINE in a box that has no line yet. */
void
box_thinking(struct box_model *m, struct box_session *s, int64_t now)
{
	if (!box_active(s) || s->run->nlines > 0)
		return;
	box_add_line(m, s, xstrdup(BOX_THINKING_LINE), NULL, 0, now);
	s->run->thinking = 1;
}

int
box_is_announce_key(const char *key)
{
	return strstr(key, ":announce:") != NULL;
}

void
box_line_clear(struct box_line *l)
{
	free(l->text);
	free(l->call_id);
	l->text = l->call_id = NULL;
}

void
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

void
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
void
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
