/* api_json: strict JSON reading of request bodies, and JSON writing. */
#include "fcgi/api_json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/xmalloc.h"

/* Bounds the tree a 1 MiB body can make ("[0,0,0,...]"). */
#define API_JSON_MAX_NODES 100000

struct jp {
	const unsigned char *start;
	const unsigned char *p;
	const unsigned char *end;
	int depth;
	size_t nodes;
	char *err;
	size_t errlen;
	struct api_buf scratch; /* string being decoded */
};

static int
jp_fail(struct jp *jp, const char *what)
{
	if (jp->err[0] == '\0')
		snprintf(jp->err, jp->errlen, "%s at byte %zu", what, (size_t)(jp->p - jp->start));
	return -1;
}

static void
jp_ws(struct jp *jp)
{
	while (jp->p < jp->end &&
	    (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
		jp->p++;
}

/* Bytes in the UTF-8 sequence led by c, 0 for a byte that cannot lead. */
static size_t
jp_utf8_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0;
}

static void
jp_put_utf8(struct api_buf *b, uint32_t cp)
{
	unsigned char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | (cp >> 6));
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | (cp >> 12));
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | (cp >> 18));
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	api_buf_put(b, u, n);
}

/* Reads the 4 hex digits of a \u escape; jp->p points at them. */
static int
jp_hex4(struct jp *jp, uint32_t *out)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		unsigned char c;

		if (jp->p + i >= jp->end)
			return jp_fail(jp, "unexpected end of input");
		c = jp->p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return jp_fail(jp, "invalid \\u escape");
	}
	jp->p += 4;
	*out = v;
	return 0;
}

static int
jp_escape(struct jp *jp)
{
	uint32_t cp, lo;
	unsigned char c;

	if (jp->p >= jp->end)
		return jp_fail(jp, "unexpected end of input");
	c = *jp->p++;
	switch (c) {
	case '"':
	case '\\':
	case '/':
		api_buf_put(&jp->scratch, &c, 1);
		return 0;
	case 'b':
		api_buf_put(&jp->scratch, "\b", 1);
		return 0;
	case 'f':
		api_buf_put(&jp->scratch, "\f", 1);
		return 0;
	case 'n':
		api_buf_put(&jp->scratch, "\n", 1);
		return 0;
	case 'r':
		api_buf_put(&jp->scratch, "\r", 1);
		return 0;
	case 't':
		api_buf_put(&jp->scratch, "\t", 1);
		return 0;
	case 'u':
		break;
	default:
		jp->p--;
		return jp_fail(jp, "invalid escape");
	}
	if (jp_hex4(jp, &cp) < 0)
		return -1;
	if (cp == 0) {
		jp->p -= 6;
		return jp_fail(jp, "\\u0000 is not allowed");
	}
	if (cp >= 0xdc00 && cp <= 0xdfff) {
		jp->p -= 6;
		return jp_fail(jp, "lone surrogate");
	}
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (jp->end - jp->p < 6 || jp->p[0] != '\\' || jp->p[1] != 'u') {
			jp->p -= 6;
			return jp_fail(jp, "lone surrogate");
		}
		jp->p += 2;
		if (jp_hex4(jp, &lo) < 0)
			return -1;
		if (lo < 0xdc00 || lo > 0xdfff) {
			jp->p -= 12;
			return jp_fail(jp, "lone surrogate");
		}
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	jp_put_utf8(&jp->scratch, cp);
	return 0;
}

