/*
 * health_http: the watcher's own health and metrics over HTTP, for hosts
 * where no responder runs (a gateway that forwards to a central API).
 *
 *   GET /health    JSON: status ok|degraded, the watcher's heartbeat, the
 *                  Mattermost breaker, and forwarding (state, queue, lag =
 *                  age of the oldest unacknowledged change, last error).
 *                  200 when ok; 503 when the heartbeat is late or
 *                  forwarding fails (auth_failed, retrying, loop).
 *   GET /metrics   Prometheus text: the heartbeat's counters as
 *                  livestatus_watcher_<name>, forwarding as
 *                  livestatus_forward_*.
 * Anything else gets 404, a method other than GET/HEAD 405; every answer
 * closes the connection.
 *
 * One thread, its own store handle (it reads the heartbeat row the main
 * loop writes every HEARTBEAT_S) and forward_status() for the rest, so it
 * never touches the main loop's state.  HEALTH_PORT (9090; 0: off) on
 * HEALTH_BIND (127.0.0.1): a port already in use is logged and the
 * watcher runs on without it.
 */
#ifndef LS_WATCHER_HEALTH_HTTP_H
#define LS_WATCHER_HEALTH_HTTP_H

#include <stddef.h>

struct forward;
struct health_http;

/* NULL when it cannot listen (logged); the watcher goes on without it. */
struct health_http *
health_http_start(const char *bind_addr, int port, const char *db, struct forward *fwd);

/* The port it listens on (for port 0 in tests: never, 0 is "off"). */
int health_http_port(const struct health_http *h);

/* Stops the thread and frees h.  NULL is fine. */
void health_http_stop(struct health_http *h);

#endif
