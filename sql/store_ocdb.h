/*
 * store_ocdb: the watcher's cursors into OpenClaw agent databases.
 *
 * The SQLite reader of OpenClaw 2026.8+ (watcher/ocdb.c) remembers, per
 * agent database, how far it has read, so that a restart (even after
 * kill -9) neither repeats nor skips an event.  This is that memory, kept in
 * the livestatus store beside the boxes: callers write it inside the same
 * store_begin() ... store_commit() as the box changes the events made, so
 * both land or neither does.
 *
 * An agent row (struct store_ocdb_agent) says the database is known: its
 * high-water transcript_updated_at and schema version.  A cursor row
 * (struct store_ocdb_cursor) is one session window's (generation, seq) of
 * the last event given to the status model, with that event's id and time.
 * Cursor rows belong to an agent row (deleting the agent deletes them);
 * write the agent row first.
 *
 * Return codes and string ownership follow store.h: STORE_OK, STORE_BUSY,
 * STORE_NOTFOUND, STORE_ERROR; strings in the structs are owned by them and
 * released with the _free() functions; a zeroed struct is valid to free.
 */
#ifndef LS_STORE_OCDB_H
#define LS_STORE_OCDB_H

#include <stddef.h>
#include <stdint.h>

#include "sql/store.h"

struct store_ocdb_agent {
	char *db_path;
	char *agent_id;
	int64_t high_water;
	int64_t schema_version;
};

struct store_ocdb_cursor {
	char *session_id;
	char *session_key;
	char *generation;    /* "" when the session was never rewritten */
	int64_t seq;         /* last seq given to the model; -1 none */
	int64_t updated_at;  /* its window's transcript_updated_at then */
	char *last_event_id; /* "" when unknown */
	int64_t last_event_ms;
};

/* STORE_NOTFOUND when the database was never seen. */
int store_ocdb_agent_get(store *st, const char *db_path, struct store_ocdb_agent *out);
int store_ocdb_agent_put(store *st, const struct store_ocdb_agent *a, int64_t now_ms);

/* Every cursor of one database; *out is freed with store_ocdb_cursor_list_free(). */
int
store_ocdb_cursor_list(store *st, const char *db_path, struct store_ocdb_cursor **out, size_t *n);
int store_ocdb_cursor_put(
    store *st, const char *db_path, const struct store_ocdb_cursor *c, int64_t now_ms);
int store_ocdb_cursor_delete(store *st, const char *db_path, const char *session_id);

void store_ocdb_agent_free(struct store_ocdb_agent *a);
void store_ocdb_cursor_free(struct store_ocdb_cursor *c);
void store_ocdb_cursor_list_free(struct store_ocdb_cursor *list, size_t n);

#endif
