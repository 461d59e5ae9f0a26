/* api_stores.c: store handles lent a request at a time (api_stores.h). */
#include "fcgi/api_stores.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "common/util.h"
#include "common/xmalloc.h"

/* The handles of one use: a stack of those not lent. */
struct api_stores_pool {
	pthread_cond_t freed;
	store **idle;
	int nidle;
};

struct api_stores {
	pthread_mutex_t lock;
	struct api_stores_pool pool[2]; /* by enum api_stores_use */
	store **all;                    /* reads' handles first, then writes' */
	int n, per_use;
};

int
api_stores_per_use(int threads)
{
	int n = threads / 8;

	return n < 1 ? 1 : n;
}

struct api_stores *
api_stores_open(const char *db_path, int per_use, char *err, size_t errlen)
{
	struct api_stores *p = xcalloc(1, sizeof(*p));
	pthread_condattr_t attr;
	int u;

	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	for (u = 0; u < 2; u++) {
		pthread_cond_init(&p->pool[u].freed, &attr);
		p->pool[u].idle = xcalloc((size_t)per_use, sizeof(store *));
	}
	pthread_condattr_destroy(&attr);
	p->per_use = per_use;
	p->all = xcalloc((size_t)per_use * 2, sizeof(*p->all));
	for (p->n = 0; p->n < per_use * 2; p->n++) {
		struct api_stores_pool *pool = &p->pool[p->n / per_use];

		if (store_open(db_path, &p->all[p->n], err, errlen) != STORE_OK)
			goto fail;
		pool->idle[pool->nidle++] = p->all[p->n];
	}
	return p;
fail:
	api_stores_close(p);
	return NULL;
}

int
api_stores_count(const struct api_stores *p)
{
	return p->n;
}

store *
api_stores_at(struct api_stores *p, int i)
{
	return p->all[i];
}

store *
api_stores_take(
    struct api_stores *p, enum api_stores_use use, void (*before_wait)(void *arg), void *arg)
{
	struct api_stores_pool *pool = &p->pool[use == API_STORES_WRITE];
	struct timespec until;
	store *st = NULL;

	pthread_mutex_lock(&p->lock);
	if (pool->nidle == 0) {
		if (before_wait != NULL) {
			/* Not under the lock: the server takes its own. */
			pthread_mutex_unlock(&p->lock);
			before_wait(arg);
			pthread_mutex_lock(&p->lock);
		}
		util_deadline(&until, CLOCK_MONOTONIC, STORE_BUSY_TIMEOUT_MS);
		while (pool->nidle == 0 &&
		    pthread_cond_timedwait(&pool->freed, &p->lock, &until) != ETIMEDOUT)
			;
	}
	if (pool->nidle > 0)
		st = pool->idle[--pool->nidle];
	pthread_mutex_unlock(&p->lock);
	return st;
}

void
api_stores_give(struct api_stores *p, store *st)
{
	struct api_stores_pool *pool;
	int i;

	for (i = 0; i < p->n && p->all[i] != st; i++)
		;
	pool = &p->pool[i >= p->per_use];
	pthread_mutex_lock(&p->lock);
	pool->idle[pool->nidle++] = st;
	pthread_cond_signal(&pool->freed);
	pthread_mutex_unlock(&p->lock);
}

void
api_stores_close(struct api_stores *p)
{
	int i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++)
		store_close(p->all[i]);
	for (i = 0; i < 2; i++) {
		free(p->pool[i].idle);
		pthread_cond_destroy(&p->pool[i].freed);
	}
	free(p->all);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
