/*
 * ocdb: follows OpenClaw 2026.8+ agent databases (see ocdb.h).
 *
 * The SQL below reads the gateway's own file (openclaw-agent.sqlite), which
 * this program never writes; the livestatus store's SQL stays in sql/.
 */
#include "watcher/ocdb.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xmalloc.h"
#include "sql/store_ocdb.h"
#include "watcher/sessions.h"

/* transcript_updated_at comes from the gateway's wall clock: look back this
 * far past the high-water mark so a small clock step loses nothing. */
#define OCDB_SLACK_MS 10000
/* A session_nodes row older than this when first seen starts no box. */
#define OCDB_NODE_FRESH_MS 60000
/* After an inotify event with no new commit yet (the WAL index is updated
 * just after the frames are written), look again this soon, this often. */
#define OCDB_RECHECK_MS 20
#define OCDB_RECHECKS 3
#define OCDB_RETRY_MS 5000
/*
 * A database that makes one read (a statement, or a probe) last longer than
 * this is skipped with a warning and retried later: a huge, corrupt or
 * hostile file never holds the watcher.  Checked every OCDB_PROGRESS_STEPS
 * virtual-machine steps.
 */
#define OCDB_READ_LIMIT_MS 5000
#define OCDB_PROGRESS_STEPS 10000
#define OCDB_BUSY_RETRY_MS 100
#define OCDB_RESCAN_MS 2000

enum ocdb_state {
	AG_CLOSED,  /* found, not open yet (or reopening) */
	AG_OK,      /* open and followed */
	AG_REFUSED, /* open, version or shape not supported */
	AG_ERROR,   /* cannot be opened or read; retried */
	AG_MISSING, /* the file went away */
};

static const char *const ocdb_state_names[] = {
	"closed",
	"ok",
	"refused",
	"error",
	"missing",
};

enum ocdb_watch_kind {
	W_ROOT,  /* an agents/ folder: agent folders appear */
	W_AGENT, /* agents/<id>: its agent/ folder appears */
	W_DBDIR, /* the folder holding the database */
};

/* One session window's cursor: the last event given to the model. */
struct ocdb_cur {
	char *sid;
	char *key;
	char *gen;       /* rewrite generation; NULL until first read */
	int64_t seq;     /* last seq given (or skipped); -1 none */
	int64_t updated; /* transcript_updated_at when last caught up */
	char *last_id;   /* id of the last event given; "" unknown */
	int64_t last_ms; /* its time, or the time the cursor was set */
	int dirty;
	int gone; /* cold-archived: forget it */
};

/* What was last told to the model about a key. */
struct ocdb_keyinfo {
	int64_t node_updated;
	int64_t start_updated; /* the node's updated_at that last started a box */
	char *sid;
};

/* A string-keyed hash table (open addressing, never shrinks). */
struct ocdb_map {
	char **keys;
	void **vals;
	size_t cap, n;
};

struct ocdb_agent {
	char *id;
	char *dir;        /* the folder holding the file */
	char *path;       /* dir/openclaw-agent.sqlite */
	char *store_path; /* its real path: the key of its cursors */
	dev_t dev;
	ino_t ino;
	sqlite3 *db;
	int64_t read_until; /* monotonic ms: reads past it are interrupted */
	int read_limit_ms;
	enum ocdb_state state;
	char why[256];
	int version;
	char *app_version;
	int by_folder; /* the id comes from agents/<id>/agent */
	/* the shape, probed on open */
	int has_zstd, has_gen, has_cold;
	sqlite3_stmt *st_dv, *st_changed, *st_gen, *st_max, *st_events, *st_node, *st_conv;
	sqlite3_stmt *st_starts; /* session_nodes rows of runs starting; NULL: no status */
	int64_t data_version;
	int have_dv;
	int64_t high_water;
	int64_t node_water; /* session_nodes.updated_at seen; 0 until the first look */
	int loaded;     /* cursors loaded from the store */
	int known;      /* the store has (or will have) its row */
	int from_start; /* appeared while running: read from seq 0 */
	int dirty;      /* agent row to save */
	int pending;    /* inotify said something changed */
	int more;       /* the last run's budget ran out here */
	int rechecks;
	int64_t recheck_at;
	int64_t retry_at;
	int seen; /* discovery sweep mark */
	char *refused_logged;
	struct ocdb_map curs; /* sid -> struct ocdb_cur */
	struct ocdb_map keys; /* key -> struct ocdb_keyinfo */
	struct ocdb_cur **dirty_list;
	size_t ndirty, capdirty;
	int64_t events_read, rows_bad;
};

struct ocdb_watch {
	int wd;
	enum ocdb_watch_kind kind;
	char *path;
};

struct ocdb {
	struct ocdb_config cfg;
	char *root;
	store *st;
	struct ocdb_sink sink;
	int ifd;
	int poll_only;
	struct ocdb_watch *watches;
	size_t nwatch, capwatch;
	struct ocdb_agent **agents;
	size_t nagent, capagent;
	char **file_agents; /* id, path pairs: agents on the file layout */
	size_t nfile;
	int rescan;
	int initial_done;
	int64_t next_check;
	int64_t next_rescan;
	struct tx_parser *parser;
	ZSTD_DCtx *dctx;
	struct ocdb_stats stats;
	struct ocdb_map refused; /* paths warned about: not regular, outside links */
};

/* A row copied out of the read transaction, decoded after it. */
struct ocdb_row {
	int64_t seq;
	char *text;
	size_t len;
	void *blob;
	size_t bloblen;
	int64_t utf8_bytes; /* -1: NULL */
};

/* A changed session window. */
struct ocdb_win {
	char *sid;
	char *key;
	int64_t updated;
	char *spawned_by;
	char *conv;
	int archived;
};

/* ---- small helpers ------------------------------------------------- */

static uint64_t
ocdb_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static void **
ocdb_map_slot(struct ocdb_map *m, const char *key, int create)
{
	size_t i, j, oldcap;
	char **oldkeys;
	void **oldvals;

	if (create && (m->n + 1) * 2 > m->cap) {
		oldkeys = m->keys;
		oldvals = m->vals;
		oldcap = m->cap;
		m->cap = oldcap ? oldcap * 2 : 64;
		m->keys = xcalloc(m->cap, sizeof(*m->keys));
		m->vals = xcalloc(m->cap, sizeof(*m->vals));
		for (i = 0; i < oldcap; i++) {
			if (oldkeys[i] == NULL)
				continue;
			j = ocdb_hash(oldkeys[i]) & (m->cap - 1);
			while (m->keys[j] != NULL)
				j = (j + 1) & (m->cap - 1);
			m->keys[j] = oldkeys[i];
			m->vals[j] = oldvals[i];
		}
		free(oldkeys);
		free(oldvals);
	}
	if (m->cap == 0)
		return NULL;
	i = ocdb_hash(key) & (m->cap - 1);
	while (m->keys[i] != NULL) {
		if (strcmp(m->keys[i], key) == 0)
			return &m->vals[i];
		i = (i + 1) & (m->cap - 1);
	}
	if (!create)
		return NULL;
	m->keys[i] = xstrdup(key);
	m->n++;
	return &m->vals[i];
}

static void *
ocdb_map_get(struct ocdb_map *m, const char *key)
{
	void **v = ocdb_map_slot(m, key, 0);

	return v != NULL ? *v : NULL;
}

static void
ocdb_set(char **dst, const char *src)
{
	if (*dst != NULL && src != NULL && strcmp(*dst, src) == 0)
		return;
	free(*dst);
	*dst = src != NULL ? xstrdup(src) : NULL;
}

