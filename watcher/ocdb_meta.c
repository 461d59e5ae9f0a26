/*
 * ocdb_meta: what an OpenClaw agent database says about a session: its
 * session_nodes row (parent, label, route), its conversations row, and the
 * node rows that start a run's box before its transcript (see ocdb_int.h).
 */
#include "watcher/ocdb_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/xmalloc.h"
#include "watcher/sessions.h"
#include "watcher/wjson.h"

/* ---- session metadata -------------------------------------------------- */

/* A text column as a new string; NULL when NULL or empty. */
static char *
ocdb_col_set(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	return t != NULL && *t != '\0' ? xstrdup((const char *)t) : NULL;
}

/* A non-empty string member of a JSON object, as a new string. */
static char *
ocdb_jdup(json_object *o, const char *key)
{
	const char *v = wjson_str(o, key);

	return v != NULL && *v != '\0' ? xstrdup(v) : NULL;
}

/* Channel, thread or DM target from the window's conversations row. */
static void
ocdb_conversation(struct ocdb_agent *a, const char *conv, char **chan, char **root, char **target)
{
	sqlite3_stmt *s = a->st_conv;
	const char *kind, *surface;

	if (s == NULL || conv == NULL)
		return;
	sqlite3_bind_text(s, 1, conv, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		kind = (const char *)sqlite3_column_text(s, 0);
		surface = (const char *)sqlite3_column_text(s, 4);
		if (surface == NULL || strcmp(surface, "mattermost") == 0) {
			if (**chan == '\0' && **target == '\0') {
				if (kind != NULL && strcmp(kind, "direct") == 0 &&
				    sqlite3_column_text(s, 1) != NULL) {
					free(*target);
					*target = xasprintf("user:%s", sqlite3_column_text(s, 1));
				} else if (sqlite3_column_text(s, 3) != NULL) {
					free(*chan);
					*chan = xstrdup((const char *)sqlite3_column_text(s, 3));
				}
			}
			if (**root == '\0' && sqlite3_column_text(s, 2) != NULL) {
				free(*root);
				*root = xstrdup((const char *)sqlite3_column_text(s, 2));
			}
		}
	}
	sqlite3_reset(s);
}

/* A key's session_nodes row, its text columns NULL when NULL or empty. */
struct ocdb_node {
	char *text; /* entry_json */
	int64_t updated;
	char *parent, *label, *via, *pkey, *display;
};

/* Reads key's session_nodes row into n (updated -1 when there is none);
 * SQLITE_ROW, SQLITE_DONE, or the error. */
static int
ocdb_node_read(struct ocdb_agent *a, const char *key, struct ocdb_node *n)
{
	sqlite3_stmt *s = a->st_node;
	int rc;

	memset(n, 0, sizeof(*n));
	n->updated = -1;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		n->text = ocdb_col_set(s, 0);
		n->updated = sqlite3_column_int64(s, 1);
		n->parent = ocdb_col_set(s, 2);
		n->label = ocdb_col_set(s, 3);
		n->via = ocdb_col_set(s, 4);
		n->pkey = ocdb_col_set(s, 5);
		n->display = ocdb_col_set(s, 6);
	}
	sqlite3_reset(s);
	return rc;
}

static void
ocdb_node_free(struct ocdb_node *n)
{
	free(n->text);
	free(n->parent);
	free(n->label);
	free(n->via);
	free(n->pkey);
	free(n->display);
}

/*
 * Tells the model what the database says about a window's key, when that
 * changed: parent (spawned_by columns, else entry_json.spawnedBy), label
 * (label, else display name), and the route as the file source finds it
 * (sessions_route(): the key, then entry_json), else the conversations row,
 * else DEFAULT_CHANNEL.
 */
