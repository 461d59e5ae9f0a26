/* mm_auth: Mattermost tokens and channel memberships, cached; daemon posts. */
#include "fcgi/mm_auth.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "mm/mm_config.h"
#include "mm/mm_http.h"
#include "mm/mm_post.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "fcgi/metrics.h"

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
	int64_t expires;       /* mono ms; 0 = empty */
	atomic_int refreshing; /* a request is asking Mattermost again (MM_HIT_REFRESH) */
};

/* What mm_cache_get() found besides the value. */
#define MM_HIT_RAN_OUT 1 /* the key is there, its time has run out */
#define MM_HIT_REFRESH 2 /* live, in its last fifth: the caller asks again */

struct mm_auth_cache {
	pthread_rwlock_t mu; /* look-ups share it; changes take it alone */
	struct mm_auth_ent *slots;
};

/* Clients tracked by the per-client budget (a power of two), probed per key. */
#define MM_CLIENT_SLOTS 1024u
#define MM_CLIENT_PROBE 8u
#define MM_CLIENT_ADDR_MAX 64

/* One client's (REMOTE_ADDR's) new-token look-ups in its current window. */
struct mm_auth_client {
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
	struct mm_auth_client *clients;
	atomic_int waiting, max_waiting; /* threads asking Mattermost now; 0 = no cap */
	atomic_llong hits, requests, throttled, busy;
};

int
mm_auth_config_from_env(struct mm_auth_config *cfg, char *err, size_t errlen)
{
	struct mm_config mc;

	memset(cfg, 0, sizeof(*cfg));
	memset(&mc, 0, sizeof(mc));
	if (mm_config_server(&mc, 0, err, errlen) != 0 || mm_config_login(&mc, err, errlen) != 0)
		return -1;
	cfg->url = mc.url;
	cfg->token = mc.token;
	cfg->timeout_ms = mc.timeout_ms;
	cfg->max_message_chars = mc.max_message_chars;
	cfg->cache_ms = mc.auth_cache_ms;
	cfg->lookup_timeout_ms = mc.auth_timeout_ms;
	cfg->client_lookups = mc.auth_client_lookups;
	cfg->max_connections = mc.max_connections;
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
	uint64_t h = util_hash_add(UTIL_HASH_SEED, k, len);

	return (size_t)(h ^ (h >> 32));
}

/* key's entry, live or not, or NULL; under c->mu (a key has one slot at most). */
static struct mm_auth_ent *
mm_cache_find(struct mm_auth_cache *c, const char *key, size_t len)
{
	size_t h = mm_hash(key, len), i;

	for (i = 0; i < MM_AUTH_PROBE; i++) {
		struct mm_auth_ent *e = &c->slots[(h + i) & (MM_AUTH_SLOTS - 1)];

		if (e->key != NULL && e->klen == len && memcmp(e->key, key, len) == 0)
			return e;
	}
	return NULL;
}

/*
 * Copies the live value of key into value; 1 when found.  *hit gets
 * MM_HIT_RAN_OUT when key is there but its time has run out, or
 * MM_HIT_REFRESH for the first caller that finds it live within the last
 * fifth of ttl_ms (ttl_ms 0: never): that caller asks Mattermost again and
 * puts the answer (or mm_cache_unflag()s), while the others go on using
 * the entry, so a token in steady use never runs out under its readers.
 */
static int
mm_cache_get(
    struct mm_auth_cache *c, const char *key, size_t len, char *value, long ttl_ms, int *hit)
{
	int64_t now = util_mono_ms();
	struct mm_auth_ent *e;
	int found = 0, no = 0;

