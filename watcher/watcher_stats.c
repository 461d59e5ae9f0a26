/*
 * watcher_stats: the watcher's figures: lines per agent, the append-to-store
 * latency histogram, and the stats JSON of the heartbeat row that
 * fcgi/metrics.c turns into series (see watcher_int.h).
 */
#include "watcher/watcher_int.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "sql/store_watcher.h"
#include "watcher/mm_poster.h"

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
		json_object_object_add(
		    a, "lines_read", json_object_new_int64(w->agent_lines[i].lines_read));
		json_object_object_add(
		    a, "bad_lines", json_object_new_int64(w->agent_lines[i].bad_lines));
		json_object_object_add(agents, w->agent_lines[i].agent, a);
	}
	json_object_object_add(o, "agent_lines", agents);
	h = json_object_new_object();
	le = json_object_new_array();
	counts = json_object_new_array();
	for (i = 0; i < WATCHER_LAT_N; i++)
		json_object_array_add(le, json_object_new_int64(watcher_lat_le[i]));
	for (i = 0; i <= WATCHER_LAT_N; i++)
		json_object_array_add(counts, json_object_new_int64(w->lat_counts[i]));
	json_object_object_add(h, "le", le);
	json_object_object_add(h, "counts", counts);
	json_object_object_add(h, "sum", json_object_new_int64(w->lat_sum_ms));
	json_object_object_add(o, "append_latency_ms", h);
	json_object_object_add(o, "store_busy", json_object_new_int64(store_busy_total()));
	watcher_proc(&rss, &fds);
	json_object_object_add(o, "rss_bytes", json_object_new_int64(rss));
	json_object_object_add(o, "open_fds", json_object_new_int64(fds));
}

/* Forwarding figures for the heartbeat (nothing without PLUGIN_URL). */
static void
watcher_forward_stats_json(struct watcher *w, json_object *o)
{
	struct forward_status fs;

	if (w->fwd == NULL)
		return;
	forward_status(w->fwd, &fs);
	json_object_object_add(o, "forward_state", json_object_new_string(fs.state));
	json_object_object_add(o, "forward_queue", json_object_new_int64(fs.queue));
	json_object_object_add(o, "forward_lag_ms", json_object_new_int64(fs.lag_ms));
	json_object_object_add(o, "forward_requests", json_object_new_int64(fs.requests));
	json_object_object_add(o, "forward_failures", json_object_new_int64(fs.failures));
	json_object_object_add(o, "forward_boxes_sent", json_object_new_int64(fs.boxes_sent));
	json_object_object_add(o, "forward_bytes_sent", json_object_new_int64(fs.bytes_sent));
	json_object_object_add(o, "forward_rejected", json_object_new_int64(fs.rejected));
	json_object_object_add(o, "forward_resends", json_object_new_int64(fs.resends));
	json_object_object_add(o, "forward_error", json_object_new_string(fs.last_error));
}

static char *
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
#define WATCHER_STAT(k, v) json_object_object_add(o, k, json_object_new_int64(v))
	WATCHER_STAT("lines_read", w->lines_read + os.events_read);
	WATCHER_STAT("parse_errors", w->parse_errors + os.parse_errors + os.rows_bad);
	WATCHER_STAT("bad_utf8", w->bad_utf8);
	WATCHER_STAT("oversized_lines", ts.bad_lines);
	WATCHER_STAT("active_boxes", bs.active_boxes);
	WATCHER_STAT("boxes_started", bs.boxes_started);
	WATCHER_STAT("runs_dropped", bs.dropped);
	WATCHER_STAT("numbers_dropped", bs.numbers_dropped);
	WATCHER_STAT("sessions", bs.sessions);
	WATCHER_STAT("files", ts.files);
	WATCHER_STAT("folders", ts.dirs);
	WATCHER_STAT("bytes_read", ts.bytes_read);
	WATCHER_STAT("rescans", ts.rescans);
	WATCHER_STAT("overflows", ts.overflows);
	WATCHER_STAT("files_refused", ts.refused);
	WATCHER_STAT("commits", w->commits);
	WATCHER_STAT("commit_busy", w->commit_busy);
	WATCHER_STAT("store_write_failed_ms", w->write_failed_ms);
	WATCHER_STAT("notices", w->notices);
	WATCHER_STAT("index_loads", w->index_loads);
	WATCHER_STAT("index_errors", w->index_errors);
	WATCHER_STAT("db_agents", os.agents);
	WATCHER_STAT("db_refused", os.refused);
	WATCHER_STAT("db_events_read", os.events_read);
	WATCHER_STAT("db_rows_bad", os.rows_bad);
	WATCHER_STAT("db_rereads", os.rereads);
	WATCHER_STAT("db_busy", os.busy);
#undef WATCHER_STAT
	json_object_object_add(o, "store_write_error", json_object_new_string(w->write_error));
	mm_poster_stats_json(o);
	watcher_forward_stats_json(w, o);
	json_object_object_add(o, "agents", ocdb_agents_json(w->ocdb));
	watcher_metrics_json(w, o);
	json_object_object_add(o, "inotify", json_object_new_boolean(ts.inotify));
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
	brk = mm_poster_breaker_state();
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
