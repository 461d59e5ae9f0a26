/* api_gateway: POST /api/v1/gateway/boxes and the gateways in health. */
#include "fcgi/api_gateway.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "sql/store_gateway.h"
#include "fcgi/api_box.h"
#include "fcgi/api_gwkeys.h"

#define API_GW_VERSION_MAX 128 /* bytes of the gateway's version */
#define API_GW_STORE_ID_MAX 64

enum api_gw_state {
	API_GW_PENDING,
	API_GW_STORED,
	API_GW_UNCHANGED,
	API_GW_REJECTED,
};

struct api_gw_item {
	struct store_box box; /* valid unless rejected with 400 */
	const char *id;       /* as sent, for the answer ("" when none) */
	size_t idlen;
	enum api_gw_state state;
	int code;
	char err[256];
};

struct api_gw_batch {
	const char *gateway; /* all strings point into the parsed body */
	const char *version; /* NULL when not sent */
	int64_t lag_ms;
	int64_t queue;
	struct api_gw_item *items;
	size_t n;
	int64_t stored, unchanged, rejected;
	const char *first_error; /* for the log */
};

static void api_gw_reject(struct api_gw_item *it, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
api_gw_reject(struct api_gw_item *it, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(it->err, sizeof(it->err), fmt, ap);
	va_end(ap);
	it->state = API_GW_REJECTED;
	it->code = code;
}

/*
 * Who is writing: 0 and name "" for PLUGIN_SECRET (any gateway), 0 and
 * the gateway's name for its key, -1 for anyone else.
 */
static int
api_gw_auth(struct api_ctx *ctx, const struct api_req *req, char *name, size_t namelen)
{
	const char *tok;
	size_t len = 0;

	name[0] = '\0';
	if (api_auth_writer(ctx->auth, req) == API_AUTH_OK)
		return 0;
	tok = api_auth_bearer(req->authorization, &len);
	if (tok != NULL && api_gwkeys_lookup(ctx->gwkeys, tok, len, name, namelen))
		return 0;
	return -1;
}

/* A whole number >= 0, default 0: 0, or -1 with the 400 answered. */
static int
api_gw_count(const struct api_jval *body, const char *field, int64_t *out, struct api_resp *resp)
{
	const struct api_jval *v = api_json_get(body, field);
	char msg[80];

	*out = 0;
	if (v == NULL)
		return 0;
	if (v->type != API_J_INT || v->integer < 0) {
		snprintf(msg, sizeof(msg), "%s: expected an integer >= 0", field);
		api_resp_error(resp, 400, msg);
		return -1;
	}
	*out = v->integer;
	return 0;
}

/* The batch's own fields; 0, or -1 with the error answered. */
static int
api_gw_head(const struct api_jval *body, const char *keyname, struct api_gw_batch *b,
    const struct api_jval **boxes, struct api_resp *resp)
{
	const struct api_jval *v;
	char msg[200];
	size_t i;

	if (body->type != API_J_OBJECT) {
		api_resp_error(resp, 400, "body: expected a JSON object");
		return -1;
	}
	v = api_json_get(body, "gateway");
	if (v == NULL) {
		api_resp_error(resp, 400, "gateway: required");
		return -1;
	}
	if (v->type != API_J_STRING || !api_gwkeys_valid_name(v->str)) {
		api_resp_error(resp, 400, "gateway: expected a gateway name, [A-Za-z0-9_.-]{1,64}");
		return -1;
	}
	b->gateway = v->str;
	if (keyname[0] != '\0' && strcmp(keyname, b->gateway) != 0) {
		snprintf(msg, sizeof(msg), "this key writes only for gateway %s", keyname);
		api_resp_error(resp, 403, msg);
		return -1;
	}
	if (api_gw_count(body, "lag_ms", &b->lag_ms, resp) < 0 ||
	    api_gw_count(body, "queue", &b->queue, resp) < 0)
		return -1;
	v = api_json_get(body, "version");
	if (v != NULL && v->type != API_J_NULL) {
		if (v->type != API_J_STRING || v->len > API_GW_VERSION_MAX) {
			api_resp_error(
			    resp, 400, "version: expected a string of at most 128 bytes");
			return -1;
		}
		for (i = 0; i < v->len; i++) {
			if ((unsigned char)v->str[i] < 0x20 || v->str[i] == 0x7f) {
				api_resp_error(resp, 400, "version: control character");
				return -1;
			}
		}
		b->version = v->str;
	}
	*boxes = api_json_get(body, "boxes");
	if (*boxes == NULL || (*boxes)->type != API_J_ARRAY) {
		api_resp_error(
		    resp, 400, *boxes == NULL ? "boxes: required" : "boxes: expected an array");
		return -1;
	}
	if ((*boxes)->nitems > API_GATEWAY_BOXES_MAX) {
		snprintf(
		    msg, sizeof(msg), "boxes: at most %d in one request", API_GATEWAY_BOXES_MAX);
		api_resp_error(resp, 400, msg);
		return -1;
	}
	return 0;
}

/* Checks every box of the request; the bad ones are rejected with 400. */
static void
api_gw_items(struct api_ctx *ctx, const struct api_jval *boxes, int64_t now, struct api_gw_batch *b)
{
	const struct api_jval *id;
	size_t i;

	b->n = boxes->nitems;
	b->items = xcalloc(b->n > 0 ? b->n : 1, sizeof(*b->items));
	for (i = 0; i < b->n; i++) {
		struct api_gw_item *it = &b->items[i];

		it->id = "";
		id = api_json_get(boxes->items[i], "id");
		if (id != NULL && id->type == API_J_STRING) {
			it->id = id->str;
			it->idlen = id->len;
		}
		if (boxes->items[i]->type != API_J_OBJECT) {
			api_gw_reject(it, 400, "box: expected a JSON object");
			continue;
		}
		if (api_box_from_gateway(boxes->items[i], ctx->cfg->max_lines, now, &it->box,
		        it->err, sizeof(it->err)) < 0) {
			it->state = API_GW_REJECTED;
			it->code = 400;
		}
	}
}

/* Writes one box unless the store has it from another gateway or newer. */
static int
api_gw_put(struct api_ctx *ctx, const char *gateway, struct api_gw_item *it)
{
	char *owner = NULL;
	int64_t have = 0;
	int rc;

	rc = store_gateway_box(ctx->st, it->box.id, &owner, &have);
	if (rc == STORE_OK) {
		if (owner[0] != '\0' && strcmp(owner, gateway) != 0) {
			api_gw_reject(it, 403, "box %s belongs to gateway %s", it->box.id, owner);
			goto out;
		}
		if (have >= it->box.gateway_revision) {
			it->state = API_GW_UNCHANGED;
			goto out;
		}
	} else if (rc != STORE_NOTFOUND) {
		goto out;
	}
	free(it->box.gateway);
	it->box.gateway = xstrdup(gateway);
	if ((rc = store_box_put(ctx->st, &it->box)) == STORE_OK)
		it->state = API_GW_STORED;
out:
	free(owner);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

/* STORE_OK when box id is in the store, STORE_NOTFOUND, or an error. */
static int
api_gw_exists(store *st, const char *id)
{
	char *owner = NULL;
	int64_t rev;
	int rc = store_gateway_box(st, id, &owner, &rev);

	free(owner);
	return rc;
}

/*
 * Writes the batch's boxes, parents first: each pass takes the boxes
 * whose parent is stored by now, until a pass takes none.  In a write
 * transaction.
 */
static int
api_gw_write(struct api_ctx *ctx, struct api_gw_batch *b)
{
	struct api_gw_item *it;
	size_t i, waiting;
	int rc, progress;

	do {
		progress = 0;
		waiting = 0;
		for (i = 0; i < b->n; i++) {
			it = &b->items[i];
			if (it->state != API_GW_PENDING)
				continue;
			if (it->box.parent_id != NULL) {
				rc = api_gw_exists(ctx->st, it->box.parent_id);
				if (rc == STORE_NOTFOUND) {
					waiting++;
					continue;
				}
				if (rc != STORE_OK)
					return rc;
			}
			if ((rc = api_gw_put(ctx, b->gateway, it)) != STORE_OK)
				return rc;
			progress = 1;
		}
	} while (progress && waiting > 0);
	for (i = 0; i < b->n; i++) {
		it = &b->items[i];
		if (it->state == API_GW_PENDING)
			api_gw_reject(it, 409, "parent_id: parent %s unknown: send it first",
			    it->box.parent_id);
		if (it->state == API_GW_STORED)
			b->stored++;
		else if (it->state == API_GW_UNCHANGED)
			b->unchanged++;
		else if (b->rejected++ == 0)
			b->first_error = it->err;
	}
	return STORE_OK;
}

static void
api_gw_answer(struct api_resp *resp, const char *store_id, const struct api_gw_batch *b)
{
	static const char *const states[] = { "pending", "stored", "unchanged", "rejected" };
	struct api_buf *out = &resp->body;
	size_t i;

	resp->status = 200;
	resp->body.len = 0;
	api_buf_puts(out, "{\"store_id\":");
	api_json_cstr(out, store_id);
	api_buf_puts(out, ",\"results\":[");
	for (i = 0; i < b->n; i++) {
		const struct api_gw_item *it = &b->items[i];

		api_buf_puts(out, i > 0 ? ",{\"id\":" : "{\"id\":");
		api_json_str(out, it->id, it->idlen);
		api_buf_puts(out, ",\"status\":");
		api_json_cstr(out, states[it->state]);
		if (it->state == API_GW_REJECTED) {
			api_buf_puts(out, ",\"code\":");
			api_buf_i64(out, it->code);
			api_buf_puts(out, ",\"error\":");
			api_json_cstr(out, it->err);
		}
		api_buf_puts(out, "}");
	}
	api_buf_puts(out, "]}");
}

void
api_gateway_boxes(struct api_ctx *ctx, const struct api_req *req, struct api_resp *resp)
{
	struct api_jval *body = NULL;
	const struct api_jval *boxes = NULL;
	struct api_gw_batch b;
	char keyname[API_GATEWAY_NAME_MAX + 1], sid[API_GW_STORE_ID_MAX + 1];
	int64_t now = util_now_ms();
	size_t i;
	int rc, in_tx = 0;

	memset(&b, 0, sizeof(b));
	if (api_gw_auth(ctx, req, keyname, sizeof(keyname)) < 0) {
		api_resp_error(resp, 401, API_GATEWAY_DENIED);
		goto out;
	}
	if (api_read_json(req, resp, &body) < 0 || api_gw_head(body, keyname, &b, &boxes, resp) < 0)
		goto out;
	api_gw_items(ctx, boxes, now, &b);
	if ((rc = store_begin(ctx->st)) != STORE_OK)
		goto store_failed;
	in_tx = 1;
	if ((rc = api_gw_write(ctx, &b)) != STORE_OK ||
	    (rc = store_gateway_touch(ctx->st, b.gateway, now, b.lag_ms, b.queue, b.version,
	         b.stored, b.rejected)) != STORE_OK ||
	    (rc = store_id(ctx->st, sid, sizeof(sid))) != STORE_OK ||
	    (rc = store_commit(ctx->st)) != STORE_OK)
		goto store_failed;
	in_tx = 0;
	for (i = 0; i < b.n; i++)
		if (b.items[i].state == API_GW_STORED)
			api_notify(ctx, b.items[i].box.revision, &b.items[i].box);
	if (b.rejected > 0)
		log_warn("gateway boxes rejected", "gateway", b.gateway, "rejected",
		    LOG_I64(b.rejected), "first", b.first_error);
	log_debug("gateway batch", "gateway", b.gateway, "stored", LOG_I64(b.stored), "unchanged",
	    LOG_I64(b.unchanged), "rejected", LOG_I64(b.rejected));
	api_gw_answer(resp, sid, &b);
	goto out;
store_failed:
	api_store_failed(ctx, resp, rc, "gateway boxes");
out:
	if (in_tx)
		store_rollback(ctx->st);
	for (i = 0; i < b.n; i++)
		store_box_free(&b.items[i].box);
	free(b.items);
	api_json_free(body);
}

int
api_gateway_health(store *st, int64_t now_ms, long silent_s, struct api_buf *out, int *silent)
{
	struct store_gateway *list = NULL;
	size_t n = 0, i;
	int64_t age;
	int rc, quiet;

	*silent = 0;
	if ((rc = store_gateway_list(st, &list, &n)) != STORE_OK)
		return rc;
	if (n == 0)
		goto out;
	api_buf_puts(out, ",\"gateways\":[");
	for (i = 0; i < n; i++) {
		age = now_ms - list[i].last_contact_ms;
		if (age < 0)
			age = 0;
		quiet = age > (int64_t)silent_s * 1000;
		*silent += quiet;
		api_buf_puts(out, i > 0 ? ",{\"name\":" : "{\"name\":");
		api_json_cstr(out, list[i].name);
		api_buf_puts(out, ",\"last_contact_ms\":");
		api_buf_i64(out, list[i].last_contact_ms);
		api_buf_puts(out, ",\"silent_s\":");
		api_buf_i64(out, age / 1000);
		api_buf_puts(out, ",\"lag_ms\":");
		api_buf_i64(out, list[i].lag_ms);
		api_buf_puts(out, ",\"queue\":");
		api_buf_i64(out, list[i].queue);
		api_buf_puts(out, ",\"boxes_received\":");
		api_buf_i64(out, list[i].boxes_received);
		api_buf_puts(out, ",\"rejected\":");
		api_buf_i64(out, list[i].rejected);
		api_buf_puts(out, quiet ? ",\"state\":\"silent\"}" : ",\"state\":\"ok\"}");
	}
	api_buf_puts(out, "]");
out:
	store_gateway_list_free(list, n);
	return STORE_OK;
}