/* Decodes a string; jp->p points at the opening quote. */
static int
jp_string(struct jp *jp, char **out, size_t *outlen)
{
	const unsigned char *run;
	size_t n;

	jp->p++;
	jp->scratch.len = 0;
	for (;;) {
		run = jp->p;
		while (jp->p < jp->end && *jp->p >= 0x20 && *jp->p < 0x80 && *jp->p != '"' &&
		    *jp->p != '\\')
			jp->p++;
		api_buf_put(&jp->scratch, run, (size_t)(jp->p - run));
		if (jp->p >= jp->end)
			return jp_fail(jp, "unexpected end of input");
		if (*jp->p == '"') {
			jp->p++;
			break;
		}
		if (*jp->p == '\\') {
			jp->p++;
			if (jp_escape(jp) < 0)
				return -1;
			continue;
		}
		if (*jp->p < 0x20)
			return jp_fail(jp, "control character in string");
		n = jp_utf8_len(*jp->p);
		if (n == 0 || (size_t)(jp->end - jp->p) < n ||
		    !util_utf8_valid((const char *)jp->p, n))
			return jp_fail(jp, "invalid UTF-8");
		api_buf_put(&jp->scratch, jp->p, n);
		jp->p += n;
	}
	*outlen = jp->scratch.len;
	*out = xstrndup(jp->scratch.data != NULL ? jp->scratch.data : "", jp->scratch.len);
	return 0;
}

static int
jp_number(struct jp *jp, struct api_jval *v)
{
	uint64_t acc = 0;
	int neg = 0, overflow = 0, whole = 1;

	if (*jp->p == '-') {
		neg = 1;
		jp->p++;
	}
	if (jp->p >= jp->end || *jp->p < '0' || *jp->p > '9')
		return jp_fail(jp, "invalid number");
	if (*jp->p == '0') {
		jp->p++;
	} else {
		while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9') {
			unsigned d = (unsigned)(*jp->p - '0');

			if (acc > (UINT64_MAX - d) / 10)
				overflow = 1;
			else
				acc = acc * 10 + d;
			jp->p++;
		}
	}
	if (jp->p < jp->end && *jp->p == '.') {
		whole = 0;
		jp->p++;
		if (jp->p >= jp->end || *jp->p < '0' || *jp->p > '9')
			return jp_fail(jp, "invalid number");
		while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9')
			jp->p++;
	}
	if (jp->p < jp->end && (*jp->p == 'e' || *jp->p == 'E')) {
		whole = 0;
		jp->p++;
		if (jp->p < jp->end && (*jp->p == '+' || *jp->p == '-'))
			jp->p++;
		if (jp->p >= jp->end || *jp->p < '0' || *jp->p > '9')
			return jp_fail(jp, "invalid number");
		while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9')
			jp->p++;
	}
	if (!whole || overflow || (!neg && acc > (uint64_t)INT64_MAX) ||
	    (neg && acc > (uint64_t)INT64_MAX + 1)) {
		v->type = API_J_NUMBER;
		return 0;
	}
	v->type = API_J_INT;
	if (neg)
		v->integer = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
	else
		v->integer = (int64_t)acc;
	return 0;
}

static int
jp_literal(struct jp *jp, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(jp->end - jp->p) < n || memcmp(jp->p, word, n) != 0)
		return jp_fail(jp, "unexpected character");
	jp->p += n;
	return 0;
}

static int jp_value(struct jp *jp, struct api_jval **out);

static int
jp_keycmp(const void *a, const void *b)
{
	const struct api_jmember *x = *(const struct api_jmember *const *)a;
	const struct api_jmember *y = *(const struct api_jmember *const *)b;
	size_t n = x->keylen < y->keylen ? x->keylen : y->keylen;
	int c = memcmp(x->key, y->key, n);

	if (c != 0)
		return c;
	return x->keylen < y->keylen ? -1 : x->keylen > y->keylen;
}

/* Sorting pointers keeps duplicate detection O(n log n) on big objects. */
static int
jp_has_duplicate(const struct api_jval *v)
{
	const struct api_jmember **idx;
	size_t i;
	int dup = 0;

	if (v->nmembers < 2)
		return 0;
	idx = xreallocarray(NULL, v->nmembers, sizeof(*idx));
	for (i = 0; i < v->nmembers; i++)
		idx[i] = &v->members[i];
	qsort(idx, v->nmembers, sizeof(*idx), jp_keycmp);
	for (i = 1; i < v->nmembers && !dup; i++)
		dup = jp_keycmp(&idx[i - 1], &idx[i]) == 0;
	free(idx);
	return dup;
}

