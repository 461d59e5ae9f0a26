/* api_ctx.c: the steps every route takes the same way (api_ctx.h). */
#include "fcgi/api_ctx.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "fcgi/api_stores.h"

#define API_MSG_BUSY "store busy, try again"
#define API_MSG_FULL "store full: the disk holding the database has no room left"
#define API_MSG_INTERNAL "internal error"

int
api_ctx_store_take(struct api_ctx *ctx, int write, struct api_resp *resp)
{
	if (ctx->stores == NULL || ctx->st != NULL)
		return 0;
	ctx->st = api_stores_take(ctx->stores, write ? API_STORES_WRITE : API_STORES_READ,
	    ctx->may_block, ctx->may_block_arg);
	if (ctx->st != NULL)
		return 0;
	api_store_failed(ctx, resp, STORE_BUSY, "take a store handle");
	return -1;
}

void
api_ctx_store_give(struct api_ctx *ctx)
{
	if (ctx->stores != NULL && ctx->st != NULL) {
		api_stores_give(ctx->stores, ctx->st);
		ctx->st = NULL;
	}
}

void
api_store_failed(struct api_ctx *ctx, struct api_resp *resp, int rc, const char *op)
{
	if (rc == STORE_BUSY) {
		log_warn("store busy", "op", op);
		api_resp_error(resp, 503, API_MSG_BUSY);
		return;
	}
	if (rc == STORE_FULL) {
		/* Nothing was written; health says so for the next minute. */
		if (ctx->full_ms != NULL)
			atomic_store(ctx->full_ms, util_now_ms());
		log_error("store full", "op", op, "err", store_errmsg(ctx->st));
		api_resp_error(resp, 507, API_MSG_FULL);
		return;
	}
	log_error("store failure", "op", op, "err", store_errmsg(ctx->st));
	api_resp_error(resp, 500, API_MSG_INTERNAL);
}

int
api_read_json(const struct api_req *req, struct api_resp *resp, struct api_jval **out)
{
	char *buf = NULL, err[160], msg[200];
	size_t len = 0, got = 0;
	long n;
	int rc = -1;

	*out = NULL;
	switch (api_http_content_length(req->content_length, &len)) {
	case 1:
		api_resp_error(resp, 411, "length required: send Content-Length");
		goto out;
	case -1:
		api_resp_error(resp, 400, "invalid Content-Length");
		goto out;
	}
	if (len > API_BODY_MAX) {
		api_resp_error(resp, 413, "request body too large (limit 1 MiB)");
		goto out;
	}
	if (!api_http_is_json(req->content_type)) {
		api_resp_error(resp, 415, "content type must be application/json");
		goto out;
	}
	buf = xmalloc(len + 1);
	while (got < len) {
		n = req->read_body != NULL ? req->read_body(req->read_arg, buf + got, len - got)
		                           : 0;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got < len) {
		api_resp_error(resp, 400, "request body shorter than Content-Length");
		goto out;
	}
	if (!util_utf8_valid(buf, len)) {
		api_resp_error(resp, 400, "request body is not valid UTF-8");
		goto out;
	}
	if (api_json_parse(buf, len, out, err, sizeof(err)) < 0) {
		snprintf(msg, sizeof(msg), "invalid JSON: %s", err);
		api_resp_error(resp, 400, msg);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

void
api_notify(struct api_ctx *ctx, int64_t revision, const struct store_box *box)
{
	const char *chan = box->channel_id;
	char route[API_ID_MAX + 1];

	if ((chan == NULL || *chan == '\0') && box->parent_id != NULL &&
	    store_box_route_channel(ctx->st, box->id, route, sizeof(route)) == STORE_OK)
		chan = route;
	notify_box(ctx->notify, revision, box->id, chan);
}
