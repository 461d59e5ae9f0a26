/*
 * stats_names: the contract between the watcher's stats and the metrics.
 *
 * The watcher writes its figures as a JSON object into the stats column of
 * its heartbeat row (store_heartbeat_put()); the responder reads that row:
 * /api/v1/health shows some figures, and fcgi/metrics.c turns others into
 * Prometheus series.  Both sides name every figure through the tables
 * below, never through a string of their own, so a figure cannot be renamed
 * on one side only.
 *
 * STATS_METRICS(X) lists the series the watcher's figures feed:
 *   X(id, name, type, help)
 *   id    STATS_M_<id>, an enum stats_metric
 *   name  the series' name as users see it
 *   type  STATS_COUNTER, STATS_GAUGE or STATS_HISTOGRAM (its # TYPE)
 *   help  its # HELP text
 * Several of them also carry the responder's own figure under
 * program="fcgi" (store_busy, memory, descriptors, Mattermost requests).
 *
 * STATS_FIGURES(X) lists every figure the watcher writes:
 *   X(id, key, field, type, metric, help)
 *   id      STATS_<id>, an enum stats_id
 *   key     the member of the stats object
 *   field   "" for a figure of its own; else the member of each per-agent
 *           entry of key that holds the figure (agent_lines is an object
 *           of agents, agents an array of them)
 *   type    STATS_COUNTER, STATS_GAUGE, STATS_HISTOGRAM (a number, or an
 *           object of buckets), or STATS_TEXT (a string, boolean, or the
 *           per-agent container itself)
 *   metric  the STATS_M_ series it feeds (the same type), or STATS_M_NONE:
 *           a figure for /api/v1/health, `live-status status` and the
 *           tests, deliberately not a series
 *   help    what it counts
 *
 * The figures come from watcher/watcher_stats.c (and, for mm_*, the
 * Mattermost poster's own counters, mm/mm_poster.c); both name them with
 * stats_key().  tests/unit/test_stats_names.c fails
 * when the watcher writes a figure this table does not list, when the
 * table lists one that the watcher never writes, when a metric is fed by
 * no figure, and when metrics_render() gives a series for a figure other
 * than its row's (or of another type).
 */
#ifndef LS_SQL_STATS_NAMES_H
#define LS_SQL_STATS_NAMES_H

#include <stddef.h>

enum stats_type {
	STATS_COUNTER,
	STATS_GAUGE,
	STATS_HISTOGRAM,
	STATS_TEXT,
};

/* clang-format off */
#define STATS_METRICS(X) \
	X(LINES_READ, "livestatus_watcher_lines_read_total", STATS_COUNTER, \
	    "Transcript lines (or database events) the watcher read, by agent.") \
	X(BAD_LINES, "livestatus_watcher_bad_lines_total", STATS_COUNTER, \
	    "Lines (or events) the watcher could not use and skipped, by agent.") \
	X(APPEND_LATENCY, "livestatus_append_latency_seconds", STATS_HISTOGRAM, \
	    "Time from a transcript line's append to its commit in the store.") \
	X(MM_REQUESTS, "livestatus_mm_requests_total", STATS_COUNTER, \
	    "Mattermost requests by program and HTTP status (error: no answer).") \
	X(MM_RATE_LIMITED, "livestatus_mm_rate_limited_total", STATS_COUNTER, \
	    "Mattermost answers 429 (too many requests), by program.") \
	X(STORE_BUSY, "livestatus_store_busy_total", STATS_COUNTER, \
	    "Statements that met a locked database and waited, by program.") \
	X(RSS, "livestatus_process_resident_memory_bytes", STATS_GAUGE, \
	    "Resident memory of each program.") \
	X(FDS, "livestatus_process_open_fds", STATS_GAUGE, \
	    "Open file descriptors of each program.")

