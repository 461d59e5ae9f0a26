/* mm_poster: the handle that turns stored boxes into Mattermost posts. */
#include "mm/mm_poster.h"

#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "sql/stats_names.h"
#include "sql/store_revdir.h"
#include "mm/mm_poster_box.h"

/* Boxes looked at per pass; the rest wait for the next one. */
#define MM_DIRTY_BATCH 256
/* Longest sleep without a kick: timers are re-derived after it. */
#define MM_IDLE_WAKE_MS 60000
/* Per-box memory is dropped after this long without a send. */
#define MM_BOX_FORGET_MS 600000

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

/* A request the breaker counts against Mattermost. */
static void
mm_failed(struct mm_poster *p)
{
	atomic_fetch_add(&p->failures_total, 1);
	mm_breaker_result(p, 0);
	p->call = MM_CALL_FAILED;
}

/*
 * The gate's request(): the breaker, a 429's hold and the budget, then
 * the transport; p->call (and p->call_at) say what it came to.
 */
static int
mm_gate_request(void *ctx, const char *method, const char *path, const char *body,
    const char *bearer, long timeout_ms, struct mm_http_resp *resp)
{
	struct mm_poster *p = ctx;
	int64_t now = util_mono_ms(), wait;
	int rc;

	memset(resp, 0, sizeof(*resp));
	p->call = MM_CALL_BLOCKED;
	if ((wait = mm_breaker_wait(p, now)) > 0 || (wait = p->hold_until - now) > 0 ||
	    (wait = p->client.wait_ms(p->client.ctx)) > 0) {
		resp->body = xstrdup("");
		resp->outcome = MM_HTTP_WAIT;
		p->call_at = now + wait;
		return -1;
	}
	rc = p->client.request(p->client.ctx, method, path, body, bearer, timeout_ms, resp);
	if (rc != 0 && resp->outcome == MM_HTTP_WAIT) {
		p->call_at = now + p->client.wait_ms(p->client.ctx) + 1;
	} else if (rc != 0) {
		log_warn(
		    "mattermost request failed", "method", method, "path", path, "err", resp->err);
		mm_failed(p);
	} else if (resp->status == 429) {
		log_warn("mattermost rate limit", "method", method, "path", path, "retry_after_ms",
		    LOG_I64(resp->retry_after_ms));
		p->hold_until = util_mono_ms() + resp->retry_after_ms;
		p->call_at = p->hold_until;
	} else if (resp->status >= 500 || resp->status == 401) {
		log_warn("mattermost request refused", "method", method, "path", path, "status",
		    LOG_I64(resp->status));
		mm_failed(p);
	} else {
		mm_breaker_result(p, 1);
		p->call = MM_CALL_ANSWERED;
	}
	return rc;
}

static int64_t
mm_gate_wait(void *ctx)
{
	struct mm_poster *p = ctx;
	int64_t now = util_mono_ms(), wait = p->client.wait_ms(p->client.ctx);

	if (p->hold_until - now > wait)
		wait = p->hold_until - now;
	return wait;
}

enum mm_call
mm_poster_called(struct mm_poster *p, int64_t *at)
{
	if (p->call == MM_CALL_BLOCKED)
		*at = p->call_at;
	return p->call;
}

enum mm_call
mm_poster_call(struct mm_poster *p, const char *method, const char *path, const char *body,
    struct mm_http_resp *resp, int64_t *at)
{
	p->gate.request(p->gate.ctx, method, path, body, NULL, 0, resp);
	return mm_poster_called(p, at);
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

/* 1 when the answer to GET /api/v4/plugins/webapp lists our plugin. */
static int
mm_plugin_listed(const struct mm_http_resp *r)
{
	struct json_object *list = NULL, *item, *id;
	int found = 0;
	size_t i;

	if (r->status == 200 && (list = json_tokener_parse(r->body)) != NULL &&
	    json_object_is_type(list, json_type_array)) {
		for (i = 0; i < json_object_array_length(list); i++) {
			item = json_object_array_get_idx(list, i);
			if (json_object_object_get_ex(item, "id", &id) &&
			    strcmp(json_object_get_string(id), MM_PLUGIN_ID) == 0)
				found = 1;
		}
	}
	json_object_put(list);
	return found;
}

/* 0 done (or nothing to do), or MM_STEP_BLOCKED with *at. */
static enum mm_step
mm_plugin_check(struct mm_poster *p, int64_t now, int64_t *at)
{
	struct mm_http_resp r;
	enum mm_call c;
	int mode;

	if (!p->cfg.plugin_enabled) {
		p->plugin_mode = 0;
		return MM_STEP_DONE;
	}
	if (now < p->next_plugin_check)
		return MM_STEP_DONE;
	c = mm_poster_call(p, "GET", "/api/v4/plugins/webapp", NULL, &r, at);
	if (c != MM_CALL_ANSWERED) {
		/* Failed: asked again soon; posts wait while the mode is unknown. */
		mm_http_resp_free(&r);
		if (c == MM_CALL_BLOCKED)
			return MM_STEP_BLOCKED;
		p->next_plugin_check = now + 1000;
		return MM_STEP_DONE;
	}
	p->next_plugin_check = now + p->cfg.plugin_check_ms;
	mode = mm_plugin_listed(&r);
	mm_http_resp_free(&r);
	if (mode != p->plugin_mode)
		log_info("mattermost mode", "mode", mode ? "plugin" : "rest");
	if (mode == 0 && p->plugin_mode == 1)
		mm_plugin_gone(p);
	p->plugin_mode = mode;
	return MM_STEP_DONE;
}

/* ---- passes ------------------------------------------------------------ */

/* One box of a pass; 1 when the pass is blocked from here on. */
static int
mm_pass_box(
    struct mm_poster *p, const struct store_mm_dirty *d, int flush, int64_t *next, size_t *left)
{
	struct mm_boxpace *pace = mm_pace(p, d->box_id);
	int64_t now = util_mono_ms(), at = 0;
	enum mm_step step;

