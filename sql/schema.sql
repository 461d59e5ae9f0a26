-- livestatus store schema.
--
-- Each "-- migration N" block below upgrades a database from user_version
-- N-1 to N.  The store applies, on open and in one BEGIN IMMEDIATE
-- transaction, every block whose number is above the database's
-- PRAGMA user_version, then sets user_version to the last one.  Blocks are
-- never edited once released; a change is a new block.
--
-- Times are milliseconds since the epoch.  Inspect with the sqlite3 CLI:
--   sqlite3 -readonly /var/lib/livestatus/livestatus.db 'SELECT * FROM active_boxes'

-- migration 1

-- One row: the store-wide revision, bumped by every change to a box.
CREATE TABLE store_meta (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	revision    INTEGER NOT NULL DEFAULT 0,
	created_ms  INTEGER NOT NULL
);
INSERT INTO store_meta (id, revision, created_ms)
VALUES (1, 0, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));

-- Status boxes: one run of one OpenClaw session.  lines is a JSON array of
-- strings, oldest first.  Children point at their parent and go with it.
CREATE TABLE boxes (
	id              TEXT PRIMARY KEY,
	session_key     TEXT NOT NULL,
	agent_id        TEXT NOT NULL DEFAULT '',
	channel_id      TEXT NOT NULL DEFAULT '',
	root_id         TEXT NOT NULL DEFAULT '',
	post_id         TEXT NOT NULL DEFAULT '',
	parent_id       TEXT REFERENCES boxes (id) ON DELETE CASCADE,
	label           TEXT NOT NULL DEFAULT '',
	bot_user_id     TEXT NOT NULL DEFAULT '',
	status          TEXT NOT NULL DEFAULT 'active'
	                CHECK (status IN ('active', 'done', 'error', 'interrupted')),
	lines           TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(lines)),
	start_time_ms   INTEGER NOT NULL,
	end_time_ms     INTEGER,
	last_update_ms  INTEGER NOT NULL,
	token_count     INTEGER NOT NULL DEFAULT 0,
	model           TEXT NOT NULL DEFAULT '',
	revision        INTEGER NOT NULL,
	source          TEXT NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'watcher'))
);
CREATE INDEX boxes_by_parent ON boxes (parent_id);
CREATE INDEX boxes_by_status ON boxes (status, last_update_ms);
CREATE INDEX boxes_by_channel ON boxes (channel_id);
CREATE INDEX boxes_by_session ON boxes (session_key);

-- The watcher's place in each transcript file it follows.
CREATE TABLE watcher_files (
	path         TEXT PRIMARY KEY,
	inode        INTEGER NOT NULL,
	offset       INTEGER NOT NULL,
	session_key  TEXT NOT NULL DEFAULT '',
	agent_id     TEXT NOT NULL DEFAULT '',
	updated_ms   INTEGER NOT NULL
);

-- The watcher's state per OpenClaw session key: its current box and the
-- parser's own state (a JSON object it alone reads).  target is where a
-- session without a channel id talks ("user:<id>": the Mattermost side opens
-- the direct-message channel), "" otherwise.
CREATE TABLE watcher_sessions (
	session_key  TEXT PRIMARY KEY,
	box_id       TEXT,
	state        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(state)),
	target       TEXT NOT NULL DEFAULT '',
	updated_ms   INTEGER NOT NULL
);
CREATE INDEX watcher_sessions_by_box ON watcher_sessions (box_id);

-- The watcher's place in each OpenClaw 2026.8+ agent database it follows
-- (agents/<id>/agent/openclaw-agent.sqlite, read-only).  high_water is the
-- highest session_windows.transcript_updated_at read; a database with a row
-- here is known, so its new sessions are read from their first event.
CREATE TABLE watcher_ocdb_agents (
	db_path         TEXT PRIMARY KEY,
	agent_id        TEXT NOT NULL,
	high_water      INTEGER NOT NULL,
	schema_version  INTEGER NOT NULL,
	updated_ms      INTEGER NOT NULL
);

-- Per session window of such a database: the cursor (generation, seq) of
-- the last event given to the status model, with that event's id and time
-- (a rewrite is re-read from seq 0 and skips what was already shown).
CREATE TABLE watcher_ocdb_cursors (
	db_path          TEXT NOT NULL
	                 REFERENCES watcher_ocdb_agents (db_path) ON DELETE CASCADE,
	session_id       TEXT NOT NULL,
	session_key      TEXT NOT NULL,
	generation       TEXT NOT NULL DEFAULT '',
	seq              INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL,
	last_event_id    TEXT NOT NULL DEFAULT '',
	last_event_ms    INTEGER NOT NULL DEFAULT 0,
	updated_ms       INTEGER NOT NULL,
	PRIMARY KEY (db_path, session_id)
);

CREATE VIEW openclaw_db_cursors AS
SELECT a.agent_id, c.session_key, c.session_id, c.generation, c.seq,
       datetime(c.updated_ms / 1000, 'unixepoch') AS updated, a.schema_version, a.db_path
FROM watcher_ocdb_cursors AS c JOIN watcher_ocdb_agents AS a USING (db_path)
ORDER BY c.updated_ms DESC;

