#!/usr/bin/env python3
"""ocwriter: a test-only stand-in for the OpenClaw 2026.8+ gateway's session store.

It builds `agents/<agentId>/agent/openclaw-agent.sqlite` with the tables and
columns of docs/openclaw-formats.md (the schema 23 shape by
default; 20-22 lack the zstd columns, 24 adds session_entry_snapshots), in
WAL mode with STRICT tables, and changes it the way the gateway does: every
change is one BEGIN IMMEDIATE transaction, events of 1 KiB or more are
stored as one zstd frame (level 1, checksum on) with event_json NULL, and
session_windows.transcript_updated_at strictly increases on every change.

Use it as a module (class AgentDB) or from the shell:

  ocwriter.py create DB [--agent main] [--version 23] [--journal wal|delete]
  ocwriter.py session DB KEY SESSION_ID [--entry JSON] [--spawned-by KEY] [--label L]
  ocwriter.py append DB SESSION_ID [JSON ...]        (stdin lines when none given)
  ocwriter.py play DB SESSIONS_DIR [--pause-ms N]    (a fixture's sessions.json + .jsonl)
  ocwriter.py rewrite DB SESSION_ID                  (new generation, renumbered seq)
  ocwriter.py rollover DB KEY NEW_SESSION_ID
  ocwriter.py cold-archive DB SESSION_ID
  ocwriter.py corrupt DB SESSION_ID
  ocwriter.py user-version DB N
  ocwriter.py hold DB SECONDS                        (a write transaction held open)

zstd comes from libzstd through ctypes (the library the watcher links), or
the `zstd` command when the library cannot be loaded.
"""

import argparse
import ctypes
import ctypes.util
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid

COMPRESS_MIN = 1024
MAX_EVENT_BYTES = 4 << 20


class Zstd:
    """One-shot zstd compression, level 1, with the content checksum."""

    C_LEVEL = 100  # ZSTD_c_compressionLevel
    C_CHECKSUM = 201  # ZSTD_c_checksumFlag

    def __init__(self):
        self.lib = None
        name = ctypes.util.find_library("zstd") or "libzstd.so.1"
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            return
        lib.ZSTD_createCCtx.restype = ctypes.c_void_p
        lib.ZSTD_CCtx_setParameter.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        lib.ZSTD_CCtx_setParameter.restype = ctypes.c_size_t
        lib.ZSTD_compress2.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                       ctypes.c_char_p, ctypes.c_size_t]
        lib.ZSTD_compress2.restype = ctypes.c_size_t
        lib.ZSTD_compressBound.argtypes = [ctypes.c_size_t]
        lib.ZSTD_compressBound.restype = ctypes.c_size_t
        lib.ZSTD_isError.argtypes = [ctypes.c_size_t]
        lib.ZSTD_isError.restype = ctypes.c_uint
        self.cctx = lib.ZSTD_createCCtx()
        lib.ZSTD_CCtx_setParameter(self.cctx, self.C_LEVEL, 1)
        lib.ZSTD_CCtx_setParameter(self.cctx, self.C_CHECKSUM, 1)
        self.lib = lib

    def compress(self, data):
        if self.lib is None:
            return subprocess.run(["zstd", "-1", "--check", "-q", "-c"], input=data,
                                  stdout=subprocess.PIPE, check=True).stdout
        cap = self.lib.ZSTD_compressBound(len(data))
        buf = ctypes.create_string_buffer(cap)
        n = self.lib.ZSTD_compress2(self.cctx, buf, cap, data, len(data))
        if self.lib.ZSTD_isError(n):
            raise RuntimeError("zstd compression failed")
        return buf.raw[:n]


