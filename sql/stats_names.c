/*
 * stats_names: the tables of the watcher's figures and the series they
 * feed (see stats_names.h).
 */
#include "sql/stats_names.h"

#define STATS_METRIC_ROW(id, name, type, help) { name, type, help },
const struct stats_metric_info stats_metrics[STATS_M_N] = { STATS_METRICS(STATS_METRIC_ROW) };
#undef STATS_METRIC_ROW

#define STATS_FIGURE_ROW(id, key, field, type, metric, help) \
	{ key, field, type, STATS_M_##metric, help },
const struct stats_figure stats_figures[STATS_N] = { STATS_FIGURES(STATS_FIGURE_ROW) };
#undef STATS_FIGURE_ROW

const char *
stats_key(enum stats_id id)
{
	return stats_figures[id].field[0] != '\0' ? stats_figures[id].field : stats_figures[id].key;
}

const char *
stats_type_name(enum stats_type type)
{
	switch (type) {
	case STATS_COUNTER:
		return "counter";
	case STATS_GAUGE:
		return "gauge";
	case STATS_HISTOGRAM:
		return "histogram";
	case STATS_TEXT:
		break;
	}
	return "untyped";
}
