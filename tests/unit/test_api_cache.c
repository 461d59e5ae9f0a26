/*
 * Unit tests of the snapshot cache (fcgi/api_cache.h) on a real store.
 *
 * The oracle is a fresh cache: it reads the whole store, so what it answers
 * is what the store holds.  A long-lived cache answers from its cold part
 * and the hot trees read since; after every kind of change (new boxes,
 * finished ones changed, a child added under a cold tree, a box moved to
 * another tree, deletions, many finished boxes) both must answer every
 * list and every box alike, byte for byte.
 */
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
#include "fcgi/api_cache.h"
#include "sql/store.h"

struct fixture {
	char dir[64];
	char path[96];
	store *st;
	struct api_cache *cache; /* lives through the test */
	int64_t clock;           /* start times, one per box made */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	unit_tmp_make(f->dir, sizeof(f->dir), f->path, sizeof(f->path), "cache");
	assert_int_equal(store_open(f->path, &f->st, err, sizeof(err)), STORE_OK);
	f->cache = api_cache_new();
	f->clock = 1000;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	api_cache_free(f->cache);
	store_close(f->st);
	unit_tmp_remove(f->dir);
	free(f);
	return 0;
}

/* Writes one box; start 0 takes the next tick of the fixture's clock. */
static void
put(struct fixture *f, const char *id, const char *parent, const char *channel, const char *status,
    int64_t start)
{
	struct store_box b = { 0 };
	char lines[64];

	snprintf(lines, sizeof(lines), "[\"%s is %s\"]", id, status);
	b.id = (char *)id;
	b.session_key = (char *)"agent:main:test";
	b.agent_id = (char *)"main";
	b.channel_id = (char *)channel;
	b.parent_id = (char *)parent;
	b.status = (char *)status;
	b.lines = lines;
	b.source = (char *)"api";
	b.start_time_ms = start != 0 ? start : f->clock++;
	b.end_time_ms = strcmp(status, "active") == 0 ? STORE_NO_TIME : b.start_time_ms + 5;
	b.last_update_ms = b.start_time_ms;
	assert_int_equal(store_begin(f->st), STORE_OK);
	assert_int_equal(store_box_put(f->st, &b), STORE_OK);
	assert_int_equal(store_commit(f->st), STORE_OK);
}

static void
del(struct fixture *f, const char *id)
{
	assert_int_equal(store_begin(f->st), STORE_OK);
	assert_int_equal(store_box_delete(f->st, id), STORE_OK);
	assert_int_equal(store_commit(f->st), STORE_OK);
}

/* Empties the store's list of deleted boxes, as its limit does with old ones. */
static void
forget_deletions(struct fixture *f)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM boxes_gone", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* The body of resp as a string (owned by the caller). */
static char *
body_of(struct api_resp *r)
{
	const char *data = r->blob_data != NULL ? r->blob_data : r->body.data;
	size_t len = r->blob_data != NULL ? r->blob_len : r->body.len;
	char *s = malloc(len + 1);

	memcpy(s, data, len);
	s[len] = '\0';
	return s;
}

static char *
list_of(struct api_snapshot *s, const char *status, const char *channel)
{
	struct api_resp r = { 0 };
	char *out;

	api_snapshot_list(s, status, channel, &r);
	out = body_of(&r);
	api_resp_free(&r);
	return out;
}

static char *
box_of(struct api_snapshot *s, const char *id)
{
	struct api_resp r = { 0 };
	char *out;

	if (api_snapshot_box(s, id, &r, NULL) != 0)
		out = strdup("(none)");
	else
		out = body_of(&r);
	api_resp_free(&r);
	return out;
}

/* A reader in channel ch-a only. */
static int
may_a(void *arg, const char *channel)
{
	(void)arg;
	return strcmp(channel, "ch-a") == 0;
}

static char *
list_for_a(struct api_snapshot *s, const char *status)
{
	struct api_resp r = { 0 };
	char *out;

	api_snapshot_list_for(s, status, NULL, may_a, NULL, &r);
	out = body_of(&r);
	api_resp_free(&r);
	return out;
}

static void
same(char *want, char *got, const char *what)
{
	if (strcmp(want, got) != 0)
		fail_msg("%s differs:\nfresh: %s\nkept:  %s", what, want, got);
	free(want);
	free(got);
}

