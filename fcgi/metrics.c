/* metrics: counters of the responder and the Prometheus text of a scrape. */
#include "fcgi/metrics.h"

#include <dirent.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/notify.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "sql/stats_names.h"
#include "sql/store_gateway.h"
#include "sql/store_revdir.h"

#define METRICS_ROUTE_MAX 64
#define METRICS_MM_CODES 600

/*
 * A series' route and status never change once it is published (by the
 * release store of metrics_nseries, under metrics_lock); its count is
 * atomic.  Counting an existing series takes no lock.
 */
struct metrics_series {
	char route[METRICS_ROUTE_MAX];
	int status;
	atomic_llong count;
};

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_series metrics_series[METRICS_MAX_SERIES];
static atomic_size_t metrics_nseries;
static atomic_llong metrics_mm[METRICS_MM_CODES];

/* A growing text buffer; allocation cannot fail (xmalloc). */
struct mbuf {
	char *p;
	size_t len, cap;
};

static void mb_printf(struct mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
mb_printf(struct mbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		b->cap = (b->len + (size_t)n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
	}
	b->len += (size_t)n;
}

/* Appends s as a label value: backslash, quote and newline escaped. */
static void
mb_label(struct mbuf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			mb_printf(b, "\\\\");
		else if (*s == '"')
			mb_printf(b, "\\\"");
		else if (*s == '\n')
			mb_printf(b, "\\n");
		else
			mb_printf(b, "%c", *s);
	}
}

