/*
 * transcript: one OpenClaw transcript line (bytes) into one event.
 *
 * A transcript is JSON lines in the pi coding agent's session format v3
 * (docs/openclaw-formats.md).  tx_parse() takes one line without
 * its '\n' and fills a struct tx_event: the line's type and the few fields
 * the status model uses.  Everything else is ignored, unknown types become
 * TX_OTHER, and key order does not matter.
 *
 * OpenClaw 2026.9 calls its deferred tools (sessions_spawn among them)
 * through a "tool_call" tool: {"id":"<tool>","args":{...}}, answered by a
 * result whose details hold {"tool":{"name":...},"result":{content,details}}.
 * Both are unwrapped here, so a block and a result name the real tool.
 * A sessions_spawn result that failed (isError, or status "error" /
 * "forbidden" in its details or JSON text) has spawn_error set, is_error 1
 * and no child_key: no child runs.
 *
 * A message whose __openclaw.runId or idempotencyKey starts with
 * "announce:" belongs to a sub-agent announce run in the parent's session
 * (announce = 1).
 *
 * Errors: TX_BAD_UTF8 when the line is not valid UTF-8, TX_BAD_JSON when it
 * is not one JSON object; both leave the event empty (safe to free).  The
 * caller counts and skips such lines.
 *
 * Ownership: the strings and JSON pointers in an event point into the parsed
 * line, which the event owns; tx_event_free() releases it.  One struct
 * tx_parser reuses its tokenizer across lines; use it from one thread.
 */
#ifndef LS_WATCHER_TRANSCRIPT_H
#define LS_WATCHER_TRANSCRIPT_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

enum tx_result {
	TX_OK = 0,
	TX_BAD_JSON = -1,
	TX_BAD_UTF8 = -2,
};

enum tx_type {
	TX_OTHER,       /* unknown, thinking_level_change, label, ... */
	TX_SESSION,     /* the header */
	TX_USER,        /* message, role user */
	TX_ASSISTANT,   /* message, role assistant */
	TX_TOOL_RESULT, /* message, role toolResult */
	TX_COMPACTION,
	TX_MODEL_CHANGE,
	TX_CUSTOM,
	TX_SESSION_INFO,
};

enum tx_block_type {
	TX_BLOCK_TEXT,
	TX_BLOCK_THINKING,
	TX_BLOCK_TOOL_CALL,
};

/* One content block of an assistant message, in order. */
struct tx_block {
	enum tx_block_type type;
	const char *text;    /* text or thinking; NULL for a tool call */
	const char *call_id; /* tool call */
	const char *name;    /* tool call */
	json_object *args;   /* tool call arguments, may be NULL */
};

#define TX_MAX_BLOCKS 64

struct tx_event {
	enum tx_type type;
	const char *provider;      /* assistant, model_change */
	const char *model;         /* assistant model, model_change modelId */
	const char *stop_reason;   /* assistant */
	const char *error_message; /* assistant errorMessage */
	const char *error_code;    /* assistant errorCode (2026.9) */
	int64_t input_tokens, output_tokens;
	int64_t timestamp_ms; /* message timestamp, 0 when absent */
	/*
	 * Counts, times and durations that were not a non-negative integer
	 * within TX_NUMBER_MAX (a double, a negative, 1e308, a string): each
	 * such field is dropped (read as absent) and counted here.
	 */
	int dropped_numbers;
	size_t nblocks; /* assistant content, at most TX_MAX_BLOCKS */
	struct tx_block blocks[TX_MAX_BLOCKS];
	const char *call_id;        /* toolResult toolCallId */
	const char *tool_name;      /* toolResult toolName */
	int is_error;               /* toolResult isError */
	const char *child_key;      /* toolResult childSessionKey (details, else the text) */
	const char *result_text;    /* toolResult: its first text block */
	const char *spawn_error;    /* a failed sessions_spawn: why ("" when not said) */
	const char *custom_type;    /* custom */
	const char *parent_session; /* session header parentSession */
	int announce;               /* message of a sub-agent announce run (announce:v1:...) */
	json_object *root;          /* the whole line; owned */
	json_object *extra;         /* a parsed sessions_spawn result text; owned */
};

struct tx_parser;

struct tx_parser *tx_parser_new(void);
void tx_parser_free(struct tx_parser *p);

/* Parses line[0..len); returns TX_OK or an error code (see above). */
/* The largest count, time (ms) or duration a transcript may carry: 2^53. */
#define TX_NUMBER_MAX ((int64_t)1 << 53)

int tx_parse(struct tx_parser *p, const char *line, size_t len, struct tx_event *ev);
void tx_event_free(struct tx_event *ev);

/*
 * 1 when an assistant event is a gateway copy: provider "openclaw", or model
 * "delivery-mirror" / "gateway-injected".
 */
int tx_is_copy(const struct tx_event *ev);

#endif
