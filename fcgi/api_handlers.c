/* api_handlers: health, auth and the sessions routes; the router. */
#include "fcgi/api_handlers.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "sql/store_mm.h"
#include "sql/store_revdir.h"
#include "mm/mm_render.h"
#include "fcgi/api_box.h"
#include "fcgi/api_gateway.h"
#include "fcgi/metrics.h"

#ifndef LS_VERSION
#define LS_VERSION "0.0.0"
#endif

#define API_MSG_NOT_FOUND "session not found"

/*
 * How long nginx may keep a cacheable read (api_cacheable()).  Its entry
 * is reached only while the revision link stays where it was, so this
 * bounds nothing a reader sees; nginx's inactive= drops unused entries.
 */
#define API_CACHE_KEEP_S 60

static void
api_set_etag(struct api_resp *resp, int64_t revision)
{
	snprintf(resp->etag, sizeof(resp->etag), "\"%" PRId64 "\"", revision);
}

/* Answers with box and its children as the newest snapshot has them. */
static void
api_answer_box(struct api_ctx *ctx, struct api_resp *resp, int status, const struct store_box *box)
{
	struct api_snapshot *snap = NULL;

	resp->status = status;
	if (api_cache_get(ctx->cache, ctx->st, &ctx->snap, &snap) == STORE_OK &&
	    api_snapshot_box(snap, box->id, resp, NULL) == 0) {
		api_snapshot_unref(snap);
		return;
	}
	/* Gone again meanwhile, or the read failed: answer what was written. */
	api_snapshot_unref(snap);
	resp->body.len = 0;
	api_box_json(&resp->body, box, NULL, 0);
}

/* Appends why to the reasons in r, comma-separated. */
static void
api_reason(struct api_buf *r, const char *why)
{
	if (r->len > 0)
		api_buf_puts(r, ", ");
	api_buf_puts(r, why);
}

/*
 * The watcher's own store writes, from its heartbeat's stats (the
 * watcher's business, so read defensively): "store_write_failed_ms", the
 * time of its last failed write (0 or absent: none), and optionally
 * "store_write_error", its text.  A failure in the heartbeat interval
 * before the heartbeat that reports it is a reason for "degraded".
 */
static void
api_health_watcher_writes(const struct store_heartbeat *hb, struct api_buf *reasons)
{
	const struct api_jval *failed, *text;
	struct api_jval *stats = NULL;
	char err[64];

	if (hb->stats == NULL ||
	    api_json_parse(hb->stats, strlen(hb->stats), &stats, err, sizeof(err)) < 0)
		return;
	failed = api_json_get(stats, "store_write_failed_ms");
	if (failed != NULL && failed->type == API_J_INT && failed->integer > 0 &&
	    failed->integer >= hb->last_heartbeat_ms - hb->interval_ms) {
		api_reason(reasons, "watcher cannot write the store");
		text = api_json_get(stats, "store_write_error");
		if (text != NULL && text->type == API_J_STRING && text->str[0] != '\0') {
			api_buf_puts(reasons, ": ");
			api_buf_put(reasons, text->str, util_utf8_prefix(text->str, 100));
		}
	}
	api_json_free(stats);
}

/*
 * GET /api/v1/auth, nginx's question before a stream subscription: may
 * this reader have the notices of every channel in ?channels=<id>,<id>
 * (at most API_STREAM_CHANNELS_MAX ids of [A-Za-z0-9], or "all": every
 * notice, for readers of every channel only)?  nginx always sends the list
 * (nginx/livestatus-http.conf); without one, the answer is only whether
 * this is a reader at all.
 */
static void
api_stream_auth(struct api_ctx *ctx, const struct api_principal *who, const struct api_req *req,
    struct api_resp *resp)
{
	char list[API_STREAM_CHANNELS_MAX * (API_ID_MAX + 1) + 1], *p, *next;
	int found = api_http_query(req->query, "channels", list, sizeof(list)), n = 0;
	size_t len;

