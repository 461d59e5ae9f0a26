/* health_http: GET /health and GET /metrics of the watcher alone (see health_http.h). */
#include "watcher/health_http.h"

#include <errno.h>
#include <json-c/json.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "sql/store.h"
#include "watcher/forward.h"

#define HEALTH_REQ_MAX 8192
#define HEALTH_IO_TIMEOUT_S 2

struct health_http {
	int fd;
	int port;
	char *db;
	store *st;
	struct forward *fwd;
	pthread_t thread;
	atomic_int stop;
};

/* A growing text buffer. */
struct health_buf {
	char *p;
	size_t len, cap;
};

static void
health_printf(struct health_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
health_printf(struct health_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p != NULL ? b->p + b->len : NULL, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		b->cap = (b->len + (size_t)n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
}

/* The heartbeat row, or NULL fields when there is none. */
static int
health_heartbeat(struct health_http *h, struct store_heartbeat *hb)
{
	if (h->st == NULL) {
		char err[256];

		if (store_open(h->db, &h->st, err, sizeof(err)) != STORE_OK) {
			h->st = NULL;
			return -1;
		}
	}
	return store_heartbeat_get(h->st, hb) == STORE_OK ? 0 : -1;
}

static int
health_forward_ok(const struct forward_status *fs)
{
	return strcmp(fs->state, "ok") == 0 || strcmp(fs->state, "off") == 0 ||
	    strcmp(fs->state, "same_store") == 0;
}

/* GET /health: the body, and 200 or 503. */
static int
health_render_health(struct health_http *h, struct health_buf *b)
{
	struct store_heartbeat hb = { 0 };
	struct forward_status fs;
	json_object *o = json_object_new_object(), *w = json_object_new_object(), *fo;
	int64_t now = util_now_ms();
	int have = health_heartbeat(h, &hb) == 0, alive, ok;

	forward_status(h->fwd, &fs);
	alive = have && now - hb.last_heartbeat_ms <= 3 * hb.interval_ms;
	ok = alive && health_forward_ok(&fs);
	json_object_object_add(o, "status", json_object_new_string(ok ? "ok" : "degraded"));
	json_object_object_add(w, "alive", json_object_new_boolean(alive));
	if (have) {
		json_object_object_add(w, "pid", json_object_new_int64(hb.pid));
		json_object_object_add(w, "started_ms", json_object_new_int64(hb.started_ms));
		json_object_object_add(
		    w, "last_heartbeat_ms", json_object_new_int64(hb.last_heartbeat_ms));
	}
	json_object_object_add(o, "watcher", w);
	json_object_object_add(
	    o, "breaker", hb.breaker != NULL ? json_object_new_string(hb.breaker) : NULL);
	fo = json_object_new_object();
	json_object_object_add(fo, "state", json_object_new_string(fs.state));
	if (strcmp(fs.state, "off") != 0) {
		json_object_object_add(fo, "queue", json_object_new_int64(fs.queue));
		json_object_object_add(fo, "lag_ms", json_object_new_int64(fs.lag_ms));
		json_object_object_add(
		    fo, "acked_revision", json_object_new_int64(fs.acked_revision));
		json_object_object_add(fo, "last_ok_ms", json_object_new_int64(fs.last_ok_ms));
		json_object_object_add(fo, "last_status", json_object_new_int64(fs.last_status));
		json_object_object_add(fo, "last_error", json_object_new_string(fs.last_error));
		json_object_object_add(fo, "rejected", json_object_new_int64(fs.rejected));
	}
	json_object_object_add(o, "forward", fo);
	json_object_object_add(o, "version", json_object_new_string(LS_VERSION));
	health_printf(b, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	store_heartbeat_free(&hb);
	return ok ? 200 : 503;
}

static void
health_metric(
    struct health_buf *b, const char *name, const char *type, const char *help, long long v)
{
	health_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", name, help, name, type, name, v);
}

/* GET /metrics: Prometheus text. */
static int
health_render_metrics(struct health_http *h, struct health_buf *b)
{
	struct store_heartbeat hb = { 0 };
	struct forward_status fs;
	json_object *stats = NULL;
	int64_t now = util_now_ms();
	int have = health_heartbeat(h, &hb) == 0;

	forward_status(h->fwd, &fs);
	health_metric(b, "livestatus_watcher_up", "gauge",
	    "1 when the watcher's heartbeat is recent",
	    have && now - hb.last_heartbeat_ms <= 3 * hb.interval_ms);
	if (have && hb.stats != NULL && (stats = json_tokener_parse(hb.stats)) != NULL) {
		json_object_object_foreach(stats, key, val)
		{
			char name[128];
			size_t i;

			if (!json_object_is_type(val, json_type_int))
				continue;
			snprintf(name, sizeof(name), "livestatus_watcher_%s", key);
			for (i = 0; name[i] != '\0'; i++)
				if (!(name[i] == '_' || (name[i] >= 'a' && name[i] <= 'z') ||
				        (name[i] >= 'A' && name[i] <= 'Z') ||
				        (name[i] >= '0' && name[i] <= '9')))
					name[i] = '_';
			health_printf(b, "# TYPE %s gauge\n%s %lld\n", name, name,
			    (long long)json_object_get_int64(val));
		}
		json_object_put(stats);
	}
	if (strcmp(fs.state, "off") != 0) {
		health_metric(b, "livestatus_forward_ok", "gauge",
		    "1 while the central acknowledges what this gateway sends",
		    strcmp(fs.state, "ok") == 0);
		health_metric(b, "livestatus_forward_queue", "gauge",
		    "boxes with a change the central has not acknowledged", fs.queue);
		health_printf(b,
		    "# HELP livestatus_forward_lag_seconds age of the oldest unacknowledged "
		    "change\n"
		    "# TYPE livestatus_forward_lag_seconds gauge\nlivestatus_forward_lag_seconds "
		    "%.3f\n",
		    (double)fs.lag_ms / 1000.0);
		health_metric(b, "livestatus_forward_requests_total", "counter",
		    "requests sent to the central", fs.requests);
		health_metric(b, "livestatus_forward_failures_total", "counter",
		    "requests without a usable answer", fs.failures);
		health_metric(b, "livestatus_forward_boxes_sent_total", "counter",
		    "box states sent to the central", fs.boxes_sent);
		health_metric(b, "livestatus_forward_bytes_sent_total", "counter",
		    "request body bytes sent to the central", fs.bytes_sent);
		health_metric(b, "livestatus_forward_rejected_total", "counter",
		    "box changes the central refused (set aside)", fs.rejected);
		health_metric(b, "livestatus_forward_resends_total", "counter",
		    "times every box was sent again to a new central store", fs.resends);
	}
	store_heartbeat_free(&hb);
	return 200;
}

static void
health_send(int fd, int status, const char *ctype, const struct health_buf *body, int head)
{
	const char *reason = status == 200 ? "OK"
	    : status == 404                ? "Not Found"
	    : status == 405                ? "Method Not Allowed"
	    : status == 503                ? "Service Unavailable"
	                                   : "Bad Request";
	char hdr[256];
	int n = snprintf(hdr, sizeof(hdr),
	    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
	    status, reason, ctype, body->len);

	if (n > 0 && send(fd, hdr, (size_t)n, MSG_NOSIGNAL) < 0)
		return;
	if (!head && body->len > 0)
		(void)send(fd, body->p, body->len, MSG_NOSIGNAL);
}

/* Reads one request head and answers it. */
static void
health_serve(struct health_http *h, int fd)
{
	char req[HEALTH_REQ_MAX + 1], path[256];
	struct health_buf body = { 0 };
	struct timeval tv = { HEALTH_IO_TIMEOUT_S, 0 };
	size_t len = 0;
	ssize_t n;
	int status, head;
	const char *ctype = "application/json";

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (len < HEALTH_REQ_MAX && (n = recv(fd, req + len, HEALTH_REQ_MAX - len, 0)) > 0) {
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL || strstr(req, "\n\n") != NULL)
			break;
	}
	req[len] = '\0';
	head = strncmp(req, "HEAD ", 5) == 0;
	if (sscanf(req, "%*s %255s", path) != 1) {
		health_printf(&body, "{\"error\":\"bad request\"}\n");
		status = 400;
	} else if (strncmp(req, "GET ", 4) != 0 && !head) {
		health_printf(&body, "{\"error\":\"only GET and HEAD\"}\n");
		status = 405;
	} else {
		path[strcspn(path, "?")] = '\0';
		if (strcmp(path, "/health") == 0) {
			status = health_render_health(h, &body);
		} else if (strcmp(path, "/metrics") == 0) {
			status = health_render_metrics(h, &body);
			ctype = "text/plain; version=0.0.4";
		} else {
			health_printf(
			    &body, "{\"error\":\"not found: try /health or /metrics\"}\n");
			status = 404;
		}
	}
	health_send(fd, status, ctype, &body, head);
	free(body.p);
}

static void *
health_main(void *arg)
{
	struct health_http *h = arg;
	struct pollfd p = { .fd = h->fd, .events = POLLIN };
	int c;

	while (!atomic_load(&h->stop)) {
		if (poll(&p, 1, 250) <= 0)
			continue;
		if ((c = accept4(h->fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		health_serve(h, c);
		close(c);
	}
	return NULL;
}

struct health_http *
health_http_start(const char *bind_addr, int port, const char *db, struct forward *fwd)
{
	struct addrinfo hints = { 0 }, *ai = NULL;
	struct health_http *h;
	char service[16];
	int fd = -1, one = 1, rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	snprintf(service, sizeof(service), "%d", port);
	if ((rc = getaddrinfo(bind_addr, service, &hints, &ai)) != 0) {
		log_warn("health port off: HEALTH_BIND is not an IP address", "bind", bind_addr,
		    "err", gai_strerror(rc));
		return NULL;
	}
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 16) != 0) {
		log_warn("health port off: cannot listen (HEALTH_PORT, HEALTH_BIND)", "bind",
		    bind_addr, "port", LOG_I64(port), "err", strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return NULL;
	}
	freeaddrinfo(ai);
	h = xcalloc(1, sizeof(*h));
	h->fd = fd;
	h->port = port;
	h->db = xstrdup(db);
	h->fwd = fwd;
	if (pthread_create(&h->thread, NULL, health_main, h) != 0) {
		log_warn("health port off: cannot start its thread");
		close(fd);
		free(h->db);
		free(h);
		return NULL;
	}
	log_info("health and metrics", "url", "GET /health, GET /metrics", "bind", bind_addr,
	    "port", LOG_I64(port));
	return h;
}

int
health_http_port(const struct health_http *h)
{
	return h != NULL ? h->port : 0;
}

void
health_http_stop(struct health_http *h)
{
	if (h == NULL)
		return;
	atomic_store(&h->stop, 1);
	pthread_join(h->thread, NULL);
	close(h->fd);
	store_close(h->st);
	free(h->db);
	free(h);
}