/* Compares every answer of the fixture's cache with those of a fresh one. */
static void
check(struct fixture *f, const char *const *ids)
{
	static const char *const statuses[] = { NULL, "active", "done", "error" };
	struct api_cache *fresh = api_cache_new();
	struct api_snapshot *a = NULL, *b = NULL;
	size_t i;

	assert_int_equal(api_cache_get(fresh, f->st, NULL, &a), STORE_OK);
	assert_int_equal(api_cache_get(f->cache, f->st, NULL, &b), STORE_OK);
	assert_int_equal(api_snapshot_revision(a), api_snapshot_revision(b));
	for (i = 0; i < sizeof(statuses) / sizeof(*statuses); i++) {
		same(list_of(a, statuses[i], NULL), list_of(b, statuses[i], NULL), "list");
		same(list_for_a(a, statuses[i]), list_for_a(b, statuses[i]), "list of a reader");
	}
	same(list_of(a, NULL, "ch-a"), list_of(b, NULL, "ch-a"), "list of channel ch-a");
	for (i = 0; ids[i] != NULL; i++) {
		same(box_of(a, ids[i]), box_of(b, ids[i]), ids[i]);
		assert_true(api_snapshot_top_channel(a, ids[i]) == NULL ||
		    strcmp(api_snapshot_top_channel(a, ids[i]),
		        api_snapshot_top_channel(b, ids[i])) == 0);
	}
	api_snapshot_unref(a);
	api_snapshot_unref(b);
	api_cache_free(fresh);
}

static void
test_hot_and_cold_answer_as_a_full_read(void **state)
{
	struct fixture *f = *state;
	static const char *const ids[] = { "t1", "t1-c", "t2", "t3", "t3-c", "t4", "t5", "t5-c",
		"t6", "m1", "m1-c", "k1", "k1-c", "k2", "nope", NULL };
	struct api_snapshot *before = NULL;
	int64_t revision;
	char *got;

	put(f, "t1", NULL, "ch-a", "done", 0);
	put(f, "t1-c", "t1", "ch-b", "done", 0);
	put(f, "t2", NULL, "ch-b", "error", 0);
	put(f, "t3", NULL, "ch-a", "active", 0);
	put(f, "m1", NULL, "ch-a", "done", 0);
	put(f, "m1-c", "m1", "ch-a", "done", 0);
	put(f, "k1", NULL, "ch-a", "done", 0);
	put(f, "k1-c", "k1", "ch-a", "done", 0);
	put(f, "k2", NULL, "ch-b", "done", 0);
	check(f, ids); /* the first read: all cold, t3 hot */

	put(f, "t4", NULL, "ch-a", "active", 0);
	check(f, ids); /* a new box */
	put(f, "t3-c", "t3", "", "active", 0);
	put(f, "t3", NULL, "ch-a", "done", 1002);
	check(f, ids); /* a child under an active tree, its parent ends */
	put(f, "t5", NULL, "ch-a", "done", 500);
	check(f, ids); /* an older start time than every cold box: listed first */
	put(f, "t5-c", "t1", "ch-a", "active", 0);
	check(f, ids); /* a child under a cold finished tree makes it hot */
	put(f, "t2", NULL, "ch-b", "done", 1001);
	check(f, ids); /* a cold box changed */
	put(f, "t5-c", "t5", "ch-a", "done", 0);
	check(f, ids); /* moved from t1's tree to t5's */
	put(f, "m1-c", "t2", "ch-a", "done", 0);
	check(f, ids); /* moved out of a cold tree into another */
	put(f, "t6", NULL, "ch-a", "done", 1001);
	check(f, ids); /* the same start time as t2: creation order */
	del(f, "t1");
	check(f, ids); /* deleted with its child */
	assert_int_equal(api_cache_get(f->cache, f->st, NULL, &before), STORE_OK);
	del(f, "k1-c");
	check(f, ids); /* a child deleted from a cold tree */
	del(f, "m1");
	check(f, ids); /* a top-level box deleted from the cold part */
	got = box_of(before, "m1");
	assert_string_not_equal(got, "(none)"); /* an older snapshot still has it */
	free(got);
	api_snapshot_unref(before);
	del(f, "k2");
	forget_deletions(f);
	check(f, ids); /* a deletion the store no longer lists: read in full */
	assert_int_equal(store_revision(f->st, &revision), STORE_OK);
	assert_true(revision > 0);
}

static void
test_many_finished_boxes_are_read_again_in_full(void **state)
{
	struct fixture *f = *state;
	static const char *const ids[] = { "old", "b-0", "b-2999", "live", NULL };
	char id[32];
	int i;

	put(f, "old", NULL, "ch-a", "done", 0);
	put(f, "live", NULL, "ch-a", "active", 0);
	check(f, ids);
	for (i = 0; i < 3000; i++) {
		snprintf(id, sizeof(id), "b-%d", i);
		put(f, id, NULL, i % 2 ? "ch-a" : "ch-b", "done", 0);
		if (i == 10 || i == 2500 || i == 2999)
			check(f, ids); /* the hot part passes its spare of finished boxes */
	}
}

