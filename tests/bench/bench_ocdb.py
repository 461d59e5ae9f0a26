#!/usr/bin/env python3
"""bench_ocdb: figures for the watcher's database path (run through bench_ocdb.sh)."""
import argparse
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integ"))
from ocwriter.ocwriter import AgentDB, agent_db_path  # noqa: E402
from wharness import assistant, call, header, result  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tests", "bench"))
from figures import figure  # noqa: E402

CMD = "sh tests/bench/bench_ocdb.sh"

SESSIONS = 20
KEY = "agent:main:mattermost:channel:ch%d"


def events(sid, n):
    """n events of one session: a tool call (small, JSON text) then its
    result with a long output (over 1 KiB: a zstd row), over and over."""
    out = [header(sid)]
    i = 0
    while len(out) < n:
        out.append(assistant(["step %d of %s: looking at the next thing" % (i, sid),
                              call("c%d" % i, "exec", command="ls -la /srv/%d" % i)]))
        r = result("c%d" % i, error=(i % 9 == 0))
        r["message"]["content"][0]["text"] = "\n".join(
            "-rw-r--r-- 1 node node %6d Apr 14 09:12 build-%d-%d.log" % (i * 7 + k, i, k)
            for k in range(24))
        out.append(r)
        i += 1
    return out[:n]


