/* labels: the built-in tool label table and TOOL_LABELS_FILE. */
#include "watcher/labels.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"

/* detail: argument names to try, '|'-separated; NULL: the generic list. */
struct labels_entry {
	char *name;  /* exact name, prefix or pattern */
	char *label; /* NULL: hidden */
	char *detail;
};

struct labels {
	struct labels_entry *exact, *prefixes, *patterns;
	size_t nexact, nprefixes, npatterns;
};

static const struct {
	const char *name, *label, *detail;
} labels_builtin[] = {
	{ "read", "read", "path|file_path" },
	{ "write", "write", "path|file_path" },
	{ "edit", "edit", "path|file_path" },
	{ "apply_patch", "apply_patch", "path" },
	{ "exec", "exec", "command" },
	{ "bash", "exec", "command" },
	{ "process", "process", "action" },
	{ "code_execution", "code_execution", "language|code" },
	{ "web_search", "web_search", "query" },
	{ "web_fetch", "web_fetch", "url" },
	{ "x_search", "x_search", "query" },
	{ "memory_search", "memory_search", "query" },
	{ "memory_get", "memory_get", "path|id" },
	{ "sessions_list", "sessions_list", "kinds" },
	{ "sessions_history", "sessions_history", "sessionKey|label" },
	{ "sessions_send", "sessions_send", "label|sessionKey" },
	{ "sessions_spawn", "Sub-agent", "label|task" },
	{ "sessions_yield", "sessions_yield", "message" },
	{ "subagents", "subagents", "action" },
	{ "session_status", "session_status", "sessionKey" },
	{ "browser", "browser", "action" },
	{ "canvas", "canvas", "action" },
	{ "message", "message", "action" },
	{ "cron", "cron", "action" },
	{ "gateway", "gateway", "action" },
	{ "nodes", "nodes", "action" },
	{ "agents_list", "agents_list", "" },
	{ "update_plan", "update_plan", "explanation" },
	{ "image", "image", "prompt|image" },
	{ "image_generate", "image_generate", "prompt" },
	{ "music_generate", "music_generate", "prompt" },
	{ "video_generate", "video_generate", "prompt" },
	{ "tts", "tts", "text" },
	{ "pdf", "pdf", "path|url|pdf" },
};

#define LABELS_NBUILTIN (sizeof(labels_builtin) / sizeof(labels_builtin[0]))

static const char labels_generic[] = "command|path|url|query|pattern|id";

size_t
labels_builtin_count(void)
{
	return LABELS_NBUILTIN;
}

const char *
labels_builtin_name(size_t i)
{
	return i < LABELS_NBUILTIN ? labels_builtin[i].name : NULL;
}

static void
labels_entries_free(struct labels_entry *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(e[i].name);
		free(e[i].label);
		free(e[i].detail);
	}
	free(e);
}

void
labels_free(struct labels *l)
{
	if (l == NULL)
		return;
	labels_entries_free(l->exact, l->nexact);
	labels_entries_free(l->prefixes, l->nprefixes);
	labels_entries_free(l->patterns, l->npatterns);
	free(l);
}

/* Reads one section ({name: value, ...}) of the file into *out. */
static int
labels_section(json_object *root, const char *key, const char *alt, struct labels_entry **out,
    size_t *n, const char *path, char *err, size_t errlen)
{
	json_object *sec = NULL;
	struct labels_entry *e;
	size_t i = 0;

	if (!json_object_object_get_ex(root, key, &sec) &&
	    !json_object_object_get_ex(root, alt, &sec))
		return 0;
	if (sec == NULL)
		return 0;
	if (!json_object_is_type(sec, json_type_object)) {
		snprintf(err, errlen, "%s: \"%s\" is not an object", path, key);
		return -1;
	}
	e = xcalloc((size_t)json_object_object_length(sec) + 1, sizeof(*e));
	json_object_object_foreach(sec, name, val)
	{
		e[i].name = xstrdup(name);
		if (val == NULL) {
			e[i].label = NULL;
		} else if (json_object_is_type(val, json_type_string)) {
			const char *s = json_object_get_string(val);

			e[i].label = *s ? xstrdup(s) : NULL;
		} else if (json_object_is_type(val, json_type_object)) {
			json_object *lab = NULL, *det = NULL;

			json_object_object_get_ex(val, "label", &lab);
			json_object_object_get_ex(val, "detail", &det);
			if ((lab != NULL && !json_object_is_type(lab, json_type_string)) ||
			    (det != NULL && !json_object_is_type(det, json_type_string))) {
				snprintf(err, errlen, "%s: %s.%s: label and detail must be strings",
				    path, key, name);
				labels_entries_free(e, i + 1);
				return -1;
			}
			if (lab == NULL)
				e[i].label = xstrdup(name);
			else if (*json_object_get_string(lab))
				e[i].label = xstrdup(json_object_get_string(lab));
			if (det != NULL)
				e[i].detail = xstrdup(json_object_get_string(det));
		} else {
			snprintf(err, errlen, "%s: %s.%s: expected a string, an object or null",
			    path, key, name);
			labels_entries_free(e, i + 1);
			return -1;
		}
		i++;
	}
	*out = e;
	*n = i;
	return 0;
}

