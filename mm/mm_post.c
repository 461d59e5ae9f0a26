/* mm_post: a box's post in Mattermost: create, edit, final text, find. */
#include "mm/mm_post.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "mm/mm_render.h"
#include "sql/store_mm.h"

#define MM_POST_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static struct json_object *
mm_post_props(const char *box_id)
{
	struct json_object *props = json_object_new_object();

	json_object_object_add(props, "session_id", json_object_new_string(box_id));
	json_object_object_add(props, "livestatus_box_id", json_object_new_string(box_id));
	return props;
}

char *
mm_post_json_str(const char *text, const char *key)
{
	struct json_object *o = json_tokener_parse(text), *v;
	char *out = NULL;

	if (o != NULL && json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0)
		out = xstrdup(json_object_get_string(v));
	json_object_put(o);
	return out;
}

/* Sends body (consumed) as JSON. */
static int
mm_post_send(const struct mm_client *c, const char *method, const char *path,
    struct json_object *body, long timeout_ms, struct mm_http_resp *resp)
{
	int rc = c->request(c->ctx, method, path,
	    body != NULL ? json_object_to_json_string_ext(body, MM_POST_JSON_FLAGS) : NULL, NULL,
	    timeout_ms, resp);

	json_object_put(body);
	return rc;
}

int
mm_post_create(const struct mm_client *c, const struct mm_post_new *n, struct mm_http_resp *resp,
    char **post_id)
{
	struct json_object *body = json_object_new_object();
	int rc;

	*post_id = NULL;
	json_object_object_add(body, "channel_id", json_object_new_string(n->channel_id));
	if (n->root_id != NULL && n->root_id[0] != '\0')
		json_object_object_add(body, "root_id", json_object_new_string(n->root_id));
	json_object_object_add(
	    body, "message", json_object_new_string(n->message != NULL ? n->message : ""));
	if (n->plugin)
		json_object_object_add(body, "type", json_object_new_string(MM_POST_TYPE));
	json_object_object_add(body, "props", mm_post_props(n->box_id));
	json_object_object_add(body, "pending_post_id", json_object_new_string(n->pending_post_id));
	rc = mm_post_send(c, "POST", "/api/v4/posts", body, 0, resp);
	if (rc == 0 && (resp->status == 200 || resp->status == 201))
		*post_id = mm_post_json_str(resp->body, "id");
	return rc;
}

int
mm_post_edit(const struct mm_client *c, const char *post_id, const char *box_id,
    const char *message, struct mm_http_resp *resp)
{
	struct json_object *body = json_object_new_object();
	char *path = xasprintf("/api/v4/posts/%s", post_id);
	int rc;

	json_object_object_add(body, "id", json_object_new_string(post_id));
	json_object_object_add(body, "message", json_object_new_string(message));
	json_object_object_add(body, "props", mm_post_props(box_id));
	rc = mm_post_send(c, "PUT", path, body, 0, resp);
	free(path);
	return rc;
}

int
mm_post_final(const struct mm_client *c, const char *post_id, const char *message, long timeout_ms,
    struct mm_http_resp *resp)
{
	struct json_object *body = json_object_new_object();
	char *esc = mm_http_escape(post_id);
	char *path = xasprintf("/api/v4/posts/%s/patch", esc);
	int rc;

	json_object_object_add(body, "message", json_object_new_string(message));
	rc = mm_post_send(c, "PUT", path, body, timeout_ms, resp);
	free(path);
	free(esc);
	return rc;
}

int
mm_post_find(const struct mm_client *c, const char *channel_id, int64_t since_ms,
    const char *box_id, struct mm_http_resp *resp, char **post_id)
{
	struct json_object *list = NULL, *posts, *props, *v;
	char *esc = mm_http_escape(channel_id);
	char *path = xasprintf("/api/v4/channels/%s/posts?since=%lld", esc, (long long)since_ms);
	int rc;

	*post_id = NULL;
	rc = mm_post_send(c, "GET", path, NULL, 0, resp);
	if (rc == 0 && resp->status == 200 && (list = json_tokener_parse(resp->body)) != NULL &&
	    json_object_object_get_ex(list, "posts", &posts) &&
	    json_object_is_type(posts, json_type_object)) {
		json_object_object_foreach(posts, key, post)
		{
			if (json_object_object_get_ex(post, "props", &props) &&
			    json_object_object_get_ex(props, "livestatus_box_id", &v) &&
			    strcmp(json_object_get_string(v), box_id) == 0) {
				free(*post_id);
				*post_id = xstrdup(key);
			}
		}
	}
	json_object_put(list);
	free(path);
	free(esc);
	return rc;
}

