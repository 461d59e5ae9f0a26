/* Unit tests of mm_render: the status box text, its format and its cutting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/util.h"
#include "mm/mm_render.h"

#define NB "\xc2\xa0\xc2\xa0"

static void
box(struct store_box *b, char *id, char *parent, char *label, char *status, char *lines,
    int64_t start, int64_t end)
{
	memset(b, 0, sizeof(*b));
	b->id = id;
	b->parent_id = parent;
	b->agent_id = "main";
	b->label = label;
	b->status = status;
	b->lines = lines;
	b->start_time_ms = start;
	b->end_time_ms = end;
	b->last_update_ms = end != STORE_NO_TIME ? end : start;
}

static void
test_duration_tokens(void **state)
{
	char buf[32];

	(void)state;
	mm_render_duration(38000, buf, sizeof(buf));
	assert_string_equal(buf, "38s");
	mm_render_duration(999, buf, sizeof(buf));
	assert_string_equal(buf, "0s");
	mm_render_duration(125000, buf, sizeof(buf));
	assert_string_equal(buf, "2m05s");
	mm_render_duration(3720000, buf, sizeof(buf));
	assert_string_equal(buf, "1h02m");
	mm_render_tokens(850, buf, sizeof(buf));
	assert_string_equal(buf, "850");
	mm_render_tokens(12400, buf, sizeof(buf));
	assert_string_equal(buf, "12.4k");
	mm_render_tokens(3100000, buf, sizeof(buf));
	assert_string_equal(buf, "3.1M");
}

static void
test_active_box(void **state)
{
	struct store_box b;
	char *t;

	(void)state;
	box(&b, "b1", NULL, "mattermost:team#ops", "active",
	    "[\"Reading the retention notes.\",\"exec: df -h / [OK]\"]", 1000, STORE_NO_TIME);
	b.last_update_ms = 39000;
	t = mm_render_box(&b, 1, 15000);
	assert_string_equal(t,
	    "> [ACTIVE] main | 38s\n"
	    "> Reading the retention notes.\n"
	    "> exec: df -h / [OK]");
	free(t);
}

static void
test_done_with_subagent(void **state)
{
	struct store_box t[3];
	char *s;

	(void)state;
	box(&t[0], "top", NULL, "", "done",
	    "[\"Planning.\",\"Sub-agent: researcher\",\"exec: ls [OK]\"]", 0, 53000);
	t[0].token_count = 12400;
	box(&t[1], "kid", "top", "researcher", "done",
	    "[\"web_search: retention [OK]\",\"Summarising.\"]", 2000, 30000);
	/* A second child whose announcing line has scrolled away. */
	box(&t[2], "kid2", "top", "checker", "active", "[\"exec: true [OK]\"]", 40000,
	    STORE_NO_TIME);
	t[2].last_update_ms = 45000;
	s = mm_render_box(t, 3, 15000);
	assert_string_equal(s,
	    "> [DONE] main | 53s\n"
	    "> Planning.\n"
	    "> Sub-agent: researcher\n"
	    "> " NB "web_search: retention [OK]\n"
	    "> " NB "Summarising.\n"
	    "> " NB "[DONE] 28s\n"
	    "> exec: ls [OK]\n"
	    "> Sub-agent: checker\n"
	    "> " NB "exec: true [OK]\n"
	    "> " NB "[ACTIVE] 5s\n"
	    "> [DONE] 53s | 12.4k tokens");
	free(s);
}

static void
test_nested_and_states(void **state)
{
	struct store_box t[3];
	char *s;

	(void)state;
	box(&t[0], "a", NULL, "", "error", "[\"Sub-agent: x\"]", 0, 2000);
	box(&t[1], "b", "a", "x", "interrupted", "[\"Sub-agent: y\"]", 0, 1000);
	box(&t[2], "c", "b", "y", "done", "[\"deep\"]", 0, 1000);
	s = mm_render_box(t, 3, 0);
	assert_string_equal(s,
	    "> [ERROR] main | 2s\n"
	    "> Sub-agent: x\n"
	    "> " NB "Sub-agent: y\n"
	    "> " NB NB "deep\n"
	    "> " NB NB "[DONE] 1s\n"
	    "> " NB "[INTERRUPTED] 1s\n"
	    "> [ERROR] 2s | 0 tokens");
	free(s);
}