	if (found < 0) {
		api_resp_error(resp, 400, "channels: malformed or too long");
		return;
	}
	if (found == 0) {
		resp->status = 200;
		api_buf_puts(&resp->body, "{\"ok\":true}");
		return;
	}
	if (strcmp(list, "all") == 0) {
		if (!who->all_channels) {
			api_resp_error(resp, 403, "channels=all is for readers of every channel");
			return;
		}
		resp->status = 200;
		api_buf_puts(&resp->body, "{\"ok\":true}");
		return;
	}
	for (p = list; p != NULL; p = next) {
		if ((next = strchr(p, ',')) != NULL)
			*next++ = '\0';
		len = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
		if (len == 0 || len > 64 || p[len] != '\0' || ++n > API_STREAM_CHANNELS_MAX) {
			api_resp_error(resp, 400,
			    "channels: 1 to 64 channel ids ([A-Za-z0-9]) separated by commas, or "
			    "all");
			return;
		}
		if (!api_auth_may_read_channel(ctx->auth, who, p)) {
			api_resp_error(resp, 403, "not a member of every channel asked for");
			return;
		}
	}
	resp->status = 200;
	api_buf_puts(&resp->body, "{\"ok\":true}");
}

/* The "watcher" member of the health answer, opened; hb NULL: no heartbeat. */
static void
api_health_watcher_json(struct api_buf *b, int alive, const struct store_heartbeat *hb)
{
	api_buf_puts(b, alive ? "},\"watcher\":{\"alive\":true" : "},\"watcher\":{\"alive\":false");
	if (hb == NULL) {
		api_buf_puts(b, ",\"pid\":null,\"last_heartbeat_ms\":null,\"breaker\":null");
		return;
	}
	api_buf_puts(b, ",\"pid\":");
	api_buf_i64(b, hb->pid);
	api_buf_puts(b, ",\"last_heartbeat_ms\":");
	api_buf_i64(b, hb->last_heartbeat_ms);
	api_buf_puts(b, ",\"breaker\":");
	api_json_cstr(b, hb->breaker);
}

static void
api_health(struct api_ctx *ctx, struct api_resp *resp)
{
	struct store_counts counts;
	struct store_heartbeat hb;
	struct api_buf *b = &resp->body, gateways = { 0 }, reasons = { 0 };
	int64_t now = util_now_ms(), full;
	int db_ok = 1, have_hb = 0, alive = 0, silent = 0, schema, rc;

	memset(&counts, 0, sizeof(counts));
	memset(&hb, 0, sizeof(hb));
	if ((rc = store_box_counts(ctx->st, &counts)) != STORE_OK) {
		log_warn("health: cannot count boxes", "err", store_errmsg(ctx->st));
		db_ok = 0;
		memset(&counts, 0, sizeof(counts));
	}
	rc = store_heartbeat_get(ctx->st, &hb);
	if (rc == STORE_OK) {
		have_hb = 1;
		alive = now - hb.last_heartbeat_ms <= 3 * hb.interval_ms;
	} else if (rc != STORE_NOTFOUND) {
		log_warn("health: cannot read the heartbeat", "err", store_errmsg(ctx->st));
		db_ok = 0;
	}
	schema = store_schema_version(ctx->st);
	if (schema < 0)
		db_ok = 0;
	if (api_gateway_health(ctx->st, now, ctx->cfg->gateway_silent_s, &gateways, &silent) !=
	    STORE_OK) {
		log_warn("health: cannot read the gateways", "err", store_errmsg(ctx->st));
		db_ok = 0;
		gateways.len = 0;
	}
	if (!db_ok)
		api_reason(&reasons, "store unreadable");
	if (have_hb && !alive)
		api_reason(&reasons, "watcher heartbeat stale");
	if (silent > 0)
		api_reason(&reasons, "gateway silent");
	full = ctx->full_ms != NULL ? atomic_load(ctx->full_ms) : 0;
	if (full > 0 && now - full < API_FULL_DEGRADED_MS)
		api_reason(&reasons, "store full");
	if (have_hb && alive)
		api_health_watcher_writes(&hb, &reasons);
	resp->status = reasons.len == 0 ? 200 : 503;
	api_buf_puts(b, resp->status == 200 ? "{\"status\":\"ok\"" : "{\"status\":\"degraded\"");
	if (reasons.len > 0) {
		api_buf_puts(b, ",\"reason\":");
		api_json_str(b, reasons.data, reasons.len);
	}
	api_buf_puts(b, ",\"version\":");
	api_json_cstr(b, LS_VERSION);
	api_buf_puts(
	    b, db_ok ? ",\"db\":{\"ok\":true,\"path\":" : ",\"db\":{\"ok\":false,\"path\":");
	api_json_cstr(b, store_path(ctx->st));
	api_buf_puts(b, ",\"schema_version\":");
	api_buf_i64(b, schema < 0 ? 0 : schema);
	api_health_watcher_json(b, alive, have_hb ? &hb : NULL);
	api_buf_puts(b, "},\"sessions\":{\"active\":");
	api_buf_i64(b, counts.active);
	api_buf_puts(b, ",\"total\":");
	api_buf_i64(b, counts.total);
	api_buf_puts(b, "}");
	if (gateways.len > 0)
		api_buf_put(b, gateways.data, gateways.len);
	api_buf_puts(b, ",\"uptime_s\":");
	api_buf_i64(b, (now - ctx->started_ms) / 1000);
	api_buf_puts(b, "}");
	store_heartbeat_free(&hb);
	api_buf_free(&gateways);
	api_buf_free(&reasons);
}