/* ---- the final text of a daemon's box ------------------------------------ */

/* What became of the final edit (store_mm_final_result()). */
static void
mm_post_final_store(store *st, const char *box_id, int final_sent, const char *state,
    const char *text, int64_t revision)
{
	if (store_begin(st) != STORE_OK ||
	    store_mm_final_result(st, box_id, final_sent, state, text, revision) != STORE_OK ||
	    store_commit(st) != STORE_OK) {
		log_warn(
		    "cannot store the final post state", "box", box_id, "err", store_errmsg(st));
		store_rollback(st);
	}
}

/*
 * Claims the final edit of box_id: 1 with its post id and tree, 0 when
 * there is nothing to do (not such a box, sent already, claimed by
 * another), -1 on a store error (logged).
 */
static int
mm_post_claim(store *st, const char *box_id, char **post_id, struct store_box **tree, size_t *n)
{
	struct store_mm_post row;
	int rc, want;

	/* Most changes of an ended box come after its final text: no write. */
	rc = store_mm_post_get(st, box_id, &row);
	want = rc == STORE_OK && !row.final_sent && strcmp(row.state, "posted") == 0 &&
	    strcmp(row.mode, "plugin") == 0;
	store_mm_post_free(&row);
	if (!want)
		return 0;
	if ((rc = store_begin(st)) != STORE_OK)
		goto fail;
	if ((rc = store_mm_final_claim(st, box_id, post_id)) == STORE_OK)
		rc = store_mm_tree(st, box_id, tree, n);
	if (rc == STORE_NOTFOUND) {
		store_rollback(st);
		return 0;
	}
	if (rc != STORE_OK || (rc = store_commit(st)) != STORE_OK)
		goto fail;
	return 1;
fail:
	log_warn("cannot claim the final post text", "box", box_id, "err", store_errmsg(st));
	store_rollback(st);
	return -1;
}

void
mm_post_box_ended(
    const struct mm_client *c, store *st, const char *box_id, long max_chars, long timeout_ms)
{
	struct store_box *tree = NULL;
	struct mm_http_resp r;
	char *post_id = NULL, *text = NULL;
	int64_t rev = 0;
	size_t n = 0, i;
	long status;

	if (mm_post_claim(st, box_id, &post_id, &tree, &n) != 1)
		goto out;
	for (i = 0; i < n; i++)
		if (tree[i].revision > rev)
			rev = tree[i].revision;
	text = mm_render_box(tree, n, (size_t)max_chars);
	status = mm_post_final(c, post_id, text, timeout_ms, &r) == 0 ? r.status : 0;
	mm_http_resp_free(&r);
	if (status == 200) {
		log_info("mattermost post final text set", "box", box_id, "post_id", post_id);
		mm_post_final_store(st, box_id, 1, NULL, text, rev);
	} else if (status == 403 || status == 404) {
		log_warn("mattermost post gone, final text not set", "box", box_id, "post_id",
		    post_id, "status", LOG_I64(status));
		mm_post_final_store(st, box_id, 1, "gone", NULL, 0);
	} else if (status >= 400 && status < 500 && status != 401 && status != 429) {
		/* Refused for good: asking again would be refused again. */
		log_error("mattermost refused the final text", "box", box_id, "post_id", post_id,
		    "status", LOG_I64(status));
		mm_post_final_store(st, box_id, 1, NULL, NULL, 0);
	} else {
		log_warn("final text not set, tried again at the next change", "box", box_id,
		    "post_id", post_id, "status", LOG_I64(status));
		mm_post_final_store(st, box_id, 0, NULL, NULL, 0);
	}
out:
	store_box_list_free(tree, n);
	free(text);
	free(post_id);
}
