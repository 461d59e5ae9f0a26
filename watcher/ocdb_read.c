/*
 * ocdb_read: reading an OpenClaw agent database: changed session windows,
 * transcript rows in short read transactions, zstd-compressed events, and
 * giving them to the model past what was already shown (see ocdb_int.h).
 */
#include "watcher/ocdb_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "watcher/wjson.h"

/* "2026-04-14T09:12:14.104Z" (or +hh:mm) in ms; 0 when it does not parse. */
static int64_t
ocdb_iso_ms(const char *s)
{
	int v[6] = { 0 }, i, k, ms = 0, div = 1;
	static const int widths[6] = { 4, 2, 2, 2, 2, 2 };
	static const char seps[6] = { '-', '-', 'T', ':', ':', 0 };
	struct tm tm;
	int64_t t;

	for (i = 0; i < 6; i++) {
		for (k = 0; k < widths[i]; k++, s++) {
			if (*s < '0' || *s > '9')
				return 0;
			v[i] = v[i] * 10 + (*s - '0');
		}
		if (seps[i] != 0 && *s++ != seps[i] && !(i == 2 && s[-1] == ' '))
			return 0;
	}
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++) {
			if (div < 1000) {
				ms = ms * 10 + (*s - '0');
				div *= 10;
			}
		}
		ms = ms * (1000 / div);
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	t = (int64_t)timegm(&tm) * 1000 + ms;
	if (*s == '+' || *s == '-') {
		int sign = *s == '-' ? -1 : 1, hh, mm;

		if (strlen(s) < 6 || s[3] != ':')
			return t;
		hh = (s[1] - '0') * 10 + (s[2] - '0');
		mm = (s[4] - '0') * 10 + (s[5] - '0');
		t -= sign * ((int64_t)hh * 3600 + mm * 60) * 1000;
	}
	return t;
}

/* An event's own time: its ISO timestamp, else the message's ms. */
static int64_t
ocdb_event_ms(const struct tx_event *ev)
{
	const char *ts = wjson_str(ev->root, "timestamp");
	int64_t t = ts != NULL ? ocdb_iso_ms(ts) : 0;

	return t > 0 ? t : ev->timestamp_ms;
}

/* ---- zstd ------------------------------------------------------------ */

int
ocdb_zstd_decode(
    void *dctx, const void *src, size_t srclen, int64_t expect, char **out, const char **why)
{
	ZSTD_DCtx *own = NULL, *d = dctx;
	unsigned long long fcs;
	size_t n;
	char *buf = NULL;
	int rc = -1;

	*out = NULL;
	if (srclen == 0 || srclen > OCDB_MAX_EVENT_BYTES) {
		*why = "compressed size out of range";
		goto out;
	}
	if (expect < 0 || expect > OCDB_MAX_EVENT_BYTES) {
		*why = "event_utf8_bytes missing or out of range";
		goto out;
	}
	n = ZSTD_findFrameCompressedSize(src, srclen);
	if (ZSTD_isError(n) || n != srclen) {
		*why = "not one zstd frame";
		goto out;
	}
	if (ZSTD_getDictID_fromFrame(src, srclen) != 0) {
		*why = "frame needs a dictionary";
		goto out;
	}
	fcs = ZSTD_getFrameContentSize(src, srclen);
	if (fcs == ZSTD_CONTENTSIZE_ERROR ||
	    (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != (unsigned long long)expect)) {
		*why = "frame size is not event_utf8_bytes";
		goto out;
	}
	if (d == NULL)
		d = own = ZSTD_createDCtx();
	buf = xmalloc((size_t)expect + 1);
	n = ZSTD_decompressDCtx(d, buf, (size_t)expect, src, srclen);
	if (ZSTD_isError(n)) {
		*why = ZSTD_getErrorName(n);
		goto out;
	}
	if (n != (size_t)expect) {
		*why = "decoded size is not event_utf8_bytes";
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	ZSTD_freeDCtx(own);
	return rc;
}

/* ---- reading ---------------------------------------------------------- */

static void
ocdb_rows_free(struct ocdb_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(rows[i].text);
		free(rows[i].blob);
	}
	free(rows);
}

