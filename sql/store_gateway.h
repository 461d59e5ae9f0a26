/*
 * store_gateway: the central's side of gateways on other hosts.
 *
 * A gateway is a watcher on an OpenClaw host that forwards its boxes to a
 * central livestatus-fcgi (POST /api/v1/gateway/boxes, docs/api.md).  The
 * central keeps a copy of each box in the boxes table, stamped with the
 * gateway's name (boxes.gateway) and the gateway's own revision of the box
 * (boxes.gateway_revision), and one row per gateway in the gateways table
 * for health and metrics.  The boxes themselves are written with
 * store_box_put(); what is here are the reads and writes only forwarding
 * needs.
 *
 * store_gateway_box() reads what decides a forwarded write: whose box an
 * id is and which of the gateway's revisions it holds (STORE_NOTFOUND when
 * there is no such box).  *gateway is allocated ("" for a box no gateway
 * made); free it.
 *
 * store_gateway_touch() records one batch of a gateway, in the caller's
 * write transaction: the row is made on first contact (first_seen_ms),
 * then last_contact_ms, lag_ms, queue and version (NULL keeps the stored
 * one) are replaced and the stored and rejected counts added to
 * boxes_received and rejected.
 *
 * store_gateway_list() gives every gateway row, by name; free the list
 * with store_gateway_list_free().
 *
 * Conventions of store.h: STORE_OK or a negative code, store_errmsg() for
 * the log, strings owned by the structs.
 */
#ifndef LS_STORE_GATEWAY_H
#define LS_STORE_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "sql/store.h"

struct store_gateway {
	char *name;
	int64_t first_seen_ms;
	int64_t last_contact_ms;
	int64_t lag_ms; /* the age of the gateway's oldest unacknowledged change */
	int64_t queue;  /* boxes waiting on the gateway */
	int64_t boxes_received;
	int64_t rejected;
	char *version;
};

int store_gateway_box(store *st, const char *id, char **gateway, int64_t *gateway_revision);

int store_gateway_touch(store *st, const char *name, int64_t now_ms, int64_t lag_ms, int64_t queue,
    const char *version, int64_t stored, int64_t rejected);

int store_gateway_list(store *st, struct store_gateway **out, size_t *n);
void store_gateway_list_free(struct store_gateway *list, size_t n);

#endif
