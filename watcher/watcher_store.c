/*
 * watcher_store: the one transaction of each wake-up (boxes, session
 * states, file offsets, database cursors) and the restore at start-up (see
 * watcher_int.h).
 */
#include "watcher/watcher_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "sql/store_watcher.h"

/*
 * POST-COMMIT HOOK.  Called after every successful commit that changed at
 * least one box, with the store revision of the last change.  The
 * Mattermost poster (its own thread and store handle) is woken here, e.g.
 * by writing to its eventfd; it then reads the changed boxes from the store.
 */
static void
watcher_committed(struct watcher *w, int64_t revision, size_t nboxes)
{
	(void)revision;
	(void)nboxes;
	if (w->poster != NULL)
		mm_poster_wake(w->poster);
	forward_kick(w->fwd);
}

/*
 * Writes the changed boxes, each parent before the sub-agent boxes that name
 * it (parent_id is a foreign key; a run and its child may be new in the same
 * batch, in any order).
 */
static int
watcher_put_boxes(struct watcher *w, struct box_change *ch, size_t n, size_t *nboxes, int64_t *rev)
{
	unsigned char *done = xcalloc(n + 1, 1);
	size_t i, j, k, left = 0;
	int rc = STORE_OK, progress, force = 0;

	for (i = 0; i < n; i++)
		left += ch[i].has_box != 0;
	while (left > 0) {
		progress = 0;
		/* Replaced (older) runs first, so that rows go in the order runs began. */
		for (k = 0; k < 2 * n && rc == STORE_OK; k++) {
			const char *pid;

			i = k % n;
			if (!ch[i].has_box || done[i] || ch[i].retired != (k < n))
				continue;
			pid = ch[i].box.parent_id;
			for (j = 0; !force && pid != NULL && j < n; j++) {
				if (j != i && ch[j].has_box && !done[j] &&
				    strcmp(ch[j].box.id, pid) == 0)
					break;
			}
			if (!force && pid != NULL && j < n)
				continue; /* its parent first */
			ch[i].box.gateway = (char *)w->cfg->gateway_name;
			rc = store_watcher_box_put(w->st, &ch[i].box);
			ch[i].box.gateway = NULL; /* not the change's to free */
			if (rc != STORE_OK)
				break;
			done[i] = 1;
			left--;
			progress = 1;
			(*nboxes)++;
			*rev = ch[i].box.revision;
		}
		if (rc != STORE_OK)
			break;
		force = !progress; /* a cycle cannot happen; never loop on one */
	}
	free(done);
	return rc;
}

/* A commit failed: the changes stay for the next try (soon). */
static void
watcher_commit_failed(struct watcher *w, int rc, size_t changes)
{
	store_rollback(w->st);
	if (rc == STORE_BUSY) {
		w->commit_busy++;
		log_warn(
		    "store busy, keeping changes for the next try", "changes", LOG_I64(changes));
	} else {
		log_error("cannot write to the store", "err", store_errmsg(w->st));
		w->write_failed_ms = util_now_ms();
		snprintf(w->write_error, sizeof(w->write_error), "%s", store_errmsg(w->st));
	}
	w->retry_at = util_mono_ms() + WATCHER_RETRY_MS;
}

/* A commit went through: counts it, marks inputs clean, sends the notices. */
static void
watcher_commit_done(struct watcher *w, struct box_change *ch, size_t n, int64_t since)
{
	struct ocdb_stats os;
	size_t i;

	w->retry_at = 0;
	w->commits++;
	ocdb_stats(w->ocdb, &os);
	watcher_count_committed(w, os.events_read - w->ocdb_seen, since);
	w->ocdb_seen = os.events_read;
	tail_mark_clean(w->tail);
	ocdb_saved(w->ocdb);
	for (i = 0; i < n; i++) {
		const char *chan = ch[i].box.channel_id;
		char route[128];

		if (!ch[i].has_box)
			continue;
		/* a sub-agent without a channel is heard in its parent's */
		if ((chan == NULL || *chan == '\0') && ch[i].box.parent_id != NULL &&
		    store_box_route_channel(w->st, ch[i].box.id, route, sizeof(route)) == STORE_OK)
			chan = route;
		notify_box(w->notify, ch[i].box.revision, ch[i].box.id, chan);
		w->notices++;
	}
}