void
ocdb_wins_free(struct ocdb_win *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(w[i].sid);
		free(w[i].key);
		free(w[i].spawned_by);
		free(w[i].conv);
	}
	free(w);
}

static char *
ocdb_col(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	return t != NULL ? xstrdup((const char *)t) : NULL;
}

/* A read failed: busy is retried soon, anything else reopens later. */
int
ocdb_read_failed(struct ocdb *o, struct ocdb_agent *a, int rc)
{
	if (a->db != NULL && !sqlite3_get_autocommit(a->db))
		(void)sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
		o->stats.busy++;
		log_debug("openclaw database busy, retrying", "path", a->path);
		/* From now: the busy timeout has passed since mono was read. */
		a->recheck_at = util_mono_ms() + OCDB_BUSY_RETRY_MS;
		a->have_dv = 0;
		return -1;
	}
	if ((rc & 0xff) == SQLITE_INTERRUPT)
		snprintf(a->why, sizeof(a->why),
		    "a read took longer than %d ms (huge, corrupt or hostile file?): skipped, "
		    "tried again later",
		    a->read_limit_ms);
	else
		snprintf(a->why, sizeof(a->why), "read failed: %s",
		    a->db != NULL ? sqlite3_errmsg(a->db) : sqlite3_errstr(rc));
	log_error("cannot read openclaw database", "path", a->path, "err", a->why);
	ocdb_close_db(a);
	a->state = AG_ERROR;
	a->retry_at = util_mono_ms() + OCDB_RETRY_MS;
	return -1;
}

/* Windows changed since `after` (one statement: one snapshot). */
int
ocdb_changed(
    struct ocdb *o, struct ocdb_agent *a, int64_t after, struct ocdb_win **out, size_t *nout)
{
	sqlite3_stmt *s = a->st_changed;
	struct ocdb_win *w = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*out = NULL;
	*nout = 0;
	sqlite3_bind_int64(s, 1, after);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (sqlite3_column_type(s, 0) == SQLITE_NULL ||
		    sqlite3_column_type(s, 1) == SQLITE_NULL)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			w = xreallocarray(w, cap, sizeof(*w));
		}
		w[n].sid = ocdb_col(s, 0);
		w[n].key = ocdb_col(s, 1);
		w[n].updated = sqlite3_column_int64(s, 2);
		w[n].spawned_by = ocdb_col(s, 3);
		w[n].conv = ocdb_col(s, 4);
		w[n].archived = sqlite3_column_int(s, 5);
		n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		ocdb_wins_free(w, n);
		return ocdb_read_failed(o, a, rc);
	}
	*out = w;
	*nout = n;
	return 0;
}

/* The session's generation ("" when never rewritten) and its last seq. */
int
ocdb_gen_max(struct ocdb_agent *a, const char *sid, char **gen, int64_t *maxseq)
{
	int rc = SQLITE_DONE;

	*gen = NULL;
	*maxseq = -1;
	if (a->st_gen != NULL) {
		sqlite3_bind_text(a->st_gen, 1, sid, -1, SQLITE_STATIC);
		rc = sqlite3_step(a->st_gen);
		if (rc == SQLITE_ROW)
			*gen = ocdb_col(a->st_gen, 0);
		sqlite3_reset(a->st_gen);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return rc;
	}
	if (*gen == NULL)
		*gen = xstrdup("");
	sqlite3_bind_text(a->st_max, 1, sid, -1, SQLITE_STATIC);
	rc = sqlite3_step(a->st_max);
	if (rc == SQLITE_ROW && sqlite3_column_type(a->st_max, 0) != SQLITE_NULL)
		*maxseq = sqlite3_column_int64(a->st_max, 0);
	sqlite3_reset(a->st_max);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		free(*gen);
		*gen = NULL;
		return rc;
	}
	return SQLITE_OK;
}

