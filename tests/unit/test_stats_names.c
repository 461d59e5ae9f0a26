/*
 * Unit tests of the stats contract (sql/stats_names.h): the figures the
 * watcher writes into its heartbeat are the table's, and the series
 * metrics_render() makes from them are the table's metrics, of the table's
 * types.  A figure written but not listed, listed but never written, a
 * metric fed by no figure, or a series that comes from a figure other than
 * its row's, fails here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/util.h"
#include "common/xmalloc.h"
#include "fcgi/metrics.h"
#include "sql/stats_names.h"
#include "sql/store.h"
#include "watcher/ocdb_int.h"
#include "watcher/watcher_int.h"

/* Written only with MM_URL (the poster) or PLUGIN_URL (forwarding). */
static int
optional_key(const char *key)
{
	return strncmp(key, "mm_", 3) == 0 || strncmp(key, "forward_", 8) == 0;
}

/* The row of a top-level key (field ""), or -1. */
static int
figure_of(const char *key, const char *field)
{
	int i;

	for (i = 0; i < STATS_N; i++)
		if (strcmp(stats_figures[i].key, key) == 0 &&
		    strcmp(stats_figures[i].field, field) == 0)
			return i;
	return -1;
}

/*
 * The watcher's stats JSON as watcher_stats_json() writes it, from a
 * watcher with one file-layout agent and one database agent (the parts a
 * unit test cannot start, Mattermost and forwarding, are absent).
 */
static json_object *
watcher_stats(void)
{
	struct watcher w = { 0 };
	struct box_config bc = { .max_lines = 4 };
	struct tail_ops ops = { 0 };
	struct ocdb_config oc = { 0 };
	struct ocdb_sink sink;
	struct ocdb_agent *a;
	char dir[] = "/tmp/ls-stats-XXXXXX", err[256], *text;
	json_object *o;

	assert_non_null(mkdtemp(dir));
	w.model = box_model_new(&bc);
	w.tail = tail_new(dir, &ops, 0, err, sizeof(err));
	assert_non_null(w.tail);
	ocdb_box_sink(w.model, &sink);
	oc.root = dir;
	oc.no_inotify = 1;
	assert_int_equal(ocdb_new(&oc, NULL, &sink, &w.ocdb, err, sizeof(err)), 0);
	a = xcalloc(1, sizeof(*a));
	a->id = xstrdup("dbagent");
	a->dir = xstrdup(dir);
	a->path = xasprintf("%s/%s", dir, OCDB_FILE_NAME);
	a->state = AG_OK;
	a->events_read = 5;
	a->rows_bad = 1;
	w.ocdb->agents = xcalloc(1, sizeof(*w.ocdb->agents));
	w.ocdb->agents[w.ocdb->nagent++] = a;
	w.ocdb->capagent = 1;
	w.agent_lines = xcalloc(1, sizeof(*w.agent_lines));
	w.agent_lines[0].agent = xstrdup("fileagent");
	w.agent_lines[0].lines_read = 7;
	w.agent_lines[0].bad_lines = 2;
	w.nagent_lines = 1;
	w.lat_counts[0] = 3;
	w.lat_sum_ms = 1;

	text = watcher_stats_json(&w);
	o = json_tokener_parse(text);
	assert_non_null(o);
	free(text);
	ocdb_free(w.ocdb);
	tail_free(w.tail);
	box_model_free(w.model);
	free(w.agent_lines[0].agent);
	free(w.agent_lines);
	rmdir(dir);
	return o;
}