static int
labels_by_length_desc(const void *a, const void *b)
{
	size_t la = strlen(((const struct labels_entry *)a)->name);
	size_t lb = strlen(((const struct labels_entry *)b)->name);

	return la < lb ? 1 : la > lb ? -1 : 0;
}

struct labels *
labels_load(const char *path, char *err, size_t errlen)
{
	struct labels *l = xcalloc(1, sizeof(*l));
	json_object *root = NULL;

	if (path == NULL || *path == '\0')
		return l;
	root = json_object_from_file(path);
	if (root == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", path, json_util_get_last_err());
		goto fail;
	}
	if (!json_object_is_type(root, json_type_object)) {
		snprintf(err, errlen, "%s: expected a JSON object", path);
		goto fail;
	}
	if (labels_section(root, "exact", "names", &l->exact, &l->nexact, path, err, errlen) != 0 ||
	    labels_section(
	        root, "prefixes", "prefix", &l->prefixes, &l->nprefixes, path, err, errlen) != 0 ||
	    labels_section(
	        root, "patterns", "pattern", &l->patterns, &l->npatterns, path, err, errlen) != 0)
		goto fail;
	if (l->nprefixes > 1)
		qsort(l->prefixes, l->nprefixes, sizeof(*l->prefixes), labels_by_length_desc);
	json_object_put(root);
	return l;
fail:
	json_object_put(root);
	labels_free(l);
	return NULL;
}

/* First line of s, without surrounding blanks, newly allocated. */
static char *
labels_first_line(const char *s)
{
	const char *end;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	end = s + strcspn(s, "\r\n");
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return xstrndup(s, (size_t)(end - s));
}

/* The value of the first argument in names ('|'-separated) that is set. */
static char *
labels_detail(json_object *args, const char *names)
{
	char key[64];
	const char *p = names;

	if (args == NULL || !json_object_is_type(args, json_type_object))
		return NULL;
	while (*p != '\0') {
		size_t n = strcspn(p, "|");
		json_object *v = NULL;

		if (n > 0 && n < sizeof(key)) {
			memcpy(key, p, n);
			key[n] = '\0';
			if (json_object_object_get_ex(args, key, &v) && v != NULL) {
				if (json_object_is_type(v, json_type_string)) {
					char *d = labels_first_line(json_object_get_string(v));

					if (*d != '\0')
						return d;
					free(d);
				} else if (json_object_is_type(v, json_type_int) ||
				    json_object_is_type(v, json_type_double) ||
				    json_object_is_type(v, json_type_boolean)) {
					return xstrdup(json_object_to_json_string(v));
				}
			}
		}
		p += n;
		if (*p == '|')
			p++;
	}
	return NULL;
}

char *
labels_format(const struct labels *l, const char *name, json_object *args)
{
	const char *label = name, *detail = NULL;
	char *d, *out;
	size_t i;
	int found = 0;

	for (i = 0; l != NULL && i < l->nexact && !found; i++) {
		if (strcmp(l->exact[i].name, name) == 0) {
			label = l->exact[i].label;
			detail = l->exact[i].detail;
			found = 1;
		}
	}
	for (i = 0; i < LABELS_NBUILTIN && !found; i++) {
		if (strcmp(labels_builtin[i].name, name) == 0) {
			label = labels_builtin[i].label;
			detail = labels_builtin[i].detail;
			found = 1;
		}
	}
	/* A file entry that renames a built-in keeps the built-in's detail. */
	if (found && detail == NULL) {
		for (i = 0; i < LABELS_NBUILTIN; i++) {
			if (strcmp(labels_builtin[i].name, name) == 0)
				detail = labels_builtin[i].detail;
		}
	}
	for (i = 0; l != NULL && i < l->nprefixes && !found; i++) {
		if (strncmp(l->prefixes[i].name, name, strlen(l->prefixes[i].name)) == 0) {
			label = l->prefixes[i].label;
			detail = l->prefixes[i].detail;
			found = 1;
		}
	}
	for (i = 0; l != NULL && i < l->npatterns && !found; i++) {
		if (fnmatch(l->patterns[i].name, name, 0) == 0) {
			label = l->patterns[i].label;
			detail = l->patterns[i].detail;
			found = 1;
		}
	}
	if (label == NULL)
		return NULL;
	d = labels_detail(args, detail != NULL ? detail : labels_generic);
	if (d == NULL && detail != NULL && *detail != '\0' && strcmp(name, "sessions_spawn") != 0)
		d = labels_detail(args, labels_generic);
	out = d != NULL ? xasprintf("%s: %s", label, d) : xstrdup(label);
	free(d);
	return out;
}
