/* mm_poster: the thread that turns stored boxes into Mattermost posts. */
#include "watcher/mm_poster.h"

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/config.h"
#include "common/log.h"
#include "common/mm_http.h"
#include "common/notify.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "sql/store_mm.h"
#include "common/mm_render.h"

#define MM_PLUGIN_ID "com.openclaw.livestatus"
#define MM_POST_TYPE "custom_livestatus"
/* Boxes looked at per pass; the rest wait for the next one. */
#define MM_DIRTY_BATCH 256
/* Mattermost forgets a pending_post_id 30 s after the post was made. */
#define MM_PENDING_SAFE_MS 25000
/* Retry pace of one box after a failure that is its own (4xx). */
#define MM_BOX_BACKOFF_MS 30000
/* Retry of a create whose answer was lost, well inside the 30 s window. */
#define MM_UNSURE_RETRY_MS 1000
/* Longest sleep without a kick: timers are re-derived after it. */
#define MM_IDLE_WAKE_MS 60000
/* Per-box memory is dropped after this long without a send. */
#define MM_BOX_FORGET_MS 600000

enum mm_breaker { MM_BRK_CLOSED, MM_BRK_OPEN, MM_BRK_HALF_OPEN };

/* What a step on one box ended with. */
enum mm_step {
	MM_STEP_DONE,    /* nothing more to do until the box changes */
	MM_STEP_LATER,   /* this box again at *at (throttle, backoff) */
	MM_STEP_BLOCKED, /* no request may go before *at (breaker, budget, 429) */
};

/* What one request came to. */
enum mm_call {
	MM_CALL_ANSWERED, /* resp.status is the answer */
	MM_CALL_BLOCKED,  /* not sent, or 429: wait until *at */
	MM_CALL_FAILED,   /* no answer, 5xx or 401: counted by the breaker */
};

/* In-memory per-box pace. */
struct mm_boxpace {
	char *id;
	int64_t last_send; /* mono ms of the last create or edit, 0 = never */
	int64_t not_before;
};

struct mm_poster {
	/* Shared with other threads, under mu (or atomic). */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int kicked;
	int stopping;
	atomic_int running;
	atomic_int breaker;
	atomic_llong created, edited, dirty, failures_total;

	/* The poster thread's own. */
	pthread_t thread;
	struct mm_config cfg;
	char *db_path;
	store *st;
	struct mm_http *http;
	struct notify *notify;
	int plugin_mode; /* -1 unknown, 0 rest, 1 plugin */
	int64_t next_plugin_check;
	char *bot_user_id;
	int again;    /* this thread changed a box: look once more */
	int failures; /* consecutive */
	int64_t open_until;
	struct mm_boxpace *pace;
	size_t npace;
};

static struct mm_poster mm_p = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
};

/* ---- configuration ---------------------------------------------------- */

int
mm_config_from_env(struct mm_config *cfg, char *err, size_t errlen)
{
	const char *url = cfg_env("MM_URL", "MM_BASE_URL");
	const char *token = cfg_env("MM_TOKEN", "MM_BOT_TOKEN");
	long v;

	memset(cfg, 0, sizeof(*cfg));
	if (cfg_bool("PLUGIN_ENABLED", NULL, 1, &cfg->plugin_enabled, err, errlen) != 0 ||
	    cfg_long("THROTTLE_MS", NULL, 500, 0, 3600000, &cfg->throttle_ms, err, errlen) != 0 ||
	    cfg_long("MAX_MESSAGE_CHARS", NULL, 15000, 100, 1000000, &cfg->max_message_chars, err,
	        errlen) != 0 ||
	    cfg_long("CIRCUIT_BREAKER_THRESHOLD", NULL, 5, 1, 1000000, &cfg->breaker_threshold, err,
	        errlen) != 0 ||
	    cfg_long("CIRCUIT_BREAKER_COOLDOWN_S", NULL, 30, 1, 86400, &v, err, errlen) != 0)
		return -1;
	cfg->breaker_cooldown_ms = v * 1000;
	if (cfg_long("MM_RATE_LIMIT", NULL, 10, 0, 100000, &v, err, errlen) != 0)
		return -1;
	cfg->rate_limit = (double)v;
	if (cfg_long("MM_PLUGIN_CHECK_S", NULL, 60, 1, 86400, &v, err, errlen) != 0)
		return -1;
	cfg->plugin_check_ms = v * 1000;
	if (cfg_long("MM_TIMEOUT_MS", NULL, 10000, 100, 600000, &cfg->timeout_ms, err, errlen) !=
	        0 ||
	    cfg_long("MM_STOP_FLUSH_MS", NULL, 5000, 0, 600000, &cfg->stop_flush_ms, err, errlen) !=
	        0)
		return -1;
	if (url != NULL) {
		if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
			snprintf(err, errlen, "MM_URL: not an http(s) URL: \"%s\"", url);
			return -1;
		}
		if (token == NULL) {
			snprintf(err, errlen, "MM_TOKEN: required when MM_URL is set");
			return -1;
		}
		cfg->url = xstrdup(url);
		cfg->token = xstrdup(token);
	}
	if (cfg_env("DEFAULT_CHANNEL", NULL) != NULL)
		cfg->default_channel = xstrdup(cfg_env("DEFAULT_CHANNEL", NULL));
	if (cfg_env("PUBLISH_URL", NULL) != NULL)
		cfg->publish_url = xstrdup(cfg_env("PUBLISH_URL", NULL));
	return 0;
}

