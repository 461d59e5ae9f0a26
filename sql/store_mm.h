/*
 * store_mm: the Mattermost poster's tables (mm_posts, mm_direct_channels).
 *
 * The poster (mm/mm_poster.c) runs in its own thread on its own store
 * handle.  It asks store_mm_dirty() for the top-level boxes whose subtree
 * (the box and its sub-agent boxes, any depth) changed since it last posted,
 * loads each with store_mm_tree(), and keeps its per-box record in one
 * mm_posts row (struct store_mm_post).  Only boxes the watcher made
 * (source 'watcher') are considered: boxes created through the API get
 * their post, and its final text, from the responder (store_mm_api_posted
 * and the store_mm_final_* calls below).
 *
 * Crash safety rests on one rule: a row in state "creating", with its
 * pending_post_id, is committed before the create request is sent, and the
 * returned post id is committed (in the row and in boxes.post_id) right
 * after.  store_mm_set_post() writes boxes.post_id (and boxes.channel_id
 * when it was empty) with a targeted UPDATE, so it never overwrites what
 * the watcher wrote to the box's other columns, and bumps the revision only
 * when something changed.
 *
 * Same conventions as store.h: STORE_OK or a negative code; writes inside
 * store_begin() ... store_commit(); strings owned by the struct and freed
 * with the matching _free().
 */
#ifndef LS_STORE_MM_H
#define LS_STORE_MM_H

#include <stddef.h>
#include <stdint.h>

#include "sql/store.h"

/* One mm_posts row; see sql/schema.sql for the meaning of each column. */
struct store_mm_post {
	char *box_id;
	char *channel_id;
	char *root_id;
	char *mode;  /* plugin, rest or local */
	char *state; /* creating, posted, local, gone or failed */
	char *pending_post_id;
	char *post_id;
	char *posted_text;
	int64_t intent_ms;
	int64_t unsure_ms;
	int64_t posted_revision;
	int final_sent;
	int64_t updated_ms;
};

/* A top-level box whose subtree is newer than what was posted. */
struct store_mm_dirty {
	char *box_id;
	int64_t tree_revision; /* highest revision in the box's subtree */
};

/*
 * At most limit dirty boxes, oldest change first.  *out is an array of *n
 * entries freed with store_mm_dirty_free().
 */
int store_mm_dirty(store *st, size_t limit, struct store_mm_dirty **out, size_t *n);
void store_mm_dirty_free(struct store_mm_dirty *list, size_t n);

/*
 * The box id and its descendants, parents before children and siblings in
 * start order; out[0] is the box itself.  STORE_NOTFOUND when it is gone.
 */
int store_mm_tree(store *st, const char *id, struct store_box **out, size_t *n);

/* The row of a box; STORE_NOTFOUND when there is none. */
int store_mm_post_get(store *st, const char *box_id, struct store_mm_post *out);

/* Inserts or replaces the row (updated_ms is set here).  In a write tx. */
int store_mm_post_put(store *st, const struct store_mm_post *p);

/*
 * Mirrors the post into the box: boxes.post_id = post_id and, when the
 * box's channel_id is empty, channel_id.  Bumps the revision only when a
 * value changed; *changed says whether one did (may be NULL).  In a write
 * transaction.  STORE_NOTFOUND when the box is gone.
 */
int store_mm_set_post(
    store *st, const char *box_id, const char *post_id, const char *channel_id, int *changed);

/*
 * The target of the box's session ("user:<id>" for a direct message, else
 * ""), from watcher_sessions.target; "" when the session is unknown.
 */
int store_mm_target(store *st, const char *box_id, char **target);

/*
 * The plugin was disabled on the server: every plugin post of a box still
 * running is made due again (posted_revision 0), so that it is edited as
 * text from now on.  *n gets the count.  In a write transaction.
 */
int store_mm_plugin_off(store *st, int64_t *n);

/*
 * Boxes created through the API (a daemon's, source 'api') get their
 * custom_livestatus post from the responder, which keeps an mm_posts row
 * for them too (mode plugin, state posted): the poster never looks at
 * such boxes, so the responder alone sets the post's final text, once.
 *
 * store_mm_api_posted() records the post the responder made for box_id
 * (text: the message it was made with).  In a write transaction.
 */
int store_mm_api_posted(store *st, const char *box_id, const char *channel_id, const char *root_id,
    const char *post_id, const char *text);

/*
 * Claims the final edit of an API box's post: when box_id is a top-level
 * API box that has ended (status not active) and its row is posted with
 * the final text not yet sent, marks final_sent and gives the post id
 * (caller frees).  STORE_NOTFOUND when there is nothing to do (no such
 * row, already claimed or sent, still active).  In a write transaction:
 * of two requests that end the same box, one claims it.
 */
int store_mm_final_claim(store *st, const char *box_id, char **post_id);

/*
 * The claimed final edit is over: final_sent gets its new value (0: it may
 * not have arrived, a later change of the box tries again), state a new
 * state unless NULL ("gone": the post was deleted), and, unless text is
 * NULL, posted_text = text and posted_revision = revision (what the post
 * shows now).  In a write transaction.
 */
int store_mm_final_result(store *st, const char *box_id, int final_sent, const char *state,
    const char *text, int64_t revision);

/* The cached direct channel with a user; STORE_NOTFOUND when unknown. */
int store_mm_dm_get(store *st, const char *user_id, char **channel_id);
int store_mm_dm_put(store *st, const char *user_id, const char *channel_id);

void store_mm_post_free(struct store_mm_post *p);

#endif
