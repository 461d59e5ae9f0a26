/* store_ckpt: WAL checkpoints on a thread of their own. */
#include "sql/store_ckpt.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "sql/store_int.h"

struct store_ckpt {
	store **writers; /* watched (store_ckpt_watch) */
	size_t nwriters;
	store *own; /* the thread's connection */
	pthread_t thread;
	pthread_mutex_t lock; /* guards want and stop */
	pthread_cond_t wake;
	int want, stop;
	atomic_long count;
};

/* The writer's WAL hook: runs after each of its commits, in its thread. */
static int
store_ckpt_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct store_ckpt *c = arg;

	(void)db;
	(void)name;
	if (pages >= STORE_CKPT_PAGES) {
		pthread_mutex_lock(&c->lock);
		c->want = 1;
		pthread_cond_signal(&c->wake);
		pthread_mutex_unlock(&c->lock);
	}
	return SQLITE_OK;
}

static void *
store_ckpt_run(void *arg)
{
	struct store_ckpt *c = arg;
	int rc, log_pages, done;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->want && !c->stop)
			pthread_cond_wait(&c->wake, &c->lock);
		if (c->stop)
			break;
		c->want = 0;
		pthread_mutex_unlock(&c->lock);
		rc = sqlite3_wal_checkpoint_v2(
		    c->own->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_pages, &done);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY)
			log_warn("WAL checkpoint failed", "err", sqlite3_errmsg(c->own->db));
		atomic_fetch_add(&c->count, 1);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

struct store_ckpt *
store_ckpt_start(const char *path, char *err, size_t errlen)
{
	struct store_ckpt *c = xcalloc(1, sizeof(*c));
	sigset_t all, was;
	int rc;

	atomic_init(&c->count, 0);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	if (store_open(path, &c->own, err, errlen) != STORE_OK)
		goto fail;
	/* the thread takes no signal: the program's own handling stays as it is */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &was);
	rc = pthread_create(&c->thread, NULL, store_ckpt_run, c);
	pthread_sigmask(SIG_SETMASK, &was, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the checkpoint thread: %s", strerror(rc));
		goto fail;
	}
	return c;
fail:
	store_close(c->own);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	free(c);
	return NULL;
}

void
store_ckpt_watch(struct store_ckpt *c, store *writer)
{
	if (c == NULL || writer == NULL)
		return;
	c->writers = xreallocarray(c->writers, c->nwriters + 1, sizeof(*c->writers));
	c->writers[c->nwriters++] = writer;
	sqlite3_wal_hook(writer->db, store_ckpt_hook, c);
}

void
store_ckpt_stop(struct store_ckpt *c)
{
	size_t i;

	if (c == NULL)
		return;
	/* the writers' own checkpoints again (this replaces the hook) */
	for (i = 0; i < c->nwriters; i++)
		sqlite3_wal_autocheckpoint(c->writers[i]->db, STORE_CKPT_PAGES);
	pthread_mutex_lock(&c->lock);
	c->stop = 1;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	store_close(c->own);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	free(c->writers);
	free(c);
}

long
store_ckpt_count(struct store_ckpt *c)
{
	return c != NULL ? atomic_load(&c->count) : 0;
}
