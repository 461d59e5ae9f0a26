/* api_cleanup: interrupting stale boxes and deleting old ones. */
#include "fcgi/api_cleanup.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "sql/store_api.h"
#include "sql/store_revdir.h"

size_t
api_cleanup_next_limit(size_t limit, int64_t hold_us, int64_t aim_us)
{
	if (hold_us > aim_us && limit / 2 >= API_CLEANUP_BATCH_MIN)
		return limit / 2;
	if (hold_us < aim_us / 4 && limit * 2 <= API_CLEANUP_BATCH)
		return limit * 2;
	return limit;
}

/*
 * One short transaction: the stale boxes and at most t->limit deletions;
 * *full says the batch was full (more may be left).
 */
static int
api_cleanup_batch(store *st, struct notify *n, const struct api_config *cfg, int64_t now_ms,
    struct api_cleanup_tally *t, int *full)
{
	struct store_change *changes = NULL;
	size_t count = 0, deleted = 0, limit, i;
	int64_t hold, aim = t->aim_us > 0 ? t->aim_us : API_CLEANUP_HOLD_US;
	int rc;

	limit = t->limit > 0 ? t->limit : API_CLEANUP_BATCH_START;
	*full = 0;
	rc = store_cleanup_changes(st, now_ms, cfg->stale_after_s * 1000,
	    cfg->delete_after_s * 1000, (int64_t)limit, &changes, &count, &t->revision);
	if (rc != STORE_OK)
		return rc;
	if (count > 0) {
		hold = store_last_hold_us(st);
		if (hold > t->longest_us)
			t->longest_us = hold;
		t->batches++;
		if (hold / 2 > aim)
			t->slow++;
		t->limit = api_cleanup_next_limit(limit, hold, aim);
		log_debug("cleanup batch", "changed", LOG_I64((int64_t)count), "hold_us",
		    LOG_I64(hold), "next_limit", LOG_I64((int64_t)t->limit));
	}
	for (i = 0; i < count; i++) {
		deleted += (size_t)changes[i].deleted;
		notify_box(n, t->revision, changes[i].id, changes[i].channel_id);
	}
	*full = deleted == limit;
	t->deleted += deleted;
	t->interrupted += count - deleted;
	store_changes_free(changes, count);
	return STORE_OK;
}

void
api_cleanup_report(struct api_cleanup_tally *t)
{
	if (t->interrupted + t->deleted > 0)
		log_info("cleanup", "interrupted", LOG_I64((int64_t)t->interrupted), "deleted",
		    LOG_I64((int64_t)t->deleted), "revision", LOG_I64(t->revision), "transactions",
		    LOG_I64((int64_t)t->batches), "longest_hold_us", LOG_I64(t->longest_us),
		    "holds_over_twice_the_aim", LOG_I64((int64_t)t->slow));
	t->interrupted = t->deleted = t->batches = t->slow = 0;
	t->revision = t->longest_us = 0;
	t->limit = 0;
}

int
api_cleanup_pass(store *st, struct notify *n, const struct api_config *cfg, int64_t now_ms,
    int64_t budget_ms, struct api_cleanup_tally *t, int *more)
{
	int64_t until = util_mono_ms() + budget_ms;
	int rc;

	*more = 0;
	do {
		if ((rc = api_cleanup_batch(st, n, cfg, now_ms, t, more)) != STORE_OK) {
			log_warn("cleanup failed", "err", store_errmsg(st));
			return rc;
		}
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