static int
ocdb_is_dir(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/*
 * 1 when path is a database to open: a regular file, reached without a
 * link out of the root (unless FOLLOW_OUTSIDE_LINKS).  A FIFO, socket,
 * device or folder of that name, or an outside link, is never opened (a
 * blocking open of a FIFO would freeze the watcher); one warning each.
 */
static int
ocdb_is_file(struct ocdb *o, const char *path, struct stat *sb)
{
	struct stat tmp;
	const char *why;
	void **warned;
	int fd;

	if (sb == NULL)
		sb = &tmp;
	if ((fd = util_open_regular(path, o->root, o->cfg.outside_links, &why)) < 0) {
		if (why != NULL && (warned = ocdb_map_slot(&o->refused, path, 1)) != NULL &&
		    *warned == NULL) {
			*warned = o; /* any non-NULL mark */
			log_warn("not an openclaw database, skipped", "path", path, "why", why);
		}
		return 0;
	}
	if (fstat(fd, sb) != 0 || !S_ISREG(sb->st_mode)) {
		close(fd);
		return 0;
	}
	close(fd);
	return 1;
}

static const char *
ocdb_base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}

/* The parent folder of path, newly allocated ("." for a bare name). */
static char *
ocdb_dirname(const char *path)
{
	const char *s = strrchr(path, '/');

	if (s == NULL)
		return xstrdup(".");
	if (s == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(s - path));
}

/* file:<path>?mode=ro with the path percent-encoded where a URI needs it. */
static char *
ocdb_uri(const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(path);
	char *uri = xmalloc(n * 3 + 32), *p = uri;
	const unsigned char *s;

	p += sprintf(p, "file:");
	for (s = (const unsigned char *)path; *s; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("/-_.~", *s) != NULL) {
			*p++ = (char)*s;
		} else {
			*p++ = '%';
			*p++ = hex[*s >> 4];
			*p++ = hex[*s & 15];
		}
	}
	strcpy(p, "?mode=ro");
	return uri;
}

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