static void
test_control_chars_and_bad_lines(void **state)
{
	struct store_box b;
	char *s;

	(void)state;
	box(&b, "b", NULL, "ops", "active", "[\"two\\nlines\",42,\"tab\\there\"]", 0,
	    STORE_NO_TIME);
	b.agent_id = "";
	s = mm_render_box(&b, 1, 100);
	assert_string_equal(s, "> [ACTIVE] ops | 0s\n> two lines\n> tab here");
	free(s);
	box(&b, "b", NULL, "", "active", "not json", 0, STORE_NO_TIME);
	s = mm_render_box(&b, 1, 100);
	assert_string_equal(s, "> [ACTIVE] main | 0s");
	free(s);
}

/* Lines of n characters each: "0xxx", "1xxx", ... */
static char *
many_lines(int count, int width, const char *fill)
{
	size_t cap = (size_t)count * ((size_t)width * strlen(fill) + 8) + 8, len = 1;
	char *json = malloc(cap);
	int i, j;

	strcpy(json, "[");
	for (i = 0; i < count; i++) {
		len += (size_t)snprintf(json + len, cap - len, "%s\"%d", i ? "," : "", i % 10);
		for (j = 1; j < width; j++)
			len += (size_t)snprintf(json + len, cap - len, "%s", fill);
		len += (size_t)snprintf(json + len, cap - len, "\"");
	}
	snprintf(json + len, cap - len, "]");
	return json;
}

static void
test_cut_drops_oldest_lines(void **state)
{
	struct store_box b;
	char *lines = many_lines(40, 100, "x"), *s;

	(void)state;
	box(&b, "b", NULL, "", "done", lines, 0, 1000);
	s = mm_render_box(&b, 1, 1000);
	assert_true(mm_render_chars(s) <= 1000);
	/* Header, marker, the newest lines, footer. */
	assert_non_null(strstr(s, "> [DONE] main | 1s\n> \xe2\x80\xa6 "));
	assert_non_null(strstr(s, "earlier lines\n"));
	assert_non_null(strstr(s, "\n> 9xxx"));
	assert_non_null(strstr(s, "\n> [DONE] 1s | 0 tokens"));
	assert_string_equal(s + strlen(s) - strlen("[DONE] 1s | 0 tokens"), "[DONE] 1s | 0 tokens");
	free(s);
	free(lines);
}

static void
test_cut_utf8_hard_limit(void **state)
{
	struct store_box b;
	/* 3-byte characters: a byte cut would break a sequence. */
	char *lines = many_lines(30, 900, "\xe2\x82\xac"), *s;
	size_t chars;

	(void)state;
	box(&b, "b", NULL, "", "active", lines, 0, STORE_NO_TIME);
	s = mm_render_box(&b, 1, 50000); /* above Mattermost's limit */
	chars = mm_render_chars(s);
	assert_true(chars <= MM_RENDER_HARD_MAX);
	assert_true(chars > MM_RENDER_HARD_MAX - 1000);
	assert_true(util_utf8_valid(s, strlen(s)));
	free(s);
	/* A limit below header + marker: cut hard, still valid UTF-8. */
	s = mm_render_box(&b, 1, 10);
	assert_true(mm_render_chars(s) <= 10);
	assert_true(util_utf8_valid(s, strlen(s)));
	assert_string_equal(s + strlen(s) - 3, "\xe2\x80\xa6");
	free(s);
	free(lines);
}

static void
test_long_line_shortened(void **state)
{
	struct store_box b;
	char *lines = many_lines(1, 3000, "\xc3\xa9"), *s;

	(void)state;
	box(&b, "b", NULL, "", "active", lines, 0, STORE_NO_TIME);
	s = mm_render_box(&b, 1, 15000);
	assert_int_equal(mm_render_chars(strchr(s, '\n') + 3), MM_RENDER_LINE_MAX);
	assert_true(util_utf8_valid(s, strlen(s)));
	free(s);
	free(lines);
}