static void
mm_config_copy(struct mm_config *dst, const struct mm_config *src)
{
	*dst = *src;
	dst->url = src->url ? xstrdup(src->url) : NULL;
	dst->token = src->token ? xstrdup(src->token) : NULL;
	dst->default_channel = src->default_channel ? xstrdup(src->default_channel) : NULL;
	dst->publish_url = src->publish_url ? xstrdup(src->publish_url) : NULL;
}

void
mm_config_free(struct mm_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->url);
	free(cfg->token);
	free(cfg->default_channel);
	free(cfg->publish_url);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- breaker and requests --------------------------------------------- */

static const char *const mm_breaker_names[] = { "closed", "open", "half_open" };

static void
mm_breaker_set(struct mm_poster *p, enum mm_breaker b)
{
	int old = atomic_exchange(&p->breaker, (int)b);

	if (old != (int)b)
		log_info("mattermost circuit breaker", "from", mm_breaker_names[old], "to",
		    mm_breaker_names[b]);
}

/* 0 when a request may go now (half_open: the probe); else when it may. */
static int64_t
mm_breaker_wait(struct mm_poster *p, int64_t now)
{
	if (atomic_load(&p->breaker) != MM_BRK_OPEN)
		return 0;
	if (now >= p->open_until) {
		mm_breaker_set(p, MM_BRK_HALF_OPEN);
		return 0;
	}
	return p->open_until - now;
}

static void
mm_breaker_result(struct mm_poster *p, int ok)
{
	if (ok) {
		p->failures = 0;
		mm_breaker_set(p, MM_BRK_CLOSED);
		return;
	}
	p->failures++;
	if (atomic_load(&p->breaker) == MM_BRK_HALF_OPEN ||
	    p->failures >= p->cfg.breaker_threshold) {
		p->open_until = util_mono_ms() + p->cfg.breaker_cooldown_ms;
		mm_breaker_set(p, MM_BRK_OPEN);
	}
}

/*
 * One request through the breaker and the budget.  On MM_CALL_BLOCKED
 * *at is when to try again (mono ms); resp is filled in every case and
 * freed by the caller.
 */
static enum mm_call
mm_call(struct mm_poster *p, const char *method, const char *path, const char *body,
    struct mm_http_resp *resp, int64_t *at)
{
	int64_t now = util_mono_ms(), wait;

	memset(resp, 0, sizeof(*resp));
	if ((wait = mm_breaker_wait(p, now)) > 0 || (wait = mm_http_wait_ms(p->http)) > 0) {
		resp->body = xstrdup("");
		resp->outcome = MM_HTTP_WAIT;
		*at = now + wait;
		return MM_CALL_BLOCKED;
	}
	if (mm_http_request(p->http, method, path, body, NULL, resp) != 0) {
		if (resp->outcome == MM_HTTP_WAIT) {
			*at = now + mm_http_wait_ms(p->http) + 1;
			return MM_CALL_BLOCKED;
		}
		log_warn(
		    "mattermost request failed", "method", method, "path", path, "err", resp->err);
		atomic_fetch_add(&p->failures_total, 1);
		mm_breaker_result(p, 0);
		return MM_CALL_FAILED;
	}
	if (resp->status == 429) {
		log_warn("mattermost rate limit", "method", method, "path", path, "retry_after_ms",
		    LOG_I64(resp->retry_after_ms));
		*at = util_mono_ms() + resp->retry_after_ms;
		return MM_CALL_BLOCKED;
	}
	if (resp->status >= 500 || resp->status == 401) {
		log_warn("mattermost request refused", "method", method, "path", path, "status",
		    LOG_I64(resp->status));
		atomic_fetch_add(&p->failures_total, 1);
		mm_breaker_result(p, 0);
		return MM_CALL_FAILED;
	}
	mm_breaker_result(p, 1);
	return MM_CALL_ANSWERED;
}

/* The string member key of a JSON object text, copied, or NULL. */
static char *
mm_json_str(const char *text, const char *key)
{
	struct json_object *o = json_tokener_parse(text), *v;
	char *out = NULL;

	if (o != NULL && json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0)
		out = xstrdup(json_object_get_string(v));
	json_object_put(o);
	return out;
}

/* ---- per-box pace ----------------------------------------------------- */

static struct mm_boxpace *
mm_pace(struct mm_poster *p, const char *id)
{
	size_t i;

	for (i = 0; i < p->npace; i++)
		if (strcmp(p->pace[i].id, id) == 0)
			return &p->pace[i];
	p->pace = xreallocarray(p->pace, p->npace + 1, sizeof(*p->pace));
	memset(&p->pace[p->npace], 0, sizeof(*p->pace));
	p->pace[p->npace].id = xstrdup(id);
	return &p->pace[p->npace++];
}