static void
test_table(void **state)
{
	int fed[STATS_M_N] = { 0 };
	int i, j;

	(void)state;
	for (i = 0; i < STATS_N; i++) {
		const struct stats_figure *f = &stats_figures[i];

		for (j = 0; j < i; j++)
			assert_false(strcmp(f->key, stats_figures[j].key) == 0 &&
			    strcmp(f->field, stats_figures[j].field) == 0);
		assert_true(f->help[0] != '\0');
		if (f->field[0] != '\0')
			assert_true(figure_of(f->key, "") >= 0); /* its container is listed */
		if (f->metric == STATS_M_NONE)
			continue;
		assert_true(f->metric >= 0 && f->metric < STATS_M_N);
		assert_int_equal(f->type, stats_metrics[f->metric].type);
		fed[f->metric]++;
	}
	for (i = 0; i < STATS_M_N; i++) {
		for (j = 0; j < i; j++)
			assert_string_not_equal(stats_metrics[i].name, stats_metrics[j].name);
		assert_true(fed[i] > 0); /* no metric without a figure */
	}
}

/* Every figure the watcher writes is listed, and every listed one written. */
static void
test_watcher_writes_the_table(void **state)
{
	json_object *o = watcher_stats(), *c, *e;
	int i, k;

	(void)state;
	json_object_object_foreach(o, key, val)
	{
		k = figure_of(key, "");
		if (k < 0)
			fail_msg("the watcher writes \"%s\", which sql/stats_names.h does not list",
			    key);
		if (stats_figures[k].type == STATS_COUNTER || stats_figures[k].type == STATS_GAUGE)
			assert_true(json_object_is_type(val, json_type_int));
		if (stats_figures[k].type == STATS_HISTOGRAM) {
			assert_true(json_object_object_get_ex(val, STATS_HISTOGRAM_LE, NULL));
			assert_true(json_object_object_get_ex(val, STATS_HISTOGRAM_COUNTS, NULL));
			assert_true(json_object_object_get_ex(val, STATS_HISTOGRAM_SUM, NULL));
		}
	}
	for (i = 0; i < STATS_N; i++) {
		const struct stats_figure *f = &stats_figures[i];

		if (!json_object_object_get_ex(o, f->key, &c)) {
			if (!optional_key(f->key))
				fail_msg("sql/stats_names.h lists \"%s\", which the watcher never "
				         "writes",
				    f->key);
			continue;
		}
		if (f->field[0] == '\0')
			continue;
		/* a per-agent figure: in each entry of its container */
		if (json_object_is_type(c, json_type_array))
			e = json_object_array_get_idx(c, 0);
		else
			json_object_object_get_ex(c, "fileagent", &e);
		assert_non_null(e);
		if (!json_object_object_get_ex(e, f->field, NULL))
			fail_msg("no \"%s\" in the watcher's \"%s\" entries", f->field, f->key);
	}
	/* and the per-agent entries hold no figure the table does not list */
	json_object_object_get_ex(o, stats_figures[STATS_AGENT_LINES].key, &c);
	json_object_object_get_ex(c, "fileagent", &e);
	json_object_object_foreach(e, field, v1)
	{
		(void)v1;
		if (figure_of(stats_figures[STATS_AGENT_LINES].key, field) < 0)
			fail_msg("agent_lines entries hold \"%s\", not listed", field);
	}
	json_object_put(o);
}

/* The metrics text with a heartbeat whose stats are o (NULL: "{}"). */
static char *
render(const char *dir, json_object *o)
{
	struct store_heartbeat hb = { 0 };
	char path[512], err[256], *text;
	store *st;
	size_t len;

	snprintf(path, sizeof(path), "%s/t.db", dir);
	assert_int_equal(store_open(path, &st, err, sizeof(err)), STORE_OK);
	hb.pid = 999999999; /* no such process: no /proc fallback */
	hb.started_ms = util_now_ms();
	hb.last_heartbeat_ms = util_now_ms();
	hb.interval_ms = 60000;
	hb.stats = (char *)(o != NULL ? json_object_to_json_string(o) : "{}");
	assert_int_equal(store_heartbeat_put(st, &hb), STORE_OK);
	text = metrics_render(st, &len);
	store_close(st);
	return text;
}