-- One row, written by the running watcher every heartbeat interval.
-- stats is a JSON object of its counters (lines_read, parse_errors, ...).
CREATE TABLE watcher_heartbeat (
	id                 INTEGER PRIMARY KEY CHECK (id = 1),
	pid                INTEGER NOT NULL,
	started_ms         INTEGER NOT NULL,
	last_heartbeat_ms  INTEGER NOT NULL,
	interval_ms        INTEGER NOT NULL,
	breaker            TEXT CHECK (breaker IN ('closed', 'open', 'half_open')),
	stats              TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(stats))
);

-- Views for operators.
CREATE VIEW active_boxes AS
SELECT id, agent_id, label, channel_id, post_id, parent_id,
       json_array_length(lines) AS line_count, token_count, model,
       (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) - start_time_ms) / 1000
           AS elapsed_s,
       session_key
FROM boxes WHERE status = 'active' ORDER BY start_time_ms;

CREATE VIEW box_lines AS
SELECT b.id AS box_id, b.status, CAST(j.key AS INTEGER) + 1 AS n, j.value AS text
FROM boxes AS b, json_each(b.lines) AS j
ORDER BY b.start_time_ms, b.id, n;

CREATE VIEW box_posts AS
SELECT id AS box_id, status, channel_id, root_id, post_id FROM boxes
WHERE parent_id IS NULL ORDER BY start_time_ms;

CREATE VIEW transcript_offsets AS
SELECT path, offset, inode, session_key, agent_id,
       datetime(updated_ms / 1000, 'unixepoch') AS updated
FROM watcher_files ORDER BY updated_ms DESC;

CREATE VIEW watcher_health AS
SELECT pid, datetime(started_ms / 1000, 'unixepoch') AS started,
       (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) - last_heartbeat_ms) / 1000
           AS seconds_since_heartbeat,
       interval_ms / 1000 AS interval_s, breaker, stats
FROM watcher_heartbeat;

-- The Mattermost poster (mm/mm_poster.c): one row per top-level box it
-- has decided about.  The row, with a fresh pending_post_id, is committed
-- before the create request goes out, so a restart (even after kill -9)
-- re-sends the same pending_post_id, which Mattermost answers with the post
-- it already made, instead of making a second one.  posted_revision is the
-- highest revision of the box and its children that Mattermost shows;
-- posted_text the message it shows.  state: creating (intent recorded, no
-- post id yet), posted, local (no channel: kept local), gone (the post was
-- deleted on the server), failed (refused by the server; retried on the
-- next change).  unsure_ms is when a create was sent without an answer.
CREATE TABLE mm_posts (
	box_id           TEXT PRIMARY KEY REFERENCES boxes (id) ON DELETE CASCADE,
	channel_id       TEXT NOT NULL DEFAULT '',
	root_id          TEXT NOT NULL DEFAULT '',
	mode             TEXT NOT NULL CHECK (mode IN ('plugin', 'rest', 'local')),
	state            TEXT NOT NULL
	                 CHECK (state IN ('creating', 'posted', 'local', 'gone', 'failed')),
	pending_post_id  TEXT NOT NULL DEFAULT '',
	post_id          TEXT NOT NULL DEFAULT '',
	intent_ms        INTEGER NOT NULL,
	unsure_ms        INTEGER NOT NULL DEFAULT 0,
	posted_revision  INTEGER NOT NULL DEFAULT 0,
	posted_text      TEXT NOT NULL DEFAULT '',
	final_sent       INTEGER NOT NULL DEFAULT 0,
	updated_ms       INTEGER NOT NULL
);

-- Direct-message channels between the bot and a user (user:<id> targets).
CREATE TABLE mm_direct_channels (
	user_id      TEXT PRIMARY KEY,
	channel_id   TEXT NOT NULL,
	updated_ms   INTEGER NOT NULL
);

CREATE VIEW mattermost_posts AS
SELECT p.box_id, b.status, p.mode, p.state, p.channel_id, p.root_id, p.post_id,
       b.revision AS box_revision, p.posted_revision,
       length(p.posted_text) AS posted_chars,
       datetime(p.updated_ms / 1000, 'unixepoch') AS updated
FROM mm_posts AS p JOIN boxes AS b ON b.id = p.box_id
ORDER BY b.start_time_ms;

-- migration 2

-- Gateways on other hosts (docs/deployments.md).  A watcher on an OpenClaw
-- host ("gateway") keeps its own store and forwards every box change to a
-- central status API; the central keeps a copy of each box.
--
-- gateway is the name of the watcher that made the box (GATEWAY_NAME, by
-- default its host name), or '' for a box written by hand through the API.
-- gateway_revision is, on the central, the gateway's own revision of the box
-- (the gateway store's revision at the box's last change): a forwarded write
-- is kept only when its revision is higher, so a repeat or an older state
-- never replaces a newer one.  0 on boxes that were never forwarded.
ALTER TABLE boxes ADD COLUMN gateway TEXT NOT NULL DEFAULT '';
ALTER TABLE boxes ADD COLUMN gateway_revision INTEGER NOT NULL DEFAULT 0;
CREATE INDEX boxes_by_revision ON boxes (revision);