static int
jp_object(struct jp *jp, struct api_jval *v)
{
	size_t cap = 0;
	struct api_jmember *m;

	v->type = API_J_OBJECT;
	jp->p++;
	jp_ws(jp);
	if (jp->p < jp->end && *jp->p == '}') {
		jp->p++;
		return 0;
	}
	for (;;) {
		jp_ws(jp);
		if (jp->p >= jp->end)
			return jp_fail(jp, "unexpected end of input");
		if (*jp->p != '"')
			return jp_fail(jp, "expected a quoted key");
		if (v->nmembers == cap) {
			cap = cap ? cap * 2 : 8;
			v->members = xreallocarray(v->members, cap, sizeof(*v->members));
		}
		m = &v->members[v->nmembers];
		m->val = NULL;
		if (jp_string(jp, &m->key, &m->keylen) < 0)
			return -1;
		v->nmembers++;
		jp_ws(jp);
		if (jp->p >= jp->end || *jp->p != ':')
			return jp_fail(
			    jp, jp->p >= jp->end ? "unexpected end of input" : "expected ':'");
		jp->p++;
		if (jp_value(jp, &m->val) < 0)
			return -1;
		jp_ws(jp);
		if (jp->p >= jp->end)
			return jp_fail(jp, "unexpected end of input");
		if (*jp->p == ',') {
			jp->p++;
			continue;
		}
		if (*jp->p == '}') {
			jp->p++;
			break;
		}
		return jp_fail(jp, "expected ',' or '}'");
	}
	if (jp_has_duplicate(v))
		return jp_fail(jp, "duplicate key");
	return 0;
}

static int
jp_array(struct jp *jp, struct api_jval *v)
{
	size_t cap = 0;

	v->type = API_J_ARRAY;
	jp->p++;
	jp_ws(jp);
	if (jp->p < jp->end && *jp->p == ']') {
		jp->p++;
		return 0;
	}
	for (;;) {
		if (v->nitems == cap) {
			cap = cap ? cap * 2 : 8;
			v->items = xreallocarray(v->items, cap, sizeof(*v->items));
		}
		v->items[v->nitems] = NULL;
		if (jp_value(jp, &v->items[v->nitems]) < 0) {
			v->nitems++;
			return -1;
		}
		v->nitems++;
		jp_ws(jp);
		if (jp->p >= jp->end)
			return jp_fail(jp, "unexpected end of input");
		if (*jp->p == ',') {
			jp->p++;
			continue;
		}
		if (*jp->p == ']') {
			jp->p++;
			return 0;
		}
		return jp_fail(jp, "expected ',' or ']'");
	}
}

static int
jp_value(struct jp *jp, struct api_jval **out)
{
	struct api_jval *v;
	int rc;

	jp_ws(jp);
	if (jp->p >= jp->end)
		return jp_fail(jp, "unexpected end of input");
	if (++jp->nodes > API_JSON_MAX_NODES)
		return jp_fail(jp, "too many values");
	v = xcalloc(1, sizeof(*v));
	*out = v;
	switch (*jp->p) {
	case '{':
	case '[':
		if (++jp->depth > API_JSON_MAX_DEPTH)
			return jp_fail(jp, "nesting too deep");
		rc = *jp->p == '{' ? jp_object(jp, v) : jp_array(jp, v);
		jp->depth--;
		return rc;
	case '"':
		v->type = API_J_STRING;
		return jp_string(jp, &v->str, &v->len);
	case 't':
		v->type = API_J_BOOL;
		v->boolean = 1;
		return jp_literal(jp, "true");
	case 'f':
		v->type = API_J_BOOL;
		return jp_literal(jp, "false");
	case 'n':
		v->type = API_J_NULL;
		return jp_literal(jp, "null");
	default:
		if (*jp->p == '-' || (*jp->p >= '0' && *jp->p <= '9'))
			return jp_number(jp, v);
		return jp_fail(jp, "unexpected character");
	}
}

