/*
 * watcher_stats: the watcher's figures: lines per agent, the append-to-store
 * latency histogram, and the stats JSON of the heartbeat row that
 * fcgi/metrics.c turns into series (see watcher_int.h).
 */
#include "watcher/watcher_int.h"

#include <assert.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "sql/stats_names.h"
#include "sql/store_watcher.h"

/* Upper bounds (ms) of the append-to-store latency histogram (metrics). */
static const int64_t watcher_lat_le[WATCHER_LAT_N] = { 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000,
	2500, 5000, 10000 };

/* Counts one line read from f (bad: refused) for the metrics. */
void
watcher_count_line(struct watcher *w, struct tail_file *f, int bad)
{
	const char *agent = watcher_agent(f);
	struct watcher_agent_lines *a = NULL;
	size_t i;

	for (i = 0; i < w->nagent_lines && a == NULL; i++)
		if (strcmp(w->agent_lines[i].agent, agent) == 0)
			a = &w->agent_lines[i];
	if (a == NULL) {
		w->agent_lines =
		    xreallocarray(w->agent_lines, w->nagent_lines + 1, sizeof(*w->agent_lines));
		a = &w->agent_lines[w->nagent_lines++];
		a->agent = xstrdup(agent);
		a->lines_read = a->bad_lines = 0;
	}
	a->lines_read++;
	a->bad_lines += bad != 0;
	if (w->nlat == w->caplat) {
		w->caplat = w->caplat ? w->caplat * 2 : 256;
		w->lat_pending = xreallocarray(w->lat_pending, w->caplat, sizeof(int64_t));
	}
	w->lat_pending[w->nlat++] = util_mono_ms();
}

/* After a commit: every input read since the last one reached the store. */
void
watcher_count_committed(struct watcher *w, int64_t events, int64_t since)
{
	int64_t now = util_mono_ms(), d;
	size_t i, b;

	for (i = 0; i < w->nlat + (size_t)events; i++) {
		d = now - (i < w->nlat ? w->lat_pending[i] : since);
		for (b = 0; b < WATCHER_LAT_N && d > watcher_lat_le[b]; b++)
			;
		w->lat_counts[b]++;
		w->lat_sum_ms += d;
	}
	w->nlat = 0;
}

/* Writes figure id (a number) into o under its name in sql/stats_names.h. */
static void
watcher_stat(json_object *o, enum stats_id id, int64_t v)
{
	assert(stats_figures[id].type != STATS_TEXT);
	json_object_object_add(o, stats_key(id), json_object_new_int64(v));
}

/* Writes figure id (a text) into o. */
static void
watcher_stat_str(json_object *o, enum stats_id id, const char *v)
{
	assert(stats_figures[id].type == STATS_TEXT);
	json_object_object_add(o, stats_key(id), json_object_new_string(v));
}

/* Resident memory (bytes) and open descriptors of this process, or -1. */
static void
watcher_proc(int64_t *rss, int64_t *fds)
{
	struct dirent *de;
	long pages = -1;
	FILE *f;
	DIR *d;

	*rss = *fds = -1;
	if ((f = fopen("/proc/self/statm", "r")) != NULL) {
		if (fscanf(f, "%*s %ld", &pages) == 1)
			*rss = (int64_t)pages * sysconf(_SC_PAGESIZE);
		fclose(f);
	}
	if ((d = opendir("/proc/self/fd")) != NULL) {
		*fds = -1; /* the folder's own descriptor */
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				(*fds)++;
		closedir(d);
	}
}

/*
 * The figures fcgi/metrics.c turns into series: lines per agent (file
 * layout; database agents count theirs in "agents"), the append-to-store
 * latency histogram (counts per bucket, the last above the highest bound),
 * store busy waits, memory and descriptors.
 */
static void
watcher_metrics_json(struct watcher *w, json_object *o)
{
	json_object *agents = json_object_new_object(), *h, *le, *counts, *a;
	int64_t rss, fds;
	size_t i;

	for (i = 0; i < w->nagent_lines; i++) {
		a = json_object_new_object();
		watcher_stat(a, STATS_AGENT_LINES_READ, w->agent_lines[i].lines_read);
		watcher_stat(a, STATS_AGENT_BAD_LINES, w->agent_lines[i].bad_lines);
		json_object_object_add(agents, w->agent_lines[i].agent, a);
	}
	json_object_object_add(o, stats_key(STATS_AGENT_LINES), agents);
	h = json_object_new_object();
	le = json_object_new_array();
	counts = json_object_new_array();
	for (i = 0; i < WATCHER_LAT_N; i++)
		json_object_array_add(le, json_object_new_int64(watcher_lat_le[i]));
	for (i = 0; i <= WATCHER_LAT_N; i++)
		json_object_array_add(counts, json_object_new_int64(w->lat_counts[i]));
	json_object_object_add(h, STATS_HISTOGRAM_LE, le);
	json_object_object_add(h, STATS_HISTOGRAM_COUNTS, counts);
	json_object_object_add(h, STATS_HISTOGRAM_SUM, json_object_new_int64(w->lat_sum_ms));
	json_object_object_add(o, stats_key(STATS_APPEND_LATENCY_MS), h);
	watcher_stat(o, STATS_STORE_BUSY, store_busy_total());
	watcher_proc(&rss, &fds);
	watcher_stat(o, STATS_RSS_BYTES, rss);
	watcher_stat(o, STATS_OPEN_FDS, fds);
}

