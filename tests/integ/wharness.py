"""wharness: runs the real livestatus-watcher over a temp OpenClaw folder.

A WatcherCase (unittest.TestCase) gets a fresh temp folder with agents/main/sessions/,
a temp store, and helpers to start/stop/kill the watcher, write transcript lines the
gateway's way, and read boxes back with sqlite3.  Waiting is always on a condition with
a deadline (wait_for), never a fixed sleep; wait for exactly what is asserted next
(wait_equal), since the watcher commits what it reads a moment later.  Deadlines are
generous (DEADLINE, 30 s): the suite also runs the ASan build, 2-4x slower, on loaded
machines, and a deadline only bounds how long a failing test takes.  tearDown stops the
watcher and fails the test when its log holds a sanitizer report.
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("LIVESTATUS_BUILD", "build")
if not os.path.isabs(BUILD):
    BUILD = os.path.join(ROOT, BUILD)
WATCHER = os.path.join(BUILD, "livestatus-watcher")
# The sample agent folder kept in the repository (tests/fixtures/make_fixture.py).
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "agents", "main", "sessions")
PARENT_FILE = "3f1c9a52-7d04-4b8e-a6c1-0e92d5b7f438.jsonl"
CHILD_FILE = "b8e27d19-4c63-4f0a-9d15-7a3e6c2f1b90.jsonl"
PARENT_KEY = "agent:main:mattermost:channel:u4k9x2mdp7fq3nbc8wyh6tz1re"
CHILD_KEY = "agent:main:subagent:e05a7c3d-1b92-4f86-b4d7-9c2e8a61f305"
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")
# The default deadline of every wait here.  Not a timed assertion: a passing wait returns
# as soon as its condition holds.
DEADLINE = 30.0


def wait_for(fn, timeout=DEADLINE, interval=0.02, what="condition"):
    """Calls fn until it returns something truthy; returns that, or fails at the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fn()
        except (sqlite3.OperationalError, FileNotFoundError, ValueError) as e:
            last = None
            err = e
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s (last: %r)"
                                 % (timeout, what, last))
        time.sleep(interval)


def wait_equal(fn, expected, timeout=DEADLINE, what="value"):
    """Polls fn until it returns expected; at the deadline fails with the
    last value beside the expected one.  Use it instead of a wait on one
    condition followed by an assertion on another that the watcher makes
    true a moment later (a box exists a little before its lines do)."""
    last = [None]

    def check():
        last[0] = fn()
        return last[0] == expected
    try:
        wait_for(check, timeout, what=what)
    except AssertionError:
        raise AssertionError("timed out after %.1fs waiting for %s: %r != %r"
                             % (timeout, what, last[0], expected)) from None
    return last[0]


def now_ms():
    return int(time.time() * 1000)