	*hit = 0;
	pthread_rwlock_rdlock(&c->mu);
	if ((e = mm_cache_find(c, key, len)) != NULL && e->expires > now) {
		memcpy(value, e->value, sizeof(e->value));
		found = 1;
		if (ttl_ms > 0 && e->expires - now < ttl_ms / 5 &&
		    atomic_compare_exchange_strong(&e->refreshing, &no, 1))
			*hit = MM_HIT_REFRESH;
	} else if (e != NULL) {
		*hit = MM_HIT_RAN_OUT; /* left for mm_cache_put() to reuse */
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

/* A refresh that got no answer: the next caller in the last fifth tries. */
static void
mm_cache_unflag(struct mm_auth_cache *c, const char *key, size_t len)
{
	struct mm_auth_ent *e;

	pthread_rwlock_rdlock(&c->mu);
	if ((e = mm_cache_find(c, key, len)) != NULL)
		atomic_store(&e->refreshing, 0);
	pthread_rwlock_unlock(&c->mu);
}

static void
mm_cache_drop(struct mm_auth_cache *c, const char *key, size_t len)
{
	struct mm_auth_ent *e;

	pthread_rwlock_wrlock(&c->mu);
	if ((e = mm_cache_find(c, key, len)) != NULL)
		mm_ent_clear(e);
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
	struct mm_auth_client *c, *victim = NULL;
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

/*
 * Asks Mattermost who token is and caches the answer: MM_AUTH_OK with
 * user_id, MM_AUTH_UNAUTHENTICATED, or MM_AUTH_UNAVAILABLE (not cached).
 */
static enum mm_auth_result
mm_auth_ask_who(struct mm_auth *a, const char *token, size_t len, char user_id[MM_AUTH_ID_MAX + 1])
{
	struct mm_http_resp r;
	struct json_object *o = NULL, *id;
	enum mm_auth_result res;
	long status;

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
mm_auth_user_from(struct mm_auth *a, const char *token, size_t len, const char *client,
    char user_id[MM_AUTH_ID_MAX + 1], int *retry_s)
{
	enum mm_auth_result res;
	char value[MM_AUTH_ID_MAX + 1];
	int retry = 0, hit, refused_hit;

	user_id[0] = '\0';
	if (retry_s != NULL)
		*retry_s = 0;
	if (a == NULL)
		return MM_AUTH_UNAVAILABLE;
	if (!mm_token_ok(token, len))
		return MM_AUTH_UNAUTHENTICATED;
	if (mm_cache_get(&a->users, token, len, value, a->cache_ms, &hit)) {
		atomic_fetch_add(&a->hits, 1);
		memcpy(user_id, value, sizeof(value));
		if (hit != MM_HIT_REFRESH)
			return MM_AUTH_OK;
		/* Asked again before it runs out; no answer: the entry stands. */
		res = mm_auth_ask_who(a, token, len, user_id);
		if (res == MM_AUTH_UNAVAILABLE) {
			mm_cache_unflag(&a->users, token, len);
			memcpy(user_id, value, sizeof(value));
			return MM_AUTH_OK;
		}
		return res;
	}
	if (mm_cache_get(&a->refused, token, len, value, 0, &refused_hit)) {
		atomic_fetch_add(&a->hits, 1);
		return MM_AUTH_UNAUTHENTICATED;
	}
	/*
	 * A token Mattermost accepted before, whose entry has run out, is not
	 * a new one: a reader busy past AUTH_CACHE_S is not throttled for it.
	 */
	if (hit != MM_HIT_RAN_OUT && mm_client_charge(a, client, &retry) != 0) {
		atomic_fetch_add(&a->throttled, 1);
		if (retry_s != NULL)
			*retry_s = retry;
		return MM_AUTH_THROTTLED;
	}
	return mm_auth_ask_who(a, token, len, user_id);
}

/*
 * Asks Mattermost whether token's user is a member of channel_id and caches
 * the answer under key; MM_AUTH_UNAVAILABLE is not cached.
 */
static enum mm_auth_result
mm_auth_ask_member(struct mm_auth *a, const char *token, size_t len, const char *channel_id,
    const char *key, size_t klen)
{
	struct mm_http_resp r;
	enum mm_auth_result res;
	char *esc = mm_http_escape(channel_id);
	char *path = xasprintf("/api/v4/channels/%s/members/me", esc);
	long status = mm_auth_ask_user(a, path, token, len, &r);

	if (status < 0) {
		res = MM_AUTH_UNAVAILABLE; /* every thread it may use is waiting */
		goto out;
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
out:
	free(path);
	free(esc);
	return res;
}

enum mm_auth_result
mm_auth_member(
    struct mm_auth *a, const char *token, size_t len, const char *user_id, const char *channel_id)
{
	enum mm_auth_result res, cached;
	char value[MM_AUTH_ID_MAX + 1], key[2 * MM_AUTH_ID_MAX + 260];
	size_t klen;
	int n, hit;

	if (a == NULL)
		return MM_AUTH_UNAVAILABLE;
	if (channel_id == NULL || channel_id[0] == '\0')
		return MM_AUTH_DENIED;
	n = snprintf(key, sizeof(key), "%s\n%s", user_id, channel_id);
	if (n < 0 || (size_t)n >= sizeof(key))
		return MM_AUTH_DENIED; /* no Mattermost id is that long */
	klen = (size_t)n;
	if (!mm_cache_get(&a->members, key, klen, value, a->cache_ms, &hit))
		return mm_auth_ask_member(a, token, len, channel_id, key, klen);
	atomic_fetch_add(&a->hits, 1);
	cached = value[0] == '1' ? MM_AUTH_OK : MM_AUTH_DENIED;
	if (hit != MM_HIT_REFRESH)
		return cached;
	/* Asked again before it runs out; no answer: the entry stands. */
	res = mm_auth_ask_member(a, token, len, channel_id, key, klen);
	if (res == MM_AUTH_UNAVAILABLE) {
		mm_cache_unflag(&a->members, key, klen);
		return cached;
	}
	return res;
}

/* The post writer's transport: the pool, counted as the responder's requests. */
static int
mm_auth_client_request(void *ctx, const char *method, const char *path, const char *body,
    const char *bearer, long timeout_ms, struct mm_http_resp *r)
{
	return mm_auth_ask_within(ctx, method, path, body, bearer, timeout_ms, r) > 0 ? 0 : -1;
}

static struct mm_client
mm_auth_client(struct mm_auth *a)
{
	struct mm_client c = mm_http_client(a->http);

	c.request = mm_auth_client_request;
	c.ctx = a;
	return c;
}

int
mm_create_livestatus_post(struct mm_auth *a, const char *channel_id, const char *root_id,
    const char *box_id, const char *message, char **post_id, char *err, size_t errlen)
{
	struct mm_http_resp r;
	struct mm_client c;
	struct mm_post_new n = { .channel_id = channel_id,
		.root_id = root_id,
		.box_id = box_id,
		.message = message,
		.plugin = 1 };
	char *pending;

	*post_id = NULL;
	if (a == NULL) {
		snprintf(err, errlen, "mattermost is not configured");
		return -1;
	}
	c = mm_auth_client(a);
	pending = xasprintf("livestatus:%s", box_id);
	n.pending_post_id = pending;
	if (mm_post_create(&c, &n, &r, post_id) != 0)
		snprintf(err, errlen, "no answer from mattermost: %s", r.err);
	else if (*post_id == NULL)
		snprintf(err, errlen, "mattermost answered %ld", r.status);
	mm_http_resp_free(&r);
	free(pending);
	return *post_id != NULL ? 0 : -1;
}

void
mm_auth_box_ended(struct mm_auth *a, store *st, const char *box_id)
{
	struct mm_client c;

	if (a == NULL)
		return;
	c = mm_auth_client(a);
	mm_post_box_ended(&c, st, box_id, a->max_message_chars, MM_AUTH_FINAL_TIMEOUT_MS);
}
