/* api_stores.c: store handles lent a request at a time (api_stores.h). */
#include "fcgi/api_stores.h"

#include <pthread.h>
#include <stdlib.h>

#include "common/xmalloc.h"

struct api_stores {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	store **all;
	store **idle; /* a stack of the handles not lent */
	int n, nidle;
};

int
api_stores_for_threads(int threads)
{
	int n = (threads + 3) / 4;

	if (n < 2)
		n = 2;
	return n < threads ? n : threads;
}

struct api_stores *
api_stores_open(const char *db_path, int n, char *err, size_t errlen)
{
	struct api_stores *p = xcalloc(1, sizeof(*p));

	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->freed, NULL);
	p->all = xcalloc((size_t)n, sizeof(*p->all));
	p->idle = xcalloc((size_t)n, sizeof(*p->idle));
	for (p->n = 0; p->n < n; p->n++) {
		if (store_open(db_path, &p->all[p->n], err, errlen) != STORE_OK)
			goto fail;
		p->idle[p->nidle++] = p->all[p->n];
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
api_stores_take(struct api_stores *p, void (*before_wait)(void *arg), void *arg)
{
	store *st;

	pthread_mutex_lock(&p->lock);
	if (p->nidle == 0 && before_wait != NULL) {
		/* Not under the lock: the server takes its own. */
		pthread_mutex_unlock(&p->lock);
		before_wait(arg);
		pthread_mutex_lock(&p->lock);
	}
	while (p->nidle == 0)
		pthread_cond_wait(&p->freed, &p->lock);
	st = p->idle[--p->nidle];
	pthread_mutex_unlock(&p->lock);
	return st;
}

void
api_stores_give(struct api_stores *p, store *st)
{
	pthread_mutex_lock(&p->lock);
	p->idle[p->nidle++] = st;
	pthread_cond_signal(&p->freed);
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
	free(p->all);
	free(p->idle);
	pthread_cond_destroy(&p->freed);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