def schema_sql(version):
    """The tables a follower reads, in the shape of schema `version`."""
    zstd_cols = ""
    if version >= 23:
        zstd_cols = "event_zstd BLOB, event_utf8_bytes INTEGER,"
    sql = f"""
CREATE TABLE schema_meta (
  meta_key TEXT PRIMARY KEY, role TEXT NOT NULL, schema_version INTEGER NOT NULL,
  agent_id TEXT, app_version TEXT, updated_at INTEGER NOT NULL) STRICT;
CREATE TABLE session_nodes (
  session_key TEXT PRIMARY KEY, current_session_id TEXT, entry_json TEXT NOT NULL DEFAULT '{{}}',
  updated_at INTEGER NOT NULL, status TEXT, created_via TEXT, parent_session_key TEXT,
  spawned_by TEXT, label TEXT, display_name TEXT) STRICT;
CREATE INDEX session_nodes_spawned_by ON session_nodes (spawned_by);
CREATE TABLE conversations (
  conversation_id TEXT PRIMARY KEY, channel TEXT NOT NULL, kind TEXT NOT NULL, peer_id TEXT,
  thread_id TEXT, native_channel_id TEXT, account_id TEXT, created_at INTEGER NOT NULL) STRICT;
CREATE TABLE session_windows (
  session_id TEXT PRIMARY KEY, session_key TEXT NOT NULL, previous_session_id TEXT,
  reason TEXT NOT NULL, transcript_updated_at INTEGER NOT NULL DEFAULT 0, chat_type TEXT,
  channel TEXT, account_id TEXT, primary_conversation_id TEXT, model TEXT,
  parent_session_key TEXT, spawned_by TEXT, started_at INTEGER NOT NULL, ended_at INTEGER,
  status TEXT) STRICT;
CREATE INDEX session_windows_by_key ON session_windows (session_key);
CREATE INDEX session_windows_by_update ON session_windows (transcript_updated_at);
CREATE TABLE transcript_events (
  session_id TEXT NOT NULL, seq INTEGER NOT NULL, event_json TEXT, {zstd_cols}
  created_at INTEGER NOT NULL, PRIMARY KEY (session_id, seq)) STRICT;
CREATE TABLE transcript_rewrite_watermarks (
  session_id TEXT PRIMARY KEY, generation TEXT NOT NULL, updated_at INTEGER NOT NULL) STRICT;
CREATE TABLE session_transcript_cold_archives (
  session_id TEXT PRIMARY KEY, archive_name TEXT NOT NULL, event_count INTEGER NOT NULL,
  archived_at INTEGER NOT NULL) STRICT;
"""
    if version >= 24:
        sql += """
CREATE TABLE session_entry_snapshots (
  session_key TEXT NOT NULL, field TEXT NOT NULL, value_json TEXT NOT NULL,
  PRIMARY KEY (session_key, field)) STRICT;
"""
    return sql


def now_ms():
    return int(time.time() * 1000)


