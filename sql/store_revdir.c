/*
 * store_revdir: the revision link nginx keys its cache by (see the header).
 */
#include "sql/store_revdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"

#define REVDIR_LINK "current"
#define REVDIR_LOCK ".lock"

struct store_revdir {
	pthread_mutex_t mu;
	char *dir;
	int dfd;          /* the folder */
	int lock_fd;      /* <dir>/.lock, flock()ed around a move */
	unsigned counter; /* makes names unique within one nanosecond */
	int64_t swept_ms; /* monotonic time of the last sweep */
};

static atomic_llong revdir_moves, revdir_failed;

int64_t
store_revdir_moves_total(void)
{
	return atomic_load(&revdir_moves);
}

int64_t
store_revdir_failed_total(void)
{
	return atomic_load(&revdir_failed);
}

int64_t
store_revdir_parse(const char *path)
{
	const char *p, *slash;
	int64_t rev = 0;

	if (path == NULL)
		return -1;
	slash = strrchr(path, '/');
	p = slash != NULL ? slash + 1 : path;
	if (*p++ != 'r' || *p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (rev > (INT64_MAX - 9) / 10)
			return -1;
		rev = rev * 10 + (*p - '0');
	}
	return *p == '.' ? rev : -1;
}

/* The link's folder name into buf ("" when there is no link). */
static void
revdir_target(struct store_revdir *r, char *buf, size_t len)
{
	ssize_t n = readlinkat(r->dfd, REVDIR_LINK, buf, len - 1);

	buf[n > 0 ? n : 0] = '\0';
}

static void
revdir_fail(struct store_revdir *r, const char *what, const char *name)
{
	int e = errno;

	atomic_fetch_add(&revdir_failed, 1);
	log_warn("cannot move the revision link: nginx may serve an older list until it moves",
	    "op", what, "dir", r->dir, "name", name, "err", strerror(e));
	errno = e;
}

/*
 * Removes the folders the link left more than STORE_REVDIR_KEEP_S ago
 * (their time is when they were left, or made when never linked), and
 * links left behind by a writer that died between symlink and rename.
 */
