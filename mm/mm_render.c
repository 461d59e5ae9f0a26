/* mm_render: boxes to the blockquoted status box text. */
#include "mm/mm_render.h"

#include <ctype.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/xmalloc.h"

#define MM_RENDER_INDENT "\xc2\xa0\xc2\xa0" /* two U+00A0 per level */
#define MM_RENDER_ELLIPSIS "\xe2\x80\xa6"   /* U+2026 */
#define MM_RENDER_ZWJ "\xe2\x80\x8d"        /* U+200D, zero-width joiner */

/* The lines of the text being built, without the "> " prefix. */
struct mm_lines {
	char **v;
	size_t n, cap;
};

static void
mm_lines_add(struct mm_lines *l, char *line)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n++] = line;
}

static void
mm_lines_free(struct mm_lines *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

size_t
mm_render_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

char *
mm_render_cut(const char *text, size_t max_chars)
{
	size_t keep;
	char *out;

	if (mm_render_chars(text) <= max_chars)
		return xstrdup(text);
	if (max_chars == 0)
		return xstrdup("");
	keep = util_utf8_prefix(text, max_chars - 1);
	out = xmalloc(keep + sizeof(MM_RENDER_ELLIPSIS));
	memcpy(out, text, keep);
	memcpy(out + keep, MM_RENDER_ELLIPSIS, sizeof(MM_RENDER_ELLIPSIS));
	return out;
}

void
mm_render_duration(int64_t ms, char *buf, size_t len)
{
	int64_t s = ms > 0 ? ms / 1000 : 0;

	if (s < 60)
		snprintf(buf, len, "%" PRId64 "s", s);
	else if (s < 3600)
		snprintf(buf, len, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
	else
		snprintf(buf, len, "%" PRId64 "h%02" PRId64 "m", s / 3600, (s % 3600) / 60);
}

void
mm_render_tokens(int64_t t, char *buf, size_t len)
{
	if (t < 0)
		t = 0;
	if (t < 1000)
		snprintf(buf, len, "%" PRId64, t);
	else if (t < 1000000)
		snprintf(buf, len, "%.1fk", (double)t / 1000.0);
	else
		snprintf(buf, len, "%.1fM", (double)t / 1000000.0);
}

static const char *
mm_render_state(const char *status)
{
	if (status == NULL || strcmp(status, "active") == 0)
		return "ACTIVE";
	if (strcmp(status, "done") == 0)
		return "DONE";
	if (strcmp(status, "error") == 0)
		return "ERROR";
	if (strcmp(status, "interrupted") == 0)
		return "INTERRUPTED";
	return "?";
}

static int
mm_render_ended(const struct store_box *b)
{
	return b->status != NULL && strcmp(b->status, "active") != 0;
}

static int64_t
mm_render_elapsed(const struct store_box *b)
{
	int64_t end = b->end_time_ms != STORE_NO_TIME ? b->end_time_ms : b->last_update_ms;

	return end > b->start_time_ms ? end - b->start_time_ms : 0;
}

/*
 * A top-level box is named by its agent ("main"), as the original did (its
 * label is a display name such as "mattermost:team#ops"); a sub-agent by
 * its label.
 */
static const char *
mm_render_name(const struct store_box *b)
{
	const char *first = b->parent_id == NULL ? b->agent_id : b->label;
	const char *second = b->parent_id == NULL ? b->label : b->agent_id;

	if (first != NULL && first[0] != '\0')
		return first;
	if (second != NULL && second[0] != '\0')
		return second;
	return "agent";
}

/* 1 when s (case-insensitive) starts with the lower-case word w. */
static int
mm_render_starts(const char *s, const char *w)
{
	for (; *w != '\0'; s++, w++)
		if (*s == '\0' || (*s | 0x20) != *w)
			return 0;
	return 1;
}

/* The first character after s that is not a space or tab. */
static char
mm_render_next(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return *s;
}

/*
 * Agent output made inert for Mattermost's Markdown (mm_render.h): the
 * characters that would ping, embed or link get a zero-width joiner or a
 * backslash, so the text reads the same and does nothing.
 */
static char *
mm_render_inert(const char *s)
{
	/* Worst case per byte: a backslash, the byte and a joiner. */
	char *out = xmalloc(strlen(s) * (2 + sizeof(MM_RENDER_ZWJ)) + 1), next;
	const char *p;
	size_t o = 0;
	int joiner;

	for (p = s; *p != '\0'; p++) {
		next = *p == ']' ? mm_render_next(p + 1) : '\0';
		if (next != '\0' && strchr("([:", next) != NULL)
			out[o++] = '\\'; /* no [text](url), [text][ref], [ref]: url */
		if (*p == '[' && p > s && p[-1] == '!')
			out[o++] = '\\'; /* no ![image](url) */
		if (*p == '\\' && ispunct((unsigned char)p[1]))
			out[o++] = '\\'; /* a backslash of its own cannot undo the above */
		if ((p == s || !isalnum((unsigned char)p[-1])) && mm_render_starts(p, "www.")) {
			memcpy(out + o, p, 3); /* www.example.com is autolinked */
			o += 3;
			p += 2;
			joiner = 1;
		} else {
			out[o++] = *p;
			joiner = (*p == '@' && p[1] != '\0' && p[1] != ' ') || /* @channel */
			    (*p == ':' && p[1] == '/' && p[2] == '/'); /* http://x is autolinked */
		}
		if (joiner) {
			memcpy(out + o, MM_RENDER_ZWJ, sizeof(MM_RENDER_ZWJ) - 1);
			o += sizeof(MM_RENDER_ZWJ) - 1;
		}
	}
	out[o] = '\0';
	return out;
}

/*
 * One status line made safe for a blockquote line: control characters
 * (newlines included) become spaces, it is shortened to
 * MM_RENDER_LINE_MAX code points, and its Markdown made inert.
 */
static char *
mm_render_clean(const char *s, int depth)
{
	size_t len = strlen(s), ilen = strlen(MM_RENDER_INDENT) * (size_t)depth, i;
	char *flat = xmalloc(len + 1), *cut, *safe, *out;

	for (i = 0; i < len; i++)
		flat[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
	flat[len] = '\0';
	cut = mm_render_cut(flat, MM_RENDER_LINE_MAX);
	free(flat);
	safe = mm_render_inert(cut);
	free(cut);
	out = xmalloc(ilen + strlen(safe) + 1);
	for (i = 0; i < (size_t)depth; i++)
		memcpy(
		    out + i * strlen(MM_RENDER_INDENT), MM_RENDER_INDENT, strlen(MM_RENDER_INDENT));
	memcpy(out + ilen, safe, strlen(safe) + 1);
	free(safe);
	return out;
}

char *
mm_render_opening(const struct store_box *box)
{
	const char *agent =
	    box->agent_id != NULL && box->agent_id[0] != '\0' ? box->agent_id : "agent";
	char *name = mm_render_clean(agent, 0), *out;

	out = xasprintf("> [ACTIVE] %s", name);
	free(name);
	return out;
}

/* The strings of a box's lines (a JSON array), or none when not one. */
static struct json_object *
mm_render_parse_lines(const struct store_box *b)
{
	struct json_object *arr = json_tokener_parse(b->lines != NULL ? b->lines : "[]");

	if (arr != NULL && !json_object_is_type(arr, json_type_array)) {
		json_object_put(arr);
		arr = NULL;
	}
	return arr;
}

struct mm_render_ctx {
	const struct store_box *tree;
	size_t n;
	char *done; /* done[i]: tree[i] drawn */
	struct mm_lines out;
};

static void mm_render_child(struct mm_render_ctx *c, size_t i, int depth, int header);

/* The first undrawn child of tree[p] labelled label, or n. */
static size_t
mm_render_find_child(struct mm_render_ctx *c, size_t p, const char *label)
{
	size_t i;

	for (i = 1; i < c->n; i++)
		if (!c->done[i] && c->tree[i].parent_id != NULL &&
		    strcmp(c->tree[i].parent_id, c->tree[p].id) == 0 &&
		    strcmp(mm_render_name(&c->tree[i]), label) == 0)
			return i;
	return c->n;
}

/* The lines of tree[p] at depth, each followed by the child it announces. */
static void
mm_render_body(struct mm_render_ctx *c, size_t p, int depth)
{
	static const char sub[] = "Sub-agent: ";
	struct json_object *arr = mm_render_parse_lines(&c->tree[p]);
	size_t i, n = arr != NULL ? json_object_array_length(arr) : 0, k;
	const char *text;

	for (i = 0; i < n; i++) {
		struct json_object *item = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(item, json_type_string))
			continue;
		text = json_object_get_string(item);
		mm_lines_add(&c->out, mm_render_clean(text, depth));
		if (strncmp(text, sub, sizeof(sub) - 1) == 0 &&
		    (k = mm_render_find_child(c, p, text + sizeof(sub) - 1)) < c->n)
			mm_render_child(c, k, depth + 1, 0);
	}
	json_object_put(arr);
	/* Children whose announcing line has scrolled out of the window. */
	for (k = 1; k < c->n; k++)
		if (!c->done[k] && c->tree[k].parent_id != NULL &&
		    strcmp(c->tree[k].parent_id, c->tree[p].id) == 0)
			mm_render_child(c, k, depth + 1, 1);
}

static void
mm_render_child(struct mm_render_ctx *c, size_t i, int depth, int header)
{
	const struct store_box *b = &c->tree[i];
	char dur[32], *line;

	c->done[i] = 1;
	if (header) {
		line = xasprintf("Sub-agent: %s", mm_render_name(b));
		mm_lines_add(&c->out, mm_render_clean(line, depth - 1));
		free(line);
	}
	mm_render_body(c, i, depth);
	mm_render_duration(mm_render_elapsed(b), dur, sizeof(dur));
	line = xasprintf("[%s] %s", mm_render_state(b->status), dur);
	mm_lines_add(&c->out, mm_render_clean(line, depth));
	free(line);
}

/* Appends "> " line (after a newline unless first) to the buffer at *p. */
static void
mm_render_put(char **p, const char *start, const char *line)
{
	size_t n = strlen(line);

	if (*p != start)
		*(*p)++ = '\n';
	memcpy(*p, "> ", 2);
	memcpy(*p + 2, line, n);
	*p += n + 2;
}

/* Joins the lines as blockquote lines, [from, to) replaced by marker. */
static char *
mm_render_join(const struct mm_lines *l, size_t from, size_t to, const char *marker)
{
	size_t i, len = 0;
	char *out, *p;

	for (i = 0; i < l->n; i++)
		if (i < from || i >= to)
			len += strlen(l->v[i]) + 3;
	if (marker != NULL)
		len += strlen(marker) + 3;
	out = p = xmalloc(len + 1);
	for (i = 0; i < l->n; i++) {
		if (i == from && marker != NULL)
			mm_render_put(&p, out, marker);
		if (i < from || i >= to)
			mm_render_put(&p, out, l->v[i]);
	}
	*p = '\0';
	return out;
}

char *
mm_render_box(const struct store_box *tree, size_t n, size_t max_chars)
{
	struct mm_render_ctx c = { .tree = tree, .n = n };
	const struct store_box *top = &tree[0];
	char dur[32], tok[32], *line, *text, *marker, *cut;
	size_t body_end, drop, total, cut_total, i;

	if (n == 0)
		return xstrdup("");
	if (max_chars == 0 || max_chars > MM_RENDER_HARD_MAX)
		max_chars = MM_RENDER_HARD_MAX;
	c.done = xcalloc(n, 1);
	c.done[0] = 1;
	mm_render_duration(mm_render_elapsed(top), dur, sizeof(dur));
	line = xasprintf("[%s] %s | %s", mm_render_state(top->status), mm_render_name(top), dur);
	mm_lines_add(&c.out, mm_render_clean(line, 0));
	free(line);
	mm_render_body(&c, 0, 0);
	body_end = c.out.n;
	if (mm_render_ended(top)) {
		mm_render_tokens(top->token_count, tok, sizeof(tok));
		line = xasprintf("[%s] %s | %s tokens", mm_render_state(top->status), dur, tok);
		mm_lines_add(&c.out, mm_render_clean(line, 0));
		free(line);
	}

	/*
	 * Each line costs its characters, "> " and a newline.  Drop the oldest
	 * body lines (after the header) until the text fits.
	 */
	total = 0;
	for (i = 0; i < c.out.n; i++)
		total += mm_render_chars(c.out.v[i]) + 3;
	total = total > 0 ? total - 1 : 0;
	marker = NULL;
	for (drop = 0, cut_total = total; total > max_chars && drop + 1 < body_end;) {
		cut_total -= mm_render_chars(c.out.v[1 + drop]) + 3;
		drop++;
		free(marker);
		marker =
		    xasprintf(MM_RENDER_ELLIPSIS " %zu earlier line%s", drop, drop == 1 ? "" : "s");
		total = cut_total + mm_render_chars(marker) + 3;
	}
	text = mm_render_join(&c.out, 1, 1 + drop, marker);
	free(marker);
	total = mm_render_chars(text);
	if (total > max_chars) {
		cut = mm_render_cut(text, max_chars);
		free(text);
		text = cut;
	}
	mm_lines_free(&c.out);
	free(c.done);
	return text;
}