static const char *
ocdb_jstr(json_object *o, const char *key)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* An event's own time: its ISO timestamp, else the message's ms. */
static int64_t
ocdb_event_ms(const struct tx_event *ev)
{
	const char *ts = ocdb_jstr(ev->root, "timestamp");
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

/* ---- sinks ----------------------------------------------------------- */

static void
ocdb_box_meta(void *arg, const char *key, const struct box_meta *meta)
{
	box_set_meta(arg, key, meta);
}

static void
ocdb_box_event(
    void *arg, const char *agent_id, const char *key, const struct tx_event *ev, int64_t now)
{
	box_feed_event(arg, agent_id, key, ev, now);
}

static void
ocdb_box_compacted(void *arg, const char *key, int64_t now)
{
	box_compacted(arg, key, now);
}

static void
ocdb_box_started(void *arg, const char *agent_id, const char *key, int announce, int64_t now)
{
	box_run_start(arg, agent_id, key, announce, now);
}

void
ocdb_box_sink(struct box_model *m, struct ocdb_sink *out)
{
	out->arg = m;
	out->meta = ocdb_box_meta;
	out->event = ocdb_box_event;
	out->compacted = ocdb_box_compacted;
	out->started = ocdb_box_started;
}

/* ---- cursors --------------------------------------------------------- */

static struct ocdb_cur *
ocdb_cur_get(struct ocdb_agent *a, const char *sid, const char *key, int create)
{
	void **slot = ocdb_map_slot(&a->curs, sid, create);
	struct ocdb_cur *c;

	if (slot == NULL)
		return NULL;
	if (*slot == NULL) {
		c = xcalloc(1, sizeof(*c));
		c->sid = xstrdup(sid);
		c->key = xstrdup(key != NULL ? key : "");
		c->last_id = xstrdup("");
		c->seq = -1;
		*slot = c;
	}
	return *slot;
}

static void
ocdb_cur_dirty(struct ocdb_agent *a, struct ocdb_cur *c)
{
	if (c->dirty)
		return;
	c->dirty = 1;
	if (a->ndirty == a->capdirty) {
		a->capdirty = a->capdirty ? a->capdirty * 2 : 32;
		a->dirty_list = xreallocarray(a->dirty_list, a->capdirty, sizeof(*a->dirty_list));
	}
	a->dirty_list[a->ndirty++] = c;
}

static void
ocdb_cur_free(struct ocdb_cur *c)
{
	free(c->sid);
	free(c->key);
	free(c->gen);
	free(c->last_id);
	free(c);
}

static int
ocdb_load(struct ocdb *o, struct ocdb_agent *a)
{
	struct store_ocdb_agent row;
	struct store_ocdb_cursor *list = NULL;
	struct ocdb_cur *c;
	size_t n = 0, i;
	int rc;

	rc = store_ocdb_agent_get(o->st, a->store_path, &row);
	if (rc == STORE_NOTFOUND) {
		a->loaded = 1;
		return 0;
	}
	if (rc != STORE_OK)
		return -1;
	a->known = 1;
	a->high_water = row.high_water;
	store_ocdb_agent_free(&row);
	if (store_ocdb_cursor_list(o->st, a->store_path, &list, &n) != STORE_OK)
		return -1;
	for (i = 0; i < n; i++) {
		c = ocdb_cur_get(a, list[i].session_id, list[i].session_key, 1);
		ocdb_set(&c->gen, list[i].generation);
		c->seq = list[i].seq;
		c->updated = list[i].updated_at;
		ocdb_set(&c->last_id, list[i].last_event_id);
		c->last_ms = list[i].last_event_ms;
	}
	store_ocdb_cursor_list_free(list, n);
	a->loaded = 1;
	return 0;
}

/* ---- opening and probing ---------------------------------------------- */

/* The reads that depend on the shape (st_dv lives as long as the handle). */
static void
ocdb_finalize(struct ocdb_agent *a)
{
	sqlite3_stmt **sts[] = { &a->st_changed, &a->st_gen, &a->st_max, &a->st_events, &a->st_node,
		&a->st_conv, &a->st_starts };
	size_t i;

	for (i = 0; i < sizeof(sts) / sizeof(sts[0]); i++) {
		sqlite3_finalize(*sts[i]);
		*sts[i] = NULL;
	}
}

static void
ocdb_close_db(struct ocdb_agent *a)
{
	ocdb_finalize(a);
	sqlite3_finalize(a->st_dv);
	a->st_dv = NULL;
	sqlite3_close(a->db);
	a->db = NULL;
	a->have_dv = 0;
}

/* name as an SQL identifier: in double quotes, inner quotes doubled. */
static char *
ocdb_quote_ident(const char *name)
{
	size_t n = strlen(name), i, j = 0;
	char *out = xmalloc(2 * n + 3);

	out[j++] = '"';
	for (i = 0; i < n; i++) {
		if (name[i] == '"')
			out[j++] = '"';
		out[j++] = name[i];
	}
	out[j++] = '"';
	out[j] = '\0';
	return out;
}

/* Interrupts a read of a that runs past its time (sqlite3_progress_handler). */
static int
ocdb_progress(void *arg)
{
	struct ocdb_agent *a = arg;

	return a->read_until > 0 && util_mono_ms() > a->read_until;
}

/* Columns of a table (PRAGMA table_info), as a ",a,b,c," string; NULL when
 * the table does not exist.  *pk gets its first primary-key column. */
static char *
ocdb_columns(sqlite3 *db, const char *table, char **pk)
{
	char sql[128], *cols = NULL;
	size_t len = 0, cap = 0, n;
	sqlite3_stmt *s;
	const char *name;

	if (pk != NULL)
		*pk = NULL;
	snprintf(sql, sizeof(sql), "PRAGMA table_info(%s)", table);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return NULL;
	while (sqlite3_step(s) == SQLITE_ROW) {
		name = (const char *)sqlite3_column_text(s, 1);
		if (name == NULL)
			continue;
		n = strlen(name);
		if (len + n + 3 > cap) {
			cap = (len + n + 3) * 2;
			cols = xrealloc(cols, cap);
		}
		if (len == 0)
			cols[len++] = ',';
		memcpy(cols + len, name, n);
		len += n;
		cols[len++] = ',';
		cols[len] = '\0';
		if (pk != NULL && *pk == NULL && sqlite3_column_int(s, 5) == 1)
			*pk = xstrdup(name);
	}
	sqlite3_finalize(s);
	return cols;
}

static int
ocdb_has(const char *cols, const char *col)
{
	char pat[64];

	if (cols == NULL)
		return 0;
	snprintf(pat, sizeof(pat), ",%s,", col);
	return strstr(cols, pat) != NULL;
}

static int
ocdb_prepare(struct ocdb_agent *a, sqlite3_stmt **st, const char *sql)
{
	if (sqlite3_prepare_v3(a->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) == SQLITE_OK)
		return 0;
	snprintf(a->why, sizeof(a->why), "cannot prepare a read: %s", sqlite3_errmsg(a->db));
	return -1;
}

/* A column of t when cols has it, else NULL. */
static const char *
ocdb_opt(const char *cols, const char *col, const char *expr)
{
	return ocdb_has(cols, col) ? expr : "NULL";
}

/*
 * Reads the version and the shape, and prepares the reads.  0 when
 * supported; -1 with a->why set (a->state says refused or error).
 */
static int
ocdb_probe(struct ocdb_agent *a)
{
	static const char *const need_windows[] = { "session_id", "session_key",
		"transcript_updated_at", NULL };
	static const char *const need_events[] = { "session_id", "seq", "event_json", NULL };
	static const char *const need_nodes[] = { "session_key", "entry_json", NULL };
	char *win = NULL, *ev = NULL, *nodes = NULL, *marks = NULL, *cold = NULL;
	char *conv = NULL, *conv_pk = NULL, *sql = NULL, *quoted;
	const char *role = NULL, *missing = NULL, *mtable = NULL;
	sqlite3_stmt *s = NULL;
	int uv = -1, mv = -1, rc = -1, i;

	ocdb_finalize(a);
	a->state = AG_REFUSED;
	if (sqlite3_prepare_v2(a->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		a->state = AG_ERROR;
		snprintf(
		    a->why, sizeof(a->why), "cannot read user_version: %s", sqlite3_errmsg(a->db));
		goto out;
	}
	uv = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	s = NULL;
	a->version = uv;
	if (sqlite3_prepare_v2(a->db,
	        "SELECT role, schema_version, agent_id, app_version "
	        "FROM schema_meta WHERE meta_key = 'primary'",
	        -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW) {
		role = (const char *)sqlite3_column_text(s, 0);
		mv = sqlite3_column_type(s, 1) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 1);
		if (!a->by_folder && sqlite3_column_text(s, 2) != NULL &&
		    *sqlite3_column_text(s, 2) != '\0')
			ocdb_set(&a->id, (const char *)sqlite3_column_text(s, 2));
		ocdb_set(&a->app_version, (const char *)sqlite3_column_text(s, 3));
		if (role != NULL && strcmp(role, "agent") != 0) {
			snprintf(a->why, sizeof(a->why), "schema_meta role is %s, not agent", role);
			goto out;
		}
	}
	if (uv < OCDB_SCHEMA_MIN || uv > OCDB_SCHEMA_MAX) {
		snprintf(a->why, sizeof(a->why),
		    "schema version %d is not supported (supported: %d-%d)", uv, OCDB_SCHEMA_MIN,
		    OCDB_SCHEMA_MAX);
		goto out;
	}
	if (mv < 0) {
		snprintf(
		    a->why, sizeof(a->why), "schema version %d: no schema_meta primary row", uv);
		goto out;
	}
	if (mv != uv) {
		snprintf(a->why, sizeof(a->why),
		    "schema_meta says version %d but user_version is %d", mv, uv);
		goto out;
	}
	win = ocdb_columns(a->db, "session_windows", NULL);
	ev = ocdb_columns(a->db, "transcript_events", NULL);
	nodes = ocdb_columns(a->db, "session_nodes", NULL);
	marks = ocdb_columns(a->db, "transcript_rewrite_watermarks", NULL);
	cold = ocdb_columns(a->db, "session_transcript_cold_archives", NULL);
	conv = ocdb_columns(a->db, "conversations", &conv_pk);
	for (i = 0; missing == NULL && need_windows[i] != NULL; i++)
		if (!ocdb_has(win, need_windows[i]))
			mtable = "session_windows", missing = need_windows[i];
	for (i = 0; missing == NULL && need_events[i] != NULL; i++)
		if (!ocdb_has(ev, need_events[i]))
			mtable = "transcript_events", missing = need_events[i];
	for (i = 0; missing == NULL && need_nodes[i] != NULL; i++)
		if (!ocdb_has(nodes, need_nodes[i]))
			mtable = "session_nodes", missing = need_nodes[i];
	if (missing == NULL && uv >= 23 &&
	    (!ocdb_has(ev, "event_zstd") || !ocdb_has(ev, "event_utf8_bytes")))
		mtable = "transcript_events", missing = "event_zstd";
	if (missing != NULL) {
		snprintf(a->why, sizeof(a->why), "schema version %d: %s has no column %s", uv,
		    mtable, missing);
		goto out;
	}
	a->has_zstd = ocdb_has(ev, "event_zstd") && ocdb_has(ev, "event_utf8_bytes");
	a->has_gen = ocdb_has(marks, "generation") && ocdb_has(marks, "session_id");
	a->has_cold = ocdb_has(cold, "session_id");

	a->state = AG_ERROR;
	sql = xasprintf("SELECT w.session_id, w.session_key, w.transcript_updated_at, "
	                "%s, %s, %s FROM session_windows AS w WHERE w.transcript_updated_at > ?1 "
	                "ORDER BY w.transcript_updated_at, w.session_id",
	    ocdb_opt(win, "spawned_by", "w.spawned_by"),
	    ocdb_opt(win, "primary_conversation_id", "w.primary_conversation_id"),
	    a->has_cold ? "EXISTS (SELECT 1 FROM session_transcript_cold_archives AS c "
	                  "WHERE c.session_id = w.session_id)"
	                : "0");
	if (ocdb_prepare(a, &a->st_changed, sql) < 0)
		goto out;
	if (a->has_gen &&
	    ocdb_prepare(a, &a->st_gen,
	        "SELECT generation FROM "
	        "transcript_rewrite_watermarks WHERE session_id = ?1") < 0)
		goto out;
	if (ocdb_prepare(
	        a, &a->st_max, "SELECT max(seq) FROM transcript_events WHERE session_id = ?1") < 0)
		goto out;
	free(sql);
	sql = xasprintf("SELECT seq, event_json, %s, %s FROM transcript_events "
	                "WHERE session_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
	    a->has_zstd ? "event_zstd" : "NULL", a->has_zstd ? "event_utf8_bytes" : "NULL");
	if (ocdb_prepare(a, &a->st_events, sql) < 0)
		goto out;
	free(sql);
	sql = xasprintf("SELECT entry_json, %s, %s, %s, %s, %s, %s FROM session_nodes "
	                "WHERE session_key = ?1",
	    ocdb_opt(nodes, "updated_at", "updated_at"),
	    ocdb_opt(nodes, "spawned_by", "spawned_by"), ocdb_opt(nodes, "label", "label"),
	    ocdb_opt(nodes, "created_via", "created_via"),
	    ocdb_opt(nodes, "parent_session_key", "parent_session_key"),
	    ocdb_opt(nodes, "display_name", "display_name"));
	if (ocdb_prepare(a, &a->st_node, sql) < 0)
		goto out;
	free(sql);
	sql = NULL;
	/*
	 * Under the gateway a run's session_nodes row (and its window, with no
	 * transcript_updated_at) is written seconds before its transcript's
	 * first event: status NULL while the run is prepared.  Such a row
	 * starts the box.  Status 'running' comes only after the first events,
	 * and may outlive the run's last one, so it starts nothing.
	 */
	if (ocdb_has(nodes, "status") && ocdb_has(nodes, "updated_at") &&
	    ocdb_has(nodes, "current_session_id")) {
		sql = xasprintf("SELECT n.session_key, n.current_session_id, n.updated_at, "
		                "%s, %s FROM session_nodes AS n LEFT JOIN session_windows AS w "
		                "ON w.session_id = n.current_session_id "
		                "WHERE n.updated_at > ?1 AND n.status IS NULL AND "
		                "w.transcript_updated_at IS NULL%s "
		                "ORDER BY n.updated_at",
		    ocdb_opt(win, "spawned_by", "w.spawned_by"),
		    ocdb_opt(win, "primary_conversation_id", "w.primary_conversation_id"),
		    ocdb_has(nodes, "created_via")
		        ? " AND coalesce(n.created_via, '') NOT IN ('cron', 'internal', 'plugin')"
		        : "");
		if (ocdb_prepare(a, &a->st_starts, sql) < 0)
			goto out;
		free(sql);
		sql = NULL;
	}
	if (conv_pk != NULL && ocdb_has(conv, "kind")) {
		/* the key column's name comes from the file: quoted, never pasted */
		quoted = ocdb_quote_ident(conv_pk);
		sql = xasprintf("SELECT kind, %s, %s, %s, %s FROM conversations WHERE %s = ?1",
		    ocdb_opt(conv, "peer_id", "peer_id"), ocdb_opt(conv, "thread_id", "thread_id"),
		    ocdb_opt(conv, "native_channel_id", "native_channel_id"),
		    ocdb_opt(conv, "channel", "channel"), quoted);
		free(quoted);
		if (ocdb_prepare(a, &a->st_conv, sql) < 0)
			goto out;
	}
	a->state = AG_OK;
	a->why[0] = '\0';
	rc = 0;
out:
	sqlite3_finalize(s);
	free(win);
	free(ev);
	free(nodes);
	free(marks);
	free(cold);
	free(conv);
	free(conv_pk);
	free(sql);
	if (rc < 0)
		ocdb_finalize(a);
	return rc;
}

static void
ocdb_log_refused(struct ocdb_agent *a)
{
	if (a->refused_logged != NULL && strcmp(a->refused_logged, a->why) == 0)
		return;
	ocdb_set(&a->refused_logged, a->why);
	if (a->version == 0) {
		/* Being created: the gateway has not written its schema yet. */
		log_info("openclaw database not initialised yet", "path", a->path);
		return;
	}
	log_error("openclaw database refused", "path", a->path, "agent", a->id, "version",
	    LOG_I64(a->version), "err", a->why);
}

/* Opens the file read-only and probes it; the state says how it went. */
static void
ocdb_open_db(struct ocdb *o, struct ocdb_agent *a)
{
	char *uri, rp[PATH_MAX];
	struct stat sb;
	int rc;

	ocdb_close_db(a);
	if (!ocdb_is_file(o, a->path, &sb)) {
		a->state = AG_MISSING;
		return;
	}
	a->dev = sb.st_dev;
	a->ino = sb.st_ino;
	if (a->store_path == NULL)
		a->store_path = xstrdup(realpath(a->path, rp) != NULL ? rp : a->path);
	uri = ocdb_uri(a->path);
	rc = sqlite3_open_v2(
	    uri, &a->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
	free(uri);
	if (rc == SQLITE_OK) {
		/* Before any statement, so the first read waits for a lock too. */
		sqlite3_busy_timeout(a->db, o->cfg.busy_timeout_ms);
		a->read_limit_ms = o->cfg.read_limit_ms;
		a->read_until = util_mono_ms() + o->cfg.busy_timeout_ms + a->read_limit_ms;
		sqlite3_progress_handler(a->db, OCDB_PROGRESS_STEPS, ocdb_progress, a);
		sqlite3_extended_result_codes(a->db, 1);
		rc = sqlite3_exec(a->db, "PRAGMA query_only = ON", NULL, NULL, NULL);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v3(
		    a->db, "PRAGMA data_version", -1, SQLITE_PREPARE_PERSISTENT, &a->st_dv, NULL);
	if (rc != SQLITE_OK) {
		snprintf(a->why, sizeof(a->why), "cannot open: %s",
		    a->db != NULL ? sqlite3_errmsg(a->db) : sqlite3_errstr(rc));
		goto fail;
	}
	if (ocdb_probe(a) < 0) {
		if (a->state == AG_REFUSED) {
			ocdb_log_refused(a);
			return;
		}
		goto fail;
	}
	if (!a->loaded && ocdb_load(o, a) < 0) {
		snprintf(a->why, sizeof(a->why), "cannot read cursors: %s", store_errmsg(o->st));
		goto fail;
	}
	ocdb_set(&a->refused_logged, NULL);
	a->pending = 1;
	log_info("following openclaw database", "path", a->path, "agent", a->id, "version",
	    LOG_I64(a->version), "app_version", a->app_version != NULL ? a->app_version : "");
	return;
fail:
	log_error("cannot follow openclaw database", "path", a->path, "err", a->why);
	ocdb_close_db(a);
	a->state = AG_ERROR;
	a->retry_at = util_mono_ms() + OCDB_RETRY_MS;
}

/* ---- discovery -------------------------------------------------------- */

static void
ocdb_watch(struct ocdb *o, const char *path, enum ocdb_watch_kind kind)
{
	uint32_t mask = IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF |
	    IN_MOVE_SELF | IN_ONLYDIR;
	size_t i;
	int wd;

	if (o->ifd < 0 || o->poll_only)
		return;
	for (i = 0; i < o->nwatch; i++)
		if (strcmp(o->watches[i].path, path) == 0)
			return;
	if (kind == W_DBDIR)
		mask |= IN_MODIFY | IN_CLOSE_WRITE;
	wd = inotify_add_watch(o->ifd, path, mask);
	if (wd < 0) {
		log_warn("cannot watch folder, checking on a timer instead", "path", path, "err",
		    strerror(errno));
		o->poll_only = 1;
		return;
	}
	if (o->nwatch == o->capwatch) {
		o->capwatch = o->capwatch ? o->capwatch * 2 : 16;
		o->watches = xreallocarray(o->watches, o->capwatch, sizeof(*o->watches));
	}
	o->watches[o->nwatch].wd = wd;
	o->watches[o->nwatch].kind = kind;
	o->watches[o->nwatch].path = xstrdup(path);
	o->nwatch++;
}

static void
ocdb_found(struct ocdb *o, const char *dir, const char *id, int by_folder)
{
	struct ocdb_agent *a = NULL;
	struct stat sb;
	char *path = xasprintf("%s/%s", dir, OCDB_FILE_NAME);
	size_t i;

	for (i = 0; i < o->nagent; i++) {
		if (strcmp(o->agents[i]->path, path) == 0) {
			a = o->agents[i];
			break;
		}
	}
	if (a == NULL) {
		a = xcalloc(1, sizeof(*a));
		a->id = xstrdup(id);
		a->dir = xstrdup(dir);
		a->path = path;
		path = NULL;
		a->by_folder = by_folder;
		a->from_start = o->initial_done;
		a->state = AG_CLOSED;
		if (o->nagent == o->capagent) {
			o->capagent = o->capagent ? o->capagent * 2 : 8;
			o->agents = xreallocarray(o->agents, o->capagent, sizeof(*o->agents));
		}
		o->agents[o->nagent++] = a;
	}
	a->seen = 1;
	if (a->state == AG_MISSING) {
		a->state = AG_CLOSED;
		a->retry_at = 0;
	} else if (a->db != NULL && ocdb_is_file(o, a->path, &sb) &&
	    (sb.st_ino != a->ino || sb.st_dev != a->dev)) {
		log_info("openclaw database replaced, reopening", "path", a->path);
		ocdb_close_db(a);
		a->state = AG_CLOSED;
		a->retry_at = 0;
	}
	free(path);
}

/*
 * agents/<id>: watched for agent/ appearing; followed when it has the
 * file, else listed as a file-layout agent when it has sessions/.
 */
static void
ocdb_agent_folder(struct ocdb *o, const char *folder)
{
	char *dir = xasprintf("%s/agent", folder), *file = NULL, *sessions;
	int found = 0;

	ocdb_watch(o, folder, W_AGENT);
	if (ocdb_is_dir(dir)) {
		ocdb_watch(o, dir, W_DBDIR);
		file = xasprintf("%s/%s", dir, OCDB_FILE_NAME);
		if ((found = ocdb_is_file(o, file, NULL)) != 0)
			ocdb_found(o, dir, ocdb_base(folder), 1);
	}
	sessions = xasprintf("%s/sessions", folder);
	if (!found && ocdb_is_dir(sessions)) {
		o->file_agents =
		    xreallocarray(o->file_agents, (o->nfile + 1) * 2, sizeof(*o->file_agents));
		o->file_agents[o->nfile * 2] = xstrdup(ocdb_base(folder));
		o->file_agents[o->nfile * 2 + 1] = sessions;
		o->nfile++;
		sessions = NULL;
	}
	free(sessions);
	free(file);
	free(dir);
}

static void
ocdb_discover(struct ocdb *o)
{
	const char *root = o->root;
	char *p = xasprintf("%s/%s", root, OCDB_FILE_NAME), *q = NULL, *up = NULL;
	struct dirent *de;
	DIR *d;
	size_t i;

	for (i = 0; i < o->nagent; i++)
		o->agents[i]->seen = 0;
	for (i = 0; i < o->nfile * 2; i++)
		free(o->file_agents[i]);
	o->nfile = 0;
	if (ocdb_is_file(o, p, NULL)) {
		/* The root is an agentDir itself. */
		up = ocdb_dirname(root);
		ocdb_watch(o, root, W_DBDIR);
		if (strcmp(ocdb_base(root), "agent") == 0)
			ocdb_found(o, root, ocdb_base(up), 1);
		else
			ocdb_found(o, root, ocdb_base(root), 0);
		goto sweep;
	}
	if (strcmp(ocdb_base(root), "sessions") == 0) {
		/* One agent's sessions/ folder: its database is beside it. */
		up = ocdb_dirname(root);
		ocdb_agent_folder(o, up);
		goto sweep;
	}
	q = xasprintf("%s/agent", root);
	free(p);
	p = xasprintf("%s/sessions", root);
	if (ocdb_is_dir(q) || ocdb_is_dir(p)) {
		ocdb_agent_folder(o, root);
		goto sweep;
	}
	ocdb_watch(o, root, W_ROOT);
	if ((d = opendir(root)) == NULL)
		goto sweep;
	while ((de = readdir(d)) != NULL) {
		char *folder;

		if (de->d_name[0] == '.')
			continue;
		folder = xasprintf("%s/%s", root, de->d_name);
		if (ocdb_is_dir(folder))
			ocdb_agent_folder(o, folder);
		free(folder);
	}
	closedir(d);
sweep:
	for (i = 0; i < o->nagent; i++) {
		struct ocdb_agent *a = o->agents[i];

		if (!a->seen && a->state != AG_MISSING) {
			log_info("openclaw database gone", "path", a->path);
			ocdb_close_db(a);
			a->state = AG_MISSING;
		}
	}
	free(p);
	free(q);
	free(up);
}

/* ---- inotify ---------------------------------------------------------- */

static struct ocdb_watch *
ocdb_watch_by_wd(struct ocdb *o, int wd)
{
	size_t i;

	for (i = 0; i < o->nwatch; i++)
		if (o->watches[i].wd == wd)
			return &o->watches[i];
	return NULL;
}

static void
ocdb_watch_drop(struct ocdb *o, struct ocdb_watch *w)
{
	free(w->path);
	*w = o->watches[--o->nwatch];
}

static void
ocdb_db_event(struct ocdb *o, const struct ocdb_watch *w, const struct inotify_event *ev)
{
	size_t i, n = strlen(OCDB_FILE_NAME);
	const char *name = ev->name;
	int is_db = strcmp(name, OCDB_FILE_NAME) == 0;

	if (strncmp(name, OCDB_FILE_NAME, n) != 0 ||
	    !(is_db || strcmp(name + n, "-wal") == 0 || strcmp(name + n, "-journal") == 0))
		return;
	if (is_db && (ev->mask & (IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM)))
		o->rescan = 1;
	for (i = 0; i < o->nagent; i++) {
		if (strcmp(o->agents[i]->dir, w->path) == 0) {
			o->agents[i]->pending = 1;
			o->agents[i]->rechecks = OCDB_RECHECKS;
		}
	}
}

static void
ocdb_drain(struct ocdb *o)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	struct ocdb_watch *w;
	ssize_t n;
	char *p;
	size_t i;

	if (o->ifd < 0)
		return;
	while ((n = read(o->ifd, buf, sizeof(buf))) > 0) {
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW) {
				o->rescan = 1;
				for (i = 0; i < o->nagent; i++)
					o->agents[i]->pending = 1;
				continue;
			}
			if ((w = ocdb_watch_by_wd(o, ev->wd)) == NULL)
				continue;
			if (ev->mask & IN_IGNORED) {
				ocdb_watch_drop(o, w);
				o->rescan = 1;
				continue;
			}
			if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
				o->rescan = 1;
				continue;
			}
			if (w->kind == W_DBDIR && ev->len > 0)
				ocdb_db_event(o, w, ev);
			else if (ev->len > 0 &&
			    ((ev->mask & IN_ISDIR) || strcmp(ev->name, "agent") == 0))
				o->rescan = 1;
		}
	}
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

static void
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
static int
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
static int
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
static int
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
	const char *t = ocdb_jstr(ev->root, "type");

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
		id = ocdb_jstr(ev.root, "id");
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
static int
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

/* ---- session metadata -------------------------------------------------- */

/* A text column as a new string; NULL when NULL or empty. */
static char *
ocdb_col_set(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	return t != NULL && *t != '\0' ? xstrdup((const char *)t) : NULL;
}

/* A non-empty string member of a JSON object, as a new string. */
static char *
ocdb_jdup(json_object *o, const char *key)
{
	const char *v = ocdb_jstr(o, key);

	return v != NULL && *v != '\0' ? xstrdup(v) : NULL;
}

/* Channel, thread or DM target from the window's conversations row. */
static void
ocdb_conversation(struct ocdb_agent *a, const char *conv, char **chan, char **root, char **target)
{
	sqlite3_stmt *s = a->st_conv;
	const char *kind, *surface;

	if (s == NULL || conv == NULL)
		return;
	sqlite3_bind_text(s, 1, conv, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		kind = (const char *)sqlite3_column_text(s, 0);
		surface = (const char *)sqlite3_column_text(s, 4);
		if (surface == NULL || strcmp(surface, "mattermost") == 0) {
			if (**chan == '\0' && **target == '\0') {
				if (kind != NULL && strcmp(kind, "direct") == 0 &&
				    sqlite3_column_text(s, 1) != NULL) {
					free(*target);
					*target = xasprintf("user:%s", sqlite3_column_text(s, 1));
				} else if (sqlite3_column_text(s, 3) != NULL) {
					free(*chan);
					*chan = xstrdup((const char *)sqlite3_column_text(s, 3));
				}
			}
			if (**root == '\0' && sqlite3_column_text(s, 2) != NULL) {
				free(*root);
				*root = xstrdup((const char *)sqlite3_column_text(s, 2));
			}
		}
	}
	sqlite3_reset(s);
}

/*
 * Tells the model what the database says about a window's key, when that
 * changed: parent (spawned_by columns, else entry_json.spawnedBy), label
 * (label, else display name), and the route as the file source finds it
 * (sessions_route(): the key, then entry_json), else the conversations row,
 * else DEFAULT_CHANNEL.
 */
static void
ocdb_meta(struct ocdb *o, struct ocdb_agent *a, const struct ocdb_win *w)
{
	sqlite3_stmt *s = a->st_node;
	struct ocdb_keyinfo *k;
	struct box_meta bm;
	json_object *entry = NULL;
	char *text = NULL, *parent = NULL, *label = NULL, *via = NULL, *pkey = NULL;
	char *display = NULL, *chan = NULL, *root = NULL, *target = NULL;
	int64_t updated = -1;
	void **slot;
	int rc;

	sqlite3_bind_text(s, 1, w->key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		text = ocdb_col_set(s, 0);
		updated = sqlite3_column_int64(s, 1);
		parent = ocdb_col_set(s, 2);
		label = ocdb_col_set(s, 3);
		via = ocdb_col_set(s, 4);
		pkey = ocdb_col_set(s, 5);
		display = ocdb_col_set(s, 6);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto out;
	k = ocdb_map_get(&a->keys, w->key);
	if (k != NULL && k->node_updated == updated && k->sid != NULL &&
	    strcmp(k->sid, w->sid) == 0)
		goto out;
	if (text != NULL && (entry = json_tokener_parse(text)) != NULL &&
	    !json_object_is_type(entry, json_type_object)) {
		json_object_put(entry);
		entry = NULL;
	}
	if (parent == NULL && w->spawned_by != NULL && *w->spawned_by != '\0')
		parent = xstrdup(w->spawned_by);
	if (parent == NULL)
		parent = ocdb_jdup(entry, "spawnedBy");
	if (parent == NULL && via != NULL && strcmp(via, "spawn") == 0) {
		parent = pkey;
		pkey = NULL;
	}
	if (label == NULL)
		label = ocdb_jdup(entry, "label");
	if (label == NULL) {
		label = display;
		display = NULL;
	}
	if (label == NULL)
		label = ocdb_jdup(entry, "displayName");
	sessions_route(w->key, entry, NULL, &chan, &root, &target);
	ocdb_conversation(a, w->conv, &chan, &root, &target);
	/* A sub-agent shows in its parent's channel, not the default one. */
	if (*chan == '\0' && *target == '\0' && o->cfg.default_channel != NULL &&
	    (parent == NULL || *parent == '\0') && strstr(w->key, ":subagent:") == NULL) {
		free(chan);
		chan = xstrdup(o->cfg.default_channel);
	}
	memset(&bm, 0, sizeof(bm));
	bm.agent_id = a->id;
	bm.channel_id = chan;
	bm.root_id = root;
	bm.target = target;
	bm.label = label != NULL ? label : "";
	bm.parent_key = parent != NULL ? parent : "";
	o->sink.meta(o->sink.arg, w->key, &bm);

	slot = ocdb_map_slot(&a->keys, w->key, 1);
	if (*slot == NULL)
		*slot = xcalloc(1, sizeof(struct ocdb_keyinfo));
	k = *slot;
	k->node_updated = updated;
	ocdb_set(&k->sid, w->sid);
out:
	if (entry != NULL)
		json_object_put(entry);
	free(text);
	free(parent);
	free(label);
	free(via);
	free(pkey);
	free(display);
	free(chan);
	free(root);
	free(target);
}

/*
 * Runs whose session_nodes row says they started (see ocdb_probe) get their
 * box now, before their transcript's first event.  The first look only
 * remembers where the rows stand, except for a database that appeared while
 * the watcher ran, whose fresh rows count.
 */
static int
ocdb_node_starts(struct ocdb *o, struct ocdb_agent *a, int64_t now)
{
	sqlite3_stmt *s = a->st_starts;
	struct ocdb_keyinfo *k;
	struct ocdb_win w;
	int64_t updated, top;
	int rc;

	if (s == NULL)
		return 0;
	if (a->node_water == 0)
		a->node_water = util_now_ms() - (a->from_start ? OCDB_NODE_FRESH_MS : 0);
	top = a->node_water;
	sqlite3_bind_int64(s, 1, a->node_water - OCDB_SLACK_MS);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (sqlite3_column_type(s, 0) == SQLITE_NULL)
			continue;
		updated = sqlite3_column_int64(s, 2);
		if (updated > top)
			top = updated;
		memset(&w, 0, sizeof(w));
		w.key = (char *)sqlite3_column_text(s, 0);
		k = ocdb_map_get(&a->keys, w.key);
		if (k != NULL && k->start_updated == updated)
			continue;
		w.sid = (char *)sqlite3_column_text(s, 1);
		w.spawned_by = (char *)sqlite3_column_text(s, 3);
		w.conv = (char *)sqlite3_column_text(s, 4);
		if (w.sid == NULL)
			continue;
		ocdb_meta(o, a, &w);
		k = ocdb_map_get(&a->keys, w.key);
		if (k != NULL) {
			k->start_updated = updated;
			/* the window's first read tells the model again */
			k->node_updated = INT64_MIN;
		}
		if (o->sink.started != NULL)
			o->sink.started(o->sink.arg, a->id, w.key, 0, now);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return ocdb_read_failed(o, a, rc);
	a->node_water = top;
	return 0;
}

/* ---- one agent --------------------------------------------------------- */

/* First sight of a database that was there before: every window's cursor
 * goes to its end, so nothing old is shown. */
static int
ocdb_skip_to_end(struct ocdb *o, struct ocdb_agent *a)
{
	struct ocdb_win *w = NULL;
	struct ocdb_cur *c;
	size_t n = 0, i;
	int64_t maxseq;
	char *gen;
	int rc;

	if ((rc = sqlite3_exec(a->db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK)
		return ocdb_read_failed(o, a, rc);
	if (ocdb_changed(o, a, INT64_MIN, &w, &n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (w[i].archived)
			continue;
		if ((rc = ocdb_gen_max(a, w[i].sid, &gen, &maxseq)) != SQLITE_OK) {
			ocdb_wins_free(w, n);
			return ocdb_read_failed(o, a, rc);
		}
		c = ocdb_cur_get(a, w[i].sid, w[i].key, 1);
		free(c->gen);
		c->gen = gen;
		c->seq = maxseq;
		c->updated = w[i].updated;
		c->last_ms = w[i].updated;
		ocdb_cur_dirty(a, c);
		if (w[i].updated > a->high_water)
			a->high_water = w[i].updated;
	}
	ocdb_wins_free(w, n);
	if ((rc = sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
		return ocdb_read_failed(o, a, rc);
	return 0;
}

/* 1 when another connection committed since the last look, 0 when not,
 * -1 when the look failed (retried on its timer). */
static int
ocdb_data_changed(struct ocdb *o, struct ocdb_agent *a)
{
	int64_t v;
	int rc;

	rc = sqlite3_step(a->st_dv);
	v = rc == SQLITE_ROW ? sqlite3_column_int64(a->st_dv, 0) : 0;
	sqlite3_reset(a->st_dv);
	if (rc != SQLITE_ROW)
		return ocdb_read_failed(o, a, rc);
	if (a->have_dv && v == a->data_version)
		return 0;
	a->have_dv = 1;
	a->data_version = v;
	return 1;
}

static int64_t
ocdb_agent_run(struct ocdb *o, struct ocdb_agent *a, int64_t *budget, int64_t now)
{
	struct ocdb_win *w = NULL;
	struct ocdb_cur *c;
	size_t n = 0, i;
	int64_t fed = 0, top;
	int done = 1, failed = 0, rc;

	a->more = 0;
	if (!a->known) {
		if (!a->from_start && ocdb_skip_to_end(o, a) < 0)
			return 0;
		a->known = 1;
		a->dirty = 1;
	}
	if (ocdb_node_starts(o, a, now) < 0)
		return 0;
	if (ocdb_changed(o, a, a->high_water - OCDB_SLACK_MS, &w, &n) < 0)
		return 0;
	top = a->high_water;
	for (i = 0; i < n; i++) {
		c = ocdb_cur_get(a, w[i].sid, w[i].key, 0);
		if (w[i].archived) {
			if (c != NULL && !c->gone) {
				c->gone = 1;
				ocdb_cur_dirty(a, c);
			}
		} else if (c == NULL || c->gone || c->updated != w[i].updated) {
			if (*budget <= 0) {
				done = 0;
				break;
			}
			c = ocdb_cur_get(a, w[i].sid, w[i].key, 1);
			c->gone = 0;
			ocdb_set(&c->key, w[i].key);
			ocdb_meta(o, a, &w[i]);
			rc = ocdb_session(o, a, c, w[i].updated, budget, &fed, now);
			if (rc <= 0) {
				done = 0;
				failed = rc < 0;
				break;
			}
		}
		if (w[i].updated > top)
			top = w[i].updated;
	}
	ocdb_wins_free(w, n);
	/* A failed read is retried on its timer (ocdb_read_failed), not at once. */
	a->more = !done && !failed && a->state == AG_OK;
	if (done && top != a->high_water) {
		a->high_water = top;
		a->dirty = 1;
	}
	return fed;
}

/* ---- the public side --------------------------------------------------- */

int
ocdb_new(const struct ocdb_config *cfg, store *st, const struct ocdb_sink *sink, struct ocdb **out,
    char *err, size_t errlen)
{
	struct ocdb *o;
	size_t n;

	*out = NULL;
	if (cfg->root == NULL || *cfg->root == '\0') {
		snprintf(err, errlen, "no folder to follow");
		return -1;
	}
	o = xcalloc(1, sizeof(*o));
	o->cfg = *cfg;
	if (o->cfg.poll_interval_ms <= 0)
		o->cfg.poll_interval_ms = 1000;
	if (o->cfg.batch_rows <= 0)
		o->cfg.batch_rows = OCDB_BATCH_ROWS;
	if (o->cfg.run_rows <= 0)
		o->cfg.run_rows = OCDB_RUN_ROWS;
	if (o->cfg.busy_timeout_ms <= 0)
		o->cfg.busy_timeout_ms = OCDB_BUSY_TIMEOUT_MS;
	if (o->cfg.read_limit_ms <= 0)
		o->cfg.read_limit_ms = OCDB_READ_LIMIT_MS;
	o->root = xstrdup(cfg->root);
	n = strlen(o->root);
	while (n > 1 && o->root[n - 1] == '/')
		o->root[--n] = '\0';
	o->cfg.root = o->root;
	o->st = st;
	o->sink = *sink;
	o->parser = tx_parser_new();
	o->dctx = ZSTD_createDCtx();
	o->ifd = -1;
	if (!cfg->no_inotify) {
		o->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (o->ifd < 0)
			log_warn("inotify unavailable, checking openclaw databases on a timer",
			    "err", strerror(errno));
	}
	o->poll_only = o->ifd < 0;
	o->rescan = 1;
	*out = o;
	return 0;
}

static void
ocdb_agent_free(struct ocdb_agent *a)
{
	size_t i;

	ocdb_close_db(a);
	for (i = 0; i < a->curs.cap; i++) {
		if (a->curs.keys[i] == NULL)
			continue;
		free(a->curs.keys[i]);
		ocdb_cur_free(a->curs.vals[i]);
	}
	for (i = 0; i < a->keys.cap; i++) {
		struct ocdb_keyinfo *k = a->keys.vals[i];

		if (a->keys.keys[i] == NULL)
			continue;
		free(a->keys.keys[i]);
		free(k->sid);
		free(k);
	}
	free(a->curs.keys);
	free(a->curs.vals);
	free(a->keys.keys);
	free(a->keys.vals);
	free(a->dirty_list);
	free(a->id);
	free(a->dir);
	free(a->path);
	free(a->store_path);
	free(a->app_version);
	free(a->refused_logged);
	free(a);
}

void
ocdb_free(struct ocdb *o)
{
	size_t i;

	if (o == NULL)
		return;
	for (i = 0; i < o->nagent; i++)
		ocdb_agent_free(o->agents[i]);
	for (i = 0; i < o->nwatch; i++)
		free(o->watches[i].path);
	for (i = 0; i < o->nfile * 2; i++)
		free(o->file_agents[i]);
	free(o->file_agents);
	free(o->agents);
	free(o->watches);
	for (i = 0; i < o->refused.cap; i++)
		free(o->refused.keys[i]);
	free(o->refused.keys);
	free(o->refused.vals);
	if (o->ifd >= 0)
		close(o->ifd);
	tx_parser_free(o->parser);
	ZSTD_freeDCtx(o->dctx);
	free(o->root);
	free(o);
}

int
ocdb_fd(const struct ocdb *o)
{
	return o->ifd;
}

/* Keeps in *best (-1: none yet) the nearer of it and a timer due at `at`. */
static void
ocdb_nearer(int64_t *best, int64_t at, int64_t mono)
{
	int64_t d = at > mono ? at - mono : 0;

	if (*best < 0 || d < *best)
		*best = d;
}

int64_t
ocdb_timeout(const struct ocdb *o)
{
	int64_t mono = util_mono_ms(), best = -1;
	int open = 0;
	size_t i;

	if (o->rescan || !o->initial_done)
		return 0;
	for (i = 0; i < o->nagent; i++) {
		const struct ocdb_agent *a = o->agents[i];

		if (a->more || (a->pending && a->db != NULL))
			return 0;
		open += a->db != NULL;
		if (a->recheck_at > 0)
			ocdb_nearer(&best, a->recheck_at, mono);
		if (a->state == AG_ERROR || a->state == AG_CLOSED)
			ocdb_nearer(&best, a->retry_at, mono);
	}
	/* Timed checks: of open databases (safety, or polling), and of the
	 * folders when polling; with inotify and nothing open, none. */
	if (open > 0 || o->poll_only)
		ocdb_nearer(&best, o->next_check, mono);
	if (o->poll_only)
		ocdb_nearer(&best, o->next_rescan, mono);
	return best;
}

int64_t
ocdb_run(struct ocdb *o, int64_t now)
{
	int64_t mono = util_mono_ms(), fed = 0, budget = o->cfg.run_rows;
	struct ocdb_agent *a;
	int check_all = 0, recheck, changed;
	size_t i;

	ocdb_drain(o);
	if (o->rescan || (o->poll_only && mono >= o->next_rescan)) {
		o->rescan = 0;
		ocdb_discover(o);
		o->next_rescan = mono +
		    (o->cfg.poll_interval_ms > OCDB_RESCAN_MS ? o->cfg.poll_interval_ms
		                                              : OCDB_RESCAN_MS);
	}
	if (mono >= o->next_check) {
		check_all = 1;
		o->next_check = mono + (o->poll_only ? o->cfg.poll_interval_ms : OCDB_SAFETY_MS);
	}
	for (i = 0; i < o->nagent; i++) {
		a = o->agents[i];
		if (a->state == AG_MISSING)
			continue;
		if ((a->state == AG_CLOSED || a->state == AG_ERROR) && mono >= a->retry_at) {
			ocdb_open_db(o, a);
			if (a->state == AG_OK)
				a->pending = 1;
		}
		if (a->db == NULL)
			continue;
		recheck = a->recheck_at > 0 && mono >= a->recheck_at;
		if (!(a->pending || a->more || check_all || recheck))
			continue;
		if (budget <= 0)
			break;
		a->pending = 0;
		if (recheck)
			a->recheck_at = 0;
		/* this agent's reads of this run: the busy wait, then the limit */
		a->read_until = util_mono_ms() + o->cfg.busy_timeout_ms + a->read_limit_ms;
		if ((changed = ocdb_data_changed(o, a)) < 0)
			continue;
		if (!changed && !a->more) {
			if (a->rechecks > 0) {
				a->rechecks--;
				a->recheck_at = util_mono_ms() + OCDB_RECHECK_MS;
			}
			continue;
		}
		if (changed && a->state == AG_REFUSED) {
			/* The gateway may have upgraded the file: look again. */
			if (ocdb_probe(a) < 0) {
				if (a->state == AG_REFUSED)
					ocdb_log_refused(a);
				else
					ocdb_read_failed(o, a, SQLITE_ERROR);
				continue;
			}
			if (!a->loaded && ocdb_load(o, a) < 0) {
				ocdb_read_failed(o, a, SQLITE_ERROR);
				continue;
			}
			ocdb_set(&a->refused_logged, NULL);
			log_info("following openclaw database", "path", a->path, "agent", a->id,
			    "version", LOG_I64(a->version));
			a->have_dv = 0;
			(void)ocdb_data_changed(o, a);
		}
		if (a->state != AG_OK)
			continue;
		fed += ocdb_agent_run(o, a, &budget, now);
	}
	o->initial_done = 1;
	return fed;
}

int
ocdb_dirty(const struct ocdb *o)
{
	size_t i;

	for (i = 0; i < o->nagent; i++)
		if (o->agents[i]->known && (o->agents[i]->dirty || o->agents[i]->ndirty > 0))
			return 1;
	return 0;
}

int
ocdb_save(struct ocdb *o, int64_t now)
{
	struct store_ocdb_agent row;
	struct store_ocdb_cursor cr;
	struct ocdb_cur *c;
	size_t i, j;
	int rc;

	for (i = 0; i < o->nagent; i++) {
		struct ocdb_agent *a = o->agents[i];

		if (!a->dirty && a->ndirty == 0)
			continue;
		if (!a->known)
			continue;
		row.db_path = a->store_path;
		row.agent_id = a->id;
		row.high_water = a->high_water;
		row.schema_version = a->version;
		if ((rc = store_ocdb_agent_put(o->st, &row, now)) != STORE_OK)
			return rc;
		for (j = 0; j < a->ndirty; j++) {
			c = a->dirty_list[j];
			if (c->gone) {
				rc = store_ocdb_cursor_delete(o->st, a->store_path, c->sid);
			} else {
				cr.session_id = c->sid;
				cr.session_key = c->key;
				cr.generation = c->gen != NULL ? c->gen : (char *)"";
				cr.seq = c->seq;
				cr.updated_at = c->updated;
				cr.last_event_id = c->last_id;
				cr.last_event_ms = c->last_ms;
				rc = store_ocdb_cursor_put(o->st, a->store_path, &cr, now);
			}
			if (rc != STORE_OK)
				return rc;
		}
	}
	return STORE_OK;
}

void
ocdb_saved(struct ocdb *o)
{
	size_t i, j;

	for (i = 0; i < o->nagent; i++) {
		struct ocdb_agent *a = o->agents[i];

		if (!a->known)
			continue;
		for (j = 0; j < a->ndirty; j++)
			a->dirty_list[j]->dirty = 0;
		a->ndirty = 0;
		a->dirty = 0;
	}
}

void
ocdb_stats(const struct ocdb *o, struct ocdb_stats *out)
{
	size_t i;

	*out = o->stats;
	out->agents = out->refused = 0;
	for (i = 0; i < o->nagent; i++) {
		if (o->agents[i]->state == AG_OK)
			out->agents++;
		else if (o->agents[i]->state == AG_REFUSED)
			out->refused++;
	}
}

json_object *
ocdb_agents_json(const struct ocdb *o)
{
	json_object *arr = json_object_new_array(), *j;
	size_t i;

	for (i = 0; i < o->nagent; i++) {
		const struct ocdb_agent *a = o->agents[i];

		j = json_object_new_object();
		json_object_object_add(j, "agent", json_object_new_string(a->id));
		json_object_object_add(j, "layout", json_object_new_string("sqlite"));
		json_object_object_add(j, "path", json_object_new_string(a->path));
		json_object_object_add(
		    j, "schema_version", a->version > 0 ? json_object_new_int(a->version) : NULL);
		json_object_object_add(j, "app_version",
		    a->app_version != NULL ? json_object_new_string(a->app_version) : NULL);
		json_object_object_add(
		    j, "state", json_object_new_string(ocdb_state_names[a->state]));
		if (a->why[0] != '\0' && a->state != AG_OK)
			json_object_object_add(j, "error", json_object_new_string(a->why));
		json_object_object_add(j, "sessions", json_object_new_int64((int64_t)a->curs.n));
		json_object_object_add(j, "events_read", json_object_new_int64(a->events_read));
		json_object_object_add(j, "rows_bad", json_object_new_int64(a->rows_bad));
		json_object_array_add(arr, j);
	}
	for (i = 0; i < o->nfile; i++) {
		j = json_object_new_object();
		json_object_object_add(j, "agent", json_object_new_string(o->file_agents[i * 2]));
		json_object_object_add(j, "layout", json_object_new_string("files"));
		json_object_object_add(
		    j, "path", json_object_new_string(o->file_agents[i * 2 + 1]));
		json_object_array_add(arr, j);
	}
	return arr;
}
