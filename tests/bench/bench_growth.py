#!/usr/bin/env python3
"""bench_growth: does a read cost more when the store holds many finished boxes?

The real responder behind nginx, first over a store with BENCH_GROWTH_ACTIVE (1000)
active boxes only, then over the same store after BENCH_GROWTH_FINISHED (1 000 000)
finished boxes were added (straight into SQLite, in transactions of 10 000, as the
cleanup would have left them with DELETE_AFTER_S set long).  For each store it
measures, one request at a time through nginx:

  list of active boxes   GET /api/v1/sessions?status=active, a store revision unchanged
  one box                GET /api/v1/sessions/{id}
  write -> read          PUT of a line, then GET of that box until it has it (every
                         write is a new store revision: what a reader pays after it)

Then the retention: the responder restarts with DELETE_AFTER_S at 90 minutes, so that the
cleanup deletes the BENCH_GROWTH_EXPIRED (100 000) oldest finished boxes in its batches,
and the list and write -> read are measured while it does, against the same without it.

and prints p50/p99 of each with the ratio to the small store (the goal of the open
speed work: within 2x), and how long the cleanup's transactions held the write lock
(goal: 10 ms).  Prints figures; never fails on a number.
"""
import json
import os
import re
import sqlite3
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "bench"))
from tests.integ.harness import Stack  # noqa: E402
from figures import figure  # noqa: E402
from procmem import status_kb  # noqa: E402

ACTIVE = int(os.environ.get("BENCH_GROWTH_ACTIVE", "1000"))
FINISHED = int(os.environ.get("BENCH_GROWTH_FINISHED", "1000000"))
READS = int(os.environ.get("BENCH_GROWTH_READS", "200"))
WRITES = int(os.environ.get("BENCH_GROWTH_WRITES", "5"))
EXPIRED = min(FINISHED, int(os.environ.get("BENCH_GROWTH_EXPIRED", "100000")))
CMD = "sh tests/bench/bench_growth.sh"
YEAR_S = 31536000


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def timed(fn, n):
    out = []
    for _ in range(n):
        t = time.monotonic()
        fn()
        out.append((time.monotonic() - t) * 1000)
    return out


def ended(i):
    """How long ago box i of add_finished() ended: the first EXPIRED two hours ago, the
    others one hour ago (the retention phase keeps 90 minutes)."""
    return 7200000 if i < EXPIRED else 3600000


def add_finished(db, n):
    """n finished top-level boxes in 10 000 rows per transaction; the store's revision
    bumped once at the end, as one more write would."""
    con = sqlite3.connect(db, timeout=60)
    con.isolation_level = None
    now = int(time.time() * 1000)
    rev = con.execute("SELECT revision FROM store_meta").fetchone()[0]
    lines = json.dumps(["exec: make test [OK]", "Done."])
    done = 0
    while done < n:
        k = min(10000, n - done)
        con.execute("BEGIN IMMEDIATE")
        con.executemany(
            "INSERT INTO boxes (id, session_key, agent_id, channel_id, label, status, lines,"
            " start_time_ms, end_time_ms, last_update_ms, revision, source)"
            " VALUES (?, ?, 'main', ?, ?, 'done', ?, ?, ?, ?, ?, 'api')",
            [("old-%07d" % i, "agent:main:mattermost:channel:old%07d" % i,
              "oldch%021d" % (i % 500), "old %d" % i, lines, now - 10800000 + i % 1000,
              now - ended(i), now - ended(i), rev) for i in range(done, done + k)])
        con.execute("COMMIT")
        done += k
    con.execute("BEGIN IMMEDIATE")
    con.execute("UPDATE store_meta SET revision = revision + 1")
    con.execute("COMMIT")
    con.close()