static void
mm_pace_prune(struct mm_poster *p, int64_t now)
{
	size_t i = 0;

	while (i < p->npace) {
		struct mm_boxpace *b = &p->pace[i];

		if (b->not_before <= now && now - b->last_send > MM_BOX_FORGET_MS) {
			free(b->id);
			p->pace[i] = p->pace[--p->npace];
		} else {
			i++;
		}
	}
}

/* ---- plugin check ----------------------------------------------------- */

/*
 * Without the plugin, a custom_livestatus post of a running box would
 * stay as it was made: make those due, to be edited as text.
 */
static void
mm_plugin_gone(struct mm_poster *p)
{
	int64_t n = 0;

	if (store_begin(p->st) != STORE_OK || store_mm_plugin_off(p->st, &n) != STORE_OK ||
	    store_commit(p->st) != STORE_OK) {
		log_error("cannot mark plugin posts for text edits", "err", store_errmsg(p->st));
		store_rollback(p->st);
		return;
	}
	if (n > 0)
		p->again = 1;
}

/* 0 done (or nothing to do), or MM_STEP_BLOCKED with *at. */
static enum mm_step
mm_plugin_check(struct mm_poster *p, int64_t now, int64_t *at)
{
	struct mm_http_resp r;
	struct json_object *list = NULL, *item, *id;
	enum mm_call c;
	int found = 0, mode;
	size_t i;

	if (!p->cfg.plugin_enabled) {
		p->plugin_mode = 0;
		return MM_STEP_DONE;
	}
	if (now < p->next_plugin_check)
		return MM_STEP_DONE;
	c = mm_call(p, "GET", "/api/v4/plugins/webapp", NULL, &r, at);
	if (c == MM_CALL_BLOCKED) {
		mm_http_resp_free(&r);
		return MM_STEP_BLOCKED;
	}
	if (c == MM_CALL_FAILED) {
		/* Asked again soon; posts wait while the mode is unknown. */
		mm_http_resp_free(&r);
		p->next_plugin_check = now + 1000;
		return MM_STEP_DONE;
	}
	p->next_plugin_check = now + p->cfg.plugin_check_ms;
	if (r.status == 200 && (list = json_tokener_parse(r.body)) != NULL &&
	    json_object_is_type(list, json_type_array)) {
		for (i = 0; i < json_object_array_length(list); i++) {
			item = json_object_array_get_idx(list, i);
			if (json_object_object_get_ex(item, "id", &id) &&
			    strcmp(json_object_get_string(id), MM_PLUGIN_ID) == 0)
				found = 1;
		}
	}
	json_object_put(list);
	mm_http_resp_free(&r);
	mode = found ? 1 : 0;
	if (mode != p->plugin_mode)
		log_info("mattermost mode", "mode", mode ? "plugin" : "rest");
	if (mode == 0 && p->plugin_mode == 1)
		mm_plugin_gone(p);
	p->plugin_mode = mode;
	return MM_STEP_DONE;
}

/* ---- where a box goes ------------------------------------------------- */

static enum mm_step
mm_bot_user(struct mm_poster *p, int64_t *at)
{
	struct mm_http_resp r;
	enum mm_call c;

	if (p->bot_user_id != NULL)
		return MM_STEP_DONE;
	c = mm_call(p, "GET", "/api/v4/users/me", NULL, &r, at);
	if (c == MM_CALL_ANSWERED && r.status == 200)
		p->bot_user_id = mm_json_str(r.body, "id");
	else if (c == MM_CALL_ANSWERED)
		log_error("mattermost bot user unknown", "status", LOG_I64(r.status));
	mm_http_resp_free(&r);
	if (c == MM_CALL_BLOCKED)
		return MM_STEP_BLOCKED;
	if (p->bot_user_id == NULL) {
		*at = util_mono_ms() + MM_BOX_BACKOFF_MS;
		return MM_STEP_LATER;
	}
	return MM_STEP_DONE;
}

/*
 * The channel of a box: its own, the direct channel of its user target,
 * DEFAULT_CHANNEL, or none (*channel = NULL: local).  MM_STEP_DONE when
 * decided.
 */
