/* mm_poster_box: the poster's step on one box: channel, intent, create, edit. */
#include "mm/mm_poster_box.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "mm/mm_post.h"
#include "mm/mm_render.h"

/* Mattermost forgets a pending_post_id 30 s after the post was made. */
#define MM_PENDING_SAFE_MS 25000
/* Retry of a create whose answer was lost, well inside the 30 s window. */
#define MM_UNSURE_RETRY_MS 1000

/* ---- where a box goes ------------------------------------------------- */

static enum mm_step
mm_bot_user(struct mm_poster *p, int64_t *at)
{
	struct mm_http_resp r;
	enum mm_call c;

	if (p->bot_user_id != NULL)
		return MM_STEP_DONE;
	c = mm_poster_call(p, "GET", "/api/v4/users/me", NULL, &r, at);
	if (c == MM_CALL_ANSWERED && r.status == 200)
		p->bot_user_id = mm_post_json_str(r.body, "id");
	else if (c == MM_CALL_ANSWERED)
		log_error("mattermost bot user unknown", "status", LOG_I64(r.status));
	mm_http_resp_free(&r);
	if (c == MM_CALL_BLOCKED)
		return MM_STEP_BLOCKED;
	if (p->bot_user_id == NULL) {
		*at = util_mono_ms() + MM_BOX_BACKOFF_MS;
		return MM_STEP_LATER;
	}
	return MM_STEP_DONE;
}

/* The direct channel of the bot and user, opened and cached; see mm_channel(). */
static enum mm_step
mm_direct(struct mm_poster *p, const char *user, const char *box_id, char **channel, int64_t *at)
{
	struct mm_http_resp r;
	struct json_object *ids;
	enum mm_step step;
	enum mm_call c;
	int rc;

	if (store_mm_dm_get(p->st, user, channel) == STORE_OK)
		return MM_STEP_DONE;
	if ((step = mm_bot_user(p, at)) != MM_STEP_DONE)
		return step;
	ids = json_object_new_array();
	json_object_array_add(ids, json_object_new_string(p->bot_user_id));
	json_object_array_add(ids, json_object_new_string(user));
	c = mm_poster_call(p, "POST", "/api/v4/channels/direct",
	    json_object_to_json_string_ext(ids, JSON_C_TO_STRING_PLAIN), &r, at);
	json_object_put(ids);
	if (c == MM_CALL_ANSWERED && (r.status == 200 || r.status == 201))
		*channel = mm_post_json_str(r.body, "id");
	mm_http_resp_free(&r);
	if (c == MM_CALL_BLOCKED)
		return MM_STEP_BLOCKED;
	if (*channel == NULL) {
		log_warn("cannot open a direct channel", "user_id", user, "box", box_id);
		*at = util_mono_ms() + (c == MM_CALL_FAILED ? 1000 : MM_BOX_BACKOFF_MS);
		return MM_STEP_LATER;
	}
	if (store_begin(p->st) == STORE_OK) {
		rc = store_mm_dm_put(p->st, user, *channel);
		if (rc != STORE_OK || store_commit(p->st) != STORE_OK)
			store_rollback(p->st);
	}
	return MM_STEP_DONE;
}

/*
 * The channel of a box: its own, the direct channel of its user target,
 * DEFAULT_CHANNEL, or none (*channel = NULL: local).  MM_STEP_DONE when
 * decided.
 */
static enum mm_step
mm_channel(struct mm_poster *p, const struct store_box *top, char **channel, int64_t *at)
{
	char *target = NULL;
	enum mm_step step = MM_STEP_DONE;

	*channel = NULL;
	if (top->channel_id != NULL && top->channel_id[0] != '\0') {
		*channel = xstrdup(top->channel_id);
		return MM_STEP_DONE;
	}
	if (store_mm_target(p->st, top->id, &target) != STORE_OK)
		target = xstrdup("");
	if (strncmp(target, "user:", 5) == 0 && target[5] != '\0')
		step = mm_direct(p, target + 5, top->id, channel, at);
	else if (p->cfg.default_channel != NULL)
		*channel = xstrdup(p->cfg.default_channel);
	free(target);
	return step;
}

/* ---- posting one box -------------------------------------------------- */

