/*
 * mm_render: the status box text of the REST fallback (and the final text
 * of a plugin-mode post), in the original Live Status format.  Both
 * programs use it: the watcher's poster for its posts, the responder for
 * the final text of the posts it made for daemons' boxes.
 *
 *   > [ACTIVE] main | 38s
 *   > Reading the retention notes.
 *   > Sub-agent: researcher
 *   >   web_search: retention policy [OK]
 *   >   [DONE] 28s
 *   > exec: df -h / [OK]
 *   > [DONE] 53s | 12.4k tokens
 *
 * The header names the box (its agent id, else its label) with its state
 * and elapsed time; each status line follows; a sub-agent's box is drawn
 * indented (two no-break spaces per level, which Markdown keeps, where it
 * would drop plain spaces) right under the parent's "Sub-agent: <label>"
 * line, or at the end when that line has scrolled away, and closes with its
 * own footer; the final footer appears once the box has ended.  Every line
 * is a blockquote line ("> ").
 *
 * Names and status lines are agent output, so their Markdown is made
 * inert (issue 13): "@" before a name gets a zero-width joiner (U+200D),
 * so @channel, @here, @all and @someone ping no one; "![" becomes "!\["
 * (no remote image); a "]" followed by "(", "[" or ":" becomes "\]" (no
 * link, reference or link definition); "://" and a leading "www." get a
 * joiner, so nothing is autolinked or previewed; a backslash before
 * punctuation is doubled, so it cannot cancel those.  The text reads the
 * same; "[OK]" and other brackets stay as they are.
 *
 * The text depends only on the stored boxes (elapsed time runs to the
 * end, or to the last update while active), never on the clock, so the
 * same revision always renders the same text and an unchanged box is never
 * re-sent.
 *
 * The text is cut to max_chars code points (and never past Mattermost's
 * 16383): the oldest status lines give way first, replaced by one
 * "> … N earlier lines" line; header and footer stay.  Should that not be
 * enough, the text is cut hard on a UTF-8 sequence boundary and ends in
 * "…".
 */
#ifndef LS_MM_RENDER_H
#define LS_MM_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "sql/store.h"

/* Mattermost's limit on a post's message, in code points. */
#define MM_RENDER_HARD_MAX 16383

/* A status line longer than this (code points) is shortened first. */
#define MM_RENDER_LINE_MAX 1000

/*
 * The text of tree[0] with its descendants tree[1..n) (any order; each
 * names its parent), cut to max_chars.  Returns a new string.
 */
char *mm_render_box(const struct store_box *tree, size_t n, size_t max_chars);

/*
 * The first message of a post made before its box is drawn (the
 * responder's custom_livestatus post of a daemon's box, which the plugin
 * draws live): "> [ACTIVE] <agent>", the agent id made inert, "agent" when
 * the box has none.  Returns a new string.
 */
char *mm_render_opening(const struct store_box *box);

/* "38s", "2m05s", "1h02m" into buf. */
void mm_render_duration(int64_t ms, char *buf, size_t len);

/* "850", "12.4k", "3.1M" into buf. */
void mm_render_tokens(int64_t tokens, char *buf, size_t len);

/* Code points in s (a UTF-8 string). */
size_t mm_render_chars(const char *s);

/*
 * A copy of text cut hard to at most max_chars code points on a sequence
 * boundary, ending in "…" when cut.
 */
char *mm_render_cut(const char *text, size_t max_chars);

#endif