static void
test_compactor_swaps_a_new_cold_part_in(void **state)
{
	struct fixture *f = *state;
	static const char *const ids[] = { "old", "b-0", "b-2999", "live", NULL };
	char id[32];
	int i;

	assert_int_equal(api_cache_start_compactor(f->cache, f->path), 0);
	put(f, "old", NULL, "ch-a", "done", 0);
	put(f, "live", NULL, "ch-a", "active", 0);
	check(f, ids);
	assert_int_equal(api_cache_compactions(f->cache), 0);
	for (i = 0; i < 3000; i++) {
		snprintf(id, sizeof(id), "b-%d", i);
		put(f, id, NULL, i % 2 ? "ch-a" : "ch-b", "done", 0);
		if (i % 500 == 0 || i == 2999)
			check(f, ids); /* the same answers before, during and after a compaction */
	}
	/* past the hot part's spare of finished boxes the compactor was asked */
	for (i = 0; i < 3000 && api_cache_compactions(f->cache) == 0; i++)
		usleep(10000);
	assert_true(api_cache_compactions(f->cache) > 0);
	put(f, "b-5", NULL, "ch-a", "error", 0);
	check(f, ids);
}

/* check(), and that the kept cache made its hot part from the last one. */
static void
check_merged(struct fixture *f, const char *const *ids, const char *what)
{
	long before = api_cache_merges(f->cache);

	check(f, ids);
	if (api_cache_merges(f->cache) != before + 1)
		fail_msg("%s: the hot part was read whole, not made from the last one", what);
}

static void
test_hot_trees_written_since_replace_their_old_copies(void **state)
{
	struct fixture *f = *state;
	static const char *const ids[] = { "c1", "h1", "h1-c", "h2", "h3", "h3-c", "h4", "h5",
		"a-0", "a-49", NULL };
	char id[32];
	int i;

	for (i = 0; i < 40; i++) { /* a cold part that a few deletions leave standing */
		snprintf(id, sizeof(id), "cold-%d", i);
		put(f, id, NULL, "ch-a", "done", 0);
	}
	put(f, "c1", NULL, "ch-a", "done", 0);
	put(f, "h1", NULL, "ch-a", "active", 0);
	put(f, "h1-c", "h1", "ch-b", "active", 0);
	put(f, "h2", NULL, "ch-b", "active", 0);
	put(f, "h3", NULL, "ch-a", "active", 0);
	put(f, "h3-c", "h3", "", "active", 0);
	check(f, ids); /* the first read */

	put(f, "h1-c", "h1", "ch-b", "done", 0);
	check_merged(f, ids, "a child of a hot tree changed");
	put(f, "h4", NULL, "ch-a", "active", 0);
	check_merged(f, ids, "a new tree");
	put(f, "h2", NULL, "ch-b", "done", 0);
	check_merged(f, ids, "a hot tree ended");
	put(f, "h5", NULL, "ch-a", "active", 0);
	put(f, "h2", NULL, "ch-b", "error", 0);
	check_merged(f, ids, "two trees written between reads");
	del(f, "h4");
	check_merged(f, ids, "a hot top-level box deleted");
	del(f, "h1-c");
	check_merged(f, ids, "a child deleted from a hot tree");
	del(f, "h5");
	put(f, "h5", NULL, "ch-b", "active", 0);
	check_merged(f, ids, "a box deleted and made again under its id");
	put(f, "h3-c", "h1", "", "active", 0);
	check(f, ids); /* moved from one hot tree to another: read whole */
	put(f, "h3-c", NULL, "ch-a", "active", 0);
	check(f, ids); /* a child became a top-level box */
	put(f, "h3-c", "h3", "ch-a", "active", 0);
	check(f, ids); /* and a child again */
	for (i = 0; i < 50; i++) {
		snprintf(id, sizeof(id), "a-%d", i);
		put(f, id, NULL, i % 2 ? "ch-a" : "ch-b", "active", 0);
	}
	check(f, ids);
	for (i = 0; i < 50; i += 7) {
		snprintf(id, sizeof(id), "a-%d", i);
		put(f, id, NULL, i % 2 ? "ch-a" : "ch-b", "done", 0);
		check_merged(f, ids, "one of 50 active trees ended");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_hot_and_cold_answer_as_a_full_read, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_many_finished_boxes_are_read_again_in_full, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_compactor_swaps_a_new_cold_part_in, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_hot_trees_written_since_replace_their_old_copies, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
