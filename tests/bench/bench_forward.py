#!/usr/bin/env python3
"""bench_forward: figures for forwarding to a central API (run through bench_forward.sh).

1. Load: 100 locked sessions, each appending a line every 100 ms (1,000
   lines/s in all, the pace of bench_watcher's latency part), forwarded to a
   central harness.Stack for BENCH_FORWARD_S seconds: requests/s to the
   central, box states per request, body bytes per box state.
2. Latency, during that load: a line appended to a probe session until it
   is the last line of the box read from the central's API, BENCH_APPENDS
   times: p50/p99 (goal p99 < 50 ms on loopback).
3. Drain: a gateway whose central was away for "an hour of 20 busy
   sessions" (20 sessions x 60 runs of 32 lines = 1,200 ended boxes in its
   store, none acknowledged) is pointed at the central: seconds until its
   queue is empty and the central holds every box (goal < 10 s).
"""
import argparse
import json
import os
import signal
import sqlite3
import statistics
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integ"))
sys.path.insert(0, os.path.join(ROOT, "tests", "bench"))
from bench_watcher import Tree, make_lines, probe_latency_ms  # noqa: E402
from figures import figure  # noqa: E402
from harness import Stack, free_port  # noqa: E402
from wharness import assistant, header  # noqa: E402

BOXES = 100
PERIOD_S = 0.1