	if (!flush && pace->not_before > now) {
		(*left)++;
		if (pace->not_before < *next)
			*next = pace->not_before;
		return 0;
	}
	step = mm_poster_box(p, d, pace, flush, &at);
	log_debug("mattermost box", "box", d->box_id, "revision", LOG_I64(d->tree_revision), "step",
	    step == MM_STEP_DONE        ? "done"
	        : step == MM_STEP_LATER ? "later"
	                                : "blocked",
	    "wait_ms", LOG_I64(step == MM_STEP_DONE ? 0 : at - util_mono_ms()));
	if (step == MM_STEP_DONE)
		return 0;
	(*left)++;
	if (at < *next)
		*next = at;
	if (step == MM_STEP_LATER) {
		pace->not_before = at;
		return 0;
	}
	return 1;
}

int64_t
mm_poster_pass(struct mm_poster *p, int flush, size_t *left)
{
	struct store_mm_dirty *dirty = NULL;
	int64_t now = util_mono_ms(), next = INT64_MAX, at = 0;
	size_t n = 0, i;
	int blocked = 0;

	*left = 0;
	if (mm_plugin_check(p, now, &at) == MM_STEP_BLOCKED)
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
		if (blocked)
			(*left)++;
		else
			blocked = mm_pass_box(p, &dirty[i], flush, &next, left);
	}
	/* A full batch (more wait behind it), or boxes this pass changed. */
	if ((n == MM_DIRTY_BATCH || p->again) && !blocked && next > util_mono_ms())
		next = util_mono_ms();
	p->again = 0;
	store_mm_dirty_free(dirty, n);
	mm_pace_prune(p, util_mono_ms());
	return next;
}

/* ---- the thread --------------------------------------------------------- */

static void
mm_sleep_until(struct mm_poster *p, int64_t until)
{
	struct timespec ts;
	int64_t now = util_mono_ms(), wait = until - now;

	if (wait <= 0)
		return;
	if (wait > MM_IDLE_WAKE_MS)
		wait = MM_IDLE_WAKE_MS;
	util_deadline(&ts, CLOCK_MONOTONIC, wait);
	while (!p->kicked && !p->stopping) {
		if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) == ETIMEDOUT)
			break;
	}
}

