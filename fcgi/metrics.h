/*
 * metrics: GET /api/v1/metrics, the Prometheus text exposition (0.0.4).
 *
 * One scrape covers both programs.  The responder's own figures are
 * counted here as requests are answered (metrics_count_request(), called
 * by the router for every answer, with the route's template so that box
 * ids do not become labels) or read when the scrape comes (the store's
 * box counts, store_busy_total(), the change-notice counters, the
 * process's RSS and open files).  The watcher's figures arrive through the
 * store: it writes them into the stats JSON of its heartbeat row, and
 * metrics_render() turns the figures sql/stats_names.h maps to a series
 * into that series, with the name, type and help the table gives (see also
 * docs/operations.md, Metrics); a key that is absent gives no series rather
 * than a wrong zero.
 *
 * Who may read: the writer secret as a Bearer token, or any client when
 * the peer address nginx passes (REMOTE_ADDR) is loopback.  A Mattermost
 * login does not suffice: the figures span every channel.
 *
 * The counters are process-wide and thread-safe.  metrics_render()
 * returns a newly allocated text (never NULL) and sets *len; a store that
 * cannot be read gives livestatus_store_up 0 and the series that need no
 * store.
 */
#ifndef LS_METRICS_H
#define LS_METRICS_H

#include <stddef.h>

#include "sql/store.h"

/* The content type of the answer. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Distinct (route, status) pairs kept; later pairs count as route="other". */
#define METRICS_MAX_SERIES 128

void metrics_count_request(const char *route, int status);

/*
 * The route template of a PATH_INFO for metrics_count_request():
 * "/api/v1/sessions/{id}" for any box, "other" for anything unknown, so a
 * client cannot grow the set of series.
 */
const char *metrics_route(const char *path);

/* 1 when the request may read the metrics (see above), else 0. */
int metrics_allowed(const char *remote_addr, const char *authorization, const char *secret);

/*
 * Counts one Mattermost request the responder made (token or membership
 * check, post creation): status is the HTTP status, or 0 when no answer
 * came.
 */
void metrics_count_mm(long status);

char *metrics_render(store *st, size_t *len);

#endif