def measure(s, ids):
    first = s.request("GET", "/api/v1/sessions?status=active", timeout=600)
    assert first.status == 200 and len(first.json) == ACTIVE, (first.status, len(first.body))
    res = {}
    res["list"] = timed(lambda: s.request("GET", "/api/v1/sessions?status=active",
                                          timeout=600), READS)
    one = ids[len(ids) // 2]
    res["one"] = timed(lambda: s.request("GET", "/api/v1/sessions/" + one, timeout=600), READS)
    wr = []
    for n in range(WRITES):
        text = "growth probe %d %d" % (len(ids), n)
        t = time.monotonic()
        r = s.request("PUT", "/api/v1/sessions/" + one, {"lines": [text]}, timeout=600)
        assert r.status == 200, r
        while True:
            got = s.request("GET", "/api/v1/sessions/" + one, timeout=600)
            if got.status == 200 and got.json["lines"] and got.json["lines"][-1] == text:
                break
            if time.monotonic() - t > 600:
                raise RuntimeError("a write never showed")
        wr.append((time.monotonic() - t) * 1000)
    res["write"] = wr
    return res


def during_retention(s, ids):
    """Restarts the responder with a retention of 90 minutes, so that the cleanup deletes
    the EXPIRED oldest boxes in batches, and reads and writes while it does."""
    s.env["DELETE_AFTER_S"] = "5400"
    s.env["CLEANUP_INTERVAL_S"] = "1"
    # the cleanup's info line counts its transactions and its longest hold of the write
    # lock; BENCH_GROWTH_LOG=debug adds a line per transaction
    s.env["LOG_LEVEL"] = os.environ.get("BENCH_GROWTH_LOG", "info")
    began = time.monotonic()
    s.restart_responder()
    first = s.request("GET", "/api/v1/sessions?status=active", timeout=600)
    assert first.status == 200, first
    first_s = time.monotonic() - began
    at_first = left_count(s.db)
    one = ids[len(ids) // 2]
    reads, writes = [], []
    n = 0
    while time.monotonic() - began < 900:
        if n % 10 == 0 and left_count(s.db) == 0:
            break
        reads += timed(lambda: s.request("GET", "/api/v1/sessions?status=active",
                                         timeout=600), 1)
        text = "retention probe %d" % n
        t = time.monotonic()
        assert s.request("PUT", "/api/v1/sessions/" + one, {"lines": [text]},
                         timeout=600).status == 200
        while True:
            got = s.request("GET", "/api/v1/sessions/" + one, timeout=600)
            if got.status == 200 and got.json["lines"] and got.json["lines"][-1] == text:
                break
        writes.append((time.monotonic() - t) * 1000)
        n += 1
    took = time.monotonic() - began
    log = s.log("responder")
    longest = [int(m) / 1000 for m in re.findall(r"longest_hold_us=(\d+)", log)]
    txns = sum(int(m) for m in re.findall(r" transactions=(\d+)", log))
    slow = sum(int(m) for m in re.findall(r"holds_over_twice_the_aim=(\d+)", log))
    return {"longest_ms": max(longest) if longest else None, "txns": txns, "slow": slow, "first_s": first_s, "during": EXPIRED - at_first, "left_at_first": at_first,
            "took": took, "left": left_count(s.db), "list": reads, "write": writes}


def left_count(db):
    """The expired boxes still in the store."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=60)
    try:
        return con.execute("SELECT count(*) FROM boxes WHERE id >= 'old-' AND id < ?",
                           ("old-%07d" % EXPIRED,)).fetchone()[0]
    finally:
        con.close()


def report_retention(r, big):
    print("retention: DELETE_AFTER_S lowered to 90 minutes and the responder restarted: %d "
          "of the finished boxes expired; %d were left when the first read (a full read, "
          "%.2f s after the restart) came back; all gone %.1f s after the restart (%d left)"
          % (EXPIRED, r["left_at_first"], r["first_s"], r["took"], r["left"]))
    print("retention: the longest hold of the write lock by the cleanup: %s ms; %d of its "
          "%d transactions held it over 10 ms"
          % (r["longest_ms"] if r["longest_ms"] is not None else "not logged", r["slow"],
             r["txns"]))
    if r["longest_ms"] is not None:
        figure("the cleanup's longest hold of the write lock while it deletes %d expired boxes"
               % EXPIRED, "%.1f ms (%d of %d transactions over 10 ms)"
               % (r["longest_ms"], r["slow"], r["txns"]), CMD,
               goal="<= 10 ms", holds=r["longest_ms"] <= 10)
    if not r["list"]:
        print("retention: it ended before the first read: nothing measured during it")
        return
    for key, name in (("list", "list of active boxes"), ("write", "write -> read")):
        a, b = big[key], r[key]
        ratio = pct(b, 99) / pct(a, 99)
        print("%-28s during retention: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d); "
              "without: p99 %.2f ms" % (name, statistics.median(b), pct(b, 99), max(b),
                                         len(b), pct(a, 99)))
        figure("%s while the cleanup deletes %d expired boxes (of %d)"
               % (name, EXPIRED, FINISHED),
               "p50 %.2f ms, p99 %.2f ms, max %.2f ms"
               % (statistics.median(b), pct(b, 99), max(b)), CMD,
               peer="no cleanup running: p99 %.2f ms" % pct(a, 99),
               ratio=ratio, goal="p99 <= 2x without", holds=ratio <= 2)


def main():
    env = {"LOG_LEVEL": "warn", "MAX_ACTIVE_SESSIONS": str(ACTIVE + 10),
           "STALE_AFTER_S": str(YEAR_S), "DELETE_AFTER_S": str(YEAR_S),
           "CLEANUP_INTERVAL_S": "86400"}
    with Stack(rate="100000000r/s", env=env) as s:
        ids = []
        for i in range(ACTIVE):
            box = "act-%05d" % i
            r = s.request("POST", "/api/v1/sessions", {
                "id": box, "session_key": "agent:main:mattermost:channel:ch%05d" % i,
                "channel_id": "ch%024d" % (i % 50), "lines": ["Working on step %d." % i]})
            assert r.status == 201, r
            ids.append(box)
        small = measure(s, ids)
        pid = s.procs["responder"].pid
        small_rss = status_kb(pid) / 1024
        t = time.monotonic()
        add_finished(s.db, FINISHED)
        fill_s = time.monotonic() - t
        size = os.path.getsize(s.db)
        t = time.monotonic()
        first = s.request("GET", "/api/v1/sessions?status=active", timeout=600)
        first_s = time.monotonic() - t
        assert first.status == 200, first
        big = measure(s, ids)
        big_rss, big_hwm = status_kb(pid) / 1024, status_kb(pid, "VmHWM") / 1024
        print("store: %d active boxes, then + %d finished (%.0f MB, added in %.1f s); "
              "%d reads, %d writes each, one at a time through nginx"
              % (ACTIVE, FINISHED, size / 1e6, fill_s, READS, WRITES))
        print("first read after they were added (the responder reads the whole store once): "
              "%.2f s" % first_s)
        # The snapshot cache holds every box the list can answer (fcgi/api_cache.h).
        per_box = (big_rss - small_rss) * 1048576 / FINISHED
        print("responder RSS: %.1f MiB over the small store, %.1f MiB over the big one "
              "(peak %.1f, the first read of the whole store included): %.0f bytes per "
              "finished box kept" % (small_rss, big_rss, big_hwm, per_box))
        figure("responder RSS, %d active + %d finished boxes, after the reads and writes above"
               % (ACTIVE, FINISHED), "%.1f MiB (peak %.1f): %.0f bytes per finished box kept"
               % (big_rss, big_hwm, per_box), CMD,
               peer="over %d active boxes alone: %.1f MiB" % (ACTIVE, small_rss),
               ratio=big_rss / small_rss)
        retention = during_retention(s, ids) if EXPIRED > 0 else None
    print("%-28s %12s %12s %12s %12s %7s" % ("figure", "small p50", "small p99", "big p50",
                                             "big p99", "p50 x"))
    names = {"list": "list of active boxes", "one": "one box",
             "write": "write -> read"}
    for key, name in names.items():
        a, b = small[key], big[key]
        print("%-28s %9.2f ms %9.2f ms %9.2f ms %9.2f ms %7.2f"
              % (name, statistics.median(a), pct(a, 99), statistics.median(b), pct(b, 99),
                 statistics.median(b) / statistics.median(a)))
        ratio = statistics.median(b) / statistics.median(a)
        figure("%s, %d active + %d finished boxes" % (name, ACTIVE, FINISHED),
               "p50 %.2f ms, p99 %.2f ms" % (statistics.median(b), pct(b, 99)), CMD,
               peer="%d active boxes alone: p50 %.2f ms" % (ACTIVE, statistics.median(a)),
               ratio=ratio, goal="<= 2x the small store", holds=ratio <= 2)
    if retention is not None:
        report_retention(retention, big)


if __name__ == "__main__":
    main()