struct api_may {
	struct api_ctx *ctx;
	const struct api_principal *who;
	uint64_t seen; /* FNV-1a of the channels that let boxes through */
	int dead;      /* Mattermost said 401 for the token: answer 401 */
};

static int
api_may_read(void *arg, const char *channel)
{
	struct api_may *m = arg;
	enum api_auth_result res;
	int ok;

	if (m->dead)
		return 0;
	res = api_auth_channel(m->ctx->auth, m->who, channel);
	if (res == API_AUTH_UNAUTHORIZED)
		m->dead = 1;
	ok = res == API_AUTH_OK;

	if (ok) {
		m->seen = util_hash_add(m->seen, channel, strlen(channel));
		m->seen = util_hash_add(m->seen, "\n", 1);
	}
	return ok;
}

/*
 * Lets nginx keep a read's 200 answer (X-Accel-Expires) when it is the same
 * for everyone who can have its cache key and names the state it shows:
 * a GET by the secret or by anyone under READ_AUTH=none (never a Mattermost
 * reader's, which depends on their channels), when this process moves the
 * revision link (ctx->revdir_on), and with the link's folder nginx
 * resolved naming the revision of the snapshot answered.  The key holds
 * that folder (unique per move), so the entry is reached only while the
 * link still points there: a write moves it before it is answered or
 * notified (sql/store_revdir.h).
 */
static void
api_cacheable(struct api_ctx *ctx, const struct api_principal *who, const struct api_req *req,
    struct api_resp *resp, int64_t revision)
{
	if (!ctx->revdir_on || !who->all_channels || resp->status != 200 ||
	    api_http_method(req->method) != API_M_GET)
		return;
	if (store_revdir_parse(req->revision_path) == revision)
		resp->cache_s = API_CACHE_KEEP_S;
}

static void
api_list(struct api_ctx *ctx, const struct api_principal *who, const struct api_req *req,
    struct api_resp *resp)
{
	struct api_may may = { ctx, who, UTIL_HASH_SEED, 0 };
	struct api_snapshot *snap = NULL;
	char status[16], channel[API_ID_MAX + 1];
	int has_status, has_channel, rc;