/* Stopping: what the watcher committed last (interrupted boxes) goes out. */
static void
mm_flush(struct mm_poster *p)
{
	int64_t next, deadline = util_mono_ms() + p->cfg.stop_flush_ms;
	size_t left = 0;

	while (util_mono_ms() < deadline) {
		next = mm_poster_pass(p, 1, &left);
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
}

static void *
mm_poster_main(void *arg)
{
	struct mm_poster *p = arg;
	int64_t next;
	size_t left;

	pthread_mutex_lock(&p->mu);
	while (!p->stopping) {
		p->kicked = 0;
		pthread_mutex_unlock(&p->mu);
		next = mm_poster_pass(p, 0, &left);
		pthread_mutex_lock(&p->mu);
		if (!p->kicked && !p->stopping)
			mm_sleep_until(p, next);
	}
	pthread_mutex_unlock(&p->mu);
	mm_flush(p);
	return NULL;
}

/* ---- the handle --------------------------------------------------------- */

static char *
mm_dup(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* The libcurl pool of cfg, as the poster's transport. */
static void
mm_poster_pool(struct mm_poster *p)
{
	struct mm_http_config hc = { 0 };

	hc.base_url = p->cfg.url;
	hc.token = p->cfg.token;
	hc.rate_per_s = p->cfg.rate_limit;
	hc.timeout_ms = p->cfg.timeout_ms;
	hc.connect_timeout_ms = p->cfg.timeout_ms < 5000 ? p->cfg.timeout_ms : 5000;
	p->http = mm_http_new(&hc);
	p->client = mm_http_client(p->http);
}

struct mm_poster *
mm_poster_new(const struct mm_config *cfg, const char *db_path, const struct mm_client *client)
{
	struct mm_poster *p = xcalloc(1, sizeof(*p));
	pthread_condattr_t ca;
	char err[512];

	p->cfg = *cfg;
	p->cfg.url = p->url = mm_dup(cfg->url);
	p->cfg.token = p->token = mm_dup(cfg->token);
	p->cfg.default_channel = p->default_channel = mm_dup(cfg->default_channel);
	p->cfg.publish_url = p->publish_url = mm_dup(cfg->publish_url);
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (store_open(db_path, &p->st, err, sizeof(err)) != STORE_OK) {
		log_error("mattermost poster cannot open the store", "err", err);
		mm_poster_free(p);
		return NULL;
	}
	if (client != NULL)
		p->client = *client;
	else
		mm_poster_pool(p);
	p->gate = (struct mm_client){ .request = mm_gate_request,
		.wait_ms = mm_gate_wait,
		.stats = p->client.stats,
		.ctx = p };
	p->notify = notify_new(p->cfg.publish_url);
	p->plugin_mode = p->cfg.plugin_enabled ? -1 : 0;
	p->kicked = 1;
	atomic_store(&p->breaker, MM_BRK_CLOSED);
	return p;
}

void
mm_poster_set_revdir(struct mm_poster *p, struct store_revdir *r)
{
	store_revdir_attach(r, p->st);
}

int
mm_poster_run(struct mm_poster *p)
{
	sigset_t all, old;
	int rc;

	if (p->running) {
		log_error("mattermost poster already running");
		return -1;
	}
	/* Signals are the watcher's main loop's (signalfd): none land here. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&p->thread, NULL, mm_poster_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		log_error("cannot start the mattermost poster thread");
		return -1;
	}
	p->running = 1;
	log_info("mattermost poster started", "url", p->cfg.url, "plugin_enabled",
	    p->cfg.plugin_enabled ? "true" : "false");
	return 0;
}

void
mm_poster_wake(struct mm_poster *p)
{
	pthread_mutex_lock(&p->mu);
	p->kicked = 1;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void
mm_poster_free(struct mm_poster *p)
{
	size_t i;

	if (p == NULL)
		return;
	if (p->running) {
		pthread_mutex_lock(&p->mu);
		p->stopping = 1;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->thread, NULL);
		log_info("mattermost poster stopped");
	}
	for (i = 0; i < p->npace; i++)
		free(p->pace[i].id);
	free(p->pace);
	free(p->bot_user_id);
	mm_http_free(p->http);
	notify_free(p->notify);
	store_close(p->st);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->url);
	free(p->token);
	free(p->default_channel);
	free(p->publish_url);
	free(p);
}

/* ---- figures ------------------------------------------------------------ */

const char *
mm_poster_breaker(struct mm_poster *p)
{
	return mm_breaker_names[atomic_load(&p->breaker)];
}

/* The transport's counters (behind its own lock), zeros without any. */
static struct mm_http_stats *
mm_client_stats(struct mm_poster *p)
{
	struct mm_http_stats *hs = xcalloc(1, sizeof(*hs));

	if (p->client.stats != NULL)
		p->client.stats(p->client.ctx, hs);
	return hs;
}

void
mm_poster_counts(struct mm_poster *p, struct mm_poster_stats *out)
{
	struct mm_http_stats *hs = mm_client_stats(p);

	memset(out, 0, sizeof(*out));
	out->posts_created = atomic_load(&p->created);
	out->posts_edited = atomic_load(&p->edited);
	out->dirty = atomic_load(&p->dirty);
	out->requests = hs->requests;
	out->failures = atomic_load(&p->failures_total);
	out->throttled = hs->throttled;
	free(hs);
}

void
mm_poster_counts_json(struct mm_poster *p, struct json_object *o)
{
	struct mm_http_stats *hs = mm_client_stats(p);
	struct json_object *codes = json_object_new_object();
	char key[8];
	int i;

	for (i = 100; i < 600; i++) {
		if (hs->by_status[i] == 0)
			continue;
		snprintf(key, sizeof(key), "%d", i);
		json_object_object_add(codes, key, json_object_new_int64(hs->by_status[i]));
	}
	json_object_object_add(codes, "error", json_object_new_int64(hs->failures));
	/* the keys of the watcher's stats contract (sql/stats_names.h) */
	json_object_object_add(o, stats_key(STATS_MM_REQUESTS), codes);
	json_object_object_add(
	    o, stats_key(STATS_MM_RATE_LIMITED), json_object_new_int64(hs->throttled));
	json_object_object_add(
	    o, stats_key(STATS_MM_POSTS_CREATED), json_object_new_int64(atomic_load(&p->created)));
	json_object_object_add(
	    o, stats_key(STATS_MM_POSTS_EDITED), json_object_new_int64(atomic_load(&p->edited)));
	json_object_object_add(
	    o, stats_key(STATS_MM_DIRTY), json_object_new_int64(atomic_load(&p->dirty)));
	free(hs);
}