class AgentDB:
    """One agent's openclaw-agent.sqlite, written as the gateway would."""

    def __init__(self, path, agent_id="main", version=23, compress_min=COMPRESS_MIN,
                 journal="wal"):
        self.path = path
        self.agent_id = agent_id
        self.version = version
        self.compress_min = compress_min
        self.journal = journal
        self.zstd = Zstd()
        self.db = None

    # -- connection ----------------------------------------------------

    def connect(self):
        if self.db is None:
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=10,
                                      check_same_thread=False)
            self.db.execute(f"PRAGMA journal_mode={self.journal}")
            self.db.execute("PRAGMA synchronous=NORMAL")
            row = self.db.execute("PRAGMA user_version").fetchone()
            if row[0]:
                self.version = row[0]
        return self.db

    def close(self):
        if self.db is not None:
            self.db.close()
            self.db = None

    def tx(self, fn, *args):
        """Runs fn(db, *args) in one BEGIN IMMEDIATE transaction."""
        db = self.connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            out = fn(db, *args)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return out

    # -- building ------------------------------------------------------

    def create(self, app_version="2026.9.6"):
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        db = self.connect()
        os.chmod(self.path, 0o600)

        # executescript commits whatever is pending first: the whole build
        # is its own BEGIN IMMEDIATE script.
        db.executescript(
            "BEGIN IMMEDIATE;" + schema_sql(self.version) +
            f"PRAGMA user_version={int(self.version)}; COMMIT;")
        self.tx(lambda db: db.execute(
            "INSERT INTO schema_meta VALUES ('primary', 'agent', ?, ?, ?, ?)",
            (self.version, self.agent_id, app_version, now_ms())))
        return self

    def has_column(self, table, column):
        cols = self.connect().execute(f"PRAGMA table_info({table})").fetchall()
        return any(c[1] == column for c in cols)

    @staticmethod
    def _next_time(db):
        prev = db.execute("SELECT coalesce(max(transcript_updated_at), 0)"
                          " FROM session_windows").fetchone()[0]
        return max(now_ms(), prev + 1)

    @staticmethod
    def _bump(db, session_id):
        """A transcript change: transcript_updated_at becomes now, but always
        above every value in the file, so it strictly increases."""
        t = AgentDB._next_time(db)
        db.execute("UPDATE session_windows SET transcript_updated_at=? WHERE session_id=?",
                   (t, session_id))
        return t

    def add_session(self, key, session_id=None, entry=None, spawned_by=None, label=None,
                    reason="initial", previous=None, model=None, conversation=None,
                    chat_type=None, channel=None):
        """A session key with its first window; conversation is a dict of
        the conversations row to link as the window's primary conversation."""
        session_id = session_id or str(uuid.uuid4())
        entry = dict(entry or {})
        entry.setdefault("sessionId", session_id)
        entry.setdefault("updatedAt", now_ms())
        if spawned_by:
            entry.setdefault("spawnedBy", spawned_by)
        if label:
            entry.setdefault("label", label)
        spawned_by = spawned_by or entry.get("spawnedBy")
        label = label or entry.get("label")

        def run(db):
            t = self._next_time(db)
            conv_id = None
            if conversation:
                conv_id = conversation.get("conversation_id") or str(uuid.uuid4())
                db.execute("INSERT OR REPLACE INTO conversations VALUES (?,?,?,?,?,?,?,?)",
                           (conv_id, conversation.get("channel", "mattermost"),
                            conversation.get("kind", "channel"), conversation.get("peer_id"),
                            conversation.get("thread_id"),
                            conversation.get("native_channel_id"),
                            conversation.get("account_id", "default"), t))
            db.execute(
                "INSERT INTO session_nodes (session_key, current_session_id, entry_json,"
                " updated_at, created_via, parent_session_key, spawned_by, label, display_name)"
                " VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (session_key) DO UPDATE SET"
                " current_session_id=excluded.current_session_id,"
                " entry_json=excluded.entry_json, updated_at=excluded.updated_at",
                (key, session_id, json.dumps(entry), t, "spawn" if spawned_by else "message",
                 spawned_by, spawned_by, label, entry.get("displayName")))
            db.execute(
                "INSERT INTO session_windows (session_id, session_key, previous_session_id,"
                " reason, transcript_updated_at, chat_type, channel, account_id,"
                " primary_conversation_id, model, parent_session_key, spawned_by, started_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (session_id, key, previous, reason, t, chat_type or entry.get("chatType"),
                 channel or entry.get("channel"), "default", conv_id,
                 model or entry.get("model"), spawned_by, spawned_by, t))
        self.tx(run)
        return session_id

    def add_node(self, key, session_id, status=None, created_via="run"):
        """Only the session_nodes row, as the gateway writes it when a run is
        being prepared: no window with a transcript yet."""
        def run(db):
            db.execute(
                "INSERT INTO session_nodes (session_key, current_session_id, entry_json,"
                " updated_at, status, created_via) VALUES (?,?,?,?,?,?)",
                (key, session_id, json.dumps({"sessionId": session_id}), now_ms(), status,
                 created_via))
        self.tx(run)

    def set_entry(self, key, entry):
        def run(db):
            db.execute("UPDATE session_nodes SET entry_json=?, updated_at=? WHERE session_key=?",
                       (json.dumps(entry), now_ms(), key))
        self.tx(run)

    def _row(self, event):
        text = event if isinstance(event, str) else json.dumps(event, separators=(",", ":"))
        raw = text.encode()
        if len(raw) > MAX_EVENT_BYTES:
            raise ValueError("event larger than 4 MiB")
        if len(raw) >= self.compress_min and self.version >= 23:
            return None, self.zstd.compress(raw), len(raw)
        return text, None, len(raw)

    def _insert(self, db, session_id, seq, row):
        text, blob, n = row
        if self.version >= 23:
            db.execute("INSERT INTO transcript_events (session_id, seq, event_json, event_zstd,"
                       " event_utf8_bytes, created_at) VALUES (?,?,?,?,?,?)",
                       (session_id, seq, text, blob, n, now_ms()))
        else:
            db.execute("INSERT INTO transcript_events (session_id, seq, event_json, created_at)"
                       " VALUES (?,?,?,?)", (session_id, seq, text, now_ms()))

    def _next_seq(self, db, session_id):
        row = db.execute("SELECT coalesce(max(seq), -1) + 1 FROM transcript_events"
                         " WHERE session_id=?", (session_id,)).fetchone()
        return row[0]

    def append(self, session_id, event):
        """One event (dict or JSON text) in its own transaction; its seq."""
        row = self._row(event)

        def run(db):
            seq = self._next_seq(db, session_id)
            self._insert(db, session_id, seq, row)
            self._bump(db, session_id)
            return seq
        return self.tx(run)

    def append_many(self, session_id, events):
        """Several events in one transaction (bulk builds for the benchmark)."""
        rows = [self._row(e) for e in events]

        def run(db):
            seq = self._next_seq(db, session_id)
            for row in rows:
                self._insert(db, session_id, seq, row)
                seq += 1
            self._bump(db, session_id)
            return seq
        return self.tx(run)

    def append_raw(self, session_id, event_json, event_zstd, utf8_bytes):
        """A row exactly as given (corrupt or odd rows)."""
        def run(db):
            seq = self._next_seq(db, session_id)
            db.execute("INSERT INTO transcript_events (session_id, seq, event_json, event_zstd,"
                       " event_utf8_bytes, created_at) VALUES (?,?,?,?,?,?)",
                       (session_id, seq, event_json, event_zstd, utf8_bytes, now_ms()))
            self._bump(db, session_id)
            return seq
        return self.tx(run)

    def corrupt_zstd(self, session_id, size=2048):
        """A compressed row whose frame is damaged (its checksum fails)."""
        text = json.dumps({"type": "custom", "customType": "padding", "data": "x" * size,
                           "id": "c0ffee00", "parentId": None,
                           "timestamp": "2026-04-14T09:12:00.000Z"})
        blob = bytearray(self.zstd.compress(text.encode()))
        blob[len(blob) // 2] ^= 0x5A
        blob[-1] ^= 0xFF
        return self.append_raw(session_id, None, bytes(blob), len(text.encode()))

    def events(self, session_id):
        """The session's events as text, in seq order (decoded with the CLI)."""
        db = self.connect()
        cols = "seq, event_json" + (", event_zstd" if self.version >= 23 else ", NULL")
        out = []
        for seq, text, blob in db.execute(f"SELECT {cols} FROM transcript_events"
                                          " WHERE session_id=? ORDER BY seq", (session_id,)):
            if text is None and blob is not None:
                text = subprocess.run(["zstd", "-d", "-q", "-c"], input=blob,
                                      stdout=subprocess.PIPE, check=True).stdout.decode()
            out.append(text)
        return out

    def rewrite(self, session_id, events=None):
        """A rewrite: the events (default: the current ones) renumbered from
        0 under a new generation, in one transaction."""
        if events is None:
            events = self.events(session_id)
        rows = [self._row(e) for e in events]

        def run(db):
            db.execute("DELETE FROM transcript_events WHERE session_id=?", (session_id,))
            for seq, row in enumerate(rows):
                self._insert(db, session_id, seq, row)
            db.execute("INSERT OR REPLACE INTO transcript_rewrite_watermarks VALUES (?,?,?)",
                       (session_id, uuid.uuid4().hex, now_ms()))
            self._bump(db, session_id)
        self.tx(run)

    def rollover(self, key, new_session_id=None, reason="rollover"):
        """A new window for key (previous_session_id = the old one)."""
        new_session_id = new_session_id or str(uuid.uuid4())

        def run(db):
            t = self._next_time(db)
            old = db.execute("SELECT current_session_id, entry_json FROM session_nodes"
                             " WHERE session_key=?", (key,)).fetchone()
            prev = db.execute("SELECT * FROM session_windows WHERE session_id=?",
                              (old[0],)).fetchone()
            cols = [c[1] for c in db.execute("PRAGMA table_info(session_windows)")]
            w = dict(zip(cols, prev))
            db.execute("UPDATE session_windows SET ended_at=? WHERE session_id=?", (t, old[0]))
            db.execute(
                "INSERT INTO session_windows (session_id, session_key, previous_session_id,"
                " reason, transcript_updated_at, chat_type, channel, account_id,"
                " primary_conversation_id, model, parent_session_key, spawned_by, started_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (new_session_id, key, old[0], reason, t, w["chat_type"], w["channel"],
                 w["account_id"], w["primary_conversation_id"], w["model"],
                 w["parent_session_key"], w["spawned_by"], t))
            entry = json.loads(old[1])
            entry["sessionId"] = new_session_id
            db.execute("UPDATE session_nodes SET current_session_id=?, entry_json=?,"
                       " updated_at=? WHERE session_key=?",
                       (new_session_id, json.dumps(entry), t, key))
        self.tx(run)
        return new_session_id

    def cold_archive(self, session_id):
        """Moves a session's events out (as the gateway's cold archiver)."""
        def run(db):
            n = db.execute("SELECT count(*) FROM transcript_events WHERE session_id=?",
                           (session_id,)).fetchone()[0]
            db.execute("INSERT INTO session_transcript_cold_archives VALUES (?,?,?,?)",
                       (session_id, f"{session_id}.jsonl.zst", n, now_ms()))
            db.execute("DELETE FROM transcript_events WHERE session_id=?", (session_id,))
            self._bump(db, session_id)
        self.tx(run)

    def set_user_version(self, version):
        def run(db):
            db.execute(f"PRAGMA user_version={int(version)}")
            db.execute("UPDATE schema_meta SET schema_version=? WHERE meta_key='primary'",
                       (version,))
        self.tx(run)
        self.version = version

    def hold_write(self, seconds, during=None):
        """Holds a write transaction (with a change in it) for `seconds`;
        calls during() while holding it, then commits."""
        db = self.connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("UPDATE schema_meta SET updated_at=? WHERE meta_key='primary'",
                       (now_ms(),))
            if during:
                during()
            time.sleep(seconds)
        finally:
            db.execute("COMMIT")


