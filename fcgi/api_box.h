/*
 * api_box: SessionData in and out, between API JSON and struct store_box.
 *
 * Out: api_box_json() appends one SessionData object with the field names
 * of docs/api.md; the caller passes the already serialized
 * children array (nesting is built by api_cache.c).  The stored lines (a
 * JSON array text) are parsed again and re-written, so whatever another
 * writer left in the column, the API answers valid JSON.
 *
 * In: api_box_from_post(), api_box_from_gateway() and api_box_apply_put()
 * check a parsed request body field by field and fill or change a
 * store_box.  Unknown fields are ignored; a known field of the wrong type
 * or with a bad value fails with a message for the client that names the
 * field ("lines: expected an array of strings").  They never touch the store: id uniqueness, parent
 * existence and the active-box limit are the handler's business.
 *
 * Limits on what a client may store are here, in one place.
 */
#ifndef LS_API_BOX_H
#define LS_API_BOX_H

#include <stddef.h>
#include <stdint.h>

#include "sql/store.h"
#include "fcgi/api_json.h"

#define API_SESSION_KEY_MAX 512 /* bytes */
#define API_LABEL_MAX 1024      /* bytes, label and model */
#define API_LINE_MAX 4096       /* bytes per status line */

/* Appends the SessionData of box; children is a JSON array text or NULL. */
void api_box_json(
    struct api_buf *b, const struct store_box *box, const char *children, size_t childrenlen);

/* The same; returns the offset in b where the children array starts. */
size_t api_box_json_at(
    struct api_buf *b, const struct store_box *box, const char *children, size_t childrenlen);

/*
 * Appends lines (a JSON array of strings as stored) as a JSON array;
 * returns -1 and appends [] when the text is not such an array.
 */
int api_box_lines_json(struct api_buf *b, const char *lines);

/* 1 for active, done, error or interrupted. */
int api_box_valid_status(const char *s);

/*
 * Fills out from a POST body: out->id is NULL when the body has none (the
 * handler makes one).  Times are left 0 when absent; the handler sets
 * them.  0, or -1 with a message in err.
 */
int api_box_from_post(
    const struct api_jval *body, long max_lines, struct store_box *out, char *err, size_t errlen);

/*
 * Applies a PUT body to box at now_ms: every given field, last_update_ms,
 * and end_time_ms when the status leaves active without one (or cleared
 * when it returns to active).  box is unchanged on failure.
 */
int api_box_apply_put(const struct api_jval *body, long max_lines, int64_t now_ms,
    struct store_box *box, char *err, size_t errlen);

/*
 * Fills out from one box of a gateway's batch (POST /api/v1/gateway/boxes):
 * the POST fields with the same rules, plus id and revision (both required;
 * revision, an integer above 0, becomes gateway_revision), model,
 * token_count, last_update_ms and end_time_ms (integer or null).  What the
 * gateway leaves out: last_update_ms is now_ms, start_time_ms the last
 * update, end_time_ms null.  source is "watcher"; gateway is the
 * handler's.  0, or -1 with a message in err.
 */
int api_box_from_gateway(const struct api_jval *item, long max_lines, int64_t now_ms,
    struct store_box *out, char *err, size_t errlen);

#endif