/* The series name of a sample line, histogram suffixes cut. */
static void
sample_name(const char *line, char *name, size_t size)
{
	size_t n = strcspn(line, "{ ");
	static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
	size_t i, k;

	snprintf(name, size, "%.*s", (int)n, line);
	for (i = 0; i < 3; i++) {
		k = strlen(suffixes[i]);
		if (n > k && strcmp(name + n - k, suffixes[i]) == 0) {
			char base[256];

			snprintf(base, sizeof(base), "%.*s", (int)(n - k), name);
			/* only a histogram's: the base must be a listed histogram */
			for (k = 0; k < STATS_M_N; k++)
				if (stats_metrics[k].type == STATS_HISTOGRAM &&
				    strcmp(stats_metrics[k].name, base) == 0)
					snprintf(name, size, "%s", base);
			break;
		}
	}
}

/* 1 when text has the sample line (identity and value) of len bytes at line. */
static int
has_line(const char *text, const char *line, size_t len)
{
	const char *p = text, *end = text + strlen(text);

	while ((p = memmem(p, (size_t)(end - p), line, len)) != NULL) {
		if ((p == text || p[-1] == '\n') && (p[len] == '\n' || p[len] == '\0'))
			return 1;
		p++;
	}
	return 0;
}

/* The metric index of name, or -1. */
static int
metric_of(const char *name)
{
	int i;

	for (i = 0; i < STATS_M_N; i++)
		if (strcmp(stats_metrics[i].name, name) == 0)
			return i;
	return -1;
}

/*
 * Bitmask of the metrics whose samples differ between two renders (lines
 * of a = lines present in a and absent in b, or the reverse); program
 * "fcgi" lines are the responder's own and left out.
 */
static unsigned
differing(const char *a, const char *b)
{
	const char *texts[2] = { a, b };
	unsigned mask = 0;
	char name[256];
	int t, m;

	for (t = 0; t < 2; t++) {
		const char *p = texts[t], *nl;

		for (; *p != '\0'; p = *nl ? nl + 1 : nl) {
			size_t len;

			nl = strchr(p, '\n');
			if (nl == NULL)
				nl = p + strlen(p);
			len = (size_t)(nl - p);
			if (*p == '#' || len == 0 || memmem(p, len, "program=\"fcgi\"", 14) != NULL)
				continue;
			if (!has_line(texts[1 - t], p, len)) {
				sample_name(p, name, sizeof(name));
				if ((m = metric_of(name)) < 0) {
					/* heartbeat age moves between renders */
					if (strcmp(name,
					        "livestatus_watcher_heartbeat_age_seconds") == 0)
						continue;
					fail_msg("series %s comes from the watcher's stats but is "
					         "not in "
					         "sql/stats_names.h",
					    name);
				}
				mask |= 1u << m;
			}
		}
	}
	return mask;
}

/* The watcher's stats with the optional figures filled in. */
static json_object *
full_stats(void)
{
	json_object *o = watcher_stats(), *codes;
	int i;

	for (i = 0; i < STATS_N; i++) {
		const struct stats_figure *f = &stats_figures[i];

		if (f->field[0] != '\0' || json_object_object_get_ex(o, f->key, NULL))
			continue;
		if (i == STATS_MM_REQUESTS) {
			codes = json_object_new_object();
			json_object_object_add(codes, "201", json_object_new_int64(4));
			json_object_object_add(codes, "error", json_object_new_int64(1));
			json_object_object_add(o, f->key, codes);
		} else if (f->type == STATS_TEXT) {
			json_object_object_add(o, f->key, json_object_new_string(""));
		} else {
			json_object_object_add(o, f->key, json_object_new_int64(3));
		}
	}
	/* distinct values: a fallback cannot give the same text */
	json_object_object_add(o, stats_key(STATS_RSS_BYTES), json_object_new_int64(12345));
	json_object_object_add(o, stats_key(STATS_OPEN_FDS), json_object_new_int64(77));
	json_object_object_add(o, stats_key(STATS_STORE_BUSY), json_object_new_int64(9));
	return o;
}