static enum mm_step
mm_channel(struct mm_poster *p, const struct store_box *top, char **channel, int64_t *at)
{
	struct mm_http_resp r;
	struct json_object *ids;
	char *target = NULL, *cached = NULL;
	const char *user;
	enum mm_step step = MM_STEP_DONE;
	enum mm_call c;
	int rc;

	*channel = NULL;
	if (top->channel_id != NULL && top->channel_id[0] != '\0') {
		*channel = xstrdup(top->channel_id);
		return MM_STEP_DONE;
	}
	if (store_mm_target(p->st, top->id, &target) != STORE_OK)
		target = xstrdup("");
	if (strncmp(target, "user:", 5) != 0 || target[5] == '\0') {
		if (p->cfg.default_channel != NULL)
			*channel = xstrdup(p->cfg.default_channel);
		goto out;
	}
	user = target + 5;
	if (store_mm_dm_get(p->st, user, &cached) == STORE_OK) {
		*channel = cached;
		goto out;
	}
	if ((step = mm_bot_user(p, at)) != MM_STEP_DONE)
		goto out;
	ids = json_object_new_array();
	json_object_array_add(ids, json_object_new_string(p->bot_user_id));
	json_object_array_add(ids, json_object_new_string(user));
	c = mm_call(p, "POST", "/api/v4/channels/direct",
	    json_object_to_json_string_ext(ids, JSON_C_TO_STRING_PLAIN), &r, at);
	json_object_put(ids);
	if (c == MM_CALL_ANSWERED && (r.status == 200 || r.status == 201))
		*channel = mm_json_str(r.body, "id");
	mm_http_resp_free(&r);
	if (c == MM_CALL_BLOCKED) {
		step = MM_STEP_BLOCKED;
	} else if (*channel == NULL) {
		log_warn("cannot open a direct channel", "user_id", user, "box", top->id);
		*at = util_mono_ms() + (c == MM_CALL_FAILED ? 1000 : MM_BOX_BACKOFF_MS);
		step = MM_STEP_LATER;
	} else if (store_begin(p->st) == STORE_OK) {
		rc = store_mm_dm_put(p->st, user, *channel);
		if (rc != STORE_OK || store_commit(p->st) != STORE_OK)
			store_rollback(p->st);
	}
out:
	free(target);
	return step;
}

/* ---- posting one box -------------------------------------------------- */

static int
mm_ended(const struct store_box *b)
{
	return b->status != NULL && strcmp(b->status, "active") != 0;
}

static int64_t
mm_tree_revision(const struct store_box *tree, size_t n)
{
	int64_t rev = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (tree[i].revision > rev)
			rev = tree[i].revision;
	return rev;
}

/* Writes row (and, with post_id, the box's post id) in one transaction. */
static int
mm_save(struct mm_poster *p, const struct store_mm_post *row, const char *channel_for_box)
{
	int changed = 0, rc;
	int64_t rev = 0;

	if ((rc = store_begin(p->st)) != STORE_OK)
		goto fail;
	if ((rc = store_mm_post_put(p->st, row)) != STORE_OK)
		goto fail;
	if (row->post_id != NULL && row->post_id[0] != '\0') {
		rc = store_mm_set_post(p->st, row->box_id, row->post_id, channel_for_box, &changed);
		if (rc != STORE_OK && rc != STORE_NOTFOUND)
			goto fail;
	}
	if ((rc = store_commit(p->st)) != STORE_OK)
		goto fail;
	if (changed) {
		p->again = 1;
		if (store_revision(p->st, &rev) == STORE_OK)
			notify_box(p->notify, rev, row->box_id, row->channel_id);
	}
	return 0;
fail:
	log_error(
	    "cannot store mattermost post state", "box", row->box_id, "err", store_errmsg(p->st));
	store_rollback(p->st);
	return -1;
}

static struct json_object *
mm_props(const char *box_id)
{
	struct json_object *props = json_object_new_object();

	json_object_object_add(props, "session_id", json_object_new_string(box_id));
	json_object_object_add(props, "livestatus_box_id", json_object_new_string(box_id));
	return props;
}

/*
 * A create sent earlier got no answer and Mattermost's pending_post_id
 * window may be over: look for the post in its channel.  The post id, or
 * NULL when not found or the server cannot say.
 */
static char *
mm_find_post(struct mm_poster *p, const struct store_mm_post *row, int64_t *at)
{
	struct json_object *list = NULL, *posts, *props, *v;
	struct mm_http_resp r;
	char *path, *esc, *found = NULL;
	enum mm_call c;

	esc = mm_http_escape(row->channel_id);
	path = xasprintf(
	    "/api/v4/channels/%s/posts?since=%lld", esc, (long long)(row->intent_ms - 60000));
	c = mm_call(p, "GET", path, NULL, &r, at);
	if (c == MM_CALL_ANSWERED && r.status == 200 &&
	    (list = json_tokener_parse(r.body)) != NULL &&
	    json_object_object_get_ex(list, "posts", &posts) &&
	    json_object_is_type(posts, json_type_object)) {
		json_object_object_foreach(posts, key, post)
		{
			if (json_object_object_get_ex(post, "props", &props) &&
			    json_object_object_get_ex(props, "livestatus_box_id", &v) &&
			    strcmp(json_object_get_string(v), row->box_id) == 0) {
				free(found);
				found = xstrdup(key);
			}
		}
	}
	json_object_put(list);
	mm_http_resp_free(&r);
	free(path);
	free(esc);
	return found;
}

static enum mm_step
mm_create(struct mm_poster *p, struct store_mm_post *row, const struct store_box *tree, size_t n,
    struct mm_boxpace *pace, int64_t *at)
{
	const struct store_box *top = &tree[0];
	int64_t now = util_mono_ms(), wall = util_now_ms();
	struct json_object *body;
	struct mm_http_resp r;
	char *text, *post_id = NULL;
	enum mm_call c;
	int plugin = strcmp(row->mode, "plugin") == 0;