static int
mm_ended(const struct store_box *b)
{
	return b->status != NULL && strcmp(b->status, "active") != 0;
}

static int64_t
mm_tree_revision(const struct store_box *tree, size_t n)
{
	int64_t rev = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (tree[i].revision > rev)
			rev = tree[i].revision;
	return rev;
}

/* Writes row (and, with post_id, the box's post id) in one transaction. */
static int
mm_save(struct mm_poster *p, const struct store_mm_post *row, const char *channel_for_box)
{
	int changed = 0, rc;
	int64_t rev = 0;

	if ((rc = store_begin(p->st)) != STORE_OK)
		goto fail;
	if ((rc = store_mm_post_put(p->st, row)) != STORE_OK)
		goto fail;
	if (row->post_id != NULL && row->post_id[0] != '\0') {
		rc = store_mm_set_post(p->st, row->box_id, row->post_id, channel_for_box, &changed);
		if (rc != STORE_OK && rc != STORE_NOTFOUND)
			goto fail;
	}
	if ((rc = store_commit(p->st)) != STORE_OK)
		goto fail;
	if (changed) {
		p->again = 1;
		if (store_revision(p->st, &rev) == STORE_OK)
			notify_box(p->notify, rev, row->box_id, row->channel_id);
	}
	return 0;
fail:
	log_error(
	    "cannot store mattermost post state", "box", row->box_id, "err", store_errmsg(p->st));
	store_rollback(p->st);
	return -1;
}

static void
mm_set(char **field, const char *value)
{
	free(*field);
	*field = xstrdup(value);
}

/*
 * A create sent earlier got no answer and Mattermost's pending_post_id
 * window may be over: 1 when the post was found in its channel (and is
 * now the box's), else 0.
 */
static int
mm_found(struct mm_poster *p, struct store_mm_post *row, int64_t *at)
{
	struct mm_http_resp r;
	char *post_id = NULL;

	mm_post_find(&p->gate, row->channel_id, row->intent_ms - 60000, row->box_id, &r, &post_id);
	mm_http_resp_free(&r);
	if (mm_poster_called(p, at) != MM_CALL_ANSWERED || post_id == NULL) {
		free(post_id);
		return 0;
	}
	log_info(
	    "mattermost post found after a lost answer", "box", row->box_id, "post_id", post_id);
	mm_set(&row->state, "posted");
	free(row->post_id);
	row->post_id = post_id;
	row->unsure_ms = 0;
	/* What it shows is unknown: the next pass edits it. */
	row->posted_revision = 0;
	mm_save(p, row, row->channel_id);
	return 1;
}

static enum mm_step
mm_create(struct mm_poster *p, struct store_mm_post *row, const struct store_box *tree, size_t n,
    struct mm_boxpace *pace, int64_t *at)
{
	int64_t now = util_mono_ms(), wall = util_now_ms();
	struct mm_post_new np = { .channel_id = row->channel_id,
		.root_id = row->root_id,
		.box_id = row->box_id,
		.pending_post_id = row->pending_post_id,
		.plugin = strcmp(row->mode, "plugin") == 0 };
	struct mm_http_resp r;
	char *text, *post_id = NULL;
	enum mm_step step = MM_STEP_DONE;
	enum mm_call c;

	/* An intent older than Mattermost's pending_post_id memory may have
	 * made a post whose answer never arrived (lost, or kill -9): look. */
	if (wall - row->intent_ms > MM_PENDING_SAFE_MS && mm_found(p, row, at))
		return MM_STEP_LATER;
	text = mm_render_box(tree, n, (size_t)p->cfg.max_message_chars);
	np.message = text;
	mm_post_create(&p->gate, &np, &r, &post_id);
	if ((c = mm_poster_called(p, at)) == MM_CALL_BLOCKED) {
		step = MM_STEP_BLOCKED;
		goto out;
	}
	/* From the answer on: the server sees requests THROTTLE_MS apart at least. */
	pace->last_send = util_mono_ms();
	if (c == MM_CALL_FAILED) {
		if (r.outcome == MM_HTTP_UNKNOWN && row->unsure_ms == 0) {
			row->unsure_ms = wall;
			mm_save(p, row, NULL);
		}
		*at = now + MM_UNSURE_RETRY_MS;
		step = MM_STEP_LATER;
		goto out;
	}
	row->posted_revision = mm_tree_revision(tree, n);
	if (post_id == NULL) {
		log_error("mattermost refused a post", "box", row->box_id, "channel_id",
		    row->channel_id, "status", LOG_I64(r.status));
		mm_set(&row->state, "failed");
		mm_save(p, row, NULL);
		pace->not_before = now + MM_BOX_BACKOFF_MS;
		goto out;
	}
	mm_set(&row->state, "posted");
	free(row->post_id);
	row->post_id = post_id;
	free(row->posted_text);
	row->posted_text = text;
	text = NULL;
	row->unsure_ms = 0;
	row->final_sent = np.plugin && mm_ended(&tree[0]);
	if (mm_save(p, row, row->channel_id) == 0) {
		atomic_fetch_add(&p->created, 1);
		log_info("mattermost post created", "box", row->box_id, "post_id", row->post_id,
		    "mode", row->mode);
	}
out:
	free(text);
	mm_http_resp_free(&r);
	return step;
}