class Watcher:
    def __init__(self, build, agents, db, **env):
        self.tmp = os.path.dirname(agents)
        self.db = db
        self.env = dict(os.environ, TRANSCRIPT_DIR=agents, LIVESTATUS_DB=db,
                        PID_FILE=os.path.join(self.tmp, "pid"), LOG_LEVEL="warn",
                        MAX_ACTIVE_SESSIONS="1000", HEARTBEAT_S="1")
        self.env.update({k: str(v) for k, v in env.items()})
        self.log = open(os.path.join(self.tmp, "watcher.log"), "wb")
        self.proc = subprocess.Popen([os.path.join(build, "livestatus-watcher"), "run"],
                                     env=self.env, stderr=self.log)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                con = sqlite3.connect(db)
                n = con.execute("SELECT count(*) FROM watcher_heartbeat").fetchone()[0]
                con.close()
                if n:
                    return
            except sqlite3.Error:
                pass
            time.sleep(0.01)
        raise RuntimeError("watcher did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        self.log.close()


def bench_read(build, total):
    tmp = tempfile.mkdtemp(prefix="lsw-ocdb-bench-")
    try:
        stage = os.path.join(tmp, "stage")
        agents = os.path.join(tmp, "agents")
        os.makedirs(agents)
        db = AgentDB(agent_db_path(stage, "main")).create()
        per = total // SESSIONS
        compressed = 0
        for i in range(SESSIONS):
            sid = "s%d" % i
            db.add_session(KEY % i, session_id=sid)
            evs = events(sid, per)
            for k in range(0, per, 2000):
                db.append_many(sid, evs[k:k + 2000])
        con = db.connect()
        compressed = con.execute("SELECT count(*) FROM transcript_events"
                                 " WHERE event_zstd IS NOT NULL").fetchone()[0]
        rows = con.execute("SELECT count(*) FROM transcript_events").fetchone()[0]
        db.close()  # checkpointed: the file alone holds everything
        size = os.path.getsize(db.path)
        out = subprocess.run([os.path.join(build, "bench", "ocdb_ceiling"), db.path],
                             capture_output=True, text=True, check=True).stdout.split()
        ceil_rows, ceil_s = int(out[0]), float(out[1])
        out = subprocess.run([os.path.join(build, "bench", "ocdb_ceiling"), "--parse", db.path],
                             capture_output=True, text=True, check=True).stdout.split()
        parse_rows, parse_s = int(out[0]), float(out[1])
        # The watcher sees the database appear (a new agent: read from seq 0).
        w = Watcher(build, agents, os.path.join(tmp, "livestatus.db"))
        try:
            con = sqlite3.connect(w.db, timeout=30)
            t0 = time.monotonic()
            os.rename(os.path.join(stage, "main"), os.path.join(agents, "main"))
            while True:
                got = con.execute("SELECT coalesce(sum(seq + 1), 0)"
                                  " FROM watcher_ocdb_cursors").fetchone()[0]
                if got >= rows:
                    break
                if time.monotonic() - t0 > 900:
                    raise RuntimeError("reading did not finish (%d of %d)" % (got, rows))
                time.sleep(0.005)
            elapsed = time.monotonic() - t0
            boxes = con.execute("SELECT count(*) FROM boxes").fetchone()[0]
            con.close()
        finally:
            w.stop()
        rate = rows / elapsed
        ceil = ceil_rows / ceil_s
        print("read: %d events (%d zstd rows) across %d sessions (%.1f MB file) into %d boxes"
              " in %.2f s = %.0f events/s" % (rows, compressed, SESSIONS, size / 1e6, boxes,
                                             elapsed, rate))
        print("ceiling (select + zstd decode only): %.0f events/s; ratio %.2f"
              % (ceil, rate / ceil))
        print("select + decode + json-c parse: %.0f events/s; ratio %.2f"
              % (parse_rows / parse_s, rate / (parse_rows / parse_s)))
        figure("OpenClaw database, %d events (%d zstd rows)" % (rows, compressed),
               "%.0f events/s" % rate, CMD,
               peer="select + decode + json-c parse %.0f events/s" % (parse_rows / parse_s),
               ratio=rate / (parse_rows / parse_s))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench_latency(build, appends):
    try:
        from harness import Stack
    except ImportError:
        print("latency: skipped (tests/integ/harness.py missing)")
        return
    stack = Stack()
    tmp = tempfile.mkdtemp(prefix="lsw-ocdb-lat-")
    stop = threading.Event()
    w = None
    threads = []
    try:
        agents = os.path.join(tmp, "agents")
        path = agent_db_path(agents, "main")
        db = AgentDB(path).create()
        for i in range(SESSIONS + 1):
            db.add_session(KEY % i, session_id="s%d" % i)
        w = Watcher(build, agents, stack.db, PUBLISH_URL=stack.publish_url or "")

        def background(i):
            bg = AgentDB(path)
            n = 0
            while not stop.is_set():
                bg.append("s%d" % i, assistant(["bg %d" % n]))
                n += 1
                time.sleep(0.02)
            bg.close()
        threads = [threading.Thread(target=background, args=(i,))
                   for i in range(1, SESSIONS + 1)]
        for th in threads:
            th.start()
        db.append("s0", header("s0"))
        db.append("s0", assistant(["start"]))
        con = sqlite3.connect(stack.db, timeout=30)
        box_id = None
        deadline = time.monotonic() + 10
        while box_id is None and time.monotonic() < deadline:
            row = con.execute("SELECT id FROM boxes WHERE session_key = ?",
                              (KEY % 0,)).fetchone()
            box_id = row[0] if row else None
            time.sleep(0.01)
        con.close()
        lat = []
        for n in range(appends):
            text = "probe %d" % n
            t0 = time.monotonic()
            db.append("s0", assistant([text]))
            while True:
                r = stack.request("GET", "/api/v1/sessions/" + box_id)
                if r.status == 200 and r.json["lines"][-1] == text:
                    break
                if time.monotonic() - t0 > 10:
                    raise RuntimeError("append %d never showed" % n)
            lat.append((time.monotonic() - t0) * 1000)
        lat.sort()
        print("append (own BEGIN IMMEDIATE commit) -> GET /api/v1/sessions/{id}: p50 %.1f ms,"
              " p99 %.1f ms, max %.1f ms (%d appends, %d other sessions writing every 20 ms)"
              % (statistics.median(lat), lat[int(len(lat) * 0.99) - 1], lat[-1], appends,
                 SESSIONS))
        figure("agent database append -> `GET /api/v1/sessions/{id}`, %d sessions writing"
               % SESSIONS, "p50 %.1f ms, p99 %.1f ms" % (statistics.median(lat),
                                                        lat[int(len(lat) * 0.99) - 1]), CMD)
        db.close()
    finally:
        stop.set()
        for th in threads:
            th.join()
        if w is not None:
            w.stop()
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    bench_read(build, int(os.environ.get("BENCH_EVENTS", "200000")))
    bench_latency(build, int(os.environ.get("BENCH_APPENDS", "1000")))


if __name__ == "__main__":
    main()