def agent_db_path(agents_dir, agent_id):
    return os.path.join(agents_dir, agent_id, "agent", "openclaw-agent.sqlite")


def fixture_sessions(sessions_dir, agent=None):
    """(key, entry, [lines]) of a file-layout sessions/ folder, parents
    first; with agent, every "agent:main:" becomes "agent:<agent>:"."""
    def rename(text):
        return text.replace("agent:main:", f"agent:{agent}:") if agent else text
    with open(os.path.join(sessions_dir, "sessions.json")) as f:
        index = json.loads(rename(f.read()))
    out = []
    for key, entry in index.items():
        name = entry.get("sessionFile") or entry["sessionId"] + ".jsonl"
        path = name if os.path.isabs(name) else os.path.join(sessions_dir, name)
        with open(path) as f:
            lines = [rename(ln.rstrip("\n")) for ln in f if ln.strip()]
        out.append((key, entry, lines))
    out.sort(key=lambda t: t[1].get("spawnDepth", 0))
    return out


def line_time(line):
    """A transcript line's own time in ms (for replaying with its pauses)."""
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    ts = obj.get("timestamp")
    if isinstance(ts, str):
        from datetime import datetime
        try:
            return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            pass
    msg = obj.get("message")
    if isinstance(msg, dict) and isinstance(msg.get("timestamp"), (int, float)):
        return int(msg["timestamp"])
    return None