/* PUT the message (and our props) of a posted box. */
static enum mm_step
mm_edit(struct mm_poster *p, struct store_mm_post *row, const char *text, int64_t rev, int final,
    struct mm_boxpace *pace, int64_t *at)
{
	int64_t now = util_mono_ms();
	struct mm_http_resp r;
	enum mm_step step = MM_STEP_DONE;
	enum mm_call c;

	mm_post_edit(&p->gate, row->post_id, row->box_id, text, &r);
	if ((c = mm_poster_called(p, at)) == MM_CALL_BLOCKED) {
		step = MM_STEP_BLOCKED;
		goto out;
	}
	/* From the answer on: the server sees requests THROTTLE_MS apart at least. */
	pace->last_send = util_mono_ms();
	if (c == MM_CALL_FAILED) {
		*at = now + 1000;
		step = MM_STEP_LATER;
		goto out;
	}
	row->posted_revision = rev;
	if (r.status == 200) {
		mm_set(&row->posted_text, text);
		if (final)
			row->final_sent = 1;
		if (mm_save(p, row, NULL) == 0)
			atomic_fetch_add(&p->edited, 1);
	} else if (r.status == 403 || r.status == 404) {
		/* Deleted on the server (or no longer ours): leave it be. */
		log_warn("mattermost post gone, no longer updated", "box", row->box_id, "post_id",
		    row->post_id, "status", LOG_I64(r.status));
		mm_set(&row->state, "gone");
		mm_save(p, row, NULL);
	} else {
		log_error("mattermost refused an edit", "box", row->box_id, "post_id", row->post_id,
		    "status", LOG_I64(r.status));
		mm_save(p, row, NULL);
		pace->not_before = now + MM_BOX_BACKOFF_MS;
	}
out:
	mm_http_resp_free(&r);
	return step;
}

/* 1 when the throttle holds this box back; *at is then when it may go. */
static int
mm_throttled(struct mm_poster *p, const struct mm_boxpace *pace, int flush, int64_t *at)
{
	int64_t now = util_mono_ms();

	if (flush || pace->last_send == 0 || now - pace->last_send >= p->cfg.throttle_ms)
		return 0;
	*at = pace->last_send + p->cfg.throttle_ms;
	return 1;
}

/*
 * A box without a post yet (or local, or refused): its channel, then the
 * intent to create its post, committed before any request.  0 with row in
 * state creating to go on; 1 when the box's step ends here, with *step.
 */