/*
 * One short read transaction: generation, last seq, then up to a batch of
 * rows after the cursor (from seq 0 when the session was rewritten).
 */
static int
ocdb_batch(struct ocdb *o, struct ocdb_agent *a, struct ocdb_cur *c, struct ocdb_row **out,
    size_t *nout, int *reread)
{
	sqlite3_stmt *s = a->st_events;
	struct ocdb_row *rows = NULL, *r;
	size_t n = 0, cap = 0;
	char *gen = NULL;
	int64_t maxseq, from;
	int rc;
	const void *b;

	*out = NULL;
	*nout = 0;
	*reread = 0;
	if ((rc = sqlite3_exec(a->db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK)
		return ocdb_read_failed(o, a, rc);
	if ((rc = ocdb_gen_max(a, c->sid, &gen, &maxseq)) != SQLITE_OK)
		return ocdb_read_failed(o, a, rc);
	if ((c->gen != NULL && strcmp(c->gen, gen) != 0) || maxseq < c->seq)
		*reread = 1;
	from = *reread ? -1 : c->seq;
	sqlite3_bind_text(s, 1, c->sid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, from);
	sqlite3_bind_int(s, 3, o->cfg.batch_rows);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			rows = xreallocarray(rows, cap, sizeof(*rows));
		}
		r = &rows[n++];
		memset(r, 0, sizeof(*r));
		r->seq = sqlite3_column_int64(s, 0);
		r->utf8_bytes =
		    sqlite3_column_type(s, 3) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 3);
		if (sqlite3_column_type(s, 1) != SQLITE_NULL) {
			r->len = (size_t)sqlite3_column_bytes(s, 1);
			r->text = xstrndup((const char *)sqlite3_column_text(s, 1), r->len);
		} else if (sqlite3_column_type(s, 2) == SQLITE_BLOB) {
			r->bloblen = (size_t)sqlite3_column_bytes(s, 2);
			b = sqlite3_column_blob(s, 2);
			r->blob = xmalloc(r->bloblen + 1);
			if (r->bloblen > 0)
				memcpy(r->blob, b, r->bloblen);
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		free(gen);
		ocdb_rows_free(rows, n);
		return ocdb_read_failed(o, a, rc);
	}
	if ((rc = sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
		free(gen);
		ocdb_rows_free(rows, n);
		return ocdb_read_failed(o, a, rc);
	}
	free(c->gen);
	c->gen = gen;
	*out = rows;
	*nout = n;
	return 0;
}

/* Skips a row that could not be used, counting it; the cursor passes it. */
static void
ocdb_bad_row(struct ocdb *o, struct ocdb_agent *a, struct ocdb_cur *c, int64_t seq, const char *why,
    int parse)
{
	if (parse) {
		o->stats.parse_errors++;
	} else {
		o->stats.rows_bad++;
		a->rows_bad++;
	}
	log_warn("skipping openclaw transcript row", "path", a->path, "session", c->sid, "seq",
	    LOG_I64(seq), "err", why);
}

static int
ocdb_is_type(const struct tx_event *ev, const char *type)
{
	const char *t = wjson_str(ev->root, "type");

	return t != NULL && strcmp(t, type) == 0;
}

/*
 * How a re-read passes what was already shown: first up to the event with
 * the cursor's last id; when the rewrite dropped that event, a second pass
 * up to the first event newer than the last one shown.
 */
enum {
	OCDB_SKIP_NONE,
	OCDB_SKIP_ID,
	OCDB_SKIP_TIME,
};

/* Gives the rows to the model, passing what *skip says was shown. */
static int64_t
ocdb_feed(struct ocdb *o, struct ocdb_agent *a, struct ocdb_cur *c, struct ocdb_row *rows, size_t n,
    int *skip, int64_t now)
{
	struct tx_event ev;
	const char *why, *id;
	char *dec = NULL;
	int64_t fed = 0, t;
	size_t i, len;
	int rc;

	for (i = 0; i < n; i++) {
		struct ocdb_row *r = &rows[i];
		const char *text = r->text;

		len = r->len;
		if (text == NULL) {
			if (r->blob == NULL) {
				ocdb_bad_row(o, a, c, r->seq, "row has no event", 0);
				c->seq = r->seq;
				continue;
			}
			if (ocdb_zstd_decode(
			        o->dctx, r->blob, r->bloblen, r->utf8_bytes, &dec, &why) < 0) {
				ocdb_bad_row(o, a, c, r->seq, why, 0);
				c->seq = r->seq;
				continue;
			}
			text = dec;
			len = (size_t)r->utf8_bytes;
		}
		rc = tx_parse(o->parser, text, len, &ev);
		free(dec);
		dec = NULL;
		c->seq = r->seq;
		if (rc != TX_OK) {
			ocdb_bad_row(o, a, c, r->seq,
			    rc == TX_BAD_UTF8 ? "not valid UTF-8" : "not a JSON object", 1);
			tx_event_free(&ev);
			continue;
		}
		id = wjson_str(ev.root, "id");
		t = ocdb_event_ms(&ev);
		if (*skip == OCDB_SKIP_ID) {
			/* Everything up to the last event shown was shown. */
			if (id != NULL && strcmp(id, c->last_id) == 0)
				*skip = OCDB_SKIP_NONE;
			tx_event_free(&ev);
			continue;
		}
		if (*skip == OCDB_SKIP_TIME) {
			if (t <= c->last_ms) {
				tx_event_free(&ev);
				continue;
			}
			*skip = OCDB_SKIP_NONE;
		}
		/* The header and the user's message are written as the run starts. */
		if ((ev.type == TX_USER || ev.type == TX_SESSION) && o->sink.started != NULL)
			o->sink.started(o->sink.arg, a->id, c->key, ev.announce, now);
		o->sink.event(o->sink.arg, a->id, c->key, &ev, now);
		if (ocdb_is_type(&ev, "reset"))
			o->sink.compacted(o->sink.arg, c->key, now);
		fed++;
		ocdb_set(&c->last_id, id != NULL ? id : "");
		if (t > 0)
			c->last_ms = t;
		tx_event_free(&ev);
	}
	o->stats.events_read += fed;
	a->events_read += fed;
	return fed;
}

/*
 * Reads one changed window up to its end or the budget.  Returns 1 when
 * caught up, 0 when the budget ran out, -1 on a failed read.
 */
int
ocdb_session(struct ocdb *o, struct ocdb_agent *a, struct ocdb_cur *c, int64_t updated,
    int64_t *budget, int64_t *fed, int64_t now)
{
	struct ocdb_row *rows;
	size_t n;
	int reread, skip = OCDB_SKIP_NONE;

	for (;;) {
		if (ocdb_batch(o, a, c, &rows, &n, &reread) < 0)
			return -1;
		if (reread) {
			o->stats.rereads++;
			log_info("openclaw transcript rewritten, reading it again", "path", a->path,
			    "session", c->sid, "generation", c->gen);
			if (c->seq >= 0 || c->last_ms > 0) {
				o->sink.compacted(o->sink.arg, c->key, now);
				skip = c->last_id[0] != '\0' ? OCDB_SKIP_ID : OCDB_SKIP_TIME;
			}
			c->seq = -1;
		}
		*fed += ocdb_feed(o, a, c, rows, n, &skip, now);
		if (n > 0 || reread)
			ocdb_cur_dirty(a, c);
		ocdb_rows_free(rows, n);
		if (skip == OCDB_SKIP_NONE)
			*budget -= (int64_t)n;
		if (n < (size_t)o->cfg.batch_rows && skip == OCDB_SKIP_ID) {
			/* The last event shown is gone: pass again by time. */
			skip = OCDB_SKIP_TIME;
			c->seq = -1;
			continue;
		}
		if (n < (size_t)o->cfg.batch_rows) {
			if (c->updated != updated) {
				c->updated = updated;
				ocdb_cur_dirty(a, c);
			}
			return 1;
		}
		if (skip == OCDB_SKIP_NONE && *budget <= 0)
			return 0;
	}
}
