/*
 * sessions: OpenClaw's session index (sessions.json) of one sessions folder.
 *
 * sessions.json maps a session key to its entry: the sessionId, the
 * transcript file (sessionFile, absolute or relative to the folder, else
 * <sessionId>.jsonl), spawnedBy, label, and where the session talks
 * (deliveryContext, lastTo, lastThreadId).  The gateway rewrites it whole and
 * renames it into place, so the watcher re-reads it on every change.
 *
 * sessions_load() parses the file into the index.  When the file is missing
 * or not a JSON object (caught half-written, or broken) the index keeps its
 * last good entries and the call returns -1 with a message in err; the
 * generation counter changes only when a load succeeds, so callers can cache
 * what they looked up per generation.
 *
 * Routing (architecture.md): channel and thread come from the key
 * (":channel:<id>", ":group:<id>", last ":thread:<rootId>"), then from
 * deliveryContext.to / lastTo ("channel:<id>") and deliveryContext.threadId /
 * lastThreadId.  A "user:<id>" target (or a ":direct:<userId>" key) has no
 * channel id yet: it is kept in target for the Mattermost side, which opens
 * the direct-message channel.  A session with neither gets the default
 * channel, or "", except a sub-agent (spawnedBy, or a ":subagent:" key): its
 * box takes its parent's channel and thread (box.c).  Only Mattermost routes
 * count: a key of another chat surface gives no channel.
 */
#ifndef LS_WATCHER_SESSIONS_H
#define LS_WATCHER_SESSIONS_H

#include <json-c/json.h>
#include <stddef.h>

struct sessions_entry {
	char *key;
	char *session_id;
	char *file;       /* absolute path of the transcript */
	char *parent_key; /* spawnedBy, "" for none */
	char *label;      /* label, else displayName, else "" */
	char *channel_id; /* resolved, "" when unknown */
	char *root_id;
	char *target; /* "user:<id>" when the DM channel is still to be found */
};

struct sessions_index {
	char *dir;  /* the sessions folder */
	char *path; /* its sessions.json */
	struct sessions_entry *entries;
	size_t n;
	unsigned gen; /* bumped by every successful load */
};

/* An empty index for dir; path NULL means dir/sessions.json. */
void sessions_init(struct sessions_index *idx, const char *dir, const char *path);
void sessions_clear(struct sessions_index *idx);

/*
 * (Re)loads the index with default_channel for unrouted sessions (NULL for
 * none).  Returns 0, or -1 keeping the last good entries (err says why).
 */
int
sessions_load(struct sessions_index *idx, const char *default_channel, char *err, size_t errlen);

/* The entry whose transcript is path (absolute), or NULL. */
const struct sessions_entry *sessions_by_file(const struct sessions_index *idx, const char *path);
/* The entry whose sessionId is id, or NULL. */
const struct sessions_entry *sessions_by_id(const struct sessions_index *idx, const char *id);

/*
 * Resolves channel, thread and target of key with its entry (a JSON object,
 * may be NULL) into newly allocated strings.
 */
void sessions_route(const char *key, json_object *entry, const char *default_channel,
    char **channel_id, char **root_id, char **target);

#endif