-- The store's identity, made once at creation.  A gateway remembers the id
-- of the central it forwarded to; another id means the central's store was
-- lost and made anew, and the gateway sends every box again.
ALTER TABLE store_meta ADD COLUMN store_id TEXT NOT NULL DEFAULT '';
UPDATE store_meta SET store_id = lower(hex(randomblob(16))) WHERE id = 1;

-- Central side: each gateway that has forwarded here, for health.  lag_ms
-- and queue are what the gateway reported with its last batch (the age of
-- its oldest change not yet acknowledged, and how many boxes wait).
CREATE TABLE gateways (
	name             TEXT PRIMARY KEY,
	first_seen_ms    INTEGER NOT NULL,
	last_contact_ms  INTEGER NOT NULL,
	lag_ms           INTEGER NOT NULL DEFAULT 0,
	queue            INTEGER NOT NULL DEFAULT 0,
	boxes_received   INTEGER NOT NULL DEFAULT 0,
	rejected         INTEGER NOT NULL DEFAULT 0,
	version          TEXT NOT NULL DEFAULT ''
);

-- Gateway side: the forwarding outbox.  Boxes are the outbox itself; this
-- one row is the cursor: every box change with a store revision up to
-- acked_revision has been acknowledged by the central at url, whose store
-- id was central_store_id.
CREATE TABLE forward_state (
	id                INTEGER PRIMARY KEY CHECK (id = 1),
	url               TEXT NOT NULL DEFAULT '',
	central_store_id  TEXT NOT NULL DEFAULT '',
	acked_revision    INTEGER NOT NULL DEFAULT 0,
	acked_ms          INTEGER NOT NULL DEFAULT 0
);
INSERT INTO forward_state (id) VALUES (1);

-- Gateway side: box changes the central refused (a 4xx other than 429),
-- set aside with the reason instead of being retried for ever.
CREATE TABLE forward_rejects (
	box_id    TEXT NOT NULL,
	revision  INTEGER NOT NULL,
	status    INTEGER NOT NULL,
	reason    TEXT NOT NULL DEFAULT '',
	at_ms     INTEGER NOT NULL,
	PRIMARY KEY (box_id, revision)
);

-- Operator view (central): boxes per gateway and how recent each gateway is.
CREATE VIEW gateway_status AS
SELECT g.name, datetime(g.last_contact_ms / 1000, 'unixepoch') AS last_contact,
       g.lag_ms, g.queue, g.boxes_received, g.rejected,
       (SELECT count(*) FROM boxes AS b WHERE b.gateway = g.name) AS boxes,
       (SELECT count(*) FROM boxes AS b WHERE b.gateway = g.name AND b.status = 'active')
           AS active
FROM gateways AS g ORDER BY g.name;

-- migration 3

-- The watcher's last moment alive: written with every heartbeat and at a
-- clean stop (when the heartbeat row itself is removed).  At the next start,
-- a transcript or agent-database session the store does not know is read
-- from its beginning only when its first event is not older than this (it
-- may have begun while the watcher was down); older ones (a folder restored
-- from a backup, copied from another host) are not news and are read from
-- their end.
CREATE TABLE watcher_clock (
	id             INTEGER PRIMARY KEY CHECK (id = 1),
	last_alive_ms  INTEGER NOT NULL
);

-- migration 4

-- What the responder's snapshot of the boxes reads after each write
-- (fcgi/api_cache.h): the boxes changed since its last full read
-- (boxes_by_revision), and the boxes deleted since, which leave no row to
-- find by revision.  store_meta.deletes counts every deletion ever;
-- boxes_gone keeps the newest 65,536 of them (revision: the store's
-- revision when it was deleted), so a reader that finds fewer rows than the
-- count moved reads the whole store again.
ALTER TABLE store_meta ADD COLUMN deletes INTEGER NOT NULL DEFAULT 0;
CREATE TABLE boxes_gone (
	revision   INTEGER NOT NULL,
	id         TEXT NOT NULL,
	parent_id  TEXT
);
CREATE INDEX boxes_gone_by_revision ON boxes_gone (revision);
CREATE INDEX boxes_gone_children ON boxes_gone (revision) WHERE parent_id IS NOT NULL;
CREATE TRIGGER boxes_count_deletes AFTER DELETE ON boxes
BEGIN
	UPDATE store_meta SET deletes = deletes + 1 WHERE id = 1;
	INSERT INTO boxes_gone (revision, id, parent_id)
	VALUES ((SELECT revision FROM store_meta WHERE id = 1), old.id, old.parent_id);
	DELETE FROM boxes_gone WHERE rowid <= last_insert_rowid() - 65536;
END;

-- The responder's cleanup (retention) finds the finished top-level boxes
-- past DELETE_AFTER_S through this index, a batch at a time, instead of
-- scanning every box it keeps.
CREATE INDEX boxes_to_delete ON boxes (coalesce(end_time_ms, last_update_ms))
WHERE parent_id IS NULL AND status <> 'active';
