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
 * The context of a request is an api_ctx (api_ctx.h).  After each
 * committed change the handler publishes a change notice through
 * ctx->notify.  Nothing here knows about FastCGI.
 */
#ifndef LS_API_HANDLERS_H
#define LS_API_HANDLERS_H

#include "fcgi/api_ctx.h"
#include "fcgi/api_http.h"

void api_handle(struct api_ctx *ctx, const struct api_req *req, struct api_resp *resp);

/* Most channels one stream subscription may name (?channels=). */
#define API_STREAM_CHANNELS_MAX 64

#endif
