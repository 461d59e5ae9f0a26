/*
 * store_watcher: the watcher's own tables (watcher_files, watcher_sessions)
 * and its way of writing boxes.
 *
 * The watcher keeps everything it needs to resume in the store: per
 * transcript file its inode and the byte offset after the last line it used
 * (watcher_files), per session key its current box and the status model's
 * private state as JSON (watcher_sessions).  It writes them in the same
 * store_begin() ... store_commit() as the boxes those lines changed, so
 * after a crash (even kill -9) offsets and boxes agree: no line is used
 * twice and none is skipped.
 *
 * store_watcher_box_put() writes a box like store_box_put() but leaves the
 * columns other writers own alone: post_id and bot_user_id (set by the
 * Mattermost side), and channel_id when the watcher has none (the
 * Mattermost side fills it for direct messages).  A parent_id that names no
 * box (deleted by the responder's cleanup or through the API) is stored as
 * NULL: the foreign key never makes the watcher's whole batch fail.
 *
 * Conventions of store.h: STORE_OK or a negative code, writes inside a
 * write transaction, strings owned by the structs and freed with the
 * matching _free().
 */
#ifndef LS_STORE_WATCHER_H
#define LS_STORE_WATCHER_H

#include <stddef.h>
#include <stdint.h>

#include "sql/store.h"

struct store_watcher_file {
	char *path;
	char *session_key;
	char *agent_id;
	int64_t inode;
	int64_t offset;
	int64_t updated_ms; /* when the row was last written */
};

struct store_watcher_session {
	char *session_key;
	char *box_id; /* NULL when the session has no box */
	char *state;  /* JSON object */
	char *target;
};

/*
 * The watcher's last moment alive (watcher_clock): put with every heartbeat
 * and at stop (write transaction); get gives 0 when never written.
 */
int store_watcher_clock_put(store *st, int64_t now_ms);
int store_watcher_clock_get(store *st, int64_t *out);

/*
 * Inserts or updates a watcher box (source 'watcher'); sets box->revision.
 * box->gateway, when not NULL, is stored as the box's gateway.
 */
int store_watcher_box_put(store *st, struct store_box *box);

int store_watcher_file_put(store *st, const char *path, int64_t inode, int64_t offset,
    const char *session_key, const char *agent_id, int64_t now_ms);
/* Forgets a transcript that is gone (renamed by /new or /reset, deleted). */
int store_watcher_file_delete(store *st, const char *path);
int store_watcher_file_list(store *st, struct store_watcher_file **out, size_t *n);
void store_watcher_file_list_free(struct store_watcher_file *list, size_t n);

int store_watcher_session_put(store *st, const char *session_key, const char *box_id,
    const char *state, const char *target, int64_t now_ms);
int store_watcher_session_list(store *st, struct store_watcher_session **out, size_t *n);
void store_watcher_session_list_free(struct store_watcher_session *list, size_t n);

#endif