	/*
	 * An intent older than Mattermost's pending_post_id memory may have
	 * made a post whose answer never arrived (lost, or kill -9): look.
	 */
	if (wall - row->intent_ms > MM_PENDING_SAFE_MS &&
	    (post_id = mm_find_post(p, row, at)) != NULL) {
		log_info("mattermost post found after a lost answer", "box", row->box_id, "post_id",
		    post_id);
		free(row->state);
		row->state = xstrdup("posted");
		free(row->post_id);
		row->post_id = post_id;
		row->unsure_ms = 0;
		/* What it shows is unknown: the next pass edits it. */
		row->posted_revision = 0;
		mm_save(p, row, row->channel_id);
		return MM_STEP_LATER;
	}
	text = mm_render_box(tree, n, (size_t)p->cfg.max_message_chars);
	body = json_object_new_object();
	json_object_object_add(body, "channel_id", json_object_new_string(row->channel_id));
	if (row->root_id[0] != '\0')
		json_object_object_add(body, "root_id", json_object_new_string(row->root_id));
	json_object_object_add(body, "message", json_object_new_string(text));
	if (plugin)
		json_object_object_add(body, "type", json_object_new_string(MM_POST_TYPE));
	json_object_object_add(body, "props", mm_props(row->box_id));
	json_object_object_add(
	    body, "pending_post_id", json_object_new_string(row->pending_post_id));
	c = mm_call(p, "POST", "/api/v4/posts",
	    json_object_to_json_string_ext(
	        body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	    &r, at);
	json_object_put(body);
	if (c == MM_CALL_BLOCKED)
		goto blocked;
	/* From the answer on: the server sees requests THROTTLE_MS apart at least. */
	pace->last_send = util_mono_ms();
	if (c == MM_CALL_FAILED) {
		if (r.outcome == MM_HTTP_UNKNOWN && row->unsure_ms == 0) {
			row->unsure_ms = wall;
			mm_save(p, row, NULL);
		}
		*at = now + MM_UNSURE_RETRY_MS;
		goto later;
	}
	if (r.status == 200 || r.status == 201)
		post_id = mm_json_str(r.body, "id");
	if (post_id == NULL) {
		log_error("mattermost refused a post", "box", row->box_id, "channel_id",
		    row->channel_id, "status", LOG_I64(r.status));
		free(row->state);
		row->state = xstrdup("failed");
		row->posted_revision = mm_tree_revision(tree, n);
		mm_save(p, row, NULL);
		pace->not_before = now + MM_BOX_BACKOFF_MS;
		goto done;
	}
	free(row->state);
	row->state = xstrdup("posted");
	free(row->post_id);
	row->post_id = post_id;
	free(row->posted_text);
	row->posted_text = text;
	text = NULL;
	row->unsure_ms = 0;
	row->posted_revision = mm_tree_revision(tree, n);
	row->final_sent = plugin && mm_ended(top);
	if (mm_save(p, row, row->channel_id) == 0) {
		atomic_fetch_add(&p->created, 1);
		log_info("mattermost post created", "box", row->box_id, "post_id", row->post_id,
		    "mode", row->mode);
	}
done:
	free(text);
	mm_http_resp_free(&r);
	return MM_STEP_DONE;
later:
	free(text);
	mm_http_resp_free(&r);
	return MM_STEP_LATER;
blocked:
	free(text);
	mm_http_resp_free(&r);
	return MM_STEP_BLOCKED;
}

/* PUT the message (and our props) of a posted box. */
static enum mm_step
mm_edit(struct mm_poster *p, struct store_mm_post *row, char *text, int64_t rev, int final,
    struct mm_boxpace *pace, int64_t *at)
{
	int64_t now = util_mono_ms();
	struct json_object *body;
	struct mm_http_resp r;
	enum mm_step step = MM_STEP_DONE;
	enum mm_call c;
	char *path;

