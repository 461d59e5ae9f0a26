/*
 * api_ctx: what every route module of the responder shares.
 *
 * An api_ctx belongs to one worker thread (its store handle and notifier
 * are not shared, nor is snap, released with api_snapshot_unref() when
 * the worker ends); cfg, cache, auth and gwkeys are shared and
 * thread-safe.  Next to it the three steps every route takes the same way:
 * reading a JSON body, answering a failed store call and publishing a
 * change notice.  The routes themselves are in api_handlers.c (docs/api.md)
 * and api_gateway.c (the gateways' batches); both include this, neither
 * includes the other's header for it.
 */
#ifndef LS_API_CTX_H
#define LS_API_CTX_H

#include <stdatomic.h>
#include <stdint.h>

#include "common/notify.h"
#include "sql/store.h"
#include "fcgi/api_cache.h"
#include "fcgi/api_config.h"
#include "fcgi/api_gwkeys.h"
#include "fcgi/api_http.h"
#include "fcgi/api_json.h"
#include "fcgi/auth.h"

/* How long (ms) health stays degraded ("store full") after a full disk. */
#define API_FULL_DEGRADED_MS 60000

struct api_stores;

struct api_ctx {
	const struct api_config *cfg;
	/*
	 * The store handle of the request, lent from stores by
	 * api_ctx_store_take() (NULL before); with stores NULL, the caller's
	 * own handle, always there.
	 */
	store *st;
	struct api_stores *stores;
	struct notify *notify;
	struct api_cache *cache;
	struct api_auth *auth;
	struct api_gwkeys *gwkeys; /* the gateways' keys; NULL: none */
	int64_t started_ms;        /* for uptime_s */
	/*
	 * 1 when this process moves the revision link (REVISION_DIR opened):
	 * only then may nginx keep a read, since only then do its own writes
	 * make a kept read unreachable (sql/store_revdir.h).
	 */
	int revdir_on;
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

/*
 * Lends ctx a store handle for the rest of the request (ctx->st), for
 * reading (write 0) or writing, when it has none and ctx->stores is set.
 * The request may wait for it (may_block is called first): 0, or -1 with a
 * 503 "store busy" in resp when none came back in time
 * (fcgi/api_stores.h).  api_ctx_store_give() gives it back at the
 * request's end.
 */
int api_ctx_store_take(struct api_ctx *ctx, int write, struct api_resp *resp);
void api_ctx_store_give(struct api_ctx *ctx);

/*
 * Reads and parses a JSON body with the checks docs/api.md gives, in its
 * order: 411 without Content-Length, 400 for a bogus one, 413 above
 * API_BODY_MAX, 415 for another content type, 400 for a short body,
 * invalid UTF-8 or invalid JSON.  0 with *out set (free with
 * api_json_free), or -1 with resp set and *out NULL.
 */
int api_read_json(const struct api_req *req, struct api_resp *resp, struct api_jval **out);

/*
 * Answers a failed store call: 503 when busy, 507 when the disk is full
 * (and notes the time in ctx->full_ms), else 500 (logged with op).
 */
void api_store_failed(struct api_ctx *ctx, struct api_resp *resp, int rc, const char *op);

/*
 * Publishes a change notice of box, on its channel or, for a sub-agent
 * without one, the nearest channel above it (common/notify.h).
 */
void api_notify(struct api_ctx *ctx, int64_t revision, const struct store_box *box);

#endif