	has_status = api_http_query(req->query, "status", status, sizeof(status));
	if (has_status < 0 || (has_status == 1 && !api_box_valid_status(status))) {
		api_resp_error(resp, 400, "status: expected active, done, error or interrupted");
		return;
	}
	has_channel = api_http_query(req->query, "channel_id", channel, sizeof(channel));
	if (has_channel < 0 ||
	    (has_channel == 1 && channel[0] != '\0' && !util_valid_id(channel))) {
		api_resp_error(resp, 400, "channel_id: invalid id");
		return;
	}
	if ((rc = api_cache_get_ex(ctx->cache, ctx->st, &ctx->snap, &snap, ctx->may_block,
	         ctx->may_block_arg)) != STORE_OK) {
		api_store_failed(ctx, resp, rc, "list");
		return;
	}
	if (who->all_channels) {
		api_set_etag(resp, api_snapshot_revision(snap));
		if (api_http_etag_match(req->if_none_match, api_snapshot_revision(snap))) {
			resp->status = 304;
		} else {
			resp->status = 200;
			api_snapshot_list(snap, has_status == 1 ? status : NULL,
			    has_channel == 1 && channel[0] != '\0' ? channel : NULL, resp);
			api_cacheable(ctx, who, req, resp, api_snapshot_revision(snap));
		}
	} else {
		/*
		 * A Mattermost reader sees only their channels' boxes, so the list
		 * also changes when a membership does: its ETag is the revision and
		 * a hash of the channels that let boxes through ("<rev>-<hash>").
		 */
		resp->status = 200;
		api_snapshot_list_for(snap, has_status == 1 ? status : NULL,
		    has_channel == 1 && channel[0] != '\0' ? channel : NULL, api_may_read, &may,
		    resp);
		snprintf(resp->etag, sizeof(resp->etag), "\"%" PRId64 "-%016" PRIx64 "\"",
		    api_snapshot_revision(snap), may.seen);
		if (may.dead) {
			resp->etag[0] = '\0';
			api_resp_error(resp, 401, API_AUTH_READ_DENIED);
		} else if (api_http_etag_match_tag(req->if_none_match, resp->etag)) {
			resp->status = 304;
			resp->body.len = 0;
		}
	}
	api_snapshot_unref(snap);
}

static void
api_get_one(struct api_ctx *ctx, const struct api_principal *who, const struct api_req *req,
    const char *id, struct api_resp *resp)
{
	struct api_may may = { ctx, who, UTIL_HASH_SEED, 0 };
	struct api_snapshot *snap = NULL;
	int rc;

	if ((rc = api_cache_get_ex(ctx->cache, ctx->st, &ctx->snap, &snap, ctx->may_block,
	         ctx->may_block_arg)) != STORE_OK) {
		api_store_failed(ctx, resp, rc, "get");
		return;
	}
	/*
	 * A Mattermost reader: the box's channel (its own, else the one it
	 * shows under) and, at every depth, its sub-agents' (issue 13).
	 */
	rc = who->all_channels ? api_snapshot_box(snap, id, resp, NULL)
	                       : api_snapshot_box_for(snap, id, api_may_read, &may, resp);
	if (may.dead) {
		api_resp_free(resp);
		api_resp_error(resp, 401, API_AUTH_READ_DENIED);
	} else if (rc < 0) {
		api_resp_error(resp, 404, API_MSG_NOT_FOUND);
	} else if (rc > 0) {
		api_resp_free(resp);
		api_resp_error(resp, 403, "forbidden: not a member of this channel");
	} else {
		resp->status = 200;
		api_cacheable(ctx, who, req, resp, api_snapshot_revision(snap));
	}
	api_snapshot_unref(snap);
}

/*
 * A daemon's box that has ended gets its post's final text, once, when the
 * responder made that post (fcgi/mm_auth.h); waits for Mattermost a few
 * seconds at most.
 */
static void
api_mm_ended(struct api_ctx *ctx, const struct store_box *box)
{
	if (box->parent_id == NULL && box->status != NULL && strcmp(box->status, "active") != 0)
		mm_auth_box_ended(api_auth_mm(ctx->auth), ctx->st, box->id);
}

/*
 * A daemon's box in a channel gets its custom_livestatus post, as the
 * original plugin made it; the post id is stored with the box.  Failing
 * that, the box stays without a post (logged).
 */