/* Without figure i (or its field in every entry), metric's samples change. */
static unsigned
without(const char *dir, const char *full, int i)
{
	const struct stats_figure *f = &stats_figures[i];
	json_object *o = full_stats(), *c, *e;
	unsigned mask;
	char *text;
	size_t k;

	if (f->field[0] == '\0') {
		json_object_object_del(o, f->key);
	} else {
		json_object_object_get_ex(o, f->key, &c);
		if (json_object_is_type(c, json_type_array)) {
			for (k = 0; k < json_object_array_length(c); k++)
				json_object_object_del(json_object_array_get_idx(c, k), f->field);
		} else {
			json_object_object_foreach(c, agent, ent)
			{
				(void)agent;
				e = ent;
				json_object_object_del(e, f->field);
			}
		}
	}
	text = render(dir, o);
	mask = differing(full, text);
	free(text);
	json_object_put(o);
	return mask;
}

/* The metrics fed by the rows that share figure i's key. */
static unsigned
siblings(int i)
{
	unsigned mask = 0;
	int j;

	for (j = 0; j < STATS_N; j++)
		if (strcmp(stats_figures[j].key, stats_figures[i].key) == 0 &&
		    stats_figures[j].metric != STATS_M_NONE)
			mask |= 1u << stats_figures[j].metric;
	return mask;
}

static void
test_metrics_read_the_table(void **state)
{
	char dir[] = "/tmp/ls-stats-XXXXXX", path[600], line[512];
	json_object *o;
	char *full, *empty;
	unsigned all = (1u << STATS_M_N) - 1, mask;
	int i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	o = full_stats();
	full = render(dir, o);
	json_object_put(o);
	empty = render(dir, NULL);
	/* every series from the watcher's stats is a listed metric, and each is there */
	mask = differing(full, empty);
	for (i = 0; i < STATS_M_N; i++)
		if (!(mask & (1u << i)))
			fail_msg("metric %s does not come from the watcher's stats",
			    stats_metrics[i].name);
	assert_int_equal(mask, all);
	/* of the listed type and help */
	for (i = 0; i < STATS_M_N; i++) {
		snprintf(line, sizeof(line), "# TYPE %s %s\n", stats_metrics[i].name,
		    stats_type_name(stats_metrics[i].type));
		assert_non_null(strstr(full, line));
		snprintf(line, sizeof(line), "# HELP %s %s\n", stats_metrics[i].name,
		    stats_metrics[i].help);
		assert_non_null(strstr(full, line));
	}
	/* each figure feeds its row's metric and no other */
	for (i = 0; i < STATS_N; i++) {
		const struct stats_figure *f = &stats_figures[i];

		if (f->type == STATS_TEXT && f->field[0] == '\0' && f->metric == STATS_M_NONE &&
		    (i == STATS_AGENTS || i == STATS_AGENT_LINES))
			continue; /* a container: its fields' rows say what it feeds */
		mask = without(dir, full, i);
		if (f->metric == STATS_M_NONE && mask != 0)
			fail_msg("figure %s%s%s feeds a series but its row says none", f->key,
			    f->field[0] ? "." : "", f->field);
		if (f->metric != STATS_M_NONE && !(mask & (1u << f->metric)))
			fail_msg("figure %s%s%s does not feed %s", f->key, f->field[0] ? "." : "",
			    f->field, stats_metrics[f->metric].name);
		/* an entry without the figure may be skipped whole: its siblings' series */
		if ((mask & ~siblings(i)) != 0)
			fail_msg("figure %s%s%s feeds series its rows do not say (mask %#x)",
			    f->key, f->field[0] ? "." : "", f->field, mask);
	}
	free(full);
	free(empty);
	snprintf(path, sizeof(path), "%s/t.db", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/t.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/t.db-shm", dir);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_watcher_writes_the_table),
		cmocka_unit_test(test_metrics_read_the_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