static void
mb_head(struct mbuf *b, const char *name, const char *type, const char *help)
{
	mb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The head of a series the watcher's figures feed (sql/stats_names.h). */
static void
mb_metric_head(struct mbuf *b, enum stats_metric m)
{
	mb_head(b, stats_metrics[m].name, stats_type_name(stats_metrics[m].type),
	    stats_metrics[m].help);
}

/* The name of such a series. */
#define METRICS_NAME(id) (stats_metrics[STATS_M_##id].name)
/* The member of the watcher's stats that holds figure id. */
#define METRICS_KEY(id) (stats_key(STATS_##id))

/* The published series of (route, status), or NULL. */
static struct metrics_series *
metrics_find(const char *route, int status, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (metrics_series[i].status == status &&
		    strcmp(metrics_series[i].route, route) == 0)
			return &metrics_series[i];
	return NULL;
}

void
metrics_count_request(const char *route, int status)
{
	struct metrics_series *m;
	size_t n;

	if (route == NULL || strlen(route) >= METRICS_ROUTE_MAX)
		route = "other";
	m = metrics_find(
	    route, status, atomic_load_explicit(&metrics_nseries, memory_order_acquire));
	if (m == NULL) {
		pthread_mutex_lock(&metrics_lock);
		n = atomic_load_explicit(&metrics_nseries, memory_order_relaxed);
		if ((m = metrics_find(route, status, n)) == NULL) {
			if (n == METRICS_MAX_SERIES) {
				/* Full: the rest share one series per status under "other". */
				if ((m = metrics_find("other", status, n)) == NULL)
					m = &metrics_series[n - 1];
			} else {
				m = &metrics_series[n];
				snprintf(m->route, METRICS_ROUTE_MAX, "%s", route);
				m->status = status;
				atomic_store_explicit(&m->count, 0, memory_order_relaxed);
				atomic_store_explicit(
				    &metrics_nseries, n + 1, memory_order_release);
			}
		}
		pthread_mutex_unlock(&metrics_lock);
	}
	atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
}

const char *
metrics_route(const char *path)
{
	static const char *const exact[] = { "/api/v1/health", "/api/v1/auth", "/api/v1/sessions",
		"/api/v1/metrics", "/api/v1/stream", "/api/v1/gateway/boxes", NULL };
	size_t i;

	if (path == NULL)
		return "other";
	for (i = 0; exact[i] != NULL; i++)
		if (strcmp(path, exact[i]) == 0)
			return exact[i];
	if (strncmp(path, "/api/v1/sessions/", 17) == 0)
		return "/api/v1/sessions/{id}";
	return "other";
}

void
metrics_count_mm(long status)
{
	if (status < 0 || status >= METRICS_MM_CODES)
		status = 0;
	atomic_fetch_add(&metrics_mm[status], 1);
}

static int
metrics_loopback(const char *addr)
{
	if (addr == NULL)
		return 0;
	return strcmp(addr, "::1") == 0 || strncmp(addr, "127.", 4) == 0 ||
	    strncmp(addr, "::ffff:127.", 11) == 0;
}

int
metrics_allowed(const char *remote_addr, const char *authorization, const char *secret)
{
	const char *tok;

	if (metrics_loopback(remote_addr))
		return 1;
	if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
		return 0;
	tok = authorization + 7;
	while (*tok == ' ')
		tok++;
	return secret != NULL && *secret != '\0' && util_secret_equal(secret, tok, strlen(tok));
}

/* VmRSS of /proc/<pid>/status in bytes, or -1. */
static int64_t
metrics_rss(const char *pid)
{
	char path[64], line[256];
	int64_t kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %" SCNd64 " kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

/* Entries of /proc/<pid>/fd, or -1. */
static int64_t
metrics_fds(const char *pid)
{
	char path[64];
	struct dirent *de;
	int64_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	/* The folder being read is one of our own descriptors. */
	return strcmp(pid, "self") == 0 ? n - 1 : n;
}

static int64_t
json_i64(struct json_object *obj, const char *key, int64_t def)
{
	struct json_object *v;

	if (obj == NULL || !json_object_object_get_ex(obj, key, &v))
		return def;
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return def;
	return json_object_get_int64(v);
}

static void
render_box_counts(struct mbuf *b, store *st, int *store_ok)
{
	struct store_counts c;

	if (st == NULL || store_box_counts(st, &c) != STORE_OK) {
		*store_ok = 0;
		return;
	}
	mb_head(b, "livestatus_boxes", "gauge", "Status boxes in the store by status.");
	mb_printf(b, "livestatus_boxes{status=\"active\"} %" PRId64 "\n", c.active);
	mb_printf(b, "livestatus_boxes{status=\"done\"} %" PRId64 "\n", c.done);
	mb_printf(b, "livestatus_boxes{status=\"error\"} %" PRId64 "\n", c.error);
	mb_printf(b, "livestatus_boxes{status=\"interrupted\"} %" PRId64 "\n", c.interrupted);
}

/* One series per gateway that forwarded here (store_gateway.h). */
static void
render_gateways(struct mbuf *b, store *st, int *store_ok)
{
	struct store_gateway *g = NULL;
	int64_t now = util_now_ms();
	size_t n = 0, i;

	if (st == NULL || store_gateway_list(st, &g, &n) != STORE_OK) {
		*store_ok = 0;
		return;
	}
	if (n == 0)
		goto out;
	mb_head(b, "livestatus_gateway_last_contact_seconds", "gauge",
	    "Seconds since the gateway's last batch of boxes.");
	for (i = 0; i < n; i++) {
		mb_printf(b, "livestatus_gateway_last_contact_seconds{gateway=\"");
		mb_label(b, g[i].name);
		mb_printf(b, "\"} %.3f\n",
		    (double)(now > g[i].last_contact_ms ? now - g[i].last_contact_ms : 0) / 1000.0);
	}
	mb_head(b, "livestatus_gateway_lag_seconds", "gauge",
	    "Age of the gateway's oldest change not yet acknowledged, as it last reported.");
	for (i = 0; i < n; i++) {
		mb_printf(b, "livestatus_gateway_lag_seconds{gateway=\"");
		mb_label(b, g[i].name);
		mb_printf(b, "\"} %.3f\n", (double)g[i].lag_ms / 1000.0);
	}
	mb_head(b, "livestatus_gateway_boxes_received_total", "counter",
	    "Box changes the gateway forwarded that were stored.");
	for (i = 0; i < n; i++) {
		mb_printf(b, "livestatus_gateway_boxes_received_total{gateway=\"");
		mb_label(b, g[i].name);
		mb_printf(b, "\"} %" PRId64 "\n", g[i].boxes_received);
	}
	mb_head(b, "livestatus_gateway_rejected_total", "counter",
	    "Box changes of the gateway that were rejected (400, 403, 409 items).");
	for (i = 0; i < n; i++) {
		mb_printf(b, "livestatus_gateway_rejected_total{gateway=\"");
		mb_label(b, g[i].name);
		mb_printf(b, "\"} %" PRId64 "\n", g[i].rejected);
	}
out:
	store_gateway_list_free(g, n);
}

static void
render_requests(struct mbuf *b)
{
	size_t i, n;

	mb_head(b, "livestatus_api_requests_total", "counter",
	    "API requests answered by the responder, by route and HTTP status.");
	n = atomic_load_explicit(&metrics_nseries, memory_order_acquire);
	for (i = 0; i < n; i++) {
		mb_printf(b, "livestatus_api_requests_total{route=\"");
		mb_label(b, metrics_series[i].route);
		mb_printf(b, "\",status=\"%d\"} %lld\n", metrics_series[i].status,
		    (long long)atomic_load_explicit(
		        &metrics_series[i].count, memory_order_relaxed));
	}
}

struct metrics_agent {
	const char *name; /* points into the stats JSON */
	int64_t lines, bad;
};

static void
agent_add(struct metrics_agent **v, size_t *n, const char *name, int64_t lines, int64_t bad)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp((*v)[i].name, name) == 0)
			break;
	if (i == *n) {
		*v = xreallocarray(*v, *n + 1, sizeof(**v));
		(*v)[i].name = name;
		(*v)[i].lines = (*v)[i].bad = 0;
		(*n)++;
	}
	(*v)[i].lines += lines > 0 ? lines : 0;
	(*v)[i].bad += bad > 0 ? bad : 0;
}