static void
api_create_post(struct api_ctx *ctx, struct store_box *box)
{
	struct mm_auth *mm = api_auth_mm(ctx->auth);
	struct store_box now;
	char err[200], *post_id = NULL, *msg;
	int rc, changed = 0;

	if (mm == NULL || box->parent_id != NULL || box->channel_id == NULL ||
	    box->channel_id[0] == '\0' || (box->post_id != NULL && box->post_id[0] != '\0'))
		return;
	msg = mm_render_opening(box);
	rc = mm_create_livestatus_post(
	    mm, box->channel_id, box->root_id, box->id, msg, &post_id, err, sizeof(err));
	if (rc != 0) {
		free(msg);
		log_warn("cannot create the mattermost post", "id", box->id, "err", err);
		return;
	}
	if ((rc = store_begin(ctx->st)) == STORE_OK &&
	    (rc = store_mm_set_post(ctx->st, box->id, post_id, NULL, &changed)) == STORE_OK &&
	    (rc = store_mm_api_posted(
	         ctx->st, box->id, box->channel_id, box->root_id, post_id, msg)) == STORE_OK &&
	    (rc = store_commit(ctx->st)) == STORE_OK) {
		/* Answer with the box as stored now: post id and revision. */
		if (store_box_get(ctx->st, box->id, &now) == STORE_OK) {
			store_box_free(box);
			*box = now;
		}
	} else {
		store_rollback(ctx->st);
		log_warn("cannot store the mattermost post id", "err", store_errmsg(ctx->st));
	}
	free(msg);
	free(post_id);
	api_mm_ended(ctx, box); /* made ended already */
}

/*
 * Whether a new active box has room under MAX_ACTIVE_SESSIONS: STORE_OK,
 * 1 when it has not (429 answered), or a store error code.
 */
static int
api_active_room(struct api_ctx *ctx, struct api_resp *resp)
{
	struct store_counts counts;
	char msg[120];
	int rc;

	if ((rc = store_box_counts(ctx->st, &counts)) != STORE_OK)
		return rc;
	if (counts.active < ctx->cfg->max_active)
		return STORE_OK;
	snprintf(msg, sizeof(msg), "too many active sessions (limit %ld)", ctx->cfg->max_active);
	api_resp_error(resp, 429, msg);
	return 1;
}

static void
api_create(struct api_ctx *ctx, const struct api_req *req, struct api_resp *resp)
{
	struct api_jval *body = NULL;
	struct store_box box, existing, parent;
	char err[200], hex[25];
	int64_t now = util_now_ms();
	int rc, in_tx = 0;

	memset(&box, 0, sizeof(box));
	memset(&existing, 0, sizeof(existing));
	memset(&parent, 0, sizeof(parent));
	if (api_read_json(req, resp, &body) < 0)
		goto out;
	if (api_box_from_post(body, ctx->cfg->max_lines, &box, err, sizeof(err)) < 0) {
		api_resp_error(resp, 400, err);
		goto out;
	}
	if (box.id == NULL) {
		util_random_hex(hex, 12);
		box.id = xasprintf("box-%s", hex);
	}
	if (box.start_time_ms == 0)
		box.start_time_ms = now;
	box.last_update_ms = now;
	box.end_time_ms = strcmp(box.status, "active") == 0 ? STORE_NO_TIME : now;

	if ((rc = store_begin(ctx->st)) != STORE_OK) {
		api_store_failed(ctx, resp, rc, "create");
		goto out;
	}
	in_tx = 1;
	rc = store_box_get(ctx->st, box.id, &existing);
	if (rc == STORE_OK) {
		/* Idempotent create: the first one wins, nothing changes. */
		store_rollback(ctx->st);
		in_tx = 0;
		api_answer_box(ctx, resp, 200, &existing);
		goto out;
	}
	if (rc != STORE_NOTFOUND)
		goto store_failed;
	if (box.parent_id != NULL) {
		rc = store_box_get(ctx->st, box.parent_id, &parent);
		if (rc == STORE_NOTFOUND) {
			api_resp_error(resp, 400, "parent_id: no such session");
			goto out;
		}
		if (rc != STORE_OK)
			goto store_failed;
	}
	if (strcmp(box.status, "active") == 0 && (rc = api_active_room(ctx, resp)) != STORE_OK) {
		if (rc > 0)
			goto out;
		goto store_failed;
	}
	if ((rc = store_box_put(ctx->st, &box)) != STORE_OK ||
	    (rc = store_commit(ctx->st)) != STORE_OK)
		goto store_failed;
	in_tx = 0;
	api_create_post(ctx, &box);
	api_notify(ctx, box.revision, &box);
	log_debug("session created", "id", box.id);
	resp->status = 201;
	resp->body.len = 0;
	api_box_json(&resp->body, &box, NULL, 0);
	goto out;
store_failed:
	api_store_failed(ctx, resp, rc, "create");
out:
	if (in_tx)
		store_rollback(ctx->st);
	api_json_free(body);
	store_box_free(&box);
	store_box_free(&existing);
	store_box_free(&parent);
}

