#!/usr/bin/env python3
"""bench_watcher: figures for the watcher (run through bench_watcher.sh)."""
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
sys.path.insert(0, os.path.join(ROOT, "tests", "integ"))
from wharness import assistant, call, header, result  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tests", "bench"))
from figures import figure  # noqa: E402
from procmem import private_kb, status_kb  # noqa: E402

sys.path.insert(0, ROOT)
from tests.mmstub import MMStub  # noqa: E402

CMD = "sh tests/bench/bench_watcher.sh"

SESSIONS = 20


def make_lines(sid, n):
    out = [json.dumps(header(sid))]
    i = 0
    while len(out) < n:
        out.append(json.dumps(assistant(["step %d of %s: looking at the next thing" % (i, sid),
                                         call("c%d" % i, "exec", command="ls -la /srv/%d" % i)])))
        out.append(json.dumps(result("c%d" % i, error=(i % 9 == 0))))
        i += 1
    return "\n".join(out[:n]) + "\n"


class Tree:
    def __init__(self, build, agents=("main",), **env):
        self.tmp = tempfile.mkdtemp(prefix="lsw-bench-")
        self.agent_dirs = {a: os.path.join(self.tmp, "agents", a, "sessions") for a in agents}
        for d in self.agent_dirs.values():
            os.makedirs(d)
        self.sessions = self.agent_dirs[agents[0]]
        self.stage = os.path.join(self.tmp, "stage")
        os.makedirs(self.stage)
        self.db = env.pop("LIVESTATUS_DB", os.path.join(self.tmp, "livestatus.db"))
        self.env = dict(os.environ, TRANSCRIPT_DIR=os.path.join(self.tmp, "agents"),
                        LIVESTATUS_DB=self.db, PID_FILE=os.path.join(self.tmp, "pid"),
                        LOG_LEVEL="warn", MAX_ACTIVE_SESSIONS="1000", HEARTBEAT_S="1")
        self.env.update({k: str(v) for k, v in env.items()})
        self.binary = os.path.join(build, "livestatus-watcher")
        self.proc = None

    def index(self, n, prefix="s", agent="main"):
        """sessions.json of agent: sessions <prefix>0.. in channels ch0.."""
        data = {"agent:%s:mattermost:channel:ch%d" % (agent, i): {"sessionId": "%s%d" % (prefix, i)}
                for i in range(n)}
        tmp = os.path.join(self.agent_dirs[agent], "sessions.json.tmp")
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.rename(tmp, os.path.join(self.agent_dirs[agent], "sessions.json"))

    def start(self):
        self.log = open(os.path.join(self.tmp, "watcher.log"), "wb")
        self.proc = subprocess.Popen([self.binary, "run"], env=self.env, stderr=self.log)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                con = sqlite3.connect(self.db)
                if con.execute("SELECT count(*) FROM watcher_heartbeat").fetchone()[0]:
                    con.close()
                    return
                con.close()
            except sqlite3.Error:
                pass
            time.sleep(0.01)
        raise RuntimeError("watcher did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        shutil.rmtree(self.tmp, ignore_errors=True)


def probe_latency_ms(stack, probe, box_id, text, where=""):
    """Appends a line saying text to the transcript probe and polls the API
    until box_id's newest line is it: the milliseconds that took."""
    t0 = time.monotonic()
    with open(probe, "a") as f:
        f.write(json.dumps(assistant([text])) + "\n")
    while True:
        r = stack.request("GET", "/api/v1/sessions/" + box_id)
        if r.status == 200 and r.json["lines"] and r.json["lines"][-1] == text:
            return (time.monotonic() - t0) * 1000
        if time.monotonic() - t0 > 10:
            raise RuntimeError("%r never showed%s" % (text, where))


def bench_replay(build, total):
    per = total // SESSIONS
    t = Tree(build)
    try:
        t.index(SESSIONS)
        files = []
        size = 0
        for i in range(SESSIONS):
            p = os.path.join(t.stage, "s%d.jsonl" % i)
            with open(p, "w") as f:
                f.write(make_lines("s%d" % i, per))
            size += os.path.getsize(p)
            files.append(p)
        out = subprocess.run([os.path.join(build, "bench", "json_ceiling")] + files,
                             capture_output=True, text=True, check=True).stdout.split()
        ceil_lines, ceil_s = int(out[0]), float(out[1])
        t.start()
        for i in range(SESSIONS):
            open(os.path.join(t.sessions, "s%d.jsonl.lock" % i), "w").close()
        time.sleep(0.3)
        con = sqlite3.connect(t.db, timeout=30)
        t0 = time.monotonic()
        for p in files:
            os.rename(p, os.path.join(t.sessions, os.path.basename(p)))
        while True:
            got = con.execute("SELECT coalesce(sum(offset), 0) FROM watcher_files").fetchone()[0]
            if got >= size:
                break
            if time.monotonic() - t0 > 600:
                raise RuntimeError("replay did not finish")
            time.sleep(0.005)
        elapsed = time.monotonic() - t0
        con.close()
        rate = per * SESSIONS / elapsed
        ceil = ceil_lines / ceil_s
        print("replay: %d lines across %d sessions (%.1f MB) in %.2f s = %.0f lines/s"
              % (per * SESSIONS, SESSIONS, size / 1e6, elapsed, rate))
        print("ceiling (json-c read+parse only): %.0f lines/s" % ceil)
        print("ratio: %.2f (aim >= 0.5)" % (rate / ceil))
        figure("watcher replay, %d lines in %d sessions" % (per * SESSIONS, SESSIONS),
               "%.0f lines/s" % rate, CMD, peer="json-c read + parse only %.0f lines/s" % ceil,
               ratio=rate / ceil, goal=">= 0.50 of the parse", holds=rate / ceil >= 0.5)
    finally:
        t.stop()


def bench_latency(build, appends):
    try:
        from harness import Stack
    except ImportError:
        print("latency: skipped (tests/integ/harness.py missing)")
        return
    stack = Stack()
    t = Tree(build, LIVESTATUS_DB=stack.db, PUBLISH_URL=stack.publish_url or "")
    stop = threading.Event()
    try:
        t.index(SESSIONS + 1)
        t.start()
        for i in range(SESSIONS + 1):
            open(os.path.join(t.sessions, "s%d.jsonl.lock" % i), "w").close()

        def background(i):
            path = os.path.join(t.sessions, "s%d.jsonl" % i)
            n = 0
            while not stop.is_set():
                with open(path, "a") as f:
                    f.write(json.dumps(assistant(["bg %d" % n])) + "\n")
                n += 1
                time.sleep(0.02)
        threads = [threading.Thread(target=background, args=(i,)) for i in range(1, SESSIONS + 1)]
        for th in threads:
            th.start()
        probe = os.path.join(t.sessions, "s0.jsonl")
        with open(probe, "a") as f:
            f.write(json.dumps(header("s0")) + "\n" + json.dumps(assistant(["start"])) + "\n")
        con = sqlite3.connect(t.db, timeout=30)
        box_id = None
        while box_id is None:
            row = con.execute("SELECT id FROM boxes WHERE session_key = ?",
                              ("agent:main:mattermost:channel:ch0",)).fetchone()
            box_id = row[0] if row else None
            time.sleep(0.01)
        con.close()
        lat = []
        for n in range(appends):
            lat.append(probe_latency_ms(stack, probe, box_id, "probe %d" % n))
        lat.sort()
        print("append -> GET /api/v1/sessions/{id}: p50 %.1f ms, p99 %.1f ms, max %.1f ms "
              "(%d appends, %d sessions writing)" % (statistics.median(lat),
                                                     lat[int(len(lat) * 0.99) - 1], lat[-1],
                                                     appends, SESSIONS))
        figure("transcript append -> `GET /api/v1/sessions/{id}`, %d sessions writing"
               % SESSIONS, "p50 %.1f ms, p99 %.1f ms" % (statistics.median(lat),
                                                        lat[int(len(lat) * 0.99) - 1]), CMD)
    finally:
        stop.set()
        t.stop()
        stack.stop()


def bench_many(build, sessions, agents, appends):
    """Append -> API latency with many live sessions spread over agents:
    every session other than the probe appends a line about once a second
    (one writer, paced), the probe waits for each of its lines in the API."""
    try:
        from harness import Stack
    except ImportError:
        print("many sessions: skipped (tests/integ/harness.py missing)")
        return
    names = ["a%d" % j for j in range(agents)]
    per = max(1, sessions // agents)
    stack = Stack()
    t = Tree(build, agents=names, LIVESTATUS_DB=stack.db, PUBLISH_URL=stack.publish_url or "",
             MAX_ACTIVE_SESSIONS=str(sessions + 100))
    stop = threading.Event()
    writer = None
    try:
        for a in names:
            t.index(per, agent=a)
        t.start()
        paths = []
        for a in names:
            for i in range(per):
                p = os.path.join(t.agent_dirs[a], "s%d.jsonl" % i)
                open(p + ".lock", "w").close()
                with open(p, "w") as f:
                    f.write(json.dumps(header("s%d" % i)) + "\n"
                            + json.dumps(assistant(["start"])) + "\n")
                paths.append(p)
        probe, others = paths[0], paths[1:]
        con = sqlite3.connect(t.db, timeout=30)
        deadline = time.monotonic() + 120
        while con.execute("SELECT count(*) FROM boxes WHERE status = 'active'").fetchone()[0] \
                < len(paths):
            if time.monotonic() > deadline:
                raise RuntimeError("not every session got a box")
            time.sleep(0.05)
        box_id = con.execute("SELECT id FROM boxes WHERE session_key = ?",
                             ("agent:a0:mattermost:channel:ch0",)).fetchone()[0]
        con.close()

        def background():
            n = 0
            gap = 1.0 / len(others)  # each session about once a second
            next_at = time.monotonic()
            while not stop.is_set():
                with open(others[n % len(others)], "a") as f:
                    f.write(json.dumps(assistant(["bg %d" % n])) + "\n")
                n += 1
                next_at += gap
                pause = next_at - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
        writer = threading.Thread(target=background)
        writer.start()
        lat = []
        for n in range(appends):
            lat.append(probe_latency_ms(stack, probe, box_id, "probe %d" % n))
            time.sleep(0.01)  # the probe writes like a busy agent, not in a loop
        lat.sort()
        p99 = lat[int(len(lat) * 0.99) - 1]
        print("append -> GET /api/v1/sessions/{id}, %d sessions across %d agents: p50 %.1f ms, "
              "p99 %.1f ms, max %.1f ms (%d appends)" % (len(paths), agents,
                                                         statistics.median(lat), p99, lat[-1],
                                                         appends))
        figure("transcript append -> `GET /api/v1/sessions/{id}`, %d sessions across %d agents"
               % (len(paths), agents), "p50 %.1f ms, p99 %.1f ms" % (statistics.median(lat), p99),
               CMD, goal="p99 < 10 ms", holds=p99 < 10)
    finally:
        stop.set()
        if writer is not None:
            writer.join()
        t.stop()
        stack.stop()


def bench_rss(build, mattermost=False):
    stub = MMStub().start() if mattermost else None
    env = {"MM_URL": stub.url, "MM_TOKEN": "bot-token"} if stub else {}
    t = Tree(build, **env)
    what = "posting to Mattermost (tests/mmstub.py)" if stub else "no Mattermost"
    try:
        t.index(100)
        t.start()
        for i in range(100):
            open(os.path.join(t.sessions, "s%d.jsonl.lock" % i), "w").close()
            with open(os.path.join(t.sessions, "s%d.jsonl" % i), "w") as f:
                f.write(make_lines("s%d" % i, 60))
        con = sqlite3.connect(t.db, timeout=30)
        deadline = time.time() + 30
        while time.time() < deadline:
            n = con.execute("SELECT count(*) FROM boxes WHERE status = 'active' "
                            "AND json_array_length(lines) = 15").fetchone()[0]
            if n == 100 and (stub is None or len(stub.posts()) >= 100):
                break
            time.sleep(0.05)
        con.close()
        peak = status_kb(t.proc.pid, "VmHWM") / 1024
        files = status_kb(t.proc.pid, "RssFile") / 1024
        own = private_kb(t.proc.pid) / 1024
        print("peak RSS with %d active boxes, %s: %.1f MiB (now %.1f; the binary and shared "
              "libraries %.1f of it; private to the process %.1f)"
              % (n, what, peak, status_kb(t.proc.pid) / 1024, files, own))
        figure("watcher peak RSS, %d active boxes, %s" % (n, what),
               "%.1f MiB (binary and shared libraries %.1f; private now %.1f)"
               % (peak, files, own), CMD,
               goal="< 8 MiB", holds=peak < 8)
    finally:
        t.stop()
        if stub is not None:
            stub.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    bench_replay(build, int(os.environ.get("BENCH_LINES", "200000")))
    bench_latency(build, int(os.environ.get("BENCH_APPENDS", "1000")))
    bench_many(build, int(os.environ.get("BENCH_MANY_SESSIONS", "500")),
               int(os.environ.get("BENCH_MANY_AGENTS", "20")),
               int(os.environ.get("BENCH_APPENDS", "1000")))
    bench_rss(build)
    bench_rss(build, mattermost=True)


if __name__ == "__main__":
    main()
