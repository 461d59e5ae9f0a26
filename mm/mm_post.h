/*
 * mm_post: the post writer.  What a box's Mattermost post is made of, and
 * the requests both programs make about it, through an mm_client
 * (mm_http.h: the libcurl pool, or a test's stub):
 *
 *   mm_post_create()  POST /api/v4/posts: the box's post in its channel
 *                     (and thread), with props.session_id and
 *                     props.livestatus_box_id = the box id, type
 *                     custom_livestatus in plugin mode, and a
 *                     pending_post_id, so that a create sent again within
 *                     Mattermost's 30 s memory returns the first post;
 *   mm_post_edit()    PUT /api/v4/posts/{id}: message and props (the
 *                     watcher's edits in place);
 *   mm_post_final()   PUT /api/v4/posts/{id}/patch with the message only,
 *                     so the post keeps its type and props (a final text);
 *   mm_post_find()    GET /api/v4/channels/{id}/posts?since=: the post
 *                     whose props.livestatus_box_id is the box, after a
 *                     create whose answer was lost;
 *   mm_post_box_ended()  the final text of a box the responder posted
 *                     for a daemon, claimed once in the store (below).
 *
 * The request functions return what the client's request() returned: 0
 * when an answer came (resp->status), -1 when none did (resp->outcome,
 * resp->err).  resp is filled in every case and freed by the caller with
 * mm_http_resp_free().  Ids found in an answer are copied (caller frees),
 * NULL when there is none.
 */
#ifndef LS_MM_POST_H
#define LS_MM_POST_H

#include <stdint.h>

#include "mm/mm_http.h"
#include "sql/store.h"

#define MM_POST_TYPE "custom_livestatus"

struct mm_post_new {
	const char *channel_id;
	const char *root_id; /* NULL or "": not in a thread */
	const char *box_id;
	const char *message; /* NULL: "" */
	const char *pending_post_id;
	int plugin; /* type custom_livestatus */
};

/* *post_id: the new post's id on a 200 or 201 that has one. */
int mm_post_create(const struct mm_client *c, const struct mm_post_new *n,
    struct mm_http_resp *resp, char **post_id);

int mm_post_edit(const struct mm_client *c, const char *post_id, const char *box_id,
    const char *message, struct mm_http_resp *resp);

/* timeout_ms: as mm_client's request() (0: the transport's own). */
int mm_post_final(const struct mm_client *c, const char *post_id, const char *message,
    long timeout_ms, struct mm_http_resp *resp);

/* *post_id: the newest post of box_id among the channel's posts since since_ms. */
int mm_post_find(const struct mm_client *c, const char *channel_id, int64_t since_ms,
    const char *box_id, struct mm_http_resp *resp, char **post_id);

/* The non-empty string member key of a JSON object text, copied, or NULL. */
char *mm_post_json_str(const char *text, const char *key);

/*
 * The daemon's box box_id may have ended: when it is a top-level API box
 * whose post the responder made (store_mm_api_posted) and whose final text
 * was not sent yet, sets the post's message once to the final status text
 * (mm_render_box() of the box and its sub-agents, cut to max_chars) with
 * mm_post_final(), waiting at most timeout_ms.  Of concurrent callers one
 * makes the edit (the claim is a store transaction, sql/store_mm.h).
 * When Mattermost did not take it (no answer, 5xx, 429, 401) the next
 * change of the box tries again; a deleted post is left alone.
 */
void mm_post_box_ended(
    const struct mm_client *c, store *st, const char *box_id, long max_chars, long timeout_ms);

#endif
