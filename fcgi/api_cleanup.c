/* api_cleanup: interrupting stale boxes and deleting old ones. */
#include "fcgi/api_cleanup.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "sql/store_api.h"

/* One short transaction: the stale boxes and at most API_CLEANUP_BATCH deletions. */
static int
api_cleanup_batch(store *st, struct notify *n, const struct api_config *cfg, int64_t now_ms,
    size_t *interrupted, size_t *deleted, int64_t *rev)
{
	struct store_change *changes = NULL;
	size_t count = 0, i;
	int rc;

	*deleted = 0;
	rc = store_cleanup_changes(st, now_ms, cfg->stale_after_s * 1000,
	    cfg->delete_after_s * 1000, API_CLEANUP_BATCH, &changes, &count, rev);
	if (rc != STORE_OK)
		return rc;
	for (i = 0; i < count; i++) {
		*deleted += (size_t)changes[i].deleted;
		notify_box(n, *rev, changes[i].id, changes[i].channel_id);
	}
	*interrupted += count - *deleted;
	store_changes_free(changes, count);
	return STORE_OK;
}

int
api_cleanup_pass(store *st, struct notify *n, const struct api_config *cfg, int64_t now_ms,
    int64_t budget_ms, int *more)
{
	int64_t until = util_mono_ms() + budget_ms, rev = 0;
	size_t interrupted = 0, deleted = 0, batch;
	int rc;

	*more = 0;
	do {
		if ((rc = api_cleanup_batch(st, n, cfg, now_ms, &interrupted, &batch, &rev)) !=
		    STORE_OK) {
			log_warn("cleanup failed", "err", store_errmsg(st));
			return rc;
		}
		deleted += batch;
		*more = batch == API_CLEANUP_BATCH;
	} while (*more && util_mono_ms() < until);
	if (interrupted + deleted > 0)
		log_info("cleanup", "interrupted", LOG_I64((int64_t)interrupted), "deleted",
		    LOG_I64((int64_t)deleted), "revision", LOG_I64(rev), "more", LOG_I64(*more));
	return STORE_OK;
}

int
api_cleanup_once(store *st, struct notify *n, const struct api_config *cfg, int64_t now_ms)
{
	int more = 1, rc = STORE_OK;

	while (more && rc == STORE_OK)
		rc = api_cleanup_pass(st, n, cfg, now_ms, API_CLEANUP_PASS_MS, &more);
	return rc;
}

static void *
api_cleanup_run(void *arg)
{
	struct api_cleanup *c = arg;
	struct pollfd pfd = { .fd = c->stop_fd, .events = POLLIN };
	int64_t next = util_mono_ms(), now;
	int rc, more = 0;

	for (;;) {
		now = util_mono_ms();
		if (now >= next) {
			/* one batch; a backlog goes on after a pause (polling stop_fd) */
			api_cleanup_pass(c->st, c->notify, c->cfg, util_now_ms(), 0, &more);
			next =
			    now + (more ? API_CLEANUP_PAUSE_MS : c->cfg->cleanup_interval_s * 1000);
			continue;
		}
		rc = poll(&pfd, 1, (int)(next - now));
		if (rc > 0)
			break;
		if (rc < 0 && errno != EINTR) {
			log_error("cleanup: poll failed", "err", strerror(errno));
			break;
		}
	}
	return NULL;
}

int
api_cleanup_start(struct api_cleanup *c)
{
	int rc = pthread_create(&c->thread, NULL, api_cleanup_run, c);

	if (rc != 0) {
		log_error("cannot start the cleanup thread", "err", strerror(rc));
		return -1;
	}
	return 0;
}

void
api_cleanup_join(struct api_cleanup *c)
{
	pthread_join(c->thread, NULL);
}
