/*
 * api_gateway: the central's side of gateways on other hosts.
 *
 * A gateway is a watcher on an OpenClaw host that forwards its boxes to a
 * central livestatus-fcgi with POST /api/v1/gateway/boxes (contract:
 * docs/api.md, "Gateway forwarding"):
 *
 *   {"gateway":"gw-a","lag_ms":1200,"queue":3,"version":"0.1.0",
 *    "boxes":[{"id":..,"revision":7,"session_key":..,...},...]}
 *
 * answered 200 with one result per box, in request order:
 *
 *   {"store_id":"<the central's store id>","results":[
 *     {"id":"a","status":"stored"},{"id":"b","status":"unchanged"},
 *     {"id":"c","status":"rejected","code":409,"error":"..."}]}
 *
 * Credentials: PLUGIN_SECRET writes for any gateway name; a key of the
 * keys file (api_gwkeys.h) only for its own gateway (else 403).  Anything
 * else is a 401 with API_GATEWAY_DENIED.
 *
 * The whole batch is one write transaction.  A box is written (source
 * "watcher", its gateway and the gateway's revision) only when its
 * gateway_revision is above the stored one, so repeats and older states
 * are "unchanged"; a box another gateway made is rejected with 403, one
 * whose parent the central does not hold with 409, one that fails the
 * checks of api_box_from_gateway() with 400.  Parents go first, whatever
 * their place in the request.  Then the gateway's row (store_gateway.h)
 * records the contact, and after the commit every stored box gets its
 * change notice.  A busy store is a 503 for the whole batch, nothing
 * written.
 *
 * api_gateway_health() makes the "gateways" member of GET /api/v1/health:
 * into out, ',"gateways":[...]' when the store knows a gateway, nothing
 * when it knows none; *silent gets how many have not been heard from for
 * more than silent_s seconds.  STORE_OK or the store's error.
 */
#ifndef LS_API_GATEWAY_H
#define LS_API_GATEWAY_H

#include <stdint.h>

#include "sql/store.h"
#include "fcgi/api_ctx.h"
#include "fcgi/api_json.h"

#define API_GATEWAY_DENIED \
	"unauthorized: unknown gateway key; check the gateway's key (PLUGIN_SECRET on the " \
	"gateway) against GATEWAY_KEYS_FILE on the central"

#define API_GATEWAY_BOXES_MAX 1000 /* boxes in one request */

void api_gateway_boxes(struct api_ctx *ctx, const struct api_req *req, struct api_resp *resp);

int api_gateway_health(store *st, int64_t now_ms, long silent_s, struct api_buf *out, int *silent);

#endif
