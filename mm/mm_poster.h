/*
 * mm_poster: boxes in the store become posts in Mattermost.
 *
 * Data flows one way: transcripts -> status model -> store -> poster ->
 * Mattermost.  A poster is a handle: mm_poster_new() opens its own handle
 * of the store and takes a transport (mm_client, mm_http.h: the libcurl
 * pool, or a test's stub); mm_poster_run() starts its thread, or a caller
 * (a test) drives it with mm_poster_pass().  It never sees transcript
 * lines: it reads the top-level boxes the watcher made (source 'watcher')
 * whose subtree changed since it last posted, renders them (mm_render.h)
 * and creates or edits one post per box with the post writer (mm_post.h).
 * Sub-agent boxes are drawn inside their parent's post.  The watcher
 * holds one poster in its struct watcher (watcher/watcher_int.h): made at
 * start when MM_URL is set, woken after each commit, its breaker and
 * figures read for the heartbeat, freed (flushing) at stop.
 *
 * Where a box goes: its channel_id, in the thread root_id when set; a box
 * without a channel whose session targets "user:<id>" goes to the direct
 * channel of the bot and that user (POST /api/v4/channels/direct, with the
 * bot's id from /api/v4/users/me; cached in mm_direct_channels); others go
 * to DEFAULT_CHANNEL, or stay local (no post).  The channel used is written
 * back into the box when it had none, so the API's channel rules apply.
 *
 * Two modes, decided per box when its post is made:
 *  - plugin: GET /api/v4/plugins/webapp lists com.openclaw.livestatus
 *    (checked at start and every MM_PLUGIN_CHECK_S) and PLUGIN_ENABLED is
 *    not false.  One post of type custom_livestatus with props.session_id =
 *    box id, not edited while the box is active; its message is set once
 *    to the final text when the box ends.  Should the plugin be disabled
 *    later, such posts are edited like REST ones.
 *  - rest: a normal post whose message is the status box text, edited in
 *    place (PUT /api/v4/posts/{id}) whenever the text changes.
 * While the plugin check has not yet answered, no post is made.
 *
 * Pace and failure: edits of one box are throttled to one per THROTTLE_MS
 * (the first change goes at once, later ones are merged and the newest is
 * sent when the interval ends).  Requests go through the transport's
 * budget (MM_RATE_LIMIT); a 429 answer holds every request back for its
 * Retry-After.  CIRCUIT_BREAKER_THRESHOLD consecutive failures (no answer,
 * 5xx, 401) open the breaker: nothing is sent for
 * CIRCUIT_BREAKER_COOLDOWN_S, then one request probes (half_open) and its
 * outcome closes or reopens it.  Since the poster always renders the
 * store's newest state, whatever changed while Mattermost was away is
 * posted once it answers again.
 *
 * Crash safety (no second post for a box, even after kill -9): before a
 * create request, a row in mm_posts with a fresh pending_post_id is
 * committed; a restart re-sends the same pending_post_id, which Mattermost
 * answers, within its 30 s window, with the post it already made.  A
 * create that was sent but never answered is retried within that window;
 * past it, the poster first looks for the post in the channel
 * (mm_post_find(), props.livestatus_box_id).  The returned post id is
 * committed with the box at once.
 *
 * Threads: mm_poster_wake(), mm_poster_breaker(), mm_poster_counts() and
 * mm_poster_counts_json() may be called from any thread; the others from
 * the owner only.
 */
#ifndef LS_MM_POSTER_H
#define LS_MM_POSTER_H

#include <stddef.h>
#include <stdint.h>

#include "mm/mm_config.h"
#include "mm/mm_http.h"

struct mm_poster;
struct json_object;

/*
 * A poster for cfg (copied; cfg->url must be set) on its own handle of the
 * store at db_path.  client is copied; NULL: a libcurl pool made from cfg,
 * freed with the poster.  NULL when the store cannot be opened (logged).
 */
struct mm_poster *
mm_poster_new(const struct mm_config *cfg, const char *db_path, const struct mm_client *client);

/*
 * Stops the thread, if running, after posting what is still unposted
 * (throttle ignored), for at most MM_STOP_FLUSH_MS or until the breaker
 * opens; then frees everything.  NULL is fine.
 */
void mm_poster_free(struct mm_poster *p);

/*
 * The revision link the poster's writes move (sql/store_revdir.h), set
 * before mm_poster_run(); r outlives the poster.
 */
struct store_revdir;
void mm_poster_set_revdir(struct mm_poster *p, struct store_revdir *r);

/* Starts the poster's thread.  0, or -1 (logged); at most once. */
int mm_poster_run(struct mm_poster *p);

/* Something was committed: look at the store again soon. */
void mm_poster_wake(struct mm_poster *p);

/*
 * One pass over the boxes to post, in the caller's thread (when no thread
 * runs).  flush: ignore the throttle (stopping).  Returns the monotonic
 * time (util_mono_ms()) of the next pass it needs (INT64_MAX: none); *left
 * counts the boxes still to post.
 */
int64_t mm_poster_pass(struct mm_poster *p, int flush, size_t *left);

/* "closed", "open" or "half_open". */
const char *mm_poster_breaker(struct mm_poster *p);

struct mm_poster_stats {
	int64_t posts_created;
	int64_t posts_edited;
	int64_t requests;
	int64_t failures;  /* requests without an answer, 5xx, 401 */
	int64_t throttled; /* 429 answers */
	int64_t dirty;     /* boxes waiting to be posted at the last look */
};

/* Counters since mm_poster_new(). */
void mm_poster_counts(struct mm_poster *p, struct mm_poster_stats *out);

/*
 * Adds the poster's figures to a heartbeat's stats object:
 * mm_requests {"<status>": n, ..., "error": n}, mm_rate_limited,
 * mm_posts_created, mm_posts_edited, mm_dirty.
 */
void mm_poster_counts_json(struct mm_poster *p, struct json_object *stats);

#endif