/*
 * Lines read and refused per agent: the file layout's from
 * stats.agent_lines ({"<agent>":{"lines_read":n,"bad_lines":n}}), the
 * database layout's from stats.agents ([{"agent":..,"events_read":n,
 * "rows_bad":n}]).
 */
static void
render_agents(struct mbuf *b, struct json_object *stats)
{
	struct json_object *files = NULL, *dbs = NULL, *name;
	struct metrics_agent *v = NULL;
	size_t n = 0, i;

	if (stats != NULL && json_object_object_get_ex(stats, METRICS_KEY(AGENT_LINES), &files) &&
	    json_object_is_type(files, json_type_object)) {
		json_object_object_foreach(files, agent, obj)
		{
			agent_add(&v, &n, agent, json_i64(obj, METRICS_KEY(AGENT_LINES_READ), 0),
			    json_i64(obj, METRICS_KEY(AGENT_BAD_LINES), 0));
		}
	}
	if (stats != NULL && json_object_object_get_ex(stats, METRICS_KEY(AGENTS), &dbs) &&
	    json_object_is_type(dbs, json_type_array)) {
		for (i = 0; i < json_object_array_length(dbs); i++) {
			struct json_object *a = json_object_array_get_idx(dbs, i);

			if (!json_object_object_get_ex(a, "agent", &name) ||
			    !json_object_is_type(name, json_type_string) ||
			    json_i64(a, METRICS_KEY(AGENTS_EVENTS_READ), -1) < 0)
				continue;
			agent_add(&v, &n, json_object_get_string(name),
			    json_i64(a, METRICS_KEY(AGENTS_EVENTS_READ), 0),
			    json_i64(a, METRICS_KEY(AGENTS_ROWS_BAD), 0));
		}
	}
	if (n == 0)
		goto out;
	mb_metric_head(b, STATS_M_LINES_READ);
	for (i = 0; i < n; i++) {
		mb_printf(b, "%s{agent=\"", METRICS_NAME(LINES_READ));
		mb_label(b, v[i].name);
		mb_printf(b, "\"} %" PRId64 "\n", v[i].lines);
	}
	mb_metric_head(b, STATS_M_BAD_LINES);
	for (i = 0; i < n; i++) {
		mb_printf(b, "%s{agent=\"", METRICS_NAME(BAD_LINES));
		mb_label(b, v[i].name);
		mb_printf(b, "\"} %" PRId64 "\n", v[i].bad);
	}
out:
	free(v);
}

/*
 * The Mattermost requests of both programs by HTTP status: the watcher's
 * from stats.mm_requests ({"201":n, ..., "error":n}), ours from counters.
 */
