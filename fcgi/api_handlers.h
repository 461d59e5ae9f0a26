/*
 * api_handlers: the routes of docs/api.md.
 *
 * api_handle() answers one request into resp: routing on PATH_INFO,
 * method check (405 with Allow), authentication (auth.h), then the route.
 * The order of checks is fixed so that clients see the same error for the
 * same mistake: route (404, 400 for a bad id), method (405), credentials
 * (401/403), body framing (411, 400 bogus length, 413, 415), body content
 * (400), store state (404, 429), store health (503 busy, 507 full, 500
 * other).
 *
 * An api_ctx belongs to one worker thread (its store handle and notifier
 * are not shared, nor is snap, released with api_snapshot_unref() when
 * the worker ends); cfg, cache, auth and gwkeys are shared and
 * thread-safe.  After each committed change the handler publishes a change
 * notice through ctx->notify.  Nothing here knows about FastCGI.
 */
#ifndef LS_API_HANDLERS_H
#define LS_API_HANDLERS_H

#include <stdatomic.h>
#include <stdint.h>

#include "common/notify.h"
#include "sql/store.h"
#include "fcgi/api_cache.h"
#include "fcgi/api_config.h"
#include "fcgi/api_gwkeys.h"
#include "fcgi/api_http.h"
#include "fcgi/auth.h"

struct api_ctx {
	const struct api_config *cfg;
	store *st;
	struct notify *notify;
	struct api_cache *cache;
	struct api_auth *auth;
	struct api_gwkeys *gwkeys; /* the gateways' keys; NULL: none */
	int64_t started_ms;        /* for uptime_s */
	/*
	 * Shared by the workers, may be NULL: when (util_now_ms) a write last
	 * failed for lack of space (STORE_FULL), 0 never.  Health is degraded
	 * ("store full") for API_FULL_DEGRADED_MS after it.
	 */
	_Atomic int64_t *full_ms;
	struct api_snapshot *snap; /* this worker's last snapshot (api_cache_get) */
	/*
	 * May be NULL.  Called before the request does anything that can
	 * wait (read a body, write or rebuild from the store, ask Mattermost,
	 * health, metrics); a cached read never calls it.  The server lets
	 * another thread take over accepting connections (api_server.h).
	 */
	void (*may_block)(void *arg);
	void *may_block_arg;
};

void api_handle(struct api_ctx *ctx, const struct api_req *req, struct api_resp *resp);

/*
 * For the other route modules (api_gateway.c).  api_read_json() reads
 * and parses a JSON body with the checks and answers above (411, 400,
 * 413, 415); 0, or -1 with resp set.  api_store_failed() answers a failed
 * store call: 503 when busy, 507 when the disk is full (and notes the time
 * in full_ms), else 500 (logged with op).
 */
#define API_FULL_DEGRADED_MS 60000

/* Most channels one stream subscription may name (?channels=). */
#define API_STREAM_CHANNELS_MAX 64
int api_read_json(const struct api_req *req, struct api_resp *resp, struct api_jval **out);
void api_store_failed(struct api_ctx *ctx, struct api_resp *resp, int rc, const char *op);

/*
 * Publishes a change notice of box, on its channel or, for a sub-agent
 * without one, the nearest channel above it (common/notify.h).
 */
void api_notify(struct api_ctx *ctx, int64_t revision, const struct store_box *box);

#endif