static void
api_update(struct api_ctx *ctx, const struct api_req *req, const char *id, struct api_resp *resp)
{
	struct api_jval *body = NULL;
	struct store_box box;
	char err[200];
	int rc, in_tx = 0;

	memset(&box, 0, sizeof(box));
	if (api_read_json(req, resp, &body) < 0)
		goto out;
	if ((rc = store_begin(ctx->st)) != STORE_OK)
		goto store_failed;
	in_tx = 1;
	rc = store_box_get(ctx->st, id, &box);
	if (rc == STORE_NOTFOUND) {
		api_resp_error(resp, 404, API_MSG_NOT_FOUND);
		goto out;
	}
	if (rc != STORE_OK)
		goto store_failed;
	if (api_box_apply_put(body, ctx->cfg->max_lines, util_now_ms(), &box, err, sizeof(err)) <
	    0) {
		api_resp_error(resp, 400, err);
		goto out;
	}
	if ((rc = store_box_put(ctx->st, &box)) != STORE_OK ||
	    (rc = store_commit(ctx->st)) != STORE_OK)
		goto store_failed;
	in_tx = 0;
	api_notify(ctx, box.revision, &box);
	api_mm_ended(ctx, &box);
	api_answer_box(ctx, resp, 200, &box);
	goto out;
store_failed:
	api_store_failed(ctx, resp, rc, "update");
out:
	if (in_tx)
		store_rollback(ctx->st);
	api_json_free(body);
	store_box_free(&box);
}

static void
api_delete(struct api_ctx *ctx, const char *id, struct api_resp *resp)
{
	struct store_box box;
	int64_t rev = 0;
	int rc, in_tx = 0;

	memset(&box, 0, sizeof(box));
	if ((rc = store_begin(ctx->st)) != STORE_OK)
		goto store_failed;
	in_tx = 1;
	rc = store_box_get(ctx->st, id, &box);
	if (rc == STORE_NOTFOUND) {
		api_resp_error(resp, 404, API_MSG_NOT_FOUND);
		goto out;
	}
	if (rc != STORE_OK || (rc = store_box_delete(ctx->st, id)) != STORE_OK ||
	    (rc = store_revision(ctx->st, &rev)) != STORE_OK ||
	    (rc = store_commit(ctx->st)) != STORE_OK)
		goto store_failed;
	in_tx = 0;
	notify_box(ctx->notify, rev, box.id, box.channel_id);
	resp->status = 204;
	goto out;
store_failed:
	api_store_failed(ctx, resp, rc, "delete");
out:
	if (in_tx)
		store_rollback(ctx->st);
	store_box_free(&box);
}

static void
api_metrics(struct api_ctx *ctx, struct api_resp *resp)
{
	size_t len;
	char *text = metrics_render(ctx->st, &len);

	resp->status = 200;
	resp->content_type = METRICS_CONTENT_TYPE;
	api_buf_put(&resp->body, text, len);
	free(text);
}

/* Tells the server that this request may now wait (api_ctx.may_block). */
static void
api_may_block(struct api_ctx *ctx)
{
	if (ctx->may_block != NULL)
		ctx->may_block(ctx->may_block_arg);
}