static void
render_mm(struct mbuf *b, struct json_object *stats)
{
	struct json_object *codes = NULL;
	int i;

	mb_metric_head(b, STATS_M_MM_REQUESTS);
	if (stats != NULL && json_object_object_get_ex(stats, METRICS_KEY(MM_REQUESTS), &codes) &&
	    json_object_is_type(codes, json_type_object)) {
		json_object_object_foreach(codes, code, v)
		{
			if (!json_object_is_type(v, json_type_int))
				continue;
			mb_printf(b, "%s{program=\"watcher\",code=\"", METRICS_NAME(MM_REQUESTS));
			mb_label(b, code);
			mb_printf(b, "\"} %" PRId64 "\n", json_object_get_int64(v));
		}
	}
	for (i = 0; i < METRICS_MM_CODES; i++) {
		long long n = atomic_load(&metrics_mm[i]);

		if (n == 0)
			continue;
		if (i == 0)
			mb_printf(b, "%s{program=\"fcgi\",code=\"error\"} %lld\n",
			    METRICS_NAME(MM_REQUESTS), n);
		else
			mb_printf(b, "%s{program=\"fcgi\",code=\"%d\"} %lld\n",
			    METRICS_NAME(MM_REQUESTS), i, n);
	}
	mb_metric_head(b, STATS_M_MM_RATE_LIMITED);
	mb_printf(b, "%s{program=\"fcgi\"} %lld\n", METRICS_NAME(MM_RATE_LIMITED),
	    (long long)atomic_load(&metrics_mm[429]));
	if (json_i64(stats, METRICS_KEY(MM_RATE_LIMITED), -1) >= 0)
		mb_printf(b, "%s{program=\"watcher\"} %" PRId64 "\n", METRICS_NAME(MM_RATE_LIMITED),
		    json_i64(stats, METRICS_KEY(MM_RATE_LIMITED), 0));
}

/*
 * stats.append_latency_ms: {"le":[b1,b2,...], "counts":[c1,c2,...,cInf],
 * "sum":ms, "count":n}, counts per bucket (not cumulative), the last for
 * values above the highest bound.
 */
static void
render_latency(struct mbuf *b, struct json_object *stats)
{
	struct json_object *h, *le, *counts;
	size_t i, n;
	int64_t cum = 0;

	if (stats == NULL ||
	    !json_object_object_get_ex(stats, METRICS_KEY(APPEND_LATENCY_MS), &h) ||
	    !json_object_object_get_ex(h, STATS_HISTOGRAM_LE, &le) ||
	    !json_object_object_get_ex(h, STATS_HISTOGRAM_COUNTS, &counts) ||
	    !json_object_is_type(le, json_type_array) ||
	    !json_object_is_type(counts, json_type_array))
		return;
	n = json_object_array_length(le);
	if (json_object_array_length(counts) != n + 1)
		return;
	mb_metric_head(b, STATS_M_APPEND_LATENCY);
	for (i = 0; i <= n; i++) {
		cum += json_object_get_int64(json_object_array_get_idx(counts, i));
		if (i < n)
			mb_printf(b, "%s_bucket{le=\"%g\"} %" PRId64 "\n",
			    METRICS_NAME(APPEND_LATENCY),
			    json_object_get_double(json_object_array_get_idx(le, i)) / 1000.0, cum);
		else
			mb_printf(b, "%s_bucket{le=\"+Inf\"} %" PRId64 "\n",
			    METRICS_NAME(APPEND_LATENCY), cum);
	}
	mb_printf(b, "%s_sum %.6f\n", METRICS_NAME(APPEND_LATENCY),
	    (double)json_i64(h, STATS_HISTOGRAM_SUM, 0) / 1000.0);
	mb_printf(b, "%s_count %" PRId64 "\n", METRICS_NAME(APPEND_LATENCY), cum);
}

static void
render_watcher(struct mbuf *b, store *st, struct json_object **stats_out, int64_t *pid_out)
{
	struct store_heartbeat hb = { 0 };
	struct json_object *stats = NULL;
	int64_t now = util_now_ms(), alive = 0;
	static const char *const states[] = { "closed", "open", "half_open" };
	size_t i;

	*stats_out = NULL;
	*pid_out = -1;
	mb_head(b, "livestatus_watcher_up", "gauge",
	    "1 when the watcher wrote its heartbeat within 3 intervals.");
	if (st == NULL || store_heartbeat_get(st, &hb) != STORE_OK) {
		mb_printf(b, "livestatus_watcher_up 0\n");
		goto out;
	}
	alive = now - hb.last_heartbeat_ms <= 3 * (hb.interval_ms > 0 ? hb.interval_ms : 1000);
	mb_printf(b, "livestatus_watcher_up %" PRId64 "\n", alive);
	mb_head(b, "livestatus_watcher_heartbeat_age_seconds", "gauge",
	    "Seconds since the watcher's last heartbeat.");
	mb_printf(b, "livestatus_watcher_heartbeat_age_seconds %.3f\n",
	    (double)(now - hb.last_heartbeat_ms) / 1000.0);
	if (hb.breaker != NULL) {
		mb_head(b, "livestatus_mm_breaker_state", "gauge",
		    "1 for the current state of the watcher's Mattermost circuit breaker.");
		for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
			mb_printf(b, "livestatus_mm_breaker_state{state=\"%s\"} %d\n", states[i],
			    strcmp(hb.breaker, states[i]) == 0);
	}
	if (hb.stats != NULL)
		stats = json_tokener_parse(hb.stats);
	if (stats != NULL && !json_object_is_type(stats, json_type_object)) {
		json_object_put(stats);
		stats = NULL;
	}
	render_agents(b, stats);
	render_latency(b, stats);
	if (alive)
		*pid_out = hb.pid;
	*stats_out = stats;
out:
	store_heartbeat_free(&hb);
}

