/* sessions: reading sessions.json and routing keys to channels. */
#include "watcher/sessions.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "common/xmalloc.h"
#include "watcher/wjson.h"

/* A sessions.json larger than this is refused (OpenClaw's are kilobytes). */
#define SESSIONS_MAX_BYTES (64 << 20)

void
sessions_init(struct sessions_index *idx, const char *dir, const char *path)
{
	memset(idx, 0, sizeof(*idx));
	idx->dir = xstrdup(dir);
	idx->path = path != NULL ? xstrdup(path) : xasprintf("%s/sessions.json", dir);
}

static void
sessions_entries_free(struct sessions_entry *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(e[i].key);
		free(e[i].session_id);
		free(e[i].file);
		free(e[i].parent_key);
		free(e[i].label);
		free(e[i].channel_id);
		free(e[i].root_id);
		free(e[i].target);
	}
	free(e);
}

void
sessions_clear(struct sessions_index *idx)
{
	sessions_entries_free(idx->entries, idx->n);
	free(idx->dir);
	free(idx->path);
	memset(idx, 0, sizeof(*idx));
}

/* The text after the last "<seg>" in key, up to the next ':'; NULL if none. */
static char *
sessions_key_part(const char *key, const char *seg)
{
	const char *p = NULL, *q = key, *end;

	while ((q = strstr(q, seg)) != NULL) {
		p = q + strlen(seg);
		q = p;
	}
	if (p == NULL || *p == '\0')
		return NULL;
	end = strchr(p, ':');
	return xstrndup(p, end != NULL ? (size_t)(end - p) : strlen(p));
}

/* A thread id from JSON: a string or a number. */
static char *
sessions_thread(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) || v == NULL)
		return NULL;
	if (json_object_is_type(v, json_type_string) && *json_object_get_string(v) != '\0')
		return xstrdup(json_object_get_string(v));
	if (json_object_is_type(v, json_type_int))
		return xstrdup(json_object_to_json_string(v));
	return NULL;
}

static int
sessions_is_mattermost(const char *surface)
{
	return surface == NULL || strcmp(surface, "mattermost") == 0;
}

void
sessions_route(const char *key, json_object *entry, const char *default_channel, char **channel_id,
    char **root_id, char **target)
{
	json_object *dc = NULL;
	const char *to = NULL, *surface;
	char *chan = NULL, *root = NULL, *tgt = NULL;

	if (entry != NULL)
		json_object_object_get_ex(entry, "deliveryContext", &dc);
	if (strstr(key, ":mattermost:") != NULL) {
		if ((chan = sessions_key_part(key, ":channel:")) == NULL)
			chan = sessions_key_part(key, ":group:");
		root = sessions_key_part(key, ":thread:");
		if (chan == NULL) {
			char *user = sessions_key_part(key, ":direct:");

			if (user != NULL)
				tgt = xasprintf("user:%s", user);
			free(user);
		}
	}
	surface = wjson_str(dc, "channel");
	if (surface == NULL)
		surface = wjson_str(entry, "lastChannel");
	if (chan == NULL && tgt == NULL && sessions_is_mattermost(surface)) {
		to = wjson_str(dc, "to");
		if (to == NULL)
			to = wjson_str(entry, "lastTo");
		if (to != NULL && strncmp(to, "channel:", 8) == 0 && to[8] != '\0')
			chan = xstrdup(to + 8);
		else if (to != NULL && strncmp(to, "user:", 5) == 0 && to[5] != '\0')
			tgt = xstrdup(to);
	}
	if (root == NULL && sessions_is_mattermost(surface)) {
		root = sessions_thread(dc, "threadId");
		if (root == NULL)
			root = sessions_thread(entry, "lastThreadId");
	}
	if (chan == NULL && tgt == NULL && default_channel != NULL)
		chan = xstrdup(default_channel);
	*channel_id = chan != NULL ? chan : xstrdup("");
	*root_id = root != NULL ? root : xstrdup("");
	*target = tgt != NULL ? tgt : xstrdup("");
}