static void
revdir_sweep(struct store_revdir *r, const char *keep)
{
	struct timespec now;
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int fd;

	clock_gettime(CLOCK_REALTIME, &now);
	if ((fd = openat(r->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;

		if ((n[0] != 'r' && strncmp(n, ".new.", 5) != 0) || strcmp(n, keep) == 0)
			continue;
		if (fstatat(r->dfd, n, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    sb.st_mtim.tv_sec + STORE_REVDIR_KEEP_S >= now.tv_sec)
			continue;
		if (S_ISDIR(sb.st_mode) && n[0] == 'r' && store_revdir_parse(n) >= 0)
			(void)unlinkat(r->dfd, n, AT_REMOVEDIR);
		else if (S_ISLNK(sb.st_mode) && n[0] == '.')
			(void)unlinkat(r->dfd, n, 0);
	}
	closedir(d);
}

/*
 * Makes r<revision>.<unique> and points the link at it; old is the
 * folder it leaves ("" for none), stamped with the time.  Folders are
 * group-writable, so that the other writer (another user of the group)
 * may stamp them.  Called with the mutex and the flock held.
 */
static int
revdir_install(struct store_revdir *r, int64_t revision, const char *old)
{
	struct timespec ts;
	char name[96], tmp[96];
	int64_t now_ms = util_mono_ms();
	int e;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(name, sizeof(name), "r%" PRId64 ".%lx%09lx.%lx.%x", revision, (long)ts.tv_sec,
	    (long)ts.tv_nsec, (long)getpid(), r->counter);
	snprintf(tmp, sizeof(tmp), ".new.%lx.%x", (long)getpid(), r->counter);
	r->counter++;
	if (mkdirat(r->dfd, name, 0775) < 0) {
		revdir_fail(r, "mkdir", name);
		return -1;
	}
	(void)unlinkat(r->dfd, tmp, 0);
	if (symlinkat(name, r->dfd, tmp) < 0) {
		revdir_fail(r, "symlink", tmp);
		goto fail;
	}
	if (renameat(r->dfd, tmp, r->dfd, REVDIR_LINK) < 0) {
		revdir_fail(r, "rename", tmp);
		goto fail;
	}
	atomic_fetch_add(&revdir_moves, 1);
	if (old[0] != '\0')
		(void)utimensat(r->dfd, old, NULL, AT_SYMLINK_NOFOLLOW);
	if (now_ms - r->swept_ms >= STORE_REVDIR_KEEP_S * 1000 / 2) {
		r->swept_ms = now_ms;
		revdir_sweep(r, name);
	}
	return 0;
fail:
	e = errno;
	(void)unlinkat(r->dfd, tmp, 0);
	(void)unlinkat(r->dfd, name, AT_REMOVEDIR);
	errno = e;
	return -1;
}

/*
 * Moves the link to revision when that is above the link's.  With st, the
 * revision is st's, read with the flock held (so a writer that commits
 * meanwhile moves the link after this, never before), and the link moves
 * whatever it said: -2 when st cannot be read.
 */
static int
revdir_move(struct store_revdir *r, int64_t revision, store *st)
{
	char old[128];
	int rc = 0;

	pthread_mutex_lock(&r->mu);
	if (flock(r->lock_fd, LOCK_EX) < 0) {
		revdir_fail(r, "flock", REVDIR_LOCK);
		rc = -1;
		goto out;
	}
	if (st != NULL && store_revision(st, &revision) != STORE_OK) {
		rc = -2;
	} else {
		revdir_target(r, old, sizeof(old));
		if (st != NULL || revision > store_revdir_parse(old))
			rc = revdir_install(r, revision, old);
	}
	(void)flock(r->lock_fd, LOCK_UN);
out:
	pthread_mutex_unlock(&r->mu);
	return rc;
}

void
store_revdir_advance(struct store_revdir *r, int64_t revision)
{
	if (r != NULL)
		(void)revdir_move(r, revision, NULL);
}

static void
revdir_on_revision(void *arg, int64_t revision)
{
	store_revdir_advance(arg, revision);
}

void
store_revdir_attach(struct store_revdir *r, store *st)
{
	store_on_revision(st, r != NULL ? revdir_on_revision : NULL, r);
}

struct store_revdir *
store_revdir_open(const char *dir, store *st, char *err, size_t errlen)
{
	struct store_revdir *r = xcalloc(1, sizeof(*r));

	pthread_mutex_init(&r->mu, NULL);
	r->dir = xstrdup(dir);
	r->dfd = r->lock_fd = -1;
	if (mkdir(dir, 02775) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "REVISION_DIR: cannot make %s: %s", dir, strerror(errno));
		goto fail;
	}
	if ((r->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "REVISION_DIR: cannot open %s: %s", dir, strerror(errno));
		goto fail;
	}
	if ((r->lock_fd = openat(
	         r->dfd, REVDIR_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0660)) < 0) {
		snprintf(err, errlen, "REVISION_DIR: cannot open %s/%s: %s", dir, REVDIR_LOCK,
		    strerror(errno));
		goto fail;
	}
	switch (revdir_move(r, 0, st)) {
	case 0:
		break;
	case -2:
		snprintf(err, errlen, "REVISION_DIR: cannot read the store's revision: %s",
		    store_errmsg(st));
		goto fail;
	default:
		snprintf(err, errlen, "REVISION_DIR: cannot install the link in %s: %s", dir,
		    strerror(errno));
		goto fail;
	}
	return r;
fail:
	store_revdir_free(r);
	return NULL;
}

void
store_revdir_free(struct store_revdir *r)
{
	if (r == NULL)
		return;
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	if (r->dfd >= 0)
		close(r->dfd);
	pthread_mutex_destroy(&r->mu);
	free(r->dir);
	free(r);
}