static void
render_process(struct mbuf *b, struct json_object *stats, int64_t watcher_pid)
{
	char pid[24];
	int64_t wrss = json_i64(stats, METRICS_KEY(RSS_BYTES), -1);
	int64_t wfds = json_i64(stats, METRICS_KEY(OPEN_FDS), -1);

	/* The watcher's own report first; /proc works when we may look. */
	if (watcher_pid > 0) {
		snprintf(pid, sizeof(pid), "%" PRId64, watcher_pid);
		if (wrss < 0)
			wrss = metrics_rss(pid);
		if (wfds < 0)
			wfds = metrics_fds(pid);
	}
	mb_metric_head(b, STATS_M_RSS);
	mb_printf(b, "%s{program=\"fcgi\"} %" PRId64 "\n", METRICS_NAME(RSS), metrics_rss("self"));
	if (wrss >= 0)
		mb_printf(b, "%s{program=\"watcher\"} %" PRId64 "\n", METRICS_NAME(RSS), wrss);
	mb_metric_head(b, STATS_M_FDS);
	mb_printf(b, "%s{program=\"fcgi\"} %" PRId64 "\n", METRICS_NAME(FDS), metrics_fds("self"));
	if (wfds >= 0)
		mb_printf(b, "%s{program=\"watcher\"} %" PRId64 "\n", METRICS_NAME(FDS), wfds);
}

char *
metrics_render(store *st, size_t *len)
{
	struct mbuf b = { 0 };
	struct json_object *stats = NULL;
	int64_t wpid = -1, wbusy;
	int store_ok = st != NULL;

	b.cap = 8192;
	b.p = xmalloc(b.cap);
	b.p[0] = '\0';
	mb_head(&b, "livestatus_info", "gauge", "Version of the responder.");
	mb_printf(&b, "livestatus_info{version=\"%s\"} 1\n", LS_VERSION);
	render_box_counts(&b, st, &store_ok);
	render_gateways(&b, store_ok ? st : NULL, &store_ok);
	render_requests(&b);
	render_watcher(&b, store_ok ? st : NULL, &stats, &wpid);
	render_mm(&b, stats);

	mb_metric_head(&b, STATS_M_STORE_BUSY);
	mb_printf(
	    &b, "%s{program=\"fcgi\"} %" PRId64 "\n", METRICS_NAME(STORE_BUSY), store_busy_total());
	wbusy = json_i64(stats, METRICS_KEY(STORE_BUSY), -1);
	if (wbusy >= 0)
		mb_printf(
		    &b, "%s{program=\"watcher\"} %" PRId64 "\n", METRICS_NAME(STORE_BUSY), wbusy);
	mb_head(&b, "livestatus_notify_total", "counter",
	    "Change notices the responder published to nchan, by result.");
	mb_printf(
	    &b, "livestatus_notify_total{result=\"sent\"} %" PRId64 "\n", notify_sent_total());
	mb_printf(
	    &b, "livestatus_notify_total{result=\"failed\"} %" PRId64 "\n", notify_failed_total());
	mb_head(&b, "livestatus_revision_moves_total", "counter",
	    "Moves of the revision link nginx keys its cache by (REVISION_DIR) the responder "
	    "made, by result.");
	mb_printf(&b, "livestatus_revision_moves_total{result=\"moved\"} %" PRId64 "\n",
	    store_revdir_moves_total());
	mb_printf(&b, "livestatus_revision_moves_total{result=\"failed\"} %" PRId64 "\n",
	    store_revdir_failed_total());
	render_process(&b, stats, wpid);
	mb_head(&b, "livestatus_store_up", "gauge", "1 when the store could be read.");
	mb_printf(&b, "livestatus_store_up %d\n", store_ok);

	json_object_put(stats);
	*len = b.len;
	return b.p;
}
