/* mm_auth: Mattermost tokens and channel memberships, cached; daemon posts. */
#include "fcgi/mm_auth.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "common/mm_http.h"
#include "common/mm_render.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "fcgi/metrics.h"
#include "sql/store_mm.h"

/* Entries per cache (a power of two) and slots probed per key. */
#define MM_AUTH_SLOTS 4096u
#define MM_AUTH_PROBE 8u

/*
 * One cache entry.  key is the token (user cache) or "<user>\n<channel>"
 * (member cache); value the user id, "" for an invalid token, or "1"/"0".
 */
struct mm_auth_ent {
	char *key;
	size_t klen;
	char value[MM_AUTH_ID_MAX + 1];
	int64_t expires; /* mono ms; 0 = empty */
};

struct mm_auth_cache {
	pthread_rwlock_t mu; /* look-ups share it; changes take it alone */
	struct mm_auth_ent *slots;
};

/* Clients tracked by the per-client budget (a power of two), probed per key. */
#define MM_CLIENT_SLOTS 1024u
#define MM_CLIENT_PROBE 8u
#define MM_CLIENT_ADDR_MAX 64

/* One client's (REMOTE_ADDR's) new-token look-ups in its current window. */
struct mm_client {
	char addr[MM_CLIENT_ADDR_MAX];
	int64_t window_start; /* mono ms; 0 = free */
	long count;
};

struct mm_auth {
	struct mm_http *http;
	long cache_ms;
	long lookup_timeout_ms;
	long client_lookups; /* per MM_AUTH_CLIENT_WINDOW_MS; 0 = no budget */
	long max_message_chars;
	/* users: valid tokens; refused: tokens Mattermost said no to. */
	struct mm_auth_cache users, refused, members;
	pthread_mutex_t clients_mu;
	struct mm_client *clients;
	atomic_int waiting, max_waiting; /* threads asking Mattermost now; 0 = no cap */
	atomic_llong hits, requests, throttled, busy;
};

int
mm_auth_config_from_env(struct mm_auth_config *cfg, char *err, size_t errlen)
{
	long v;

	memset(cfg, 0, sizeof(*cfg));
	cfg->url = cfg_env("MM_URL", "MM_BASE_URL");
	cfg->token = cfg_env("MM_TOKEN", "MM_BOT_TOKEN");
	if (cfg_long("AUTH_CACHE_S", NULL, MM_AUTH_CACHE_S_MAX, 0, MM_AUTH_CACHE_S_MAX, &v, err,
	        errlen) != 0)
		return -1;
	cfg->cache_ms = v * 1000;
	if (cfg_long("AUTH_TIMEOUT_MS", NULL, 2000, 100, 10000, &cfg->lookup_timeout_ms, err,
	        errlen) != 0 ||
	    cfg_long(
	        "AUTH_CLIENT_LOOKUPS", NULL, 20, 1, 100000, &cfg->client_lookups, err, errlen) != 0)
		return -1;
	if (cfg_long("MM_TIMEOUT_MS", NULL, 10000, 100, 600000, &cfg->timeout_ms, err, errlen) !=
	        0 ||
	    cfg_long("MAX_MESSAGE_CHARS", NULL, 15000, 100, 1000000, &cfg->max_message_chars, err,
	        errlen) != 0 ||
	    cfg_long("MM_MAX_CONNECTIONS", NULL, MM_HTTP_DEFAULT_MAX_CONNECTIONS, 1,
	        MM_HTTP_MAX_CONNECTIONS_LIMIT, &cfg->max_connections, err, errlen) != 0)
		return -1;
	if (cfg->url != NULL && strncmp(cfg->url, "http://", 7) != 0 &&
	    strncmp(cfg->url, "https://", 8) != 0) {
		snprintf(err, errlen, "MM_URL: not an http(s) URL: \"%s\"", cfg->url);
		return -1;
	}
	return 0;
}

static void
mm_cache_init(struct mm_auth_cache *c)
{
	pthread_rwlock_init(&c->mu, NULL);
	c->slots = xcalloc(MM_AUTH_SLOTS, sizeof(*c->slots));
}

