/* api_cleanup: interrupting stale boxes and deleting old ones. */
#include "fcgi/api_cleanup.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "sql/store_api.h"
#include "sql/store_revdir.h"

/* One short transaction: the stale boxes and at most API_CLEANUP_BATCH deletions. */
static int
api_cleanup_batch(store *st, struct notify *n, const struct api_config *cfg, int64_t now_ms,
    struct api_cleanup_tally *t, size_t *deleted)
{
	struct store_change *changes = NULL;
	int64_t began = util_mono_ms(), took;
	size_t count = 0, i;
	int rc;

	*deleted = 0;
	rc = store_cleanup_changes(st, now_ms, cfg->stale_after_s * 1000,
	    cfg->delete_after_s * 1000, API_CLEANUP_BATCH, &changes, &count, &t->revision);
	if (rc != STORE_OK)
		return rc;
	took = util_mono_ms() - began;
	if (count > 0 && took > t->longest_ms)
		t->longest_ms = took;
	for (i = 0; i < count; i++) {
		*deleted += (size_t)changes[i].deleted;
		notify_box(n, t->revision, changes[i].id, changes[i].channel_id);
	}
	t->deleted += *deleted;
	t->interrupted += count - *deleted;
	store_changes_free(changes, count);
	return STORE_OK;
}

void
api_cleanup_report(struct api_cleanup_tally *t)
{
	if (t->interrupted + t->deleted > 0)
		log_info("cleanup", "interrupted", LOG_I64((int64_t)t->interrupted), "deleted",
		    LOG_I64((int64_t)t->deleted), "revision", LOG_I64(t->revision),
		    "longest_transaction_ms", LOG_I64(t->longest_ms));
	memset(t, 0, sizeof(*t));
}

int
api_cleanup_pass(store *st, struct notify *n, const struct api_config *cfg, int64_t now_ms,
    int64_t budget_ms, struct api_cleanup_tally *t, int *more)
{
	int64_t until = util_mono_ms() + budget_ms;
	size_t batch;
	int rc;

	*more = 0;
	do {
		if ((rc = api_cleanup_batch(st, n, cfg, now_ms, t, &batch)) != STORE_OK) {
			log_warn("cleanup failed", "err", store_errmsg(st));
			return rc;
		}
		*more = batch == API_CLEANUP_BATCH;
	} while (*more && util_mono_ms() < until);
	return STORE_OK;
}

int
api_cleanup_once(store *st, struct notify *n, const struct api_config *cfg, int64_t now_ms)
{
	struct api_cleanup_tally t = { 0 };
	int more = 1, rc = STORE_OK;

	while (more && rc == STORE_OK)
		rc = api_cleanup_pass(st, n, cfg, now_ms, API_CLEANUP_PASS_MS, &t, &more);
	api_cleanup_report(&t);
	return rc;
}

static void *
api_cleanup_run(void *arg)
{
	struct api_cleanup *c = arg;
	struct pollfd pfd = { .fd = c->stop_fd, .events = POLLIN };
	struct api_cleanup_tally t = { 0 };
	int64_t next = util_mono_ms(), heal = next, now, wait, revision;
	int rc, more = 0;

	for (;;) {
		now = util_mono_ms();
		/* A link a writer could not move is set right within a second. */
		if (c->revdir != NULL && now >= heal) {
			heal = now + API_CLEANUP_REVDIR_MS;
			if (store_revision(c->st, &revision) == STORE_OK)
				store_revdir_advance(c->revdir, revision);
		}
		if (now >= next) {
			/* one batch; a backlog goes on after a pause (polling stop_fd) */
			if (api_cleanup_pass(c->st, c->notify, c->cfg, util_now_ms(), 0, &t,
			        &more) != STORE_OK ||
			    !more)
				api_cleanup_report(&t);
			next =
			    now + (more ? API_CLEANUP_PAUSE_MS : c->cfg->cleanup_interval_s * 1000);
			continue;
		}
		wait = next - now;
		if (c->revdir != NULL && wait > heal - now)
			wait = heal - now;
		rc = poll(&pfd, 1, (int)wait);
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
