/* Unit tests of the revision link nginx keys its cache by (sql/store_revdir.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/unit_tmp.h"
#include "sql/store.h"
#include "sql/store_revdir.h"

struct fixture {
	char dir[64];
	char db[96];
	char links[96];
	store *st;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	unit_tmp_make(f->dir, sizeof(f->dir), f->db, sizeof(f->db), "revdir");
	snprintf(f->links, sizeof(f->links), "%s/revision", f->dir);
	assert_int_equal(store_open(f->db, &f->st, err, sizeof(err)), STORE_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->st);
	unit_tmp_remove(f->dir);
	free(f);
	return 0;
}

/* The revision the link names now, or -1. */
static int64_t
link_revision(struct fixture *f, char *target, size_t len)
{
	char path[128];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/current", f->links);
	n = readlink(path, target, len - 1);
	if (n <= 0)
		return -1;
	target[n] = '\0';
	return store_revdir_parse(target);
}

/* One write that bumps the revision, committed (or rolled back). */
static void
write_box(store *st, const char *id, int commit)
{
	struct store_box b;

	memset(&b, 0, sizeof(b));
	b.id = (char *)id;
	b.session_key = "agent:main:main";
	b.status = "active";
	b.lines = "[]";
	b.start_time_ms = b.last_update_ms = 1000;
	b.end_time_ms = STORE_NO_TIME;
	assert_int_equal(store_begin(st), STORE_OK);
	assert_int_equal(store_box_put(st, &b), STORE_OK);
	if (commit)
		assert_int_equal(store_commit(st), STORE_OK);
	else
		store_rollback(st);
}

static void
test_parse(void **state)
{
	(void)state;
	assert_int_equal(store_revdir_parse("r42.6b15c23c0.1efd.0"), 42);
	assert_int_equal(store_revdir_parse("/run/livestatus/revision/r7.a.b.c"), 7);
	assert_int_equal(store_revdir_parse("r0.x"), 0);
	assert_int_equal(store_revdir_parse(NULL), -1);
	assert_int_equal(store_revdir_parse(""), -1);
	assert_int_equal(store_revdir_parse("r42"), -1);
	assert_int_equal(store_revdir_parse("r.42"), -1);
	assert_int_equal(store_revdir_parse("x42.a"), -1);
	assert_int_equal(store_revdir_parse("/r42.a/current"), -1);
	assert_int_equal(store_revdir_parse("r-1.a"), -1);
	assert_int_equal(store_revdir_parse("r99999999999999999999.a"), -1);
}

static void
test_commit_moves_forward_only(void **state)
{
	struct fixture *f = *state;
	struct store_revdir *r;
	char err[256], before[128], after[128];
	int64_t rev;

	r = store_revdir_open(f->links, f->st, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(link_revision(f, before, sizeof(before)), 0);
	store_revdir_attach(r, f->st);
	write_box(f->st, "a", 1);
	assert_int_equal(store_revision(f->st, &rev), STORE_OK);
	assert_true(rev > 0);
	assert_int_equal(link_revision(f, after, sizeof(after)), rev);
	/* a rolled back write moves nothing */
	write_box(f->st, "b", 0);
	assert_int_equal(link_revision(f, before, sizeof(before)), rev);
	assert_string_equal(before, after);
	/* a writer that reports an older revision late moves nothing */
	store_revdir_advance(r, rev - 1);
	store_revdir_advance(r, rev);
	assert_int_equal(link_revision(f, before, sizeof(before)), rev);
	assert_string_equal(before, after);
	store_revdir_advance(r, rev + 5);
	assert_int_equal(link_revision(f, before, sizeof(before)), rev + 5);
	store_on_revision(f->st, NULL, NULL);
	store_revdir_free(r);
}

/* A second process (here: handle) opening the folder installs a new link
 * with the store's revision, even one below the link's (a store made anew),
 * and every move names a folder never used before. */
static void
test_open_installs_a_fresh_link(void **state)
{
	struct fixture *f = *state;
	struct store_revdir *r1, *r2;
	store *st2;
	char err[256], t1[128], t2[128], t3[128];

	r1 = store_revdir_open(f->links, f->st, err, sizeof(err));
	assert_non_null(r1);
	store_revdir_advance(r1, 1000);
	assert_int_equal(link_revision(f, t1, sizeof(t1)), 1000);
	assert_int_equal(store_open(f->db, &st2, err, sizeof(err)), STORE_OK);
	r2 = store_revdir_open(f->links, st2, err, sizeof(err));
	assert_non_null(r2);
	assert_int_equal(link_revision(f, t2, sizeof(t2)), 0);
	assert_string_not_equal(t1, t2);
	/* both move it; writes through either handle land */
	store_revdir_attach(r1, f->st);
	store_revdir_attach(r2, st2);
	write_box(st2, "a", 1);
	assert_int_equal(link_revision(f, t3, sizeof(t3)), 1);
	write_box(f->st, "b", 1);
	assert_int_equal(link_revision(f, t3, sizeof(t3)), 2);
	store_close(st2);
	store_on_revision(f->st, NULL, NULL);
	store_revdir_free(r1);
	store_revdir_free(r2);
}

/* Folders the link left long ago and links a dead writer left are removed;
 * the current folder and recent ones stay. */
static void
test_sweep(void **state)
{
	struct fixture *f = *state;
	struct timespec old[2] = { { .tv_sec = 1000000 }, { .tv_sec = 1000000 } };
	struct store_revdir *r;
	char err[256], path[256], target[128];
	struct stat sb;

	assert_int_equal(mkdir(f->links, 0775), 0);
	snprintf(path, sizeof(path), "%s/r3.old.1.0", f->links);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
	snprintf(path, sizeof(path), "%s/r4.recent.1.0", f->links);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/.new.dead.0", f->links);
	assert_int_equal(symlink("r3.old.1.0", path), 0);
	assert_int_equal(utimensat(AT_FDCWD, path, old, AT_SYMLINK_NOFOLLOW), 0);
	snprintf(path, sizeof(path), "%s/keep-me", f->links);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);

	r = store_revdir_open(f->links, f->st, err, sizeof(err));
	assert_non_null(r);
	snprintf(path, sizeof(path), "%s/r3.old.1.0", f->links);
	assert_int_not_equal(lstat(path, &sb), 0);
	snprintf(path, sizeof(path), "%s/.new.dead.0", f->links);
	assert_int_not_equal(lstat(path, &sb), 0);
	snprintf(path, sizeof(path), "%s/r4.recent.1.0", f->links);
	assert_int_equal(lstat(path, &sb), 0);
	snprintf(path, sizeof(path), "%s/keep-me", f->links);
	assert_int_equal(lstat(path, &sb), 0);
	assert_int_equal(link_revision(f, target, sizeof(target)), 0);
	snprintf(path, sizeof(path), "%s/%s", f->links, target);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	store_revdir_free(r);
}

static void
test_unusable_folder(void **state)
{
	struct fixture *f = *state;
	char err[256], path[128];

	snprintf(path, sizeof(path), "%s/missing/revision", f->dir);
	assert_null(store_revdir_open(path, f->st, err, sizeof(err)));
	assert_non_null(strstr(err, "REVISION_DIR"));
	assert_non_null(strstr(err, "missing/revision"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test_setup_teardown(test_commit_moves_forward_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_installs_a_fresh_link, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unusable_folder, setup, teardown),
	};

	return cmocka_run_group_tests_name("store_revdir", tests, NULL, NULL);
}