static void
mm_ent_clear(struct mm_auth_ent *e)
{
	if (e->key != NULL) {
		explicit_bzero(e->key, e->klen);
		free(e->key);
	}
	memset(e, 0, sizeof(*e));
}

static void
mm_cache_free(struct mm_auth_cache *c)
{
	size_t i;

	for (i = 0; i < MM_AUTH_SLOTS; i++)
		mm_ent_clear(&c->slots[i]);
	free(c->slots);
	pthread_rwlock_destroy(&c->mu);
}

/* FNV-1a: spreads keys over the slots; equality is checked in full. */
static size_t
mm_hash(const char *k, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)k[i];
		h *= 1099511628211ULL;
	}
	return (size_t)(h ^ (h >> 32));
}

/* Copies the live value of key into value; 1 when found. */
static int
mm_cache_get(struct mm_auth_cache *c, const char *key, size_t len, char *value)
{
	size_t h = mm_hash(key, len), i;
	int64_t now = util_mono_ms();
	int found = 0;

	pthread_rwlock_rdlock(&c->mu);
	for (i = 0; i < MM_AUTH_PROBE; i++) {
		const struct mm_auth_ent *e = &c->slots[(h + i) & (MM_AUTH_SLOTS - 1)];

		if (e->key == NULL || e->klen != len || memcmp(e->key, key, len) != 0)
			continue;
		/* An expired entry is left for mm_cache_put() to reuse. */
		if (e->expires > now) {
			memcpy(value, e->value, sizeof(e->value));
			found = 1;
		}
		break;
	}
	pthread_rwlock_unlock(&c->mu);
	return found;
}

/* Stores key -> value in the key's slot, a free or expired one, or the oldest. */
static void
mm_cache_put(struct mm_auth_cache *c, const char *key, size_t len, const char *value, long ttl_ms)
{
	size_t h = mm_hash(key, len), i;
	int64_t now = util_mono_ms();
	struct mm_auth_ent *victim = NULL;
	int victim_free = 0;

	if (ttl_ms <= 0)
		return;
	pthread_rwlock_wrlock(&c->mu);
	for (i = 0; i < MM_AUTH_PROBE; i++) {
		struct mm_auth_ent *e = &c->slots[(h + i) & (MM_AUTH_SLOTS - 1)];

		if (e->key != NULL && e->klen == len && memcmp(e->key, key, len) == 0) {
			victim = e;
			break;
		}
		if (e->key == NULL || e->expires <= now) {
			if (victim == NULL || !victim_free)
				victim = e;
			victim_free = 1;
		} else if (victim == NULL || (!victim_free && e->expires < victim->expires)) {
			victim = e;
		}
	}
	mm_ent_clear(victim);
	victim->key = xstrndup(key, len);
	victim->klen = len;
	snprintf(victim->value, sizeof(victim->value), "%s", value);
	victim->expires = now + ttl_ms;
	pthread_rwlock_unlock(&c->mu);
}

static void
mm_cache_drop(struct mm_auth_cache *c, const char *key, size_t len)
{
	size_t h = mm_hash(key, len), i;

	pthread_rwlock_wrlock(&c->mu);
	for (i = 0; i < MM_AUTH_PROBE; i++) {
		struct mm_auth_ent *e = &c->slots[(h + i) & (MM_AUTH_SLOTS - 1)];

		if (e->key != NULL && e->klen == len && memcmp(e->key, key, len) == 0)
			mm_ent_clear(e);
	}
	pthread_rwlock_unlock(&c->mu);
}

struct mm_auth *
mm_auth_new(const struct mm_auth_config *cfg)
{
	struct mm_http_config hc = { 0 };
	struct mm_auth *a;

	if (cfg->url == NULL)
		return NULL;
	a = xcalloc(1, sizeof(*a));
	hc.base_url = cfg->url;
	hc.token = cfg->token;
	hc.rate_per_s = 0; /* users' own requests: Mattermost limits per user */
	hc.timeout_ms = cfg->timeout_ms;
	hc.connect_timeout_ms = cfg->timeout_ms < 5000 ? cfg->timeout_ms : 5000;
	hc.max_connections = cfg->max_connections;
	a->http = mm_http_new(&hc);
	a->cache_ms = cfg->cache_ms;
	a->lookup_timeout_ms = cfg->lookup_timeout_ms;
	a->client_lookups = cfg->client_lookups;
	pthread_mutex_init(&a->clients_mu, NULL);
	a->clients = xcalloc(MM_CLIENT_SLOTS, sizeof(*a->clients));
	mm_cache_init(&a->refused);
	a->max_message_chars = cfg->max_message_chars > 0 ? cfg->max_message_chars : 15000;
	mm_cache_init(&a->users);
	mm_cache_init(&a->members);
	return a;
}