/* Forwarding figures for the heartbeat (nothing without PLUGIN_URL). */
static void
watcher_forward_stats_json(struct watcher *w, json_object *o)
{
	struct forward_status fs;

	if (w->fwd == NULL)
		return;
	forward_status(w->fwd, &fs);
	watcher_stat_str(o, STATS_FORWARD_STATE, fs.state);
	watcher_stat(o, STATS_FORWARD_QUEUE, fs.queue);
	watcher_stat(o, STATS_FORWARD_LAG_MS, fs.lag_ms);
	watcher_stat(o, STATS_FORWARD_REQUESTS, fs.requests);
	watcher_stat(o, STATS_FORWARD_FAILURES, fs.failures);
	watcher_stat(o, STATS_FORWARD_BOXES_SENT, fs.boxes_sent);
	watcher_stat(o, STATS_FORWARD_BYTES_SENT, fs.bytes_sent);
	watcher_stat(o, STATS_FORWARD_REJECTED, fs.rejected);
	watcher_stat(o, STATS_FORWARD_RESENDS, fs.resends);
	watcher_stat_str(o, STATS_FORWARD_ERROR, fs.last_error);
}

char *
watcher_stats_json(struct watcher *w)
{
	struct box_stats bs;
	struct tail_stats ts;
	struct ocdb_stats os;
	json_object *o = json_object_new_object();
	char *out;

	box_stats(w->model, &bs);
	tail_stats(w->tail, &ts);
	ocdb_stats(w->ocdb, &os);
	watcher_stat(o, STATS_LINES_READ, w->lines_read + os.events_read);
	watcher_stat(o, STATS_PARSE_ERRORS, w->parse_errors + os.parse_errors + os.rows_bad);
	watcher_stat(o, STATS_BAD_UTF8, w->bad_utf8);
	watcher_stat(o, STATS_OVERSIZED_LINES, ts.bad_lines);
	watcher_stat(o, STATS_ACTIVE_BOXES, bs.active_boxes);
	watcher_stat(o, STATS_BOXES_STARTED, bs.boxes_started);
	watcher_stat(o, STATS_RUNS_DROPPED, bs.dropped);
	watcher_stat(o, STATS_NUMBERS_DROPPED, bs.numbers_dropped);
	watcher_stat(o, STATS_SESSIONS, bs.sessions);
	watcher_stat(o, STATS_FILES, ts.files);
	watcher_stat(o, STATS_FOLDERS, ts.dirs);
	watcher_stat(o, STATS_BYTES_READ, ts.bytes_read);
	watcher_stat(o, STATS_RESCANS, ts.rescans);
	watcher_stat(o, STATS_OVERFLOWS, ts.overflows);
	watcher_stat(o, STATS_FILES_REFUSED, ts.refused);
	watcher_stat(o, STATS_COMMITS, w->commits);
	watcher_stat(o, STATS_COMMIT_BUSY, w->commit_busy);
	watcher_stat(o, STATS_STORE_WRITE_FAILED_MS, w->write_failed_ms);
	watcher_stat(o, STATS_NOTICES, w->notices);
	watcher_stat(o, STATS_INDEX_LOADS, w->index_loads);
	watcher_stat(o, STATS_INDEX_ERRORS, w->index_errors);
	watcher_stat(o, STATS_DB_AGENTS, os.agents);
	watcher_stat(o, STATS_DB_REFUSED, os.refused);
	watcher_stat(o, STATS_DB_EVENTS_READ, os.events_read);
	watcher_stat(o, STATS_DB_ROWS_BAD, os.rows_bad);
	watcher_stat(o, STATS_DB_REREADS, os.rereads);
	watcher_stat(o, STATS_DB_BUSY, os.busy);
	watcher_stat_str(o, STATS_STORE_WRITE_ERROR, w->write_error);
	if (w->poster != NULL)
		mm_poster_counts_json(w->poster, o);
	watcher_forward_stats_json(w, o);
	json_object_object_add(o, stats_key(STATS_AGENTS), ocdb_agents_json(w->ocdb));
	watcher_metrics_json(w, o);
	json_object_object_add(o, stats_key(STATS_INOTIFY), json_object_new_boolean(ts.inotify));
	out = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return out;
}

void
watcher_task_heartbeat(struct watcher *w, int64_t now)
{
	struct store_heartbeat hb = { 0 };
	const char *brk;
	int rc;

	(void)now;
	hb.pid = getpid();
	hb.started_ms = w->started_ms;
	hb.last_heartbeat_ms = util_now_ms();
	hb.interval_ms = w->cfg->heartbeat_s * 1000;
	brk = w->poster != NULL ? mm_poster_breaker(w->poster) : NULL;
	hb.breaker = brk != NULL ? xstrdup(brk) : NULL;
	hb.stats = watcher_stats_json(w);
	if ((rc = store_begin(w->st)) == STORE_OK &&
	    (rc = store_heartbeat_put(w->st, &hb)) == STORE_OK &&
	    (rc = store_watcher_clock_put(w->st, hb.last_heartbeat_ms)) == STORE_OK)
		rc = store_commit(w->st);
	if (rc != STORE_OK) {
		store_rollback(w->st);
		log_warn("cannot write the heartbeat", "err", store_errmsg(w->st));
	}
	free(hb.stats);
	free(hb.breaker);
}
