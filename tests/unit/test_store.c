/* Unit tests of the store: migrations, boxes, revisions, cleanup, busy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "tests/unit/unit_tmp.h"
#include "sql/store.h"
#include "sql/store_ckpt.h"

struct fixture {
	char dir[64];
	char path[96];
	store *st;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	unit_tmp_make(f->dir, sizeof(f->dir), f->path, sizeof(f->path), "store");
	assert_int_equal(store_open(f->path, &f->st, err, sizeof(err)), STORE_OK);
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

static void
box_init(struct store_box *b, char *id, char *parent, int64_t start)
{
	memset(b, 0, sizeof(*b));
	b->id = id;
	b->session_key = "agent:main:main";
	b->parent_id = parent;
	b->status = "active";
	b->lines = "[\"one\",\"two\"]";
	b->start_time_ms = start;
	b->last_update_ms = start;
	b->end_time_ms = STORE_NO_TIME;
}

static int
put(store *st, struct store_box *b)
{
	int rc = store_begin(st);

	if (rc == STORE_OK)
		rc = store_box_put(st, b);
	if (rc == STORE_OK)
		rc = store_commit(st);
	else
		store_rollback(st);
	return rc;
}

static void
test_schema_version(void **state)
{
	struct fixture *f = *state;
	store *again;
	char err[256];

	assert_true(store_schema_latest() >= 1);
	assert_int_equal(store_schema_version(f->st), store_schema_latest());
	/* A second open of a migrated file changes nothing. */
	assert_int_equal(store_open(f->path, &again, err, sizeof(err)), STORE_OK);
	assert_int_equal(store_schema_version(again), store_schema_latest());
	store_close(again);
}

static void
test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;
	store *st = NULL;
	char err[256] = "", sql[64];

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", store_schema_latest() + 1);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(f->path, &st, err, sizeof(err)), STORE_ERROR);
	assert_null(st);
	assert_non_null(strstr(err, "newer than this program"));
}

static void
test_put_get_revision(void **state)
{
	struct fixture *f = *state;
	struct store_box b, got;
	int64_t rev0, rev1;

	assert_int_equal(store_revision(f->st, &rev0), STORE_OK);
	box_init(&b, "b1", NULL, 1000);
	assert_int_equal(put(f->st, &b), STORE_OK);
	assert_int_equal(store_revision(f->st, &rev1), STORE_OK);
	assert_int_equal(rev1, rev0 + 1);
	assert_int_equal(b.revision, rev1);

	assert_int_equal(store_box_get(f->st, "b1", &got), STORE_OK);
	assert_string_equal(got.lines, "[\"one\",\"two\"]");
	assert_string_equal(got.status, "active");
	assert_null(got.parent_id);
	assert_int_equal(got.end_time_ms, STORE_NO_TIME);
	assert_string_equal(got.channel_id, "");
	store_box_free(&got);

	assert_int_equal(store_box_get(f->st, "nope", &got), STORE_NOTFOUND);
}

static void
test_update_keeps_children_delete_cascades(void **state)
{
	struct fixture *f = *state;
	struct store_box p, c, got;
	struct store_box *list;
	size_t n;

	box_init(&p, "parent", NULL, 1000);
	box_init(&c, "child", "parent", 2000);
	assert_int_equal(put(f->st, &p), STORE_OK);
	assert_int_equal(put(f->st, &c), STORE_OK);
	/* An update of the parent is an upsert, never a delete-and-insert. */
	p.status = "done";
	p.end_time_ms = 3000;
	assert_int_equal(put(f->st, &p), STORE_OK);
	assert_int_equal(store_box_get(f->st, "child", &got), STORE_OK);
	assert_string_equal(got.parent_id, "parent");
	store_box_free(&got);

	assert_int_equal(store_box_list(f->st, &list, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].id, "parent");
	assert_string_equal(list[1].id, "child");
	store_box_list_free(list, n);

	assert_int_equal(store_begin(f->st), STORE_OK);
	assert_int_equal(store_box_delete(f->st, "parent"), STORE_OK);
	assert_int_equal(store_box_delete(f->st, "parent"), STORE_NOTFOUND);
	assert_int_equal(store_commit(f->st), STORE_OK);
	assert_int_equal(store_box_get(f->st, "child", &got), STORE_NOTFOUND);
}