void
mm_auth_free(struct mm_auth *a)
{
	if (a == NULL)
		return;
	mm_http_free(a->http);
	mm_cache_free(&a->users);
	mm_cache_free(&a->refused);
	mm_cache_free(&a->members);
	pthread_mutex_destroy(&a->clients_mu);
	free(a->clients);
	free(a);
}

void
mm_auth_limit_waiting(struct mm_auth *a, int n)
{
	if (a != NULL)
		atomic_store(&a->max_waiting, n > 0 ? n : 0);
}

void
mm_auth_guard_counts(struct mm_auth *a, long long *throttled, long long *busy)
{
	*throttled = a != NULL ? atomic_load(&a->throttled) : 0;
	*busy = a != NULL ? atomic_load(&a->busy) : 0;
}

/*
 * Charges one new-token look-up to client; 0, or -1 with the seconds until
 * its window ends in *retry_s when the client has used its budget.  The
 * table is small and fixed: a client not found takes a free slot, one whose
 * window has ended, or the one whose window started first.
 */
static int
mm_client_charge(struct mm_auth *a, const char *client, int *retry_s)
{
	char addr[MM_CLIENT_ADDR_MAX];
	size_t h, i;
	int64_t now = util_mono_ms();
	struct mm_client *c, *victim = NULL;
	int rc = 0;

	if (a->client_lookups <= 0 || client == NULL)
		return 0;
	snprintf(addr, sizeof(addr), "%s", client);
	h = mm_hash(addr, strlen(addr));
	pthread_mutex_lock(&a->clients_mu);
	for (i = 0; i < MM_CLIENT_PROBE; i++) {
		c = &a->clients[(h + i) & (MM_CLIENT_SLOTS - 1)];
		if (c->window_start != 0 && strcmp(c->addr, addr) == 0) {
			victim = c;
			break;
		}
		if (victim == NULL || c->window_start < victim->window_start)
			victim = c;
	}
	c = victim;
	if (strcmp(c->addr, addr) != 0 || now - c->window_start >= MM_AUTH_CLIENT_WINDOW_MS) {
		snprintf(c->addr, sizeof(c->addr), "%s", addr);
		c->window_start = now;
		c->count = 0;
	}
	if (c->count >= a->client_lookups) {
		*retry_s = (int)((c->window_start + MM_AUTH_CLIENT_WINDOW_MS - now + 999) / 1000);
		if (*retry_s < 1)
			*retry_s = 1;
		rc = -1;
	} else {
		c->count++;
	}
	pthread_mutex_unlock(&a->clients_mu);
	return rc;
}

/* Takes one of the threads that may wait on Mattermost; 0, or -1 when none is left. */
static int
mm_wait_enter(struct mm_auth *a)
{
	int max = atomic_load(&a->max_waiting);

	if (atomic_fetch_add(&a->waiting, 1) >= max && max > 0) {
		atomic_fetch_sub(&a->waiting, 1);
		atomic_fetch_add(&a->busy, 1);
		return -1;
	}
	return 0;
}

static void
mm_wait_leave(struct mm_auth *a)
{
	atomic_fetch_sub(&a->waiting, 1);
}

void
mm_auth_counts(struct mm_auth *a, long long *hits, long long *requests)
{
	*hits = a != NULL ? atomic_load(&a->hits) : 0;
	*requests = a != NULL ? atomic_load(&a->requests) : 0;
}