def iso(ms):
    """An OpenClaw line's ISO time (UTC, milliseconds) for ms since the epoch."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + ".%03dZ" % (ms % 1000)


# Lines carry the time they are written, as OpenClaw's do: the watcher tells a
# session that began while it was down from an old one copied in by its
# first event's time.
def assistant(blocks, stop="toolUse", model="claude-opus-4-6", provider="anthropic",
              tokens=(10, 5)):
    content = []
    for b in blocks:
        if isinstance(b, str):
            content.append({"type": "text", "text": b})
        else:
            content.append(b)
    t = now_ms()
    return {"type": "message", "id": os.urandom(4).hex(), "parentId": None,
            "timestamp": iso(t),
            "message": {"role": "assistant", "content": content, "model": model,
                        "provider": provider, "api": "anthropic-messages",
                        "usage": {"input": tokens[0], "output": tokens[1]},
                        "stopReason": stop, "timestamp": t}}


def call(cid, name, **args):
    return {"type": "toolCall", "id": cid, "name": name, "arguments": args}


def result(cid, name="exec", error=False, details=None):
    t = now_ms()
    m = {"role": "toolResult", "toolCallId": cid, "toolName": name,
         "content": [{"type": "text", "text": "out"}], "isError": error,
         "timestamp": t}
    if details is not None:
        m["details"] = details
    return {"type": "message", "id": os.urandom(4).hex(), "parentId": None,
            "timestamp": iso(t), "message": m}


def header(sid, at_ms=None):
    return {"type": "session", "version": 3, "id": sid,
            "timestamp": iso(at_ms if at_ms is not None else now_ms()), "cwd": "/w"}


class WatcherCase(unittest.TestCase):
    """One temp OpenClaw tree and store per test."""

    def setUp(self):
        if not os.access(WATCHER, os.X_OK):
            self.skipTest("%s not built" % WATCHER)
        self.tmp = tempfile.mkdtemp(prefix="lsw-")
        self.agents = os.path.join(self.tmp, "agents")
        self.sessions = os.path.join(self.agents, "main", "sessions")
        os.makedirs(self.sessions)
        self.db = os.path.join(self.tmp, "livestatus.db")
        self.pid_file = os.path.join(self.tmp, "watcher.pid")
        self.log_path = os.path.join(self.tmp, "watcher.log")
        self.proc = None
        self.env = {}

    def tearDown(self):
        try:
            self.stop_watcher()
        finally:
            log = self.log()
            keep = os.environ.get("LSW_KEEP")
            if not keep:
                shutil.rmtree(self.tmp, ignore_errors=True)
            for mark in SANITIZER_MARKS:
                if mark in log:
                    self.fail("sanitizer report in the watcher log:\n" + log[-4000:])

    # ---- the process ----

    def watcher_env(self, **extra):
        env = dict(os.environ)
        for k in list(env):
            if k in ("MM_URL", "MM_BASE_URL", "PUBLISH_URL", "SESSIONS_JSON",
                     "DEFAULT_CHANNEL", "TOOL_LABELS_FILE", "WATCHER_FORCE_POLL",
                     "PLUGIN_URL", "PLUGIN_SECRET", "GATEWAY_NAME", "CA_FILE"):
                del env[k]
        env.update(TRANSCRIPT_DIR=self.agents, LIVESTATUS_DB=self.db,
                   PID_FILE=self.pid_file, LOG_LEVEL="debug", HEARTBEAT_S="1", HEALTH_PORT="0",
                   ASAN_OPTIONS="detect_leaks=1:abort_on_error=0")
        env.update(self.env)
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def start_watcher(self, wait=True, **extra):
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen([WATCHER, "run"], env=self.watcher_env(**extra),
                                     stdout=self.log_file, stderr=self.log_file)
        if wait:
            wait_for(lambda: self.proc.poll() is not None or self.heartbeat(),
                     what="the first heartbeat")
            self.assertIsNone(self.proc.poll(), "watcher exited:\n" + self.log())
        return self.proc

    def stop_watcher(self):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        self.log_file.close()
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.proc = None
        self.log_file.close()

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    # ---- the store ----

    def query(self, sql, args=()):
        con = sqlite3.connect(self.db, timeout=10)
        try:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute(sql, args)]
        finally:
            con.close()

    def boxes(self, key=None):
        if not os.path.exists(self.db):
            return []
        sql = "SELECT * FROM boxes"
        args = ()
        if key is not None:
            sql += " WHERE session_key = ?"
            args = (key,)
        rows = self.query(sql + " ORDER BY start_time_ms, rowid", args)
        for r in rows:
            r["lines"] = json.loads(r["lines"])
        return rows

    def box(self, key):
        rows = self.boxes(key)
        return rows[-1] if rows else None

    def session_state(self, key):
        """The watcher's stored state of a session (watcher_sessions.state), or None."""
        if not os.path.exists(self.db):
            return None
        rows = self.query("SELECT state FROM watcher_sessions WHERE session_key = ?", (key,))
        return json.loads(rows[0]["state"]) if rows else None

    def heartbeat(self):
        if not os.path.exists(self.db):
            return None
        rows = self.query("SELECT * FROM watcher_heartbeat")
        if not rows:
            return None
        rows[0]["stats"] = json.loads(rows[0]["stats"])
        return rows[0]

    def stats(self):
        hb = self.heartbeat()
        return hb["stats"] if hb else {}

    def wait_stat(self, name, at_least, timeout=DEADLINE):
        return wait_for(lambda: self.stats().get(name, 0) >= at_least, timeout,
                        what="stats %s >= %d" % (name, at_least))

    def wait_box(self, key, pred, timeout=DEADLINE, what=None):
        def check():
            b = self.box(key)
            return b if b is not None and pred(b) else None
        return wait_for(check, timeout, what=what or "box of %s" % key)

    # ---- writing like the gateway ----

    def path(self, name):
        return os.path.join(self.sessions, name)

    def write_sessions(self, data):
        tmp = self.path("sessions.json.%d.tmp" % os.getpid())
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.rename(tmp, self.path("sessions.json"))

    def append(self, name, *objs, raw=None):
        data = raw if raw is not None else b"".join(
            (json.dumps(o) if not isinstance(o, str) else o).encode() + b"\n" for o in objs)
        fd = os.open(self.path(name), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def lock(self, name):
        with open(self.path(name) + ".lock", "w") as f:
            json.dump({"pid": 1, "createdAt": 0}, f)

    def unlock(self, name):
        os.unlink(self.path(name) + ".lock")

    def session_entry(self, key, sid, **extra):
        e = {"sessionId": sid, "updatedAt": 1776157942678}
        e.update(extra)
        return key, e