/* 1 when method m is one route r answers. */
static int
api_method_allowed(enum api_route r, enum api_method m)
{
	if (r == API_R_GATEWAY)
		return m == API_M_POST;
	if (m == API_M_GET || m == API_M_HEAD)
		return 1;
	if (r == API_R_SESSIONS)
		return m == API_M_POST;
	if (r == API_R_SESSION)
		return m == API_M_PUT || m == API_M_DELETE;
	return 0;
}

/* A GET or HEAD of route r: the reader's credentials, then the route. */
static void
api_read(struct api_ctx *ctx, const struct api_req *req, enum api_route r, const char *id,
    struct api_resp *resp)
{
	struct api_principal who;

	if (!api_auth_reader_is_local(ctx->auth, req))
		api_may_block(ctx);
	switch (api_auth_reader(ctx->auth, req, &who)) {
	case API_AUTH_OK:
		break;
	case API_AUTH_FORBIDDEN:
		api_resp_error(resp, 403, "forbidden");
		return;
	case API_AUTH_UNAVAILABLE:
		resp->retry_after = 1;
		api_resp_error(resp, 503, "cannot check the Mattermost login now");
		return;
	case API_AUTH_THROTTLED:
		resp->retry_after = who.retry_after_s > 0 ? who.retry_after_s : 1;
		api_resp_error(resp, 429, "too many new logins from this client, try again later");
		return;
	default:
		api_resp_error(resp, 401, API_AUTH_READ_DENIED);
		return;
	}
	if (api_ctx_store_take(ctx, 0, resp) < 0)
		return;
	switch (r) {
	case API_R_HEALTH:
		api_may_block(ctx);
		api_health(ctx, resp);
		break;
	case API_R_AUTH:
		api_stream_auth(ctx, &who, req, resp);
		break;
	case API_R_SESSIONS:
		api_list(ctx, &who, req, resp);
		break;
	default:
		api_get_one(ctx, &who, req, id, resp);
		break;
	}
}

void
api_handle(struct api_ctx *ctx, const struct api_req *req, struct api_resp *resp)
{
	char id[API_ID_MAX + 1];
	enum api_method m = api_http_method(req->method);
	enum api_route r = api_http_route(req->path, id, sizeof(id));

	if (r == API_R_NONE) {
		api_resp_error(resp, 404, "not found");
		return;
	}
	if (r == API_R_BAD_ID) {
		api_resp_error(resp, 400, "invalid session id");
		return;
	}
	if (!api_method_allowed(r, m)) {
		resp->allow = api_http_allow(r);
		api_resp_error(resp, 405, "method not allowed");
		return;
	}
	if (r == API_R_METRICS) {
		/* The secret or loopback; a Mattermost login is not enough. */
		if (!metrics_allowed(req->remote_addr, req->authorization, ctx->cfg->secret)) {
			api_resp_error(resp, 401, API_AUTH_READ_DENIED);
			return;
		}
		api_may_block(ctx);
		if (api_ctx_store_take(ctx, 0, resp) == 0)
			api_metrics(ctx, resp);
		return;
	}
	if (r == API_R_GATEWAY) {
		/* Its own credentials: PLUGIN_SECRET or a gateway's key. */
		api_may_block(ctx);
		if (api_ctx_store_take(ctx, 1, resp) == 0)
			api_gateway_boxes(ctx, req, resp);
		return;
	}
	if (m == API_M_GET || m == API_M_HEAD) {
		api_read(ctx, req, r, id, resp);
		return;
	}
	if (api_auth_writer(ctx->auth, req) != API_AUTH_OK) {
		api_resp_error(resp, 401, API_AUTH_WRITE_DENIED);
		return;
	}
	api_may_block(ctx);
	if (api_ctx_store_take(ctx, 1, resp) < 0)
		return;
	if (m == API_M_POST)
		api_create(ctx, req, resp);
	else if (m == API_M_PUT)
		api_update(ctx, req, id, resp);
	else
		api_delete(ctx, id, resp);
}
