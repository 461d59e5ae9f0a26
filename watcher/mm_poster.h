/*
 * mm_poster: the watcher's Mattermost side.  Boxes in the store become
 * posts in Mattermost.
 *
 * Data flows one way: transcripts -> status model -> store -> poster ->
 * Mattermost.  The poster is a thread of livestatus-watcher with its own
 * store handle.  It never sees transcript lines: it reads the top-level
 * boxes the watcher made (source 'watcher') whose subtree changed since it
 * last posted, renders them (mm_render.h) and creates or edits one post per
 * box.  Sub-agent boxes are drawn inside their parent's post.
 *
 * Wiring (watcher/main.c):
 *   struct mm_config mc;
 *   if (mm_config_from_env(&mc, err, sizeof(err)) != 0) -> exit with err
 *   if (mc.url != NULL) mm_poster_start(&mc, db_path);  (copies what it needs)
 *   after every store commit that changed boxes:   mm_poster_kick();
 *   heartbeat row:   hb.breaker = mm_poster_breaker_state();  (NULL when off)
 *                    mm_poster_stats_json(stats_object);
 *   on SIGTERM, after the interrupted boxes are committed:  mm_poster_stop();
 *   mm_config_free(&mc);
 * mm_poster_kick() and mm_poster_breaker_state() may be called from any
 * thread, and do nothing (return NULL) when the poster is not running.
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
 *    (checked at start and every MM_PLUGIN_CHECK_S, default 60 s) and
 *    PLUGIN_ENABLED is not false.  One post of type custom_livestatus with
 *    props.session_id = box id, not edited while the box is active; its
 *    message is set once to the final text when the box ends.  Should the
 *    plugin be disabled later, such posts are edited like REST ones.
 *  - rest: a normal post whose message is the status box text, edited in
 *    place (PUT /api/v4/posts/{id}) whenever the text changes.
 * While the plugin check has not yet answered, no post is made.
 *
 * Pace and failure: edits of one box are throttled to one per THROTTLE_MS
 * (the first change goes at once, later ones are merged and the newest is
 * sent when the interval ends).  Requests share one keep-alive pool and a
 * budget of MM_RATE_LIMIT per second (default 10); 429 answers hold every
 * request back for Retry-After.  CIRCUIT_BREAKER_THRESHOLD consecutive
 * failures (no answer, 5xx, 401) open the breaker: nothing is sent for
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
 * (GET /api/v4/channels/{id}/posts?since=, props.livestatus_box_id).  The
 * returned post id is committed with the box at once.
 */
#ifndef LS_MM_POSTER_H
#define LS_MM_POSTER_H

#include <stddef.h>
#include <stdint.h>

struct mm_config {
	char *url;                /* MM_URL or MM_BASE_URL; NULL: local only */
	char *token;              /* MM_TOKEN or MM_BOT_TOKEN */
	char *default_channel;    /* DEFAULT_CHANNEL, NULL when unset */
	char *publish_url;        /* PUBLISH_URL for change notices, may be NULL */
	int plugin_enabled;       /* PLUGIN_ENABLED (true) */
	long throttle_ms;         /* THROTTLE_MS (500) */
	long max_message_chars;   /* MAX_MESSAGE_CHARS (15000) */
	long breaker_threshold;   /* CIRCUIT_BREAKER_THRESHOLD (5) */
	long breaker_cooldown_ms; /* CIRCUIT_BREAKER_COOLDOWN_S (30) */
	double rate_limit;        /* MM_RATE_LIMIT requests/s (10), 0 = none */
	long plugin_check_ms;     /* MM_PLUGIN_CHECK_S (60) */
	long timeout_ms;          /* MM_TIMEOUT_MS (10000) per request */
	long stop_flush_ms;       /* MM_STOP_FLUSH_MS (5000): flush time at stop */
};

/*
 * Reads the variables above (MM_URL with its alias MM_BASE_URL, MM_TOKEN
 * with MM_BOT_TOKEN, ...).  0, or -1 with a message naming the variable in
 * err: a bad number, or MM_URL without a token.  cfg->url stays NULL when
 * MM_URL is unset.
 */
int mm_config_from_env(struct mm_config *cfg, char *err, size_t errlen);
void mm_config_free(struct mm_config *cfg);

/*
 * Starts the poster thread on its own handle of the store at db_path.
 * 0, or -1 when it cannot (logged); starting twice is an error.
 */
int mm_poster_start(const struct mm_config *cfg, const char *db_path);

/* Something was committed: look at the store again soon. */
void mm_poster_kick(void);

/*
 * Stops the thread after posting what is still unposted (throttle
 * ignored), for at most MM_STOP_FLUSH_MS or until Mattermost fails.
 */
void mm_poster_stop(void);

/* "closed", "open" or "half_open"; NULL when the poster is not running. */
const char *mm_poster_breaker_state(void);

struct mm_poster_stats {
	int64_t posts_created;
	int64_t posts_edited;
	int64_t requests;
	int64_t failures;  /* requests without an answer, 5xx, 401 */
	int64_t throttled; /* 429 answers */
	int64_t dirty;     /* boxes waiting to be posted at the last look */
};

/* Counters since start (zeros when not running). */
void mm_poster_stats(struct mm_poster_stats *out);

/*
 * Adds the poster's figures to the heartbeat's stats object (nothing when
 * not running): mm_requests {"<status>": n, ..., "error": n},
 * mm_rate_limited, mm_posts_created, mm_posts_edited, mm_dirty.
 */
struct json_object;
void mm_poster_stats_json(struct json_object *stats);

#endif