void
ocdb_meta(struct ocdb *o, struct ocdb_agent *a, const struct ocdb_win *w)
{
	struct ocdb_node n;
	struct ocdb_keyinfo *k;
	struct box_meta bm;
	json_object *entry = NULL;
	char *chan = NULL, *root = NULL, *target = NULL;
	void **slot;
	int rc;

	rc = ocdb_node_read(a, w->key, &n);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto out;
	k = ocdb_map_get(&a->keys, w->key);
	if (k != NULL && k->node_updated == n.updated && k->sid != NULL &&
	    strcmp(k->sid, w->sid) == 0)
		goto out;
	if (n.text != NULL && (entry = json_tokener_parse(n.text)) != NULL &&
	    !json_object_is_type(entry, json_type_object)) {
		json_object_put(entry);
		entry = NULL;
	}
	if (n.parent == NULL && w->spawned_by != NULL && *w->spawned_by != '\0')
		n.parent = xstrdup(w->spawned_by);
	if (n.parent == NULL)
		n.parent = ocdb_jdup(entry, "spawnedBy");
	if (n.parent == NULL && n.via != NULL && strcmp(n.via, "spawn") == 0) {
		n.parent = n.pkey;
		n.pkey = NULL;
	}
	if (n.label == NULL)
		n.label = ocdb_jdup(entry, "label");
	if (n.label == NULL) {
		n.label = n.display;
		n.display = NULL;
	}
	if (n.label == NULL)
		n.label = ocdb_jdup(entry, "displayName");
	sessions_route(w->key, entry, NULL, &chan, &root, &target);
	ocdb_conversation(a, w->conv, &chan, &root, &target);
	/* A sub-agent shows in its parent's channel, not the default one. */
	if (*chan == '\0' && *target == '\0' && o->cfg.default_channel != NULL &&
	    (n.parent == NULL || *n.parent == '\0') && strstr(w->key, ":subagent:") == NULL) {
		free(chan);
		chan = xstrdup(o->cfg.default_channel);
	}
	memset(&bm, 0, sizeof(bm));
	bm.agent_id = a->id;
	bm.channel_id = chan;
	bm.root_id = root;
	bm.target = target;
	bm.label = n.label != NULL ? n.label : "";
	bm.parent_key = n.parent != NULL ? n.parent : "";
	o->sink.meta(o->sink.arg, w->key, &bm);

	slot = ocdb_map_slot(&a->keys, w->key, 1);
	if (*slot == NULL)
		*slot = xcalloc(1, sizeof(struct ocdb_keyinfo));
	k = *slot;
	k->node_updated = n.updated;
	ocdb_set(&k->sid, w->sid);
out:
	if (entry != NULL)
		json_object_put(entry);
	ocdb_node_free(&n);
	free(chan);
	free(root);
	free(target);
}

/*
 * Runs whose session_nodes row says they started (see ocdb_probe) get their
 * box now, before their transcript's first event.  The first look only
 * remembers where the rows stand, except for a database that appeared while
 * the watcher ran, whose fresh rows count.
 */
int
ocdb_node_starts(struct ocdb *o, struct ocdb_agent *a, int64_t now)
{
	sqlite3_stmt *s = a->st_starts;
	struct ocdb_keyinfo *k;
	struct ocdb_win w;
	int64_t updated, top;
	int rc;

	if (s == NULL)
		return 0;
	if (a->node_water == 0)
		a->node_water = util_now_ms() - (a->from_start ? OCDB_NODE_FRESH_MS : 0);
	top = a->node_water;
	sqlite3_bind_int64(s, 1, a->node_water - OCDB_SLACK_MS);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (sqlite3_column_type(s, 0) == SQLITE_NULL)
			continue;
		updated = sqlite3_column_int64(s, 2);
		if (updated > top)
			top = updated;
		memset(&w, 0, sizeof(w));
		w.key = (char *)sqlite3_column_text(s, 0);
		k = ocdb_map_get(&a->keys, w.key);
		if (k != NULL && k->start_updated == updated)
			continue;
		w.sid = (char *)sqlite3_column_text(s, 1);
		w.spawned_by = (char *)sqlite3_column_text(s, 3);
		w.conv = (char *)sqlite3_column_text(s, 4);
		if (w.sid == NULL)
			continue;
		ocdb_meta(o, a, &w);
		k = ocdb_map_get(&a->keys, w.key);
		if (k != NULL) {
			k->start_updated = updated;
			/* the window's first read tells the model again */
			k->node_updated = INT64_MIN;
		}
		if (o->sink.started != NULL)
			o->sink.started(o->sink.arg, a->id, w.key, 0, now);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return ocdb_read_failed(o, a, rc);
	a->node_water = top;
	return 0;
}