const char *
mm_auth_cookie_token(const char *cookie, size_t *len)
{
	static const char name[] = "MMAUTHTOKEN";
	const char *p = cookie, *v, *end;

	if (cookie == NULL)
		return NULL;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		end = p + strcspn(p, ";");
		if (strncmp(p, name, sizeof(name) - 1) == 0 && p[sizeof(name) - 1] == '=') {
			v = p + sizeof(name);
			if (*v == '"' && end - v >= 2 && end[-1] == '"') {
				v++;
				end--;
			}
			while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			if (end == v)
				return NULL;
			*len = (size_t)(end - v);
			return v;
		}
		p = *end == ';' ? end + 1 : end;
	}
	return NULL;
}

/* A Mattermost token is [A-Za-z0-9]; anything else is not sent on. */
static int
mm_token_ok(const char *t, size_t len)
{
	size_t i;

	if (len == 0 || len > 256)
		return 0;
	for (i = 0; i < len; i++) {
		char c = t[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		        c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

/*
 * One request as the user (bearer) or the bot (NULL), waiting at most
 * timeout_ms (0: MM_TIMEOUT_MS); the answer's status, 0 for none.
 */
static long
mm_auth_ask_within(struct mm_auth *a, const char *method, const char *path, const char *body,
    const char *bearer, long timeout_ms, struct mm_http_resp *r)
{
	atomic_fetch_add(&a->requests, 1);
	if (mm_http_request_within(a->http, method, path, body, bearer, timeout_ms, r) != 0) {
		metrics_count_mm(0);
		if (r->outcome != MM_HTTP_WAIT)
			log_warn("mattermost request failed", "method", method, "err", r->err);
		return 0;
	}
	metrics_count_mm(r->status);
	return r->status;
}

static long
mm_auth_ask(struct mm_auth *a, const char *method, const char *path, const char *body,
    const char *bearer, struct mm_http_resp *r)
{
	return mm_auth_ask_within(a, method, path, body, bearer, 0, r);
}

/* One look-up as the user, under the thread cap and the look-ups' time limit. */
static long
mm_auth_ask_user(
    struct mm_auth *a, const char *path, const char *token, size_t len, struct mm_http_resp *r)
{
	char *tok;
	long status;

	if (mm_wait_enter(a) != 0) {
		memset(r, 0, sizeof(*r));
		return -1;
	}
	tok = xstrndup(token, len);
	status = mm_auth_ask_within(a, "GET", path, NULL, tok, a->lookup_timeout_ms, r);
	mm_wait_leave(a);
	explicit_bzero(tok, len);
	free(tok);
	return status;
}

/* Mattermost said the token is no good: forget it was, remember it is not. */
static void
mm_auth_refuse(struct mm_auth *a, const char *token, size_t len)
{
	mm_cache_drop(&a->users, token, len);
	mm_cache_put(&a->refused, token, len, "", a->cache_ms);
}

enum mm_auth_result
mm_auth_user(struct mm_auth *a, const char *token, size_t len, char user_id[MM_AUTH_ID_MAX + 1])
{
	return mm_auth_user_from(a, token, len, NULL, user_id, NULL);
}

enum mm_auth_result
mm_auth_user_from(struct mm_auth *a, const char *token, size_t len, const char *client,
    char user_id[MM_AUTH_ID_MAX + 1], int *retry_s)
{
	struct mm_http_resp r;
	struct json_object *o = NULL, *id;
	enum mm_auth_result res;
	char value[MM_AUTH_ID_MAX + 1];
	int retry = 0;
	long status;

	user_id[0] = '\0';
	if (retry_s != NULL)
		*retry_s = 0;
	if (a == NULL)
		return MM_AUTH_UNAVAILABLE;
	if (!mm_token_ok(token, len))
		return MM_AUTH_UNAUTHENTICATED;
	if (mm_cache_get(&a->users, token, len, value)) {
		atomic_fetch_add(&a->hits, 1);
		memcpy(user_id, value, sizeof(value));
		return MM_AUTH_OK;
	}
	if (mm_cache_get(&a->refused, token, len, value)) {
		atomic_fetch_add(&a->hits, 1);
		return MM_AUTH_UNAUTHENTICATED;
	}
	if (mm_client_charge(a, client, &retry) != 0) {
		atomic_fetch_add(&a->throttled, 1);
		if (retry_s != NULL)
			*retry_s = retry;
		return MM_AUTH_THROTTLED;
	}
	status = mm_auth_ask_user(a, "/api/v4/users/me", token, len, &r);
	if (status < 0)
		return MM_AUTH_UNAVAILABLE; /* every thread it may use is waiting */
	if (status == 200 && (o = json_tokener_parse(r.body)) != NULL &&
	    json_object_object_get_ex(o, "id", &id) && json_object_is_type(id, json_type_string) &&
	    json_object_get_string_len(id) > 0 &&
	    (size_t)json_object_get_string_len(id) <= MM_AUTH_ID_MAX) {
		snprintf(user_id, MM_AUTH_ID_MAX + 1, "%s", json_object_get_string(id));
		mm_cache_put(&a->users, token, len, user_id, a->cache_ms);
		res = MM_AUTH_OK;
	} else if (status == 401 || status == 403 || status == 404) {
		mm_auth_refuse(a, token, len);
		res = MM_AUTH_UNAUTHENTICATED;
	} else {
		res = MM_AUTH_UNAVAILABLE;
	}
	json_object_put(o);
	mm_http_resp_free(&r);
	return res;
}

enum mm_auth_result
mm_auth_member(
    struct mm_auth *a, const char *token, size_t len, const char *user_id, const char *channel_id)
{
	struct mm_http_resp r;
	enum mm_auth_result res;
	char value[MM_AUTH_ID_MAX + 1], key[2 * MM_AUTH_ID_MAX + 260], *path, *esc;
	size_t klen;
	long status;
	int n;

	if (a == NULL)
		return MM_AUTH_UNAVAILABLE;
	if (channel_id == NULL || channel_id[0] == '\0')
		return MM_AUTH_DENIED;
	n = snprintf(key, sizeof(key), "%s\n%s", user_id, channel_id);
	if (n < 0 || (size_t)n >= sizeof(key))
		return MM_AUTH_DENIED; /* no Mattermost id is that long */
	klen = (size_t)n;
	if (mm_cache_get(&a->members, key, klen, value)) {
		atomic_fetch_add(&a->hits, 1);
		return value[0] == '1' ? MM_AUTH_OK : MM_AUTH_DENIED;
	}
	esc = mm_http_escape(channel_id);
	path = xasprintf("/api/v4/channels/%s/members/me", esc);
	status = mm_auth_ask_user(a, path, token, len, &r);
	if (status < 0) {
		free(path);
		free(esc);
		return MM_AUTH_UNAVAILABLE; /* every thread it may use is waiting */
	}
	if (status == 200) {
		mm_cache_put(&a->members, key, klen, "1", a->cache_ms);
		res = MM_AUTH_OK;
	} else if (status == 403 || status == 404) {
		mm_cache_put(&a->members, key, klen, "0", a->cache_ms);
		res = MM_AUTH_DENIED;
	} else if (status == 401) {
		/* The token died since users/me: forget it, and that it was good. */
		mm_auth_refuse(a, token, len);
		res = MM_AUTH_UNAUTHENTICATED;
	} else {
		res = MM_AUTH_UNAVAILABLE;
	}
	mm_http_resp_free(&r);
	free(path);
	free(esc);
	return res;
}

int
mm_create_livestatus_post(struct mm_auth *a, const char *channel_id, const char *root_id,
    const char *box_id, const char *message, char **post_id, char *err, size_t errlen)
{
	struct json_object *body, *props, *o = NULL, *id;
	struct mm_http_resp r;
	char *pending;
	long status;
	int ret = -1;

	*post_id = NULL;
	if (a == NULL) {
		snprintf(err, errlen, "mattermost is not configured");
		return -1;
	}
	body = json_object_new_object();
	props = json_object_new_object();
	json_object_object_add(props, "session_id", json_object_new_string(box_id));
	json_object_object_add(props, "livestatus_box_id", json_object_new_string(box_id));
	json_object_object_add(body, "channel_id", json_object_new_string(channel_id));
	if (root_id != NULL && root_id[0] != '\0')
		json_object_object_add(body, "root_id", json_object_new_string(root_id));
	json_object_object_add(body, "message", json_object_new_string(message ? message : ""));
	json_object_object_add(body, "type", json_object_new_string("custom_livestatus"));
	json_object_object_add(body, "props", props);
	pending = xasprintf("livestatus:%s", box_id);
	json_object_object_add(body, "pending_post_id", json_object_new_string(pending));
	status = mm_auth_ask(a, "POST", "/api/v4/posts",
	    json_object_to_json_string_ext(
	        body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	    NULL, &r);
	json_object_put(body);
	free(pending);
	if (status == 0) {
		snprintf(err, errlen, "no answer from mattermost: %s", r.err);
	} else if ((status == 200 || status == 201) && (o = json_tokener_parse(r.body)) != NULL &&
	    json_object_object_get_ex(o, "id", &id) && json_object_get_string_len(id) > 0) {
		*post_id = xstrdup(json_object_get_string(id));
		ret = 0;
	} else {
		snprintf(err, errlen, "mattermost answered %ld", status);
	}
	json_object_put(o);
	mm_http_resp_free(&r);
	return ret;
}

/* What became of the final edit (store_mm_final_result()). */
static void
mm_auth_final_store(store *st, const char *box_id, int final_sent, const char *state,
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

void
mm_auth_box_ended(struct mm_auth *a, store *st, const char *box_id)
{
	struct store_mm_post row;
	struct store_box *tree = NULL;
	struct json_object *body;
	struct mm_http_resp r;
	char *post_id = NULL, *text = NULL, *path = NULL, *esc;
	int64_t rev = 0;
	size_t n = 0, i;
	long status;
	int rc;

	if (a == NULL)
		return;
	/* Most changes of an ended box come after its final text: no write. */
	rc = store_mm_post_get(st, box_id, &row);
	if (rc != STORE_OK || row.final_sent || strcmp(row.state, "posted") != 0 ||
	    strcmp(row.mode, "plugin") != 0) {
		store_mm_post_free(&row);
		return;
	}
	store_mm_post_free(&row);
	if ((rc = store_begin(st)) != STORE_OK)
		goto store_fail;
	if ((rc = store_mm_final_claim(st, box_id, &post_id)) == STORE_OK)
		rc = store_mm_tree(st, box_id, &tree, &n);
	if (rc == STORE_NOTFOUND) {
		store_rollback(st);
		goto out;
	}
	if (rc != STORE_OK || (rc = store_commit(st)) != STORE_OK)
		goto store_fail;
	for (i = 0; i < n; i++)
		if (tree[i].revision > rev)
			rev = tree[i].revision;
	text = mm_render_box(tree, n, (size_t)a->max_message_chars);
	body = json_object_new_object();
	json_object_object_add(body, "message", json_object_new_string(text));
	esc = mm_http_escape(post_id);
	path = xasprintf("/api/v4/posts/%s/patch", esc);
	free(esc);
	status = mm_auth_ask_within(a, "PUT", path,
	    json_object_to_json_string_ext(
	        body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	    NULL, MM_AUTH_FINAL_TIMEOUT_MS, &r);
	json_object_put(body);
	mm_http_resp_free(&r);
	if (status == 200) {
		log_info("mattermost post final text set", "box", box_id, "post_id", post_id);
		mm_auth_final_store(st, box_id, 1, NULL, text, rev);
	} else if (status == 403 || status == 404) {
		log_warn("mattermost post gone, final text not set", "box", box_id, "post_id",
		    post_id, "status", LOG_I64(status));
		mm_auth_final_store(st, box_id, 1, "gone", NULL, 0);
	} else if (status >= 400 && status < 500 && status != 401 && status != 429) {
		/* Refused for good: asking again would be refused again. */
		log_error("mattermost refused the final text", "box", box_id, "post_id", post_id,
		    "status", LOG_I64(status));
		mm_auth_final_store(st, box_id, 1, NULL, NULL, 0);
	} else {
		log_warn("final text not set, tried again at the next change", "box", box_id,
		    "post_id", post_id, "status", LOG_I64(status));
		mm_auth_final_store(st, box_id, 0, NULL, NULL, 0);
	}
	goto out;
store_fail:
	log_warn("cannot claim the final post text", "box", box_id, "err", store_errmsg(st));
	store_rollback(st);
out:
	store_box_list_free(tree, n);
	free(text);
	free(path);
	free(post_id);
}
