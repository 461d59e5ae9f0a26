/* forward: the outbox thread that feeds a central status API (see forward.h). */
#include "watcher/forward.h"

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/lcurl.h"
#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "sql/store.h"
#include "sql/store_forward.h"

#define FORWARD_BATCH_BYTES (512 * 1024)
#define FORWARD_BATCH_BYTES_MIN 4096
#define FORWARD_ANSWER_MAX (4 * 1024 * 1024)
#define FORWARD_IDLE_POLL_MS 1000
#define FORWARD_RETRY_AFTER_MAX_MS (3600 * 1000)
#define FORWARD_STORE_RETRY_MS 500
#define FORWARD_ID_MAX 80
#define FORWARD_REFUSALS_MAX 3 /* times a lone box is refused before it is set aside */

struct forward {
	/* set at start, read-only afterwards */
	char *url; /* .../api/v1/gateway/boxes */
	char *base;
	char *key;
	char *gateway;
	char *ca_file;
	char *db;
	long connect_timeout_ms, timeout_ms, max_backoff_ms;
	char local_store_id[FORWARD_ID_MAX];

	/* the thread's own */
	store *st;
	CURL *curl;
	struct curl_slist *headers;
	size_t batch_bytes;                   /* shrinks on 413, back to the default on success */
	size_t batch_max;                     /* 1 while a refused batch is taken apart */
	int attempt;                          /* failed attempts in a row */
	char refused_id[FORWARD_ID_MAX + 48]; /* a lone box change the central refuses */
	int64_t refused_rev;
	int refused_count;
	int probed;         /* the central's store id has been asked for since start */
	char fail_kind[48]; /* the failure being reported, "" when none */

	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int kicked, stop;
	int64_t flush_until; /* monotonic ms, while stopping */
	struct forward_status status;
};

struct forward_answer {
	char *body;
	size_t len;
	int64_t retry_after_ms;
	int truncated;
};

/* One request's outcome. */
struct forward_result {
	long status;        /* HTTP status, 0 without an answer */
	char err[256];      /* why there was no usable answer */
	json_object *reply; /* the parsed 200 answer */
	int64_t retry_after_ms;
};

/* ---- status ---- */

static void
forward_set(struct forward *f, const char *state, const char *error)
{
	pthread_mutex_lock(&f->mu);
	snprintf(f->status.state, sizeof(f->status.state), "%s", state);
	if (error != NULL)
		snprintf(f->status.last_error, sizeof(f->status.last_error), "%s", error);
	pthread_mutex_unlock(&f->mu);
}

static void
forward_count(struct forward *f, int64_t *field, int64_t n)
{
	pthread_mutex_lock(&f->mu);
	*field += n;
	pthread_mutex_unlock(&f->mu);
}

/* Refreshes queue and lag from the store. */
static void
forward_backlog(struct forward *f, int64_t acked)
{
	int64_t count, oldest, now = util_now_ms();

	if (store_forward_backlog(f->st, acked, &count, &oldest) != STORE_OK)
		return;
	pthread_mutex_lock(&f->mu);
	f->status.queue = count;
	f->status.lag_ms = count > 0 && oldest > 0 && oldest < now ? now - oldest : 0;
	f->status.acked_revision = acked;
	pthread_mutex_unlock(&f->mu);
}

/* ---- the request ---- */

static size_t
forward_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct forward_answer *a = arg;
	size_t n = size * nmemb;

	if (a->len + n > FORWARD_ANSWER_MAX) {
		a->truncated = 1;
		return 0; /* aborts the transfer */
	}
	a->body = xrealloc(a->body, a->len + n + 1);
	memcpy(a->body + a->len, data, n);
	a->len += n;
	a->body[a->len] = '\0';
	return n;
}

static size_t
forward_on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct forward_answer *a = arg;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";
	char buf[32];
	long secs;

	if (n > sizeof(name) && n - sizeof(name) + 1 < sizeof(buf) &&
	    strncasecmp(data, name, sizeof(name) - 1) == 0) {
		memcpy(buf, data + sizeof(name) - 1, n - (sizeof(name) - 1));
		buf[n - (sizeof(name) - 1)] = '\0';
		buf[strcspn(buf, "\r\n")] = '\0';
		if (cfg_parse_long(buf + strspn(buf, " \t"), 0, 86400, &secs) == 0)
			a->retry_after_ms = (int64_t)secs * 1000;
	}
	return n;
}