/*
 * Parses the file at path without ever blocking on it: a FIFO, socket,
 * device or folder named sessions.json is refused, not opened for reading.
 */
static json_object *
sessions_read(const char *path, char *err, size_t errlen)
{
	json_tokener *tok = NULL;
	json_object *root = NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	const char *why;
	ssize_t r;
	int fd;

	if ((fd = util_open_regular(path, NULL, 1, &why)) < 0) {
		snprintf(
		    err, errlen, "cannot read %s: %s", path, why != NULL ? why : strerror(errno));
		return NULL;
	}
	for (;;) {
		if (len + 65536 > cap) {
			if (cap >= SESSIONS_MAX_BYTES) {
				snprintf(err, errlen, "%s: larger than %d MiB", path,
				    SESSIONS_MAX_BYTES >> 20);
				goto out;
			}
			cap = cap ? cap * 2 : 131072;
			buf = xrealloc(buf, cap + 1);
		}
		if ((r = read(fd, buf + len, cap - len)) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	tok = json_tokener_new();
	root = json_tokener_parse_ex(tok, buf != NULL ? buf : "", (int)len);
	if (root == NULL || json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(root);
		root = NULL;
		snprintf(err, errlen, "cannot read %s: %s", path,
		    json_tokener_error_desc(json_tokener_get_error(tok)));
	}
out:
	if (tok != NULL)
		json_tokener_free(tok);
	free(buf);
	close(fd);
	return root;
}

int
sessions_load(struct sessions_index *idx, const char *default_channel, char *err, size_t errlen)
{
	json_object *root = sessions_read(idx->path, err, errlen);
	struct sessions_entry *list;
	size_t n = 0;

	if (root == NULL)
		return -1;
	if (!json_object_is_type(root, json_type_object)) {
		snprintf(err, errlen, "%s: expected a JSON object", idx->path);
		json_object_put(root);
		return -1;
	}
	list = xcalloc((size_t)json_object_object_length(root) + 1, sizeof(*list));
	json_object_object_foreach(root, key, val)
	{
		struct sessions_entry *e = &list[n];
		const char *sid, *file, *s;

		if (!json_object_is_type(val, json_type_object))
			continue;
		sid = wjson_str(val, "sessionId");
		file = wjson_str(val, "sessionFile");
		e->key = xstrdup(key);
		e->session_id = xstrdup(sid != NULL ? sid : "");
		if (file != NULL && *file == '/')
			e->file = xstrdup(file);
		else if (file != NULL && *file != '\0')
			e->file = xasprintf("%s/%s", idx->dir, file);
		else if (sid != NULL && *sid != '\0')
			e->file = xasprintf("%s/%s.jsonl", idx->dir, sid);
		else
			e->file = xstrdup("");
		s = wjson_str(val, "spawnedBy");
		e->parent_key = xstrdup(s != NULL ? s : "");
		if ((s = wjson_str(val, "label")) == NULL || *s == '\0')
			s = wjson_str(val, "displayName");
		e->label = xstrdup(s != NULL ? s : "");
		/* A sub-agent shows in its parent's channel, not the default one. */
		sessions_route(key, val,
		    *e->parent_key != '\0' || strstr(key, ":subagent:") != NULL ? NULL
		                                                                : default_channel,
		    &e->channel_id, &e->root_id, &e->target);
		n++;
	}
	json_object_put(root);
	sessions_entries_free(idx->entries, idx->n);
	idx->entries = list;
	idx->n = n;
	idx->gen++;
	return 0;
}

const struct sessions_entry *
sessions_by_file(const struct sessions_index *idx, const char *path)
{
	size_t i;

	for (i = 0; i < idx->n; i++) {
		if (strcmp(idx->entries[i].file, path) == 0)
			return &idx->entries[i];
	}
	return NULL;
}

const struct sessions_entry *
sessions_by_id(const struct sessions_index *idx, const char *id)
{
	size_t i;

	for (i = 0; i < idx->n; i++) {
		if (*idx->entries[i].session_id != '\0' &&
		    strcmp(idx->entries[i].session_id, id) == 0)
			return &idx->entries[i];
	}
	return NULL;
}
