/*
 * api_json: a strict JSON reader for request bodies and a JSON writer.
 *
 * The reader accepts RFC 8259 JSON and nothing more: no comments, no
 * trailing commas, no single quotes, no NaN, no raw control characters in
 * strings, one value then only whitespace.  On top of the RFC it refuses
 * what the API never wants to store: invalid UTF-8, the escape \u0000, lone
 * surrogates (an escaped high surrogate must be followed by an escaped low
 * one), duplicate keys in one object, and nesting deeper than
 * API_JSON_MAX_DEPTH.  Numbers that are whole and fit in int64 are
 * API_J_INT; every other number is API_J_NUMBER, whose value is not kept
 * (the API has no fractional fields, so it only ever reports them as the
 * wrong type).
 *
 * api_json_parse() builds a tree owned by the caller and released with
 * api_json_free().  Strings in the tree are NUL-terminated copies (they
 * cannot hold a NUL, since \u0000 is refused) and also carry their length.
 * On failure it returns -1 and writes a short reason naming the byte offset,
 * e.g. "unexpected character at byte 7", safe to show to a client.
 *
 * The writer appends to an api_buf, a growable byte buffer whose storage
 * comes from xmalloc (it cannot fail).  api_json_str() quotes and escapes a
 * string; bytes that are not valid UTF-8 come out as U+FFFD, so the output
 * is always valid JSON whatever the store holds.
 */
#ifndef LS_API_JSON_H
#define LS_API_JSON_H

#include <stddef.h>
#include <stdint.h>

#define API_JSON_MAX_DEPTH 32

enum api_jtype {
	API_J_NULL,
	API_J_BOOL,
	API_J_INT,
	API_J_NUMBER,
	API_J_STRING,
	API_J_ARRAY,
	API_J_OBJECT,
};

struct api_jval;

struct api_jmember {
	char *key;
	size_t keylen;
	struct api_jval *val;
};

struct api_jval {
	enum api_jtype type;
	int boolean;     /* API_J_BOOL */
	int64_t integer; /* API_J_INT */
	char *str;       /* API_J_STRING */
	size_t len;
	struct api_jval **items; /* API_J_ARRAY */
	size_t nitems;
	struct api_jmember *members; /* API_J_OBJECT, in document order */
	size_t nmembers;
};

int api_json_parse(const char *text, size_t len, struct api_jval **out, char *err, size_t errlen);
void api_json_free(struct api_jval *v);

/* The member called key of an object, or NULL (also when v is no object). */
const struct api_jval *api_json_get(const struct api_jval *v, const char *key);

/* "null", "boolean", "integer", "number", "string", "array", "object". */
const char *api_json_type_name(enum api_jtype t);

struct api_buf {
	char *data;
	size_t len;
	size_t cap;
};

void api_buf_put(struct api_buf *b, const void *p, size_t n);
void api_buf_puts(struct api_buf *b, const char *s);
void api_buf_i64(struct api_buf *b, int64_t v);
/* Gives the storage to the caller (NUL-terminated) and empties b. */
char *api_buf_steal(struct api_buf *b, size_t *len);
void api_buf_free(struct api_buf *b);

/* Appends s[0..len) as a quoted JSON string. */
void api_json_str(struct api_buf *b, const char *s, size_t len);
/* Appends a NUL-terminated string, or null for NULL. */
void api_json_cstr(struct api_buf *b, const char *s);

#endif