/* POSTs body; fills r (r->reply only for a 200 whose JSON is an object). */
static void
forward_post(struct forward *f, const char *body, long timeout_ms, struct forward_result *r)
{
	struct forward_answer a = { 0 };
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode cc;

	memset(r, 0, sizeof(*r));
	lcurl.easy_setopt(f->curl, CURLOPT_URL, f->url);
	lcurl.easy_setopt(f->curl, CURLOPT_HTTPHEADER, f->headers);
	lcurl.easy_setopt(f->curl, CURLOPT_POSTFIELDS, body);
	lcurl.easy_setopt(f->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	lcurl.easy_setopt(f->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	lcurl.easy_setopt(f->curl, CURLOPT_ERRORBUFFER, errbuf);
	lcurl.easy_setopt(f->curl, CURLOPT_WRITEFUNCTION, forward_on_body);
	lcurl.easy_setopt(f->curl, CURLOPT_WRITEDATA, &a);
	lcurl.easy_setopt(f->curl, CURLOPT_HEADERFUNCTION, forward_on_header);
	lcurl.easy_setopt(f->curl, CURLOPT_HEADERDATA, &a);
	cc = lcurl.easy_perform(f->curl);
	pthread_mutex_lock(&f->mu);
	f->status.requests++;
	f->status.bytes_sent += (int64_t)strlen(body);
	pthread_mutex_unlock(&f->mu);
	r->retry_after_ms = a.retry_after_ms;
	if (cc != CURLE_OK) {
		snprintf(r->err, sizeof(r->err), "%s",
		    a.truncated   ? "answer larger than 4 MiB"
		        : *errbuf ? errbuf
		                  : lcurl.easy_strerror(cc));
		goto out;
	}
	lcurl.easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->status == 200) {
		json_tokener *tok = json_tokener_new();
		json_object *o =
		    a.body != NULL ? json_tokener_parse_ex(tok, a.body, (int)a.len) : NULL;

		if (o != NULL && json_tokener_get_error(tok) == json_tokener_success &&
		    json_object_is_type(o, json_type_object)) {
			r->reply = o;
		} else {
			json_object_put(o);
			snprintf(r->err, sizeof(r->err),
			    "200 answer is not a JSON object (%zu bytes)", a.len);
		}
		json_tokener_free(tok);
	} else {
		json_object *o = a.body != NULL ? json_tokener_parse(a.body) : NULL;
		json_object *e;

		if (o != NULL && json_object_object_get_ex(o, "error", &e))
			snprintf(r->err, sizeof(r->err), "HTTP %ld: %s", r->status,
			    json_object_get_string(e));
		else
			snprintf(r->err, sizeof(r->err), "HTTP %ld (not a JSON error: %zu bytes)",
			    r->status, a.len);
		json_object_put(o);
	}
out:
	free(a.body);
}

/* ---- building a batch ---- */

static json_object *
forward_str(const char *s)
{
	return json_object_new_string(s != NULL ? s : "");
}

static json_object *
forward_box_json(const struct store_box *b)
{
	json_object *o = json_object_new_object(), *lines;

	json_object_object_add(o, "id", forward_str(b->id));
	json_object_object_add(o, "revision", json_object_new_int64(b->revision));
	json_object_object_add(o, "session_key", forward_str(b->session_key));
	json_object_object_add(o, "agent_id", forward_str(b->agent_id));
	json_object_object_add(o, "channel_id", forward_str(b->channel_id));
	json_object_object_add(o, "root_id", forward_str(b->root_id));
	json_object_object_add(o, "post_id", forward_str(b->post_id));
	json_object_object_add(
	    o, "parent_id", b->parent_id != NULL ? json_object_new_string(b->parent_id) : NULL);
	json_object_object_add(o, "label", forward_str(b->label));
	json_object_object_add(o, "bot_user_id", forward_str(b->bot_user_id));
	json_object_object_add(o, "status", forward_str(b->status));
	lines = b->lines != NULL ? json_tokener_parse(b->lines) : NULL;
	if (lines == NULL || !json_object_is_type(lines, json_type_array)) {
		json_object_put(lines);
		lines = json_object_new_array();
	}
	json_object_object_add(o, "lines", lines);
	json_object_object_add(o, "start_time_ms", json_object_new_int64(b->start_time_ms));
	json_object_object_add(o, "end_time_ms",
	    b->end_time_ms == STORE_NO_TIME ? NULL : json_object_new_int64(b->end_time_ms));
	json_object_object_add(o, "last_update_ms", json_object_new_int64(b->last_update_ms));
	json_object_object_add(o, "token_count", json_object_new_int64(b->token_count));
	json_object_object_add(o, "model", forward_str(b->model));
	return o;
}

struct forward_batch {
	struct store_box *pending; /* from the store, revision order */
	size_t npending;
	struct store_box *parents; /* pending parents fetched beside them */
	size_t nparents;
	size_t nsent;     /* pending[0..nsent) are in the request */
	int64_t cutoff;   /* revision of pending[nsent - 1] */
	const char **ids; /* id of each box in the request, in order */
	int64_t *revs;    /* and its revision */
	size_t nids;
	char *body;
};

static void
forward_batch_free(struct forward_batch *b)
{
	size_t i;

	store_box_list_free(b->pending, b->npending);
	for (i = 0; i < b->nparents; i++)
		store_box_free(&b->parents[i]);
	free(b->parents);
	free(b->ids);
	free(b->revs);
	free(b->body);
	memset(b, 0, sizeof(*b));
}

static int
forward_batch_has(const struct forward_batch *b, const char *id)
{
	size_t i;

	for (i = 0; i < b->nids; i++)
		if (strcmp(b->ids[i], id) == 0)
			return 1;
	return 0;
}

/* Adds box to the request (once). */
static void
forward_batch_add(struct forward_batch *b, json_object *arr, const struct store_box *box)
{
	if (forward_batch_has(b, box->id))
		return;
	json_object_array_add(arr, forward_box_json(box));
	b->ids[b->nids] = box->id;
	b->revs[b->nids] = box->revision;
	b->nids++;
}

/*
 * The parent of box, when it has changes of its own the central has not
 * acknowledged (so it may not have it yet): sent in the same request.
 */
static const struct store_box *
forward_batch_parent(
    struct forward *f, struct forward_batch *b, const struct store_box *box, int64_t acked)
{
	struct store_box *p;

	if (box->parent_id == NULL || forward_batch_has(b, box->parent_id))
		return NULL;
	p = &b->parents[b->nparents];
	if (store_box_get(f->st, box->parent_id, p) != STORE_OK)
		return NULL;
	if (p->revision <= acked) {
		store_box_free(p);
		return NULL;
	}
	b->nparents++;
	return p;
}

/* Reads the outbox and builds the request body; 0 when there is nothing. */
static int
forward_batch_build(struct forward *f, int64_t acked, struct forward_batch *b)
{
	json_object *req, *arr;
	const struct store_box *parent;
	size_t i, bytes = 0, room;

	memset(b, 0, sizeof(*b));
	if (store_forward_pending(f->st, acked, f->batch_max, &b->pending, &b->npending) !=
	        STORE_OK ||
	    b->npending == 0)
		return 0;
	room = 2 * b->npending;
	b->parents = xcalloc(b->npending, sizeof(*b->parents));
	b->ids = xcalloc(room, sizeof(*b->ids));
	b->revs = xcalloc(room, sizeof(*b->revs));
	req = json_object_new_object();
	arr = json_object_new_array();
	for (i = 0; i < b->npending; i++) {
		const struct store_box *box = &b->pending[i];
		size_t size = strlen(box->lines != NULL ? box->lines : "") + 1024;

		if (i > 0 && bytes + size > f->batch_bytes)
			break;
		if ((parent = forward_batch_parent(f, b, box, acked)) != NULL) {
			forward_batch_add(b, arr, parent);
			bytes += strlen(parent->lines != NULL ? parent->lines : "") + 1024;
		}
		forward_batch_add(b, arr, box);
		bytes += size;
		b->nsent = i + 1;
		b->cutoff = box->revision;
	}
	json_object_object_add(req, "gateway", json_object_new_string(f->gateway));
	pthread_mutex_lock(&f->mu);
	json_object_object_add(req, "lag_ms", json_object_new_int64(f->status.lag_ms));
	json_object_object_add(req, "queue", json_object_new_int64(f->status.queue));
	pthread_mutex_unlock(&f->mu);
	json_object_object_add(req, "version", json_object_new_string(LS_VERSION));
	json_object_object_add(req, "boxes", arr);
	b->body = xstrdup(json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
	json_object_put(req);
	return 1;
}

/* ---- failures ---- */

/* Logs a failure when it is of a new kind; returns the delay before the next try. */
static int64_t
forward_failed(
    struct forward *f, const char *kind, const char *state, const char *why, int64_t retry_after_ms)
{
	int64_t base, delay;
	int shift = f->attempt < 20 ? f->attempt : 20;

	f->attempt++;
	forward_count(f, &f->status.failures, 1);
	forward_set(f, state, why);
	if (strcmp(f->fail_kind, kind) != 0) {
		snprintf(f->fail_kind, sizeof(f->fail_kind), "%s", kind);
		log_warn(
		    "central status API: sending failed; retrying with backoff, nothing is lost",
		    "url", f->base, "err", why);
	}
	base = (int64_t)1000 << shift;
	if (base > f->max_backoff_ms)
		base = f->max_backoff_ms;
	/* full jitter over the upper half: no two gateways retry in step */
	delay = base / 2 +
	    (int64_t)(((uint64_t)rand() * (uint64_t)(base / 2 + 1)) / ((uint64_t)RAND_MAX + 1));
	if (retry_after_ms > delay)
		delay = retry_after_ms < FORWARD_RETRY_AFTER_MAX_MS ? retry_after_ms
		                                                    : FORWARD_RETRY_AFTER_MAX_MS;
	return delay;
}

static void
forward_recovered(struct forward *f)
{
	if (f->fail_kind[0] != '\0')
		log_info("central status API answers again", "url", f->base, "failed_attempts",
		    LOG_I64(f->attempt));
	f->fail_kind[0] = '\0';
	f->attempt = 0;
	forward_set(f, "ok", NULL);
}

/* ---- one round ---- */

/* Moves the cursor (and records set-aside boxes) in one write transaction. */
static int
forward_commit(struct forward *f, struct store_forward_state *fs, const struct forward_batch *b,
    json_object *results, int whole_status, const char *whole_reason)
{
	int64_t now = util_now_ms();
	size_t i, n = results != NULL ? json_object_array_length(results) : 0;
	int rc;

	if ((rc = store_begin(f->st)) != STORE_OK)
		return rc;
	for (i = 0; i < n && rc == STORE_OK; i++) {
		json_object *it = json_object_array_get_idx(results, i), *v;
		const char *id = NULL, *err = "";
		int code = 400;
		size_t k;

		if (!json_object_object_get_ex(it, "status", &v) ||
		    strcmp(json_object_get_string(v), "rejected") != 0)
			continue;
		if (json_object_object_get_ex(it, "id", &v))
			id = json_object_get_string(v);
		if (json_object_object_get_ex(it, "code", &v))
			code = json_object_get_int(v);
		if (json_object_object_get_ex(it, "error", &v))
			err = json_object_get_string(v);
		for (k = 0; id != NULL && k < b->nids && strcmp(b->ids[k], id) != 0; k++)
			;
		if (id == NULL || k == b->nids)
			continue;
		rc = store_forward_reject(f->st, id, b->revs[k], code, err, now);
		log_warn("central status API refused a box; set aside (forward_rejects)", "box", id,
		    "code", LOG_I64(code), "reason", err);
		forward_count(f, &f->status.rejected, 1);
	}
	if (whole_status != 0 && rc == STORE_OK) {
		rc = store_forward_reject(f->st, b->ids[b->nids - 1], b->revs[b->nids - 1],
		    whole_status, whole_reason, now);
		log_warn("central status API refused a box; set aside (forward_rejects)", "box",
		    b->ids[b->nids - 1], "code", LOG_I64(whole_status), "reason", whole_reason);
		forward_count(f, &f->status.rejected, 1);
	}
	fs->acked_revision = b->cutoff;
	fs->acked_ms = now;
	if (rc == STORE_OK)
		rc = store_forward_state_put(f->st, fs);
	if (rc == STORE_OK)
		rc = store_commit(f->st);
	if (rc != STORE_OK)
		store_rollback(f->st);
	return rc;
}

/* Counts the per-box answers. */
static void
forward_tally(struct forward *f, json_object *results, size_t nsent)
{
	size_t i, n = json_object_array_length(results);
	int64_t stored = 0, unchanged = 0;

	for (i = 0; i < n; i++) {
		json_object *v;
		const char *s;

		if (!json_object_object_get_ex(json_object_array_get_idx(results, i), "status", &v))
			continue;
		s = json_object_get_string(v);
		if (strcmp(s, "stored") == 0)
			stored++;
		else if (strcmp(s, "unchanged") == 0)
			unchanged++;
	}
	pthread_mutex_lock(&f->mu);
	f->status.boxes_sent += (int64_t)nsent;
	f->status.boxes_stored += stored;
	f->status.boxes_unchanged += unchanged;
	f->status.last_ok_ms = util_now_ms();
	pthread_mutex_unlock(&f->mu);
}

/*
 * 1 when the central answering is this watcher's own store (one host, with
 * PLUGIN_URL left from v4.1 pointing at the local API): nothing to forward.
 */
static int
forward_same_store(struct forward *f, const char *central)
{
	if (strcmp(central, f->local_store_id) != 0)
		return 0;
	if (strcmp(f->status.state, "same_store") != 0)
		log_info("PLUGIN_URL is this host's own API and store: nothing to forward", "url",
		    f->base);
	forward_set(f, "same_store", "");
	return 1;
}

/*
 * Before the first boxes after a start: an empty batch, to learn which
 * store answers (and whether the key is taken).  Returns -1 when the
 * boxes may go, else the delay before the next round.
 */
static int64_t
forward_probe(struct forward *f, long timeout_ms)
{
	struct forward_result r;
	json_object *req = json_object_new_object(), *sid;
	char *body;
	int64_t delay = -1;

	json_object_object_add(req, "gateway", json_object_new_string(f->gateway));
	json_object_object_add(req, "version", json_object_new_string(LS_VERSION));
	json_object_object_add(req, "boxes", json_object_new_array());
	body = xstrdup(json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
	json_object_put(req);
	forward_post(f, body, timeout_ms, &r);
	free(body);
	pthread_mutex_lock(&f->mu);
	f->status.last_status = r.status;
	pthread_mutex_unlock(&f->mu);
	if (r.status == 200 && r.reply != NULL) {
		if (json_object_object_get_ex(r.reply, "store_id", &sid) &&
		    forward_same_store(f, json_object_get_string(sid)))
			delay = INT64_MAX;
		else
			f->probed = 1;
		if (f->probed)
			forward_recovered(f);
	} else if (r.status == 0) {
		delay = forward_failed(f, "no-answer", "retrying", r.err, 0);
	} else if (r.status == 200) {
		delay = forward_failed(f, "bad-200", "retrying", r.err, 0);
	} else if (r.status == 401 || r.status == 403) {
		char kind[32];

		snprintf(kind, sizeof(kind), "http-%ld", r.status);
		delay = forward_failed(f, kind, "auth_failed", r.err, r.retry_after_ms);
	} else if (r.status == 408 || r.status == 429 || r.status >= 500) {
		delay = forward_failed(f, r.status == 429 ? "http-429" : "http-5xx", "retrying",
		    r.err, r.retry_after_ms);
	} else {
		char kind[32];

		snprintf(kind, sizeof(kind), "http-%ld", r.status);
		delay = forward_failed(f, kind, "retrying", r.err, r.retry_after_ms);
	}
	json_object_put(r.reply);
	return delay;
}

/*
 * A 200 answer: checks whose store answered, then moves the cursor.
 * Returns the delay before the next round (0: at once).
 */
static int64_t
forward_answered(
    struct forward *f, struct store_forward_state *fs, struct forward_batch *b, json_object *reply)
{
	json_object *results = NULL, *sid = NULL;
	const char *central;

	if (!json_object_object_get_ex(reply, "results", &results) ||
	    !json_object_is_type(results, json_type_array) ||
	    !json_object_object_get_ex(reply, "store_id", &sid) ||
	    !json_object_is_type(sid, json_type_string))
		return forward_failed(f, "bad-answer", "retrying",
		    "200 answer without results and store_id: is PLUGIN_URL a livestatus API?", 0);
	central = json_object_get_string(sid);
	if (forward_same_store(f, central))
		return INT64_MAX;
	if (fs->central_store_id[0] != '\0' && strcmp(fs->central_store_id, central) != 0) {
		log_warn("the central's store is new (was it deleted?): sending every box again",
		    "url", f->base, "was", fs->central_store_id, "now", central);
		free(fs->central_store_id);
		fs->central_store_id = xstrdup(central);
		b->cutoff = 0;
		forward_count(f, &f->status.resends, 1);
		if (forward_commit(f, fs, b, NULL, 0, NULL) != STORE_OK)
			return FORWARD_STORE_RETRY_MS;
		return 0;
	}
	if (fs->central_store_id[0] == '\0') {
		free(fs->central_store_id);
		fs->central_store_id = xstrdup(central);
	}
	if (forward_commit(f, fs, b, results, 0, NULL) != STORE_OK)
		return FORWARD_STORE_RETRY_MS;
	forward_tally(f, results, b->nids);
	forward_recovered(f);
	f->batch_bytes = FORWARD_BATCH_BYTES;
	f->batch_max = FORWARD_BATCH_MAX;
	return 0;
}

/* A refusal of the whole request (4xx). */
static int64_t
forward_refused(struct forward *f, struct store_forward_state *fs, struct forward_batch *b,
    const struct forward_result *r)
{
	char kind[32];

	snprintf(kind, sizeof(kind), "http-%ld", r->status);
	if (r->status == 401 || r->status == 403)
		return forward_failed(f, kind, "auth_failed", r->err, r->retry_after_ms);
	if (b->nsent > 1) {
		/* take the batch apart to find the box it is about */
		if (r->status == 413 && f->batch_bytes / 2 >= FORWARD_BATCH_BYTES_MIN)
			f->batch_bytes /= 2;
		f->batch_max = b->nsent / 2 > 0 ? b->nsent / 2 : 1;
		if (r->status != 413)
			f->batch_max = 1;
		if (strcmp(f->fail_kind, kind) != 0) {
			snprintf(f->fail_kind, sizeof(f->fail_kind), "%s", kind);
			log_warn("central status API refused a batch; sending smaller ones", "url",
			    f->base, "boxes", LOG_I64(b->nsent), "err", r->err);
		}
		return 0;
	}
	/*
	 * One box (sent last, after its parent if any): a proxy in the way may
	 * refuse it for a while, so it is tried again a few times before it is
	 * set aside for good.
	 */
	if (strcmp(f->refused_id, b->ids[b->nids - 1]) != 0 ||
	    f->refused_rev != b->revs[b->nids - 1]) {
		snprintf(f->refused_id, sizeof(f->refused_id), "%s", b->ids[b->nids - 1]);
		f->refused_rev = b->revs[b->nids - 1];
		f->refused_count = 0;
	}
	if (++f->refused_count < FORWARD_REFUSALS_MAX)
		return forward_failed(f, kind, "retrying", r->err, r->retry_after_ms);
	if (forward_commit(f, fs, b, NULL, (int)r->status, r->err) != STORE_OK)
		return FORWARD_STORE_RETRY_MS;
	return 0;
}

/* One request; returns the delay before the next round, -1 when idle. */
static int64_t
forward_round(struct forward *f, long timeout_ms)
{
	struct store_forward_state fs;
	struct forward_batch b;
	struct forward_result r;
	int64_t delay = -1;

	if (store_forward_state_get(f->st, &fs) != STORE_OK)
		return FORWARD_STORE_RETRY_MS;
	if (strcmp(fs.url, f->base) != 0) {
		/* another central (or the first): it has nothing of ours yet */
		if (fs.url[0] != '\0')
			log_info("PLUGIN_URL changed: sending every box to the new central", "was",
			    fs.url, "now", f->base);
		free(fs.url);
		free(fs.central_store_id);
		fs.url = xstrdup(f->base);
		fs.central_store_id = xstrdup("");
		fs.acked_revision = 0;
		if (store_begin(f->st) != STORE_OK ||
		    store_forward_state_put(f->st, &fs) != STORE_OK ||
		    store_commit(f->st) != STORE_OK) {
			store_rollback(f->st);
			store_forward_state_free(&fs);
			return FORWARD_STORE_RETRY_MS;
		}
	}
	forward_backlog(f, fs.acked_revision);
	if (!f->probed) {
		int64_t wait;

		pthread_mutex_lock(&f->mu);
		wait = f->status.queue;
		pthread_mutex_unlock(&f->mu);
		if (wait > 0 && (wait = forward_probe(f, timeout_ms)) >= 0) {
			store_forward_state_free(&fs);
			return wait;
		}
	}
	if (!forward_batch_build(f, fs.acked_revision, &b)) {
		store_forward_state_free(&fs);
		return -1;
	}
	forward_post(f, b.body, timeout_ms, &r);
	pthread_mutex_lock(&f->mu);
	f->status.last_status = r.status;
	pthread_mutex_unlock(&f->mu);
	if (r.status == 200 && r.reply != NULL)
		delay = forward_answered(f, &fs, &b, r.reply);
	else if (r.status == 0)
		delay = forward_failed(f, "no-answer", "retrying", r.err, 0);
	else if (r.status == 200)
		delay = forward_failed(f, "bad-200", "retrying", r.err, 0);
	else if (r.status == 408 || r.status == 429 || r.status >= 500)
		delay = forward_failed(f, r.status == 429 ? "http-429" : "http-5xx", "retrying",
		    r.err, r.retry_after_ms);
	else
		delay = forward_refused(f, &fs, &b, &r);
	json_object_put(r.reply);
	forward_backlog(f, fs.acked_revision);
	forward_batch_free(&b);
	store_forward_state_free(&fs);
	return delay;
}

/* ---- the thread ---- */

static void *
forward_main(void *arg)
{
	struct forward *f = arg;
	int64_t next = 0, now, delay;
	long timeout;
	struct timespec ts;

	pthread_mutex_lock(&f->mu);
	for (;;) {
		now = util_mono_ms();
		if (f->stop && (now >= f->flush_until || (!f->kicked && next > f->flush_until)))
			break;
		if (!f->kicked && next > now) {
			util_deadline(&ts, CLOCK_MONOTONIC,
			    next - now < FORWARD_IDLE_POLL_MS ? next - now : FORWARD_IDLE_POLL_MS);
			pthread_cond_timedwait(&f->cv, &f->mu, &ts);
			if (!f->kicked && util_mono_ms() < next)
				continue; /* and look at stop again */
		}
		f->kicked = 0;
		timeout = f->timeout_ms;
		if (f->stop && f->flush_until - now < timeout)
			timeout =
			    (long)(f->flush_until - now) > 100 ? (long)(f->flush_until - now) : 100;
		pthread_mutex_unlock(&f->mu);
		delay = forward_round(f, timeout);
		pthread_mutex_lock(&f->mu);
		if (delay < 0 && f->stop)
			break; /* all sent */
		if (delay == INT64_MAX)
			next = INT64_MAX / 2;
		else
			next = util_mono_ms() + (delay < 0 ? FORWARD_IDLE_POLL_MS : delay);
		if (f->stop && f->attempt > 0)
			break; /* the central fails: the rest waits for the next start */
	}
	snprintf(f->status.state, sizeof(f->status.state), "stopped");
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

static void
forward_free(struct forward *f)
{
	if (f == NULL)
		return;
	if (f->curl != NULL) {
		lcurl.easy_cleanup(f->curl);
		lcurl.slist_free_all(f->headers);
	}
	store_close(f->st);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f->url);
	free(f->base);
	free(f->key);
	free(f->gateway);
	free(f->ca_file);
	free(f->db);
	free(f);
}

struct forward *
forward_start(const struct forward_config *cfg, char *err, size_t errlen)
{
	struct forward *f = xcalloc(1, sizeof(*f));
	pthread_condattr_t ca;
	size_t n;
	char *auth;

	f->base = xstrdup(cfg->url);
	n = strlen(f->base);
	while (n > 0 && f->base[n - 1] == '/')
		f->base[--n] = '\0';
	f->url = xmalloc(n + sizeof("/api/v1/gateway/boxes"));
	snprintf(f->url, n + sizeof("/api/v1/gateway/boxes"), "%s/api/v1/gateway/boxes", f->base);
	f->key = xstrdup(cfg->key);
	f->gateway = xstrdup(cfg->gateway);
	f->ca_file = cfg->ca_file != NULL ? xstrdup(cfg->ca_file) : NULL;
	f->db = xstrdup(cfg->db);
	f->connect_timeout_ms = cfg->connect_timeout_ms;
	f->timeout_ms = cfg->timeout_ms;
	f->max_backoff_ms = cfg->max_backoff_ms;
	f->batch_bytes = FORWARD_BATCH_BYTES;
	f->batch_max = FORWARD_BATCH_MAX;
	snprintf(f->status.state, sizeof(f->status.state), "ok");
	pthread_mutex_init(&f->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (store_open(f->db, &f->st, err, errlen) != STORE_OK)
		goto fail;
	if (store_id(f->st, f->local_store_id, sizeof(f->local_store_id)) != STORE_OK) {
		snprintf(err, errlen, "cannot read the store id: %s", store_errmsg(f->st));
		goto fail;
	}
	if (lcurl_load(err, errlen) < 0)
		goto fail;
	if ((f->curl = lcurl.easy_init()) == NULL) {
		snprintf(err, errlen, "libcurl cannot start");
		goto fail;
	}
	n = strlen(f->key) + sizeof("Authorization: Bearer ");
	auth = xmalloc(n);
	snprintf(auth, n, "Authorization: Bearer %s", f->key);
	f->headers = lcurl.slist_append(f->headers, auth);
	free(auth);
	f->headers = lcurl.slist_append(f->headers, "Content-Type: application/json");
	f->headers = lcurl.slist_append(f->headers, "Expect:");
	lcurl.easy_setopt(f->curl, CURLOPT_NOSIGNAL, 1L);
	lcurl.easy_setopt(f->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	lcurl.easy_setopt(f->curl, CURLOPT_CONNECTTIMEOUT_MS, f->connect_timeout_ms);
	lcurl.easy_setopt(f->curl, CURLOPT_USERAGENT, "livestatus-watcher/" LS_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500
	lcurl.easy_setopt(f->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	lcurl.easy_setopt(f->curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	lcurl.easy_setopt(f->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	lcurl.easy_setopt(f->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (f->ca_file != NULL)
		lcurl.easy_setopt(f->curl, CURLOPT_CAINFO, f->ca_file);
	srand((unsigned)(util_now_ms() ^ (int64_t)getpid()));
	if ((errno = pthread_create(&f->thread, NULL, forward_main, f)) != 0) {
		snprintf(err, errlen, "cannot start the forwarding thread: %s", strerror(errno));
		goto fail;
	}
	f->started = 1;
	log_info(
	    "forwarding boxes to the central status API", "url", f->base, "gateway", f->gateway);
	return f;
fail:
	forward_free(f);
	return NULL;
}

void
forward_kick(struct forward *f)
{
	if (f == NULL)
		return;
	pthread_mutex_lock(&f->mu);
	f->kicked = 1;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

void
forward_stop(struct forward *f, long flush_ms)
{
	if (f == NULL)
		return;
	pthread_mutex_lock(&f->mu);
	f->stop = 1;
	f->kicked = 1;
	f->flush_until = util_mono_ms() + flush_ms;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
	if (f->started)
		pthread_join(f->thread, NULL);
	forward_free(f);
}

void
forward_status(struct forward *f, struct forward_status *out)
{
	memset(out, 0, sizeof(*out));
	if (f == NULL) {
		snprintf(out->state, sizeof(out->state), "off");
		return;
	}
	pthread_mutex_lock(&f->mu);
	*out = f->status;
	pthread_mutex_unlock(&f->mu);
}