static void
test_cut_helper(void **state)
{
	char *s;

	(void)state;
	s = mm_render_cut("h\xc3\xa9llo", 5);
	assert_string_equal(s, "h\xc3\xa9llo");
	free(s);
	s = mm_render_cut("h\xc3\xa9llo", 3);
	assert_string_equal(s, "h\xc3\xa9\xe2\x80\xa6");
	free(s);
	s = mm_render_cut("abc", 0);
	assert_string_equal(s, "");
	free(s);
	assert_int_equal(mm_render_chars("\xe2\x82\xac\xc3\xa9x"), 3);
}

static void
test_same_input_same_text(void **state)
{
	struct store_box b;
	char *a, *c;

	(void)state;
	box(&b, "b", NULL, "", "active", "[\"one\"]", 0, STORE_NO_TIME);
	b.last_update_ms = 5000;
	a = mm_render_box(&b, 1, 15000);
	c = mm_render_box(&b, 1, 15000);
	assert_string_equal(a, c);
	free(a);
	free(c);
}

#define ZWJ "\xe2\x80\x8d"

/* Agent output cannot ping, embed or link (issue 13). */
static void
test_markdown_is_inert(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "ping @channel and @here", "ping @" ZWJ "channel and @" ZWJ "here" },
		{ "@all @someone.else", "@" ZWJ "all @" ZWJ "someone.else" },
		{ "mail a@b.example", "mail a@" ZWJ "b.example" },
		{ "a lone @ stays", "a lone @ stays" },
		{ "![x](http://evil/p.png)", "!\\[x\\](http:" ZWJ "//evil/p.png)" },
		{ "[click](https://evil)", "[click\\](https:" ZWJ "//evil)" },
		{ "[click] (https://evil)", "[click\\] (https:" ZWJ "//evil)" },
		{ "[t][ref] and [ref]: x", "[t\\][ref] and [ref\\]: x" },
		{ "see www.evil.example", "see www" ZWJ ".evil.example" },
		{ "<https://evil>", "<https:" ZWJ "//evil>" },
		{ "\\](u)", "\\\\\\](u)" },
		{ "exec: df -h / [OK]", "exec: df -h / [OK]" },
		{ "a[0] = 1; awww.x", "a[0] = 1; awww.x" },
	};
	struct store_box b;
	char json[256], *s, *want;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *arr = json_object_new_array();

		json_object_array_add(arr, json_object_new_string(cases[i].in));
		snprintf(json, sizeof(json), "%s", json_object_to_json_string(arr));
		json_object_put(arr);
		box(&b, "b", NULL, "", "active", json, 0, STORE_NO_TIME);
		s = mm_render_box(&b, 1, 1000);
		want = NULL;
		assert_true(asprintf(&want, "> [ACTIVE] main | 0s\n> %s", cases[i].out) > 0);
		if (strcmp(s, want) != 0)
			fail_msg("case %zu: %s\n got: %s\nwant: %s", i, cases[i].in, s, want);
		free(want);
		free(s);
	}
	/* Names too: a sub-agent labelled @channel. */
	{
		struct store_box t[2];

		box(&t[0], "p", NULL, "", "active", "[\"Sub-agent: @channel\"]", 0, 1000);
		box(&t[1], "c", "p", "@channel", "done", "[]", 0, 1000);
		t[0].agent_id = "@here";
		s = mm_render_box(t, 2, 1000);
		assert_null(strstr(s, "@channel"));
		assert_null(strstr(s, "@here"));
		assert_non_null(strstr(s, "Sub-agent: @" ZWJ "channel"));
		free(s);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_tokens),
		cmocka_unit_test(test_active_box),
		cmocka_unit_test(test_done_with_subagent),
		cmocka_unit_test(test_nested_and_states),
		cmocka_unit_test(test_control_chars_and_bad_lines),
		cmocka_unit_test(test_cut_drops_oldest_lines),
		cmocka_unit_test(test_cut_utf8_hard_limit),
		cmocka_unit_test(test_long_line_shortened),
		cmocka_unit_test(test_cut_helper),
		cmocka_unit_test(test_same_input_same_text),
		cmocka_unit_test(test_markdown_is_inert),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