def schedule(sessions_dir, agent=None):
    """The fixture's sessions and its lines in time order: (key, session
    id, line) across all transcripts, as the gateway wrote them."""
    sessions = fixture_sessions(sessions_dir, agent)
    merged = []
    for rank, (key, entry, lines) in enumerate(sessions):
        for i, line in enumerate(lines):
            merged.append((line_time(line) or 0, rank, i, key, entry["sessionId"], line))
    merged.sort(key=lambda t: t[:3])
    return sessions, [(m[0], m[3], m[4], m[5]) for m in merged]


def play(db, sessions_dir, pause_ms=0, speed=0.0, agent=None, start=0, stop=None,
         on_write=None):
    """Replays a file-layout fixture into db: every key and window first
    (when start is 0), then lines start..stop in time order, one
    transaction each.  With speed > 0, waits the lines' own gaps divided by
    speed (capped at pause_ms when given); else waits pause_ms between
    lines.  on_write(key, line) runs after each append.  Returns the number
    of lines in the whole schedule."""
    sessions, rows = schedule(sessions_dir, agent)
    if start == 0:
        for key, entry, _ in sessions:
            db.add_session(key, session_id=entry["sessionId"], entry=entry)
    last = None
    for t, key, sid, line in rows[start:stop]:
        if last is not None:
            gap = pause_ms / 1000.0
            if speed > 0:
                gap = (t - last) / 1000.0 / speed
                if pause_ms:
                    gap = min(gap, pause_ms / 1000.0)
            if gap > 0:
                time.sleep(gap)
        last = t
        db.append(sid, line)
        if on_write:
            on_write(key, line)
    return len(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("create")
    c.add_argument("db")
    c.add_argument("--agent", default="main")
    c.add_argument("--version", type=int, default=23)
    c.add_argument("--journal", default="wal")
    s = sub.add_parser("session")
    s.add_argument("db")
    s.add_argument("key")
    s.add_argument("session_id")
    s.add_argument("--entry", default="{}")
    s.add_argument("--spawned-by")
    s.add_argument("--label")
    a = sub.add_parser("append")
    a.add_argument("db")
    a.add_argument("session_id")
    a.add_argument("events", nargs="*")
    a.add_argument("--compress-min", type=int, default=COMPRESS_MIN)
    p = sub.add_parser("play")
    p.add_argument("db")
    p.add_argument("sessions_dir")
    p.add_argument("--pause-ms", type=int, default=0)
    p.add_argument("--speed", type=float, default=0.0)
    p.add_argument("--compress-min", type=int, default=COMPRESS_MIN)
    p.add_argument("--agent")
    for name in ("rewrite", "cold-archive", "corrupt"):
        x = sub.add_parser(name)
        x.add_argument("db")
        x.add_argument("session_id")
    r = sub.add_parser("rollover")
    r.add_argument("db")
    r.add_argument("key")
    r.add_argument("new_session_id", nargs="?")
    u = sub.add_parser("user-version")
    u.add_argument("db")
    u.add_argument("version", type=int)
    h = sub.add_parser("hold")
    h.add_argument("db")
    h.add_argument("seconds", type=float)
    args = ap.parse_args(argv)

    db = AgentDB(args.db, compress_min=getattr(args, "compress_min", COMPRESS_MIN))
    if args.cmd == "create":
        db.agent_id, db.version, db.journal = args.agent, args.version, args.journal
        db.create()
    elif args.cmd == "session":
        db.add_session(args.key, args.session_id, entry=json.loads(args.entry),
                       spawned_by=args.spawned_by, label=args.label)
    elif args.cmd == "append":
        for ev in args.events or (ln.rstrip("\n") for ln in sys.stdin if ln.strip()):
            print(db.append(args.session_id, ev))
    elif args.cmd == "play":
        play(db, args.sessions_dir, args.pause_ms, args.speed, agent=args.agent)
    elif args.cmd == "rewrite":
        db.rewrite(args.session_id)
    elif args.cmd == "cold-archive":
        db.cold_archive(args.session_id)
    elif args.cmd == "corrupt":
        print(db.corrupt_zstd(args.session_id))
    elif args.cmd == "rollover":
        print(db.rollover(args.key, args.new_session_id))
    elif args.cmd == "user-version":
        db.set_user_version(args.version)
    elif args.cmd == "hold":
        db.hold_write(args.seconds)
    db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