/* Writes every pending change in one transaction; 0, or a STORE_ code. */
int
watcher_commit(struct watcher *w)
{
	struct box_change *ch = NULL;
	struct tail_file **files;
	char **del;
	size_t n, nf, ndel, i, nboxes = 0;
	int64_t now = util_now_ms(), rev = 0, since = util_mono_ms();
	int rc;

	n = box_changes(w->model, &ch);
	ndel = box_deleted(w->model, &del);
	nf = tail_dirty(w->tail, &files);
	if (n == 0 && nf == 0 && !ocdb_dirty(w->ocdb))
		return STORE_OK;
	if ((rc = store_begin(w->st)) != STORE_OK)
		goto out;
	for (i = 0; i < ndel; i++) {
		if ((rc = store_box_delete(w->st, del[i])) != STORE_OK && rc != STORE_NOTFOUND)
			goto out;
		rc = STORE_OK;
	}
	if ((rc = watcher_put_boxes(w, ch, n, &nboxes, &rev)) != STORE_OK)
		goto out;
	for (i = 0; i < n; i++) {
		struct box_change *c = &ch[i];

		if (c->retired)
			continue;
		if ((rc = store_watcher_session_put(
		         w->st, c->session_key, c->box_id, c->state, c->target, now)) != STORE_OK)
			goto out;
	}
	for (i = 0; i < nf; i++) {
		struct tail_file *f = files[i];

		if (f->gone)
			rc = store_watcher_file_delete(w->st, f->path);
		else
			rc = store_watcher_file_put(w->st, f->path, (int64_t)f->inode, f->offset,
			    f->key, watcher_agent(f), now);
		if (rc != STORE_OK)
			goto out;
	}
	if ((rc = ocdb_save(w->ocdb, now)) != STORE_OK)
		goto out;
	rc = store_commit(w->st);
out:
	if (rc != STORE_OK)
		watcher_commit_failed(w, rc, n + nf);
	else
		watcher_commit_done(w, ch, n, since);
	if (rc == STORE_OK && nboxes > 0)
		watcher_committed(w, rev, nboxes);
	box_changes_free(ch, n);
	if (rc == STORE_OK)
		box_mark_clean(w->model); /* frees what the change list pointed into */
	return rc;
}

int
watcher_restore(struct watcher *w)
{
	struct store_watcher_session *ss = NULL;
	struct store_watcher_file *fs = NULL;
	size_t ns = 0, nf = 0, i;
	int64_t since = 0, alive = 0;
	int rc;

	if ((rc = store_watcher_session_list(w->st, &ss, &ns)) != STORE_OK ||
	    (rc = store_watcher_file_list(w->st, &fs, &nf)) != STORE_OK) {
		log_error("cannot read the watcher's state", "err", store_errmsg(w->st));
		goto out;
	}
	for (i = 0; i < ns; i++) {
		struct store_box box;
		int have = 0;

		if (ss[i].box_id != NULL && store_box_get(w->st, ss[i].box_id, &box) == STORE_OK)
			have = 1;
		if (box_restore(w->model, ss[i].session_key, ss[i].state, have ? &box : NULL) != 0)
			log_warn(
			    "cannot read a stored session state", "session", ss[i].session_key);
		if (have)
			store_box_free(&box);
	}
	for (i = 0; i < nf; i++) {
		tail_restore(
		    w->tail, fs[i].path, (uint64_t)fs[i].inode, fs[i].offset, fs[i].session_key);
		if (fs[i].updated_ms > since)
			since = fs[i].updated_ms;
	}
	/*
	 * Files born since we were last alive were missed while we were down;
	 * older ones (restored, copied in) are not news.
	 */
	if (store_watcher_clock_get(w->st, &alive) != STORE_OK || alive < since)
		alive = since;
	if (since == 0)
		since = alive; /* it ran before, but never read a line */
	tail_set_since(w->tail, since > 0 ? since - WATCHER_BORN_SLACK_MS : 0, alive);
	log_info("state restored", "sessions", LOG_I64(ns), "files", LOG_I64(nf));
out:
	store_watcher_session_list_free(ss, ns);
	store_watcher_file_list_free(fs, nf);
	return rc == STORE_OK ? 0 : -1;
}
