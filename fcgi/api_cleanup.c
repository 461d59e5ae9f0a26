/* api_cleanup: interrupting stale boxes and deleting old ones. */
#include "fcgi/api_cleanup.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "sql/store_api.h"

int
api_cleanup_once(store *st, struct notify *n, const struct api_config *cfg, int64_t now_ms)
{
	struct store_change *changes = NULL;
	size_t count = 0, i, deleted = 0;
	int64_t rev = 0;
	int rc;

	rc = store_cleanup_changes(st, now_ms, cfg->stale_after_s * 1000,
	    cfg->delete_after_s * 1000, &changes, &count, &rev);
	if (rc != STORE_OK) {
		log_warn("cleanup failed", "err", store_errmsg(st));
		return rc;
	}
	for (i = 0; i < count; i++) {
		deleted += (size_t)changes[i].deleted;
		notify_box(n, rev, changes[i].id, changes[i].channel_id);
	}
	if (count > 0)
		log_info("cleanup", "interrupted", LOG_I64(count - deleted), "deleted",
		    LOG_I64(deleted), "revision", LOG_I64(rev));
	store_changes_free(changes, count);
	return STORE_OK;
}

static void *
api_cleanup_run(void *arg)
{
	struct api_cleanup *c = arg;
	struct pollfd pfd = { .fd = c->stop_fd, .events = POLLIN };
	int64_t next = util_mono_ms(), now;
	int rc;

	for (;;) {
		now = util_mono_ms();
		if (now >= next) {
			api_cleanup_once(c->st, c->notify, c->cfg, util_now_ms());
			next = now + c->cfg->cleanup_interval_s * 1000;
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