#define STATS_FIGURES(X) \
	X(LINES_READ, "lines_read", "", STATS_COUNTER, NONE, \
	    "transcript lines and database events read") \
	X(PARSE_ERRORS, "parse_errors", "", STATS_COUNTER, NONE, \
	    "lines and rows that could not be used") \
	X(BAD_UTF8, "bad_utf8", "", STATS_COUNTER, NONE, "lines that were not UTF-8") \
	X(OVERSIZED_LINES, "oversized_lines", "", STATS_COUNTER, NONE, \
	    "lines longer than the tailer takes") \
	X(ACTIVE_BOXES, "active_boxes", "", STATS_GAUGE, NONE, "boxes active and shown") \
	X(BOXES_STARTED, "boxes_started", "", STATS_COUNTER, NONE, "runs that started a box") \
	X(RUNS_DROPPED, "runs_dropped", "", STATS_COUNTER, NONE, \
	    "runs not shown (MAX_ACTIVE_SESSIONS)") \
	X(NUMBERS_DROPPED, "numbers_dropped", "", STATS_COUNTER, NONE, \
	    "transcript numbers out of bounds") \
	X(SESSIONS, "sessions", "", STATS_GAUGE, NONE, "sessions the model knows") \
	X(FILES, "files", "", STATS_GAUGE, NONE, "transcript files followed") \
	X(FOLDERS, "folders", "", STATS_GAUGE, NONE, "sessions folders followed") \
	X(BYTES_READ, "bytes_read", "", STATS_COUNTER, NONE, "transcript bytes read") \
	X(RESCANS, "rescans", "", STATS_COUNTER, NONE, "full rescans of the folders") \
	X(OVERFLOWS, "overflows", "", STATS_COUNTER, NONE, "inotify queue overflows") \
	X(FILES_REFUSED, "files_refused", "", STATS_COUNTER, NONE, \
	    "reads refused: not a regular file, or a link out of the folder") \
	X(COMMITS, "commits", "", STATS_COUNTER, NONE, "store transactions committed") \
	X(COMMIT_BUSY, "commit_busy", "", STATS_COUNTER, NONE, \
	    "commits put off because the store was busy") \
	X(STORE_WRITE_FAILED_MS, "store_write_failed_ms", "", STATS_GAUGE, NONE, \
	    "when a store write last failed (ms since the epoch, 0: never)") \
	X(NOTICES, "notices", "", STATS_COUNTER, NONE, "change notices published") \
	X(INDEX_LOADS, "index_loads", "", STATS_COUNTER, NONE, "session index loads") \
	X(INDEX_ERRORS, "index_errors", "", STATS_COUNTER, NONE, \
	    "session index loads that failed") \
	X(DB_AGENTS, "db_agents", "", STATS_GAUGE, NONE, "agent databases followed") \
	X(DB_REFUSED, "db_refused", "", STATS_GAUGE, NONE, \
	    "agent databases refused (version or shape)") \
	X(DB_EVENTS_READ, "db_events_read", "", STATS_COUNTER, NONE, \
	    "events read from agent databases") \
	X(DB_ROWS_BAD, "db_rows_bad", "", STATS_COUNTER, NONE, \
	    "database rows that could not be used") \
	X(DB_REREADS, "db_rereads", "", STATS_COUNTER, NONE, \
	    "rewritten database transcripts read again") \
	X(DB_BUSY, "db_busy", "", STATS_COUNTER, NONE, "database reads that met a lock") \
	X(STORE_WRITE_ERROR, "store_write_error", "", STATS_TEXT, NONE, \
	    "the last failed store write's error, \"\" when none") \
	X(MM_REQUESTS, "mm_requests", "", STATS_COUNTER, MM_REQUESTS, \
	    "Mattermost requests by HTTP status (with MM_URL)") \
	X(MM_RATE_LIMITED, "mm_rate_limited", "", STATS_COUNTER, MM_RATE_LIMITED, \
	    "Mattermost answers 429 (with MM_URL)") \
	X(MM_POSTS_CREATED, "mm_posts_created", "", STATS_COUNTER, NONE, \
	    "Mattermost posts created (with MM_URL)") \
	X(MM_POSTS_EDITED, "mm_posts_edited", "", STATS_COUNTER, NONE, \
	    "Mattermost posts edited (with MM_URL)") \
	X(MM_DIRTY, "mm_dirty", "", STATS_GAUGE, NONE, \
	    "boxes waiting to be posted (with MM_URL)") \
	X(FORWARD_STATE, "forward_state", "", STATS_TEXT, NONE, \
	    "forwarding's state (with PLUGIN_URL)") \
	X(FORWARD_QUEUE, "forward_queue", "", STATS_GAUGE, NONE, \
	    "box changes waiting to be forwarded") \
	X(FORWARD_LAG_MS, "forward_lag_ms", "", STATS_GAUGE, NONE, \
	    "age of the oldest change not yet forwarded") \
	X(FORWARD_REQUESTS, "forward_requests", "", STATS_COUNTER, NONE, \
	    "forwarding requests made") \
	X(FORWARD_FAILURES, "forward_failures", "", STATS_COUNTER, NONE, \
	    "forwarding requests that failed") \
	X(FORWARD_BOXES_SENT, "forward_boxes_sent", "", STATS_COUNTER, NONE, \
	    "box changes forwarded") \
	X(FORWARD_BYTES_SENT, "forward_bytes_sent", "", STATS_COUNTER, NONE, \
	    "bytes forwarded") \
	X(FORWARD_REJECTED, "forward_rejected", "", STATS_COUNTER, NONE, \
	    "forwarded changes the central rejected") \
	X(FORWARD_RESENDS, "forward_resends", "", STATS_COUNTER, NONE, \
	    "forwarding requests sent again") \
	X(FORWARD_ERROR, "forward_error", "", STATS_TEXT, NONE, \
	    "forwarding's last error, \"\" when none") \
	X(AGENTS, "agents", "", STATS_TEXT, NONE, \
	    "the agents found, one object each (database and file layouts)") \
	X(AGENTS_EVENTS_READ, "agents", "events_read", STATS_COUNTER, LINES_READ, \
	    "events read from the agent's database") \
	X(AGENTS_ROWS_BAD, "agents", "rows_bad", STATS_COUNTER, BAD_LINES, \
	    "rows of the agent's database that could not be used") \
	X(AGENT_LINES, "agent_lines", "", STATS_TEXT, NONE, \
	    "per agent of the file layout, its lines") \
	X(AGENT_LINES_READ, "agent_lines", "lines_read", STATS_COUNTER, LINES_READ, \
	    "transcript lines read from the agent's files") \
	X(AGENT_BAD_LINES, "agent_lines", "bad_lines", STATS_COUNTER, BAD_LINES, \
	    "lines of the agent's files that could not be used") \
	X(APPEND_LATENCY_MS, "append_latency_ms", "", STATS_HISTOGRAM, APPEND_LATENCY, \
	    "append-to-store latency: le (ms bounds), counts per bucket (the last " \
	    "above the highest bound), sum (ms)") \
	X(STORE_BUSY, "store_busy", "", STATS_COUNTER, STORE_BUSY, \
	    "statements that met a locked store and waited") \
	X(RSS_BYTES, "rss_bytes", "", STATS_GAUGE, RSS, "resident memory (bytes), -1 unknown") \
	X(OPEN_FDS, "open_fds", "", STATS_GAUGE, FDS, "open descriptors, -1 unknown") \
	X(INOTIFY, "inotify", "", STATS_TEXT, NONE, "true with inotify, false when polling")