static void
test_cleanup(void **state)
{
	struct fixture *f = *state;
	struct store_box stale, old, fresh, got;
	struct store_counts counts;
	int64_t interrupted, deleted;

	box_init(&stale, "stale", NULL, 1000);
	box_init(&old, "old", NULL, 1000);
	old.status = "done";
	old.end_time_ms = 2000;
	box_init(&fresh, "fresh", NULL, 9000);
	assert_int_equal(put(f->st, &stale), STORE_OK);
	assert_int_equal(put(f->st, &old), STORE_OK);
	assert_int_equal(put(f->st, &fresh), STORE_OK);

	assert_int_equal(store_cleanup(f->st, 10000, 5000, 5000, &interrupted, &deleted), STORE_OK);
	assert_int_equal(interrupted, 1);
	assert_int_equal(deleted, 1);
	assert_int_equal(store_box_get(f->st, "stale", &got), STORE_OK);
	assert_string_equal(got.status, "interrupted");
	assert_int_equal(got.end_time_ms, 10000);
	store_box_free(&got);
	assert_int_equal(store_box_get(f->st, "old", &got), STORE_NOTFOUND);
	assert_int_equal(store_box_counts(f->st, &counts), STORE_OK);
	assert_int_equal(counts.active, 1);
	assert_int_equal(counts.interrupted, 1);
	assert_int_equal(counts.total, 2);
}

static void
test_heartbeat(void **state)
{
	struct fixture *f = *state;
	struct store_heartbeat hb = { 42, 1, 2, 5000, "closed", "{\"lines_read\":3}" };
	struct store_heartbeat got;

	assert_int_equal(store_heartbeat_get(f->st, &got), STORE_NOTFOUND);
	assert_int_equal(store_heartbeat_put(f->st, &hb), STORE_OK);
	assert_int_equal(store_heartbeat_get(f->st, &got), STORE_OK);
	assert_int_equal(got.pid, 42);
	assert_string_equal(got.breaker, "closed");
	assert_string_equal(got.stats, "{\"lines_read\":3}");
	store_heartbeat_free(&got);
}

static void
test_busy_is_reported(void **state)
{
	struct fixture *f = *state;
	store *other;
	char err[256];
	int64_t before = store_busy_total();

	assert_int_equal(store_open_ms(f->path, 50, &other, err, sizeof(err)), STORE_OK);
	assert_int_equal(store_begin(f->st), STORE_OK);
	assert_int_equal(store_begin(other), STORE_BUSY);
	assert_true(store_busy_total() > before);
	store_rollback(f->st);
	assert_int_equal(store_begin(other), STORE_OK);
	store_rollback(other);
	store_close(other);
}

static void
test_bad_lines_rejected(void **state)
{
	struct fixture *f = *state;
	struct store_box b;

	box_init(&b, "bad", NULL, 1000);
	b.lines = "[not json";
	assert_int_equal(store_begin(f->st), STORE_OK);
	assert_int_equal(store_box_put(f->st, &b), STORE_ERROR);
	assert_non_null(strstr(store_errmsg(f->st), "CHECK"));
	store_rollback(f->st);
}

/*
 * The checkpoint thread: nothing until the writer's WAL passes
 * STORE_CKPT_PAGES, then a checkpoint on the thread, the writer going on.
 */
static void
test_checkpoints_on_their_own_thread(void **state)
{
	struct fixture *f = *state;
	struct store_ckpt *c;
	struct store_box b;
	char err[256], id[32], *lines = malloc(20000);
	int i, waited;

	assert_non_null(c = store_ckpt_start(f->path, err, sizeof(err)));
	store_ckpt_watch(c, f->st);
	box_init(&b, "first", NULL, 1000);
	assert_int_equal(put(f->st, &b), STORE_OK);
	assert_int_equal(store_ckpt_count(c), 0); /* a small WAL wakes nothing */
	memset(lines, 'x', 19998);
	lines[0] = '[';
	lines[1] = '"';
	lines[19996] = '"';
	lines[19997] = ']';
	lines[19998] = '\0';
	for (i = 0; i < 400; i++) { /* 5 pages each: 2,000 pages of WAL */
		snprintf(id, sizeof(id), "big-%d", i);
		box_init(&b, id, NULL, 2000 + i);
		b.lines = lines;
		assert_int_equal(put(f->st, &b), STORE_OK);
	}
	for (waited = 0; store_ckpt_count(c) == 0 && waited < 10000; waited += 10)
		usleep(10000);
	assert_true(store_ckpt_count(c) > 0);
	store_ckpt_stop(c);
	box_init(&b, "after", NULL, 3000); /* the writer works on alone */
	assert_int_equal(put(f->st, &b), STORE_OK);
	free(lines);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_schema_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_get_revision, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_update_keeps_children_delete_cascades, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cleanup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_heartbeat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_is_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_lines_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_checkpoints_on_their_own_thread, setup, teardown),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
