/*
 * labels: how a tool call reads as a status line.
 *
 * A tool call `{"name":"exec","arguments":{"command":"df -h /"}}` reads
 * `exec: df -h /`: a label for the tool's name, a colon and one argument,
 * the detail.  The built-in table (labels.c) names every core OpenClaw tool
 * of openclaw-format.md and the argument each shows; an operator's JSON file
 * (TOOL_LABELS_FILE) renames, adds or hides tools without a rebuild:
 *
 *   {
 *     "exact":    { "exec": "shell", "memory_recall": {"label": "recall",
 *                   "detail": "query"}, "tts": null },
 *     "prefixes": { "firecrawl_": "firecrawl" },
 *     "patterns": { "mcp__*__search": "search" }
 *   }
 *
 * A value is a label string, an object {label, detail} (detail names the
 * argument to show), or null / "" to hide the tool (no status line at all).
 * Lookup order: the file's exact names, the built-in names, the file's
 * prefixes (longest first), the file's patterns (fnmatch(3), file order);
 * a tool found nowhere is shown under its own name.  Without a named detail
 * argument the first of command, path, url, query, pattern, id is shown.
 *
 * A labels table is read-only after labels_load(), so it may be shared.
 */
#ifndef LS_WATCHER_LABELS_H
#define LS_WATCHER_LABELS_H

#include <json-c/json.h>
#include <stddef.h>

struct labels;

/*
 * The built-in table plus, when path is not NULL, the operator's file.
 * Returns NULL and writes a message naming the file into err when the file
 * cannot be read or is not the JSON described above.
 */
struct labels *labels_load(const char *path, char *err, size_t errlen);
void labels_free(struct labels *l);

/* Number of built-in entries and the name of entry i (for tests). */
size_t labels_builtin_count(void);
const char *labels_builtin_name(size_t i);

/*
 * The status text of a call of tool name with arguments args (a JSON object,
 * or NULL), newly allocated: "label: detail" or "label" when no detail
 * argument is present.  The detail is its first line, trimmed.  Returns
 * NULL when the tool is hidden.
 */
char *labels_format(const struct labels *l, const char *name, json_object *args);

#endif