/* clang-format on */

#define STATS_METRIC_ENUM(id, name, type, help) STATS_M_##id,
enum stats_metric { STATS_M_NONE = -1, STATS_METRICS(STATS_METRIC_ENUM) STATS_M_N };
#undef STATS_METRIC_ENUM

#define STATS_FIGURE_ENUM(id, key, field, type, metric, help) STATS_##id,
enum stats_id { STATS_FIGURES(STATS_FIGURE_ENUM) STATS_N };
#undef STATS_FIGURE_ENUM

struct stats_metric_info {
	const char *name;
	enum stats_type type;
	const char *help;
};

struct stats_figure {
	const char *key;
	const char *field; /* "" for a figure of its own */
	enum stats_type type;
	enum stats_metric metric;
	const char *help;
};

extern const struct stats_metric_info stats_metrics[STATS_M_N];
extern const struct stats_figure stats_figures[STATS_N];

/* The members of a STATS_HISTOGRAM figure: the bucket bounds, the count per
 * bucket (one more: above the highest bound) and the sum. */
#define STATS_HISTOGRAM_LE "le"
#define STATS_HISTOGRAM_COUNTS "counts"
#define STATS_HISTOGRAM_SUM "sum"

/* The JSON member that holds figure id: its key, or for a per-agent
 * figure the field inside each agent's entry. */
const char *stats_key(enum stats_id id);

/* "counter", "gauge" or "histogram": the # TYPE word of a series. */
const char *stats_type_name(enum stats_type type);

#endif