	body = json_object_new_object();
	json_object_object_add(body, "id", json_object_new_string(row->post_id));
	json_object_object_add(body, "message", json_object_new_string(text));
	json_object_object_add(body, "props", mm_props(row->box_id));
	path = xasprintf("/api/v4/posts/%s", row->post_id);
	c = mm_call(p, "PUT", path,
	    json_object_to_json_string_ext(
	        body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	    &r, at);
	json_object_put(body);
	free(path);
	if (c == MM_CALL_BLOCKED) {
		step = MM_STEP_BLOCKED;
		goto out;
	}
	/* From the answer on: the server sees requests THROTTLE_MS apart at least. */
	pace->last_send = util_mono_ms();
	if (c == MM_CALL_FAILED) {
		*at = now + 1000;
		step = MM_STEP_LATER;
		goto out;
	}
	if (r.status == 200) {
		free(row->posted_text);
		row->posted_text = xstrdup(text);
		row->posted_revision = rev;
		if (final)
			row->final_sent = 1;
		if (mm_save(p, row, NULL) == 0)
			atomic_fetch_add(&p->edited, 1);
	} else if (r.status == 403 || r.status == 404) {
		/* Deleted on the server (or no longer ours): leave it be. */
		log_warn("mattermost post gone, no longer updated", "box", row->box_id, "post_id",
		    row->post_id, "status", LOG_I64(r.status));
		free(row->state);
		row->state = xstrdup("gone");
		row->posted_revision = rev;
		mm_save(p, row, NULL);
	} else {
		log_error("mattermost refused an edit", "box", row->box_id, "post_id", row->post_id,
		    "status", LOG_I64(r.status));
		row->posted_revision = rev;
		mm_save(p, row, NULL);
		pace->not_before = now + MM_BOX_BACKOFF_MS;
	}
out:
	mm_http_resp_free(&r);
	return step;
}

/*
 * Brings one dirty box's post up to date.  flush: ignore the throttle
 * (stopping).  *at is set for LATER and BLOCKED.
 */
static enum mm_step
mm_box(struct mm_poster *p, const struct store_mm_dirty *d, struct mm_boxpace *pace, int flush,
    int64_t *at)
{
	struct store_mm_post row;
	struct store_box *tree = NULL;
	size_t n = 0;
	int64_t now = util_mono_ms(), rev;
	char *channel = NULL, *text = NULL, pending[33];
	enum mm_step step = MM_STEP_DONE;
	int rc, ended, final = 0;

	memset(&row, 0, sizeof(row));
	rc = store_mm_tree(p->st, d->box_id, &tree, &n);
	if (rc == STORE_NOTFOUND)
		return MM_STEP_DONE;
	if (rc != STORE_OK)
		goto store_fail;
	rev = mm_tree_revision(tree, n);
	ended = mm_ended(&tree[0]);
	rc = store_mm_post_get(p->st, d->box_id, &row);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		goto store_fail;

	if (rc == STORE_NOTFOUND || strcmp(row.state, "local") == 0 ||
	    strcmp(row.state, "failed") == 0) {
		if ((step = mm_channel(p, &tree[0], &channel, at)) != MM_STEP_DONE)
			goto out;
		if (channel == NULL) {
			store_mm_post_free(&row);
			row.box_id = xstrdup(d->box_id);
			row.mode = xstrdup("local");
			row.state = xstrdup("local");
			row.intent_ms = util_now_ms();
			row.posted_revision = rev;
			mm_save(p, &row, NULL);
			goto out;
		}
		if (p->plugin_mode < 0) {
			/* The mode is not known yet: the plugin check comes first. */
			*at = p->next_plugin_check > now ? p->next_plugin_check : now + 1000;
			step = MM_STEP_LATER;
			goto out;
		}
		if (!flush && pace->last_send != 0 && now - pace->last_send < p->cfg.throttle_ms) {
			*at = pace->last_send + p->cfg.throttle_ms;
			step = MM_STEP_LATER;
			goto out;
		}
		store_mm_post_free(&row);
		util_random_hex(pending, 16);
		row.box_id = xstrdup(d->box_id);
		row.channel_id = channel;
		channel = NULL;
		row.root_id = xstrdup(tree[0].root_id != NULL ? tree[0].root_id : "");
		row.mode = xstrdup(p->plugin_mode == 1 ? "plugin" : "rest");
		row.state = xstrdup("creating");
		row.pending_post_id = xstrdup(pending);
		row.post_id = xstrdup("");
		row.posted_text = xstrdup("");
		row.intent_ms = util_now_ms();
		/* The intent is durable before the request can be. */
		if (mm_save(p, &row, NULL) != 0) {
			*at = now + 1000;
			step = MM_STEP_LATER;
			goto out;
		}
	}

	if (strcmp(row.state, "creating") == 0) {
		if (!flush && pace->last_send != 0 && row.unsure_ms == 0 &&
		    now - pace->last_send < p->cfg.throttle_ms) {
			*at = pace->last_send + p->cfg.throttle_ms;
			step = MM_STEP_LATER;
			goto out;
		}
		step = mm_create(p, &row, tree, n, pace, at);
		goto out;
	}

	if (strcmp(row.state, "posted") != 0) { /* gone */
		row.posted_revision = rev;
		mm_save(p, &row, NULL);
		goto out;
	}

	/* Posted.  The box shows its post id even if a writer dropped it. */
	if (tree[0].post_id == NULL || strcmp(tree[0].post_id, row.post_id) != 0)
		mm_save(p, &row, row.channel_id);
	if (strcmp(row.mode, "plugin") == 0 && p->plugin_mode == 0) {
		log_info("plugin disabled: editing its post as text", "box", row.box_id);
		free(row.mode);
		row.mode = xstrdup("rest");
	}
	if (strcmp(row.mode, "plugin") == 0) {
		if (!ended || row.final_sent) {
			row.posted_revision = rev;
			mm_save(p, &row, NULL);
			goto out;
		}
		final = 1;
	}
	text = mm_render_box(tree, n, (size_t)p->cfg.max_message_chars);
	if (strcmp(text, row.posted_text) == 0 && (!final || row.final_sent)) {
		row.posted_revision = rev;
		mm_save(p, &row, NULL);
		goto out;
	}
	if (!flush && pace->last_send != 0 && now - pace->last_send < p->cfg.throttle_ms) {
		*at = pace->last_send + p->cfg.throttle_ms;
		step = MM_STEP_LATER;
		goto out;
	}
	step = mm_edit(p, &row, text, rev, final || ended, pace, at);
	goto out;

store_fail:
	log_error("cannot read box for mattermost", "box", d->box_id, "err", store_errmsg(p->st));
	*at = now + 1000;
	step = MM_STEP_LATER;
out:
	free(text);
	free(channel);
	store_mm_post_free(&row);
	store_box_list_free(tree, n);
	return step;
}

/*
 * One pass over the dirty boxes.  Returns the mono time of the next
 * wake-up it needs (INT64_MAX: none); *left counts boxes still dirty.
 */
static int64_t
mm_pass(struct mm_poster *p, int flush, size_t *left)
{
	struct store_mm_dirty *dirty = NULL;
	int64_t now = util_mono_ms(), next = INT64_MAX, at = 0;
	enum mm_step step;
	size_t n = 0, i;
	int blocked = 0;

	*left = 0;
	step = mm_plugin_check(p, now, &at);
	if (step == MM_STEP_BLOCKED)
		next = at;
	else if (p->cfg.plugin_enabled)
		next = p->next_plugin_check;
	if (store_mm_dirty(p->st, MM_DIRTY_BATCH, &dirty, &n) != STORE_OK) {
		log_error("cannot list boxes for mattermost", "err", store_errmsg(p->st));
		*left = 1;
		return now + 1000;
	}
	atomic_store(&p->dirty, (long long)n);
	for (i = 0; i < n; i++) {
		struct mm_boxpace *pace = mm_pace(p, dirty[i].box_id);

		if (blocked) {
			(*left)++;
			continue;
		}
		now = util_mono_ms();
		if (!flush && pace->not_before > now) {
			(*left)++;
			if (pace->not_before < next)
				next = pace->not_before;
			continue;
		}
		at = 0;
		step = mm_box(p, &dirty[i], pace, flush, &at);
		log_debug("mattermost box", "box", dirty[i].box_id, "revision",
		    LOG_I64(dirty[i].tree_revision), "step",
		    step == MM_STEP_DONE        ? "done"
		        : step == MM_STEP_LATER ? "later"
		                                : "blocked",
		    "wait_ms", LOG_I64(step == MM_STEP_DONE ? 0 : at - util_mono_ms()));
		if (step == MM_STEP_DONE)
			continue;
		(*left)++;
		if (at < next)
			next = at;
		if (step == MM_STEP_LATER)
			pace->not_before = at;
		else
			blocked = 1;
	}
	/* A full batch (more wait behind it), or boxes this pass changed. */
	if ((n == MM_DIRTY_BATCH || p->again) && !blocked && next > util_mono_ms())
		next = util_mono_ms();
	p->again = 0;
	store_mm_dirty_free(dirty, n);
	mm_pace_prune(p, util_mono_ms());
	return next;
}

static void
mm_sleep_until(struct mm_poster *p, int64_t until)
{
	struct timespec ts;
	int64_t now = util_mono_ms(), wait = until - now;

	if (wait <= 0)
		return;
	if (wait > MM_IDLE_WAKE_MS)
		wait = MM_IDLE_WAKE_MS;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += wait / 1000;
	ts.tv_nsec += (wait % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (!p->kicked && !p->stopping) {
		if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) == ETIMEDOUT)
			break;
	}
}

static void *
mm_poster_main(void *arg)
{
	struct mm_poster *p = arg;
	int64_t next, deadline;
	size_t left;

	pthread_mutex_lock(&p->mu);
	while (!p->stopping) {
		p->kicked = 0;
		pthread_mutex_unlock(&p->mu);
		next = mm_pass(p, 0, &left);
		pthread_mutex_lock(&p->mu);
		if (!p->kicked && !p->stopping)
			mm_sleep_until(p, next);
	}
	pthread_mutex_unlock(&p->mu);

	/* Stopping: what the watcher committed last (interrupted boxes) goes out. */
	deadline = util_mono_ms() + p->cfg.stop_flush_ms;
	while (util_mono_ms() < deadline) {
		next = mm_pass(p, 1, &left);
		if (left == 0 || atomic_load(&p->breaker) == MM_BRK_OPEN)
			break;
		if (next > deadline)
			break;
		while (util_mono_ms() < next)
			nanosleep(&(struct timespec){ .tv_nsec = 20000000L }, NULL);
	}
	if (left > 0)
		log_warn("mattermost posts left unsent at stop; sent at next start", "boxes",
		    LOG_I64(left));
	return NULL;
}

int
mm_poster_start(const struct mm_config *cfg, const char *db_path)
{
	struct mm_poster *p = &mm_p;
	struct mm_http_config hc = { 0 };
	pthread_condattr_t ca;
	sigset_t all, old;
	char err[512];
	int rc;

	if (atomic_load(&p->running)) {
		log_error("mattermost poster already running");
		return -1;
	}
	if (cfg->url == NULL)
		return -1;
	mm_config_copy(&p->cfg, cfg);
	p->db_path = xstrdup(db_path);
	if (store_open(db_path, &p->st, err, sizeof(err)) != STORE_OK) {
		log_error("mattermost poster cannot open the store", "err", err);
		goto fail;
	}
	hc.base_url = cfg->url;
	hc.token = cfg->token;
	hc.rate_per_s = cfg->rate_limit;
	hc.timeout_ms = cfg->timeout_ms;
	hc.connect_timeout_ms = cfg->timeout_ms < 5000 ? cfg->timeout_ms : 5000;
	p->http = mm_http_new(&hc);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	p->notify = notify_new(cfg->publish_url);
	p->plugin_mode = cfg->plugin_enabled ? -1 : 0;
	p->next_plugin_check = 0;
	p->failures = 0;
	p->kicked = 1;
	p->stopping = 0;
	atomic_store(&p->breaker, MM_BRK_CLOSED);
	atomic_store(&p->created, 0);
	atomic_store(&p->edited, 0);
	atomic_store(&p->failures_total, 0);
	/* Signals are the watcher's main loop's (signalfd): none land here. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&p->thread, NULL, mm_poster_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		log_error("cannot start the mattermost poster thread");
		pthread_cond_destroy(&p->cv);
		goto fail;
	}
	atomic_store(&p->running, 1);
	log_info("mattermost poster started", "url", cfg->url, "plugin_enabled",
	    cfg->plugin_enabled ? "true" : "false");
	return 0;
fail:
	mm_http_free(p->http);
	p->http = NULL;
	notify_free(p->notify);
	p->notify = NULL;
	store_close(p->st);
	p->st = NULL;
	free(p->db_path);
	p->db_path = NULL;
	mm_config_free(&p->cfg);
	return -1;
}

void
mm_poster_kick(void)
{
	struct mm_poster *p = &mm_p;

	if (!atomic_load(&p->running))
		return;
	pthread_mutex_lock(&p->mu);
	p->kicked = 1;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void
mm_poster_stop(void)
{
	struct mm_poster *p = &mm_p;
	size_t i;

	if (!atomic_load(&p->running))
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	atomic_store(&p->running, 0);
	pthread_cond_destroy(&p->cv);
	for (i = 0; i < p->npace; i++)
		free(p->pace[i].id);
	free(p->pace);
	p->pace = NULL;
	p->npace = 0;
	free(p->bot_user_id);
	p->bot_user_id = NULL;
	mm_http_free(p->http);
	p->http = NULL;
	notify_free(p->notify);
	p->notify = NULL;
	store_close(p->st);
	p->st = NULL;
	free(p->db_path);
	p->db_path = NULL;
	mm_config_free(&p->cfg);
	log_info("mattermost poster stopped");
}

const char *
mm_poster_breaker_state(void)
{
	struct mm_poster *p = &mm_p;

	if (!atomic_load(&p->running))
		return NULL;
	return mm_breaker_names[atomic_load(&p->breaker)];
}

void
mm_poster_stats(struct mm_poster_stats *out)
{
	struct mm_poster *p = &mm_p;
	struct mm_http_stats *hs;

	memset(out, 0, sizeof(*out));
	if (!atomic_load(&p->running))
		return;
	out->posts_created = atomic_load(&p->created);
	out->posts_edited = atomic_load(&p->edited);
	out->dirty = atomic_load(&p->dirty);
	/* The pool's counters are behind its own lock. */
	hs = xmalloc(sizeof(*hs));
	mm_http_stats(p->http, hs);
	out->requests = hs->requests;
	out->failures = atomic_load(&p->failures_total);
	out->throttled = hs->throttled;
	free(hs);
}

void
mm_poster_stats_json(struct json_object *o)
{
	struct mm_poster *p = &mm_p;
	struct json_object *codes;
	struct mm_http_stats *hs;
	char key[8];
	int i;

	if (!atomic_load(&p->running))
		return;
	hs = xmalloc(sizeof(*hs));
	mm_http_stats(p->http, hs);
	codes = json_object_new_object();
	for (i = 100; i < 600; i++) {
		if (hs->by_status[i] == 0)
			continue;
		snprintf(key, sizeof(key), "%d", i);
		json_object_object_add(codes, key, json_object_new_int64(hs->by_status[i]));
	}
	json_object_object_add(codes, "error", json_object_new_int64(hs->failures));
	json_object_object_add(o, "mm_requests", codes);
	json_object_object_add(o, "mm_rate_limited", json_object_new_int64(hs->throttled));
	json_object_object_add(
	    o, "mm_posts_created", json_object_new_int64(atomic_load(&p->created)));
	json_object_object_add(
	    o, "mm_posts_edited", json_object_new_int64(atomic_load(&p->edited)));
	json_object_object_add(o, "mm_dirty", json_object_new_int64(atomic_load(&p->dirty)));
	free(hs);
}