def stats(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    try:
        row = con.execute("SELECT stats FROM watcher_heartbeat").fetchone()
        return json.loads(row[0]) if row else {}
    finally:
        con.close()


def wait(fn, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.01)
    raise RuntimeError("timed out waiting for " + what)


def forward_env(stack, **extra):
    env = dict(PLUGIN_URL=stack.api, PLUGIN_SECRET=stack.secret, GATEWAY_NAME="bench",
               HEALTH_PORT=str(free_port()), MAX_ACTIVE_SESSIONS="1000")
    env.update(extra)
    return env


def bench_load(build, seconds, appends):
    stack = Stack()
    t = Tree(build, **forward_env(stack))
    stop = threading.Event()
    try:
        t.index(BOXES + 1)
        t.start()
        for i in range(BOXES + 1):
            open(os.path.join(t.sessions, "s%d.jsonl.lock" % i), "w").close()

        def writer(i):
            path = os.path.join(t.sessions, "s%d.jsonl" % i)
            n = 0
            with open(path, "a") as f:
                f.write(json.dumps(header("s%d" % i)) + "\n")
            while not stop.is_set():
                with open(path, "a") as f:
                    f.write(json.dumps(assistant(["bg %d of s%d" % (n, i)])) + "\n")
                n += 1
                stop.wait(PERIOD_S)
        threads = [threading.Thread(target=writer, args=(i,)) for i in range(1, BOXES + 1)]
        for th in threads:
            th.start()
        probe = os.path.join(t.sessions, "s0.jsonl")
        with open(probe, "a") as f:
            f.write(json.dumps(header("s0")) + "\n" + json.dumps(assistant(["start"])) + "\n")
        con = sqlite3.connect(t.db, timeout=30)
        box_id = wait(lambda: (con.execute("SELECT id FROM boxes WHERE session_key = ?",
                                           ("agent:main:mattermost:channel:ch0",)).fetchone()
                               or [None])[0], 30, "the probe box")
        con.close()
        wait(lambda: stats(t.db).get("forward_boxes_sent", 0) > BOXES, 60,
             "the first boxes at the central")
        s0, t0 = stats(t.db), time.monotonic()
        lat = []
        deadline = time.monotonic() + max(seconds, 5)
        for n in range(appends):
            if time.monotonic() > deadline and n >= 20:
                break
            lat.append(probe_latency_ms(stack, probe, box_id, "probe %d" % n,
                                        " at the central"))
        rest = deadline - time.monotonic()
        if rest > 0:
            time.sleep(rest)  # the load runs its whole length
        time.sleep(1.2)       # one more heartbeat with the figures
        s1, elapsed = stats(t.db), time.monotonic() - t0
        reqs = s1["forward_requests"] - s0["forward_requests"]
        sent = s1["forward_boxes_sent"] - s0["forward_boxes_sent"]
        nbytes = s1["forward_bytes_sent"] - s0["forward_bytes_sent"]
        lat.sort()
        print("forwarding %d active boxes (%d lines/s): %.0f requests/s to the central, "
              "%.1f box states per request, %.0f bytes per box state, failures %d"
              % (BOXES, BOXES / PERIOD_S, reqs / elapsed, sent / max(reqs, 1),
                 nbytes / max(sent, 1), s1["forward_failures"]))
        print("append -> central GET /api/v1/sessions/{id}: p50 %.1f ms, p99 %.1f ms, "
              "max %.1f ms (%d appends; goal p99 < 50 ms)"
              % (statistics.median(lat), lat[max(int(len(lat) * 0.99) - 1, 0)], lat[-1],
                 len(lat)))
        p99 = lat[max(int(len(lat) * 0.99) - 1, 0)]
        figure("a gateway forwarding %d active boxes to a central" % BOXES,
               "%.0f requests/s, %.0f bytes per box state" % (reqs / elapsed,
                                                              nbytes / max(sent, 1)),
               "sh tests/bench/bench_forward.sh")
        figure("append on a gateway -> central `GET /api/v1/sessions/{id}`",
               "p50 %.1f ms, p99 %.1f ms" % (statistics.median(lat), p99),
               "sh tests/bench/bench_forward.sh", goal="p99 < 50 ms", holds=p99 < 50)
    finally:
        stop.set()
        t.stop()
        stack.stop()


def bench_drain(build):
    stack = Stack()
    dead = "http://127.0.0.1:%d/plugins/com.openclaw.livestatus" % free_port()
    t = Tree(build, **forward_env(stack, PLUGIN_URL=dead, FORWARD_MAX_BACKOFF_S="1"))
    sessions, runs = 20, 60
    try:
        t.index(sessions)
        t.start()
        for run in range(runs):
            for i in range(sessions):
                name = "s%d-r%d" % (i, run)
                path = os.path.join(t.sessions, name + ".jsonl")
                open(path + ".lock", "w").close()
                with open(path, "w") as f:
                    f.write(make_lines(name, 31))  # ends on a result: nothing pending
                    f.write(json.dumps(assistant(["run %d done" % run], stop="stop")) + "\n")
                os.unlink(path + ".lock")
        con = sqlite3.connect(t.db, timeout=30)
        total = sessions * runs
        wait(lambda: con.execute("SELECT count(*) FROM boxes WHERE status <> 'active'")
             .fetchone()[0] >= total, 120, "the backlog to be in the store")
        total = con.execute("SELECT count(*) FROM boxes").fetchone()[0]
        con.close()
        t.proc.send_signal(signal.SIGTERM)  # stop, keeping its folder and store
        t.proc.wait(timeout=60)
        t.env["PLUGIN_URL"] = stack.api
        t.start()
        t0 = time.monotonic()

        def drained():
            c = sqlite3.connect("file:%s?mode=ro" % stack.db, uri=True, timeout=30)
            try:
                return c.execute("SELECT count(*) FROM boxes WHERE gateway = 'bench'") \
                    .fetchone()[0] >= total
            finally:
                c.close()
        wait(drained, 300, "the central to hold the backlog")
        took = time.monotonic() - t0
        print("drain: %d boxes (20 sessions x %d runs, an hour's backlog) reached the central "
              "in %.2f s after the gateway started (goal < 10 s)" % (total, runs, took))
        figure("a gateway's hour of backlog (%d boxes) -> the central" % total,
               "%.2f s" % took, "sh tests/bench/bench_forward.sh", goal="< 10 s",
               holds=took < 10)
    finally:
        t.stop()
        stack.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    bench_load(build, int(os.environ.get("BENCH_FORWARD_S", "20")),
               int(os.environ.get("BENCH_APPENDS", "200")))
    bench_drain(build)


if __name__ == "__main__":
    main()