static int
mm_intent(struct mm_poster *p, struct store_mm_post *row, const struct store_box *top, int64_t rev,
    const struct mm_boxpace *pace, int flush, int64_t *at, enum mm_step *step)
{
	int64_t now = util_mono_ms();
	char *channel = NULL, pending[33];

	if ((*step = mm_channel(p, top, &channel, at)) != MM_STEP_DONE)
		return 1;
	store_mm_post_free(row);
	row->box_id = xstrdup(top->id);
	row->intent_ms = util_now_ms();
	if (channel == NULL) {
		row->mode = xstrdup("local");
		row->state = xstrdup("local");
		row->posted_revision = rev;
		mm_save(p, row, NULL);
		return 1;
	}
	*step = MM_STEP_LATER;
	if (p->plugin_mode < 0) {
		/* The mode is not known yet: the plugin check comes first. */
		*at = p->next_plugin_check > now ? p->next_plugin_check : now + 1000;
		free(channel);
		return 1;
	}
	if (mm_throttled(p, pace, flush, at)) {
		free(channel);
		return 1;
	}
	util_random_hex(pending, 16);
	row->channel_id = channel;
	row->root_id = xstrdup(top->root_id != NULL ? top->root_id : "");
	row->mode = xstrdup(p->plugin_mode == 1 ? "plugin" : "rest");
	row->state = xstrdup("creating");
	row->pending_post_id = xstrdup(pending);
	row->post_id = xstrdup("");
	row->posted_text = xstrdup("");
	/* The intent is durable before the request can be. */
	if (mm_save(p, row, NULL) != 0) {
		*at = now + 1000;
		return 1;
	}
	*step = MM_STEP_DONE;
	return 0;
}

/* The box's posted text, or its final text, sent when it changed. */
static enum mm_step
mm_posted(struct mm_poster *p, struct store_mm_post *row, const struct store_box *tree, size_t n,
    int64_t rev, struct mm_boxpace *pace, int flush, int64_t *at)
{
	enum mm_step step = MM_STEP_DONE;
	int ended = mm_ended(&tree[0]), final = 0;
	char *text = NULL;

	/* The box shows its post id even if a writer dropped it. */
	if (tree[0].post_id == NULL || strcmp(tree[0].post_id, row->post_id) != 0)
		mm_save(p, row, row->channel_id);
	if (strcmp(row->mode, "plugin") == 0 && p->plugin_mode == 0) {
		log_info("plugin disabled: editing its post as text", "box", row->box_id);
		mm_set(&row->mode, "rest");
	}
	if (strcmp(row->mode, "plugin") == 0) {
		if (!ended || row->final_sent)
			goto unchanged;
		final = 1;
	}
	text = mm_render_box(tree, n, (size_t)p->cfg.max_message_chars);
	if (strcmp(text, row->posted_text) == 0 && (!final || row->final_sent))
		goto unchanged;
	if (mm_throttled(p, pace, flush, at))
		step = MM_STEP_LATER;
	else
		step = mm_edit(p, row, text, rev, final || ended, pace, at);
	goto out;
unchanged:
	row->posted_revision = rev;
	mm_save(p, row, NULL);
out:
	free(text);
	return step;
}

enum mm_step
mm_poster_box(struct mm_poster *p, const struct store_mm_dirty *d, struct mm_boxpace *pace,
    int flush, int64_t *at)
{
	struct store_mm_post row;
	struct store_box *tree = NULL;
	size_t n = 0;
	int64_t rev;
	enum mm_step step = MM_STEP_DONE;
	int rc;

	memset(&row, 0, sizeof(row));
	rc = store_mm_tree(p->st, d->box_id, &tree, &n);
	if (rc == STORE_NOTFOUND)
		return MM_STEP_DONE;
	if (rc != STORE_OK)
		goto store_fail;
	rev = mm_tree_revision(tree, n);
	rc = store_mm_post_get(p->st, d->box_id, &row);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		goto store_fail;
	if ((rc == STORE_NOTFOUND || strcmp(row.state, "local") == 0 ||
	        strcmp(row.state, "failed") == 0) &&
	    mm_intent(p, &row, &tree[0], rev, pace, flush, at, &step))
		goto out;
	if (strcmp(row.state, "creating") == 0) {
		if (row.unsure_ms == 0 && mm_throttled(p, pace, flush, at))
			step = MM_STEP_LATER;
		else
			step = mm_create(p, &row, tree, n, pace, at);
	} else if (strcmp(row.state, "posted") == 0) {
		step = mm_posted(p, &row, tree, n, rev, pace, flush, at);
	} else { /* gone */
		row.posted_revision = rev;
		mm_save(p, &row, NULL);
	}
	goto out;
store_fail:
	log_error("cannot read box for mattermost", "box", d->box_id, "err", store_errmsg(p->st));
	*at = util_mono_ms() + 1000;
	step = MM_STEP_LATER;
out:
	store_mm_post_free(&row);
	store_box_list_free(tree, n);
	return step;
}
