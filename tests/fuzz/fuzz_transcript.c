/*
 * fuzz_transcript: the watcher's transcript line parser (watcher/
 * transcript.h) on any bytes (tests/fuzz/README.md says how to run it).
 *
 * One input is one line of a transcript, as the tail hands it over (no
 * '\n').  tx_parse() must answer TX_OK, TX_BAD_JSON or TX_BAD_UTF8; an
 * error leaves the event empty; TX_OK only for a line that is valid UTF-8
 * and one JSON object, with every string the event points to readable and
 * valid UTF-8, at most TX_MAX_BLOCKS blocks, and block fields that match
 * the block's type.  One parser serves every input, as in the watcher, so
 * state left behind by one line shows up on the next.  Any broken rule
 * aborts; ASan and UBSan catch the rest.
 *
 * The entry point is LLVMFuzzerTestOneInput, or FUZZ_ENTRY when defined:
 * tests/unit/test_fuzz_replay.c includes this file to replay the corpus.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "watcher/transcript.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

int FUZZ_ENTRY(const uint8_t *data, size_t size);

#define FT_CHECK(cond)                                                                    \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "fuzz_transcript: %s:%d: %s\n", __FILE__, __LINE__, \
			    #cond);                                                       \
			abort();                                                          \
		}                                                                         \
	} while (0)

static struct tx_parser *ft_parser;

/*
 * Reads every byte of s, so ASan sees a string that is not one; what the
 * event hands on must be UTF-8 (json-c makes \u escapes into UTF-8).
 */
static size_t
ft_touch(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	FT_CHECK(util_utf8_valid(s, n));
	return n;
}

/* Valid UTF-8 apart from NUL bytes (util_utf8_valid refuses those too). */
static int
ft_utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		for (n = i; n < len && s[n] != '\0'; n++)
			;
		if (n > i && !util_utf8_valid((const char *)s + i, n - i))
			return 0;
		i = n + 1;
	}
	return 1;
}

static void
ft_check_event(const struct tx_event *ev)
{
	size_t i, sum = 0;

	FT_CHECK(ev->root != NULL);
	FT_CHECK(ev->nblocks <= TX_MAX_BLOCKS);
	FT_CHECK(ev->type >= TX_OTHER && ev->type <= TX_SESSION_INFO);
	sum += ft_touch(ev->provider) + ft_touch(ev->model) + ft_touch(ev->stop_reason) +
	    ft_touch(ev->error_message) + ft_touch(ev->call_id) + ft_touch(ev->tool_name) +
	    ft_touch(ev->child_key) + ft_touch(ev->custom_type) + ft_touch(ev->parent_session);
	if (ev->type != TX_ASSISTANT)
		FT_CHECK(ev->nblocks == 0);
	for (i = 0; i < ev->nblocks; i++) {
		const struct tx_block *b = &ev->blocks[i];

		switch (b->type) {
		case TX_BLOCK_TEXT:
		case TX_BLOCK_THINKING:
			FT_CHECK(b->text != NULL && b->name == NULL);
			break;
		case TX_BLOCK_TOOL_CALL:
			FT_CHECK(b->name != NULL && b->text == NULL);
			break;
		default:
			FT_CHECK(!"unknown block type");
		}
		sum += ft_touch(b->text) + ft_touch(b->name) + ft_touch(b->call_id);
		if (b->args != NULL)
			sum += strlen(json_object_to_json_string(b->args));
	}
	if (ev->child_key != NULL)
		FT_CHECK(ev->type == TX_TOOL_RESULT);
	(void)tx_is_copy(ev);
	(void)sum;
}

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	struct tx_event ev;
	int rc;

	if (ft_parser == NULL)
		ft_parser = tx_parser_new();
	/* The tail hands over lines of at most a few MiB; keep inputs quick. */
	if (size > 65536)
		return 0;
	rc = tx_parse(ft_parser, (const char *)data, size, &ev);
	FT_CHECK(rc == TX_OK || rc == TX_BAD_JSON || rc == TX_BAD_UTF8);
	if (rc == TX_OK) {
		FT_CHECK(ft_utf8_valid(data, size));
		ft_check_event(&ev);
	} else {
		FT_CHECK(ev.root == NULL && ev.extra == NULL && ev.nblocks == 0 &&
		    ev.type == TX_OTHER);
	}
	tx_event_free(&ev);
	FT_CHECK(ev.root == NULL && ev.extra == NULL);
	return 0;
}