int
api_json_parse(const char *text, size_t len, struct api_jval **out, char *err, size_t errlen)
{
	struct jp jp;
	struct api_jval *v = NULL;
	int rc = -1;

	memset(&jp, 0, sizeof(jp));
	jp.start = jp.p = (const unsigned char *)text;
	jp.end = jp.start + len;
	jp.err = err;
	jp.errlen = errlen;
	err[0] = '\0';
	*out = NULL;
	if (jp_value(&jp, &v) < 0)
		goto out;
	jp_ws(&jp);
	if (jp.p != jp.end) {
		jp_fail(&jp, "unexpected data after the value");
		goto out;
	}
	*out = v;
	v = NULL;
	rc = 0;
out:
	api_json_free(v);
	api_buf_free(&jp.scratch);
	return rc;
}

void
api_json_free(struct api_jval *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->nitems; i++)
		api_json_free(v->items[i]);
	for (i = 0; i < v->nmembers; i++) {
		free(v->members[i].key);
		api_json_free(v->members[i].val);
	}
	free(v->items);
	free(v->members);
	free(v->str);
	free(v);
}

const struct api_jval *
api_json_get(const struct api_jval *v, const char *key)
{
	size_t i, n = strlen(key);

	if (v == NULL || v->type != API_J_OBJECT)
		return NULL;
	for (i = 0; i < v->nmembers; i++)
		if (v->members[i].keylen == n && memcmp(v->members[i].key, key, n) == 0)
			return v->members[i].val;
	return NULL;
}

const char *
api_json_type_name(enum api_jtype t)
{
	switch (t) {
	case API_J_NULL:
		return "null";
	case API_J_BOOL:
		return "boolean";
	case API_J_INT:
		return "integer";
	case API_J_NUMBER:
		return "number";
	case API_J_STRING:
		return "string";
	case API_J_ARRAY:
		return "array";
	case API_J_OBJECT:
		return "object";
	}
	return "unknown";
}

void
api_buf_put(struct api_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (b->cap - b->len <= n) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap - b->len <= n)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
api_buf_puts(struct api_buf *b, const char *s)
{
	api_buf_put(b, s, strlen(s));
}

void
api_buf_i64(struct api_buf *b, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);

	if (n > 0 && (size_t)n < sizeof(tmp))
		api_buf_put(b, tmp, (size_t)n);
}

char *
api_buf_steal(struct api_buf *b, size_t *len)
{
	char *p = b->data != NULL ? b->data : xstrdup("");

	if (len != NULL)
		*len = b->len;
	memset(b, 0, sizeof(*b));
	return p;
}

void
api_buf_free(struct api_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void
api_json_str(struct api_buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *end = p + len, *run;
	char esc[6];
	size_t n;

	api_buf_put(b, "\"", 1);
	while (p < end) {
		run = p;
		while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
			p++;
		api_buf_put(b, run, (size_t)(p - run));
		if (p >= end)
			break;
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p++;
			api_buf_put(b, esc, 2);
		} else if (*p < 0x20) {
			switch (*p) {
			case '\n':
				api_buf_put(b, "\\n", 2);
				break;
			case '\r':
				api_buf_put(b, "\\r", 2);
				break;
			case '\t':
				api_buf_put(b, "\\t", 2);
				break;
			case '\b':
				api_buf_put(b, "\\b", 2);
				break;
			case '\f':
				api_buf_put(b, "\\f", 2);
				break;
			default:
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[*p >> 4];
				esc[5] = hex[*p & 15];
				api_buf_put(b, esc, 6);
			}
			p++;
		} else {
			n = jp_utf8_len(*p);
			if (n != 0 && (size_t)(end - p) >= n &&
			    util_utf8_valid((const char *)p, n)) {
				api_buf_put(b, p, n);
				p += n;
			} else {
				api_buf_put(b, "\xef\xbf\xbd", 3);
				p++;
			}
		}
	}
	api_buf_put(b, "\"", 1);
}

void
api_json_cstr(struct api_buf *b, const char *s)
{
	if (s == NULL)
		api_buf_put(b, "null", 4);
	else
		api_json_str(b, s, strlen(s));
}
