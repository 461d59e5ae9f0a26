/* mm_poster (watcher): the watcher's one poster handle, started and stopped. */
#include "watcher/mm_poster.h"

#include <pthread.h>
#include <string.h>

#include "common/log.h"

/*
 * The running poster, under watcher_poster_mu: a caller on another thread
 * uses it with the lock held, so mm_poster_stop() cannot free it meanwhile.
 */
static pthread_mutex_t watcher_poster_mu = PTHREAD_MUTEX_INITIALIZER;
static struct mm_poster *watcher_poster;

int
mm_poster_start(const struct mm_config *cfg, const char *db_path)
{
	struct mm_poster *p = NULL;
	int ret = -1;

	pthread_mutex_lock(&watcher_poster_mu);
	if (watcher_poster != NULL) {
		log_error("mattermost poster already running");
		goto out;
	}
	if (cfg->url == NULL || (p = mm_poster_new(cfg, db_path, NULL)) == NULL)
		goto out;
	if (mm_poster_run(p) != 0) {
		mm_poster_free(p);
		goto out;
	}
	watcher_poster = p;
	ret = 0;
out:
	pthread_mutex_unlock(&watcher_poster_mu);
	return ret;
}

void
mm_poster_kick(void)
{
	pthread_mutex_lock(&watcher_poster_mu);
	if (watcher_poster != NULL)
		mm_poster_wake(watcher_poster);
	pthread_mutex_unlock(&watcher_poster_mu);
}

void
mm_poster_stop(void)
{
	struct mm_poster *p;

	pthread_mutex_lock(&watcher_poster_mu);
	p = watcher_poster;
	watcher_poster = NULL;
	pthread_mutex_unlock(&watcher_poster_mu);
	mm_poster_free(p); /* joins the thread: outside the lock */
}

const char *
mm_poster_breaker_state(void)
{
	const char *state = NULL;

	pthread_mutex_lock(&watcher_poster_mu);
	if (watcher_poster != NULL)
		state = mm_poster_breaker(watcher_poster);
	pthread_mutex_unlock(&watcher_poster_mu);
	return state;
}

void
mm_poster_stats(struct mm_poster_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&watcher_poster_mu);
	if (watcher_poster != NULL)
		mm_poster_counts(watcher_poster, out);
	pthread_mutex_unlock(&watcher_poster_mu);
}

void
mm_poster_stats_json(struct json_object *stats)
{
	pthread_mutex_lock(&watcher_poster_mu);
	if (watcher_poster != NULL)
		mm_poster_counts_json(watcher_poster, stats);
	pthread_mutex_unlock(&watcher_poster_mu);
}
