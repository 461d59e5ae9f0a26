#!/bin/sh
# bench_mm.sh: the Mattermost side's figures.
#
#   sh tests/bench/bench_mm.sh          (make bench runs it)
#
# 1. Requests per box: a recorded 2-minute session (a parent box with a
#    sub-agent, bursts of tool calls and quiet stretches, made here with
#    fixed timestamps and played in real time by tests/player.py) goes
#    through the real livestatus-watcher with THROTTLE_MS=500 into
#    tests/mmstub.py.  Printed: box changes committed, Mattermost requests
#    (creates + edits) per box, and the most edits of one post seen in any
#    one-second window (the original's pace, 2/s, is the ceiling).
# 2. Read throughput: GET /api/v1/sessions through nginx with
#    READ_AUTH=mattermost and a warm token/membership cache, against the
#    same read with the shared secret; requests/s of each and their ratio.
# It measures; it never fails on a number.  Settings: BENCH_MM_SPEED
# (player speed, 1 = real time), BENCH_MM_PARTS ("12": which parts),
# BENCH_DURATION (wrk, 10s),
# BENCH_CONNECTIONS (32), BENCH_THREADS (2), LIVESTATUS_BUILD (build).
set -eu
cd "$(dirname "$0")/../.."
B=${LIVESTATUS_BUILD:-build}
for p in livestatus-watcher livestatus-fcgi; do
	[ -x "$B/$p" ] || { echo "bench_mm: $B/$p is missing: run make first"; exit 1; }
done
command -v wrk >/dev/null 2>&1 || { echo "bench_mm: wrk is not installed (apt-get install wrk)"; exit 1; }
exec python3 - "$@" <<'PY'
import datetime, json, os, re, shutil, signal, sqlite3, subprocess, sys, tempfile, time
sys.path.insert(0, os.getcwd())
sys.path.insert(0, os.path.join(os.getcwd(), "tests", "bench"))
from figures import figure
from procmem import private_kb, status_kb
from tests import player
from tests.integ.harness import SECRET, Stack
from tests.mmstub import MMStub

build = os.environ.get("LIVESTATUS_BUILD", "build")
speed = float(os.environ.get("BENCH_MM_SPEED", "1"))
duration = os.environ.get("BENCH_DURATION", "10s")
conns = os.environ.get("BENCH_CONNECTIONS", "32")
wthreads = os.environ.get("BENCH_THREADS", "2")
CH = "b3nchchanne100000000000000"
PARENT = "agent:main:mattermost:channel:" + CH
CHILD = "agent:main:subagent:0b0b0b0b-0000-4000-8000-00000000000c"
PSID, CSID = "0a0a0a0a-0000-4000-8000-00000000000a", "0c0c0c0c-0000-4000-8000-00000000000c"
T0 = datetime.datetime(2026, 4, 14, 9, 0, 0, tzinfo=datetime.timezone.utc)


def ts(s):
    return (T0 + datetime.timedelta(seconds=s)).isoformat().replace("+00:00", "Z")


def line(t, role, content, stop=None):
    msg = {"role": role, "content": content, "timestamp": int((T0.timestamp() + t) * 1000)}
    if role == "assistant":
        msg.update(model="claude-opus-4-6", provider="anthropic", api="anthropic-messages",
                   usage={"input": 900, "output": 120}, stopReason=stop or "toolUse")
    return {"type": "message", "id": os.urandom(4).hex(), "parentId": None,
            "timestamp": ts(t), "message": msg}


def tool_turn(t, cid, text, cmd):
    """A thought with a tool call, and the call's result 0.3 s later."""
    return [line(t, "assistant", [{"type": "text", "text": text},
                                  {"type": "toolCall", "id": cid, "name": "exec",
                                   "arguments": {"command": cmd}}]),
            line(t + 0.3, "toolResult", [{"type": "text", "text": "ok"}])]


def result_fix(obj, cid):
    obj["message"].update(toolCallId=cid, toolName="exec", isError=False)
    return obj


def record(src):
    """Writes the 2-minute recorded session into src (sessions.json + transcripts)."""
    parent, child = [{"type": "session", "version": 3, "id": PSID, "timestamp": ts(0), "cwd": "/w"}], \
        [{"type": "session", "version": 3, "id": CSID, "timestamp": ts(30), "cwd": "/w"}]
    t, n = 0.5, 0
    # Bursts: 12 tool calls in 3 s, then a quiet 12 s; eight times over 2 minutes.
    while t < 118:
        burst_end = t + 3
        while t < burst_end and t < 118:
            cid = "p%d" % n
            a, r = tool_turn(t, cid, "Checking part %d." % n, "grep -rn x part%d" % n)
            parent += [a, result_fix(r, cid)]
            if n == 20:  # the sub-agent starts
                parent.append(line(t + 0.4, "assistant", [
                    {"type": "toolCall", "id": "spawn", "name": "sessions_spawn",
                     "arguments": {"task": "size the logs", "label": "log sizing"}}]))
                parent.append(result_fix(line(t + 0.5, "toolResult",
                                              [{"type": "text", "text": "spawned"}]), "spawn"))
            t += 0.25
            n += 1
        t += 12
    for k in range(40):  # the sub-agent works from 30 s to 90 s
        cid = "c%d" % k
        a, r = tool_turn(30 + k * 1.5, cid, "Sizing %d." % k, "du -sh /var/log/%d" % k)
        child += [a, result_fix(r, cid)]
    child.append(line(91, "assistant", [{"type": "text", "text": "Logs sized."}], "stop"))
    parent.append(line(119.5, "assistant", [{"type": "text", "text": "All checked."}], "stop"))
    for sid, lines in ((PSID, parent), (CSID, child)):
        with open(os.path.join(src, sid + ".jsonl"), "w") as f:
            for o in lines:
                f.write(json.dumps(o) + "\n")
    with open(os.path.join(src, "sessions.json"), "w") as f:
        json.dump({PARENT: {"sessionId": PSID, "updatedAt": 1, "sessionFile": PSID + ".jsonl"},
                   CHILD: {"sessionId": CSID, "updatedAt": 1, "sessionFile": CSID + ".jsonl",
                           "spawnedBy": PARENT, "label": "log sizing"}}, f)
    return len(parent) + len(child)


def part1():
    tmp = tempfile.mkdtemp(prefix="bench-mm-")
    src = os.path.join(tmp, "recorded")
    dst = os.path.join(tmp, "agents", "main", "sessions")
    os.makedirs(src)
    os.makedirs(dst)
    nlines = record(src)
    db = os.path.join(tmp, "livestatus.db")
    stub = MMStub().start()
    env = dict(os.environ, TRANSCRIPT_DIR=os.path.join(tmp, "agents"), LIVESTATUS_DB=db,
               PID_FILE=os.path.join(tmp, "w.pid"), MM_URL=stub.url, MM_TOKEN="bot-token",
               THROTTLE_MS="500", LOG_LEVEL="warn")
    for k in ("DEFAULT_CHANNEL", "PUBLISH_URL", "SESSIONS_JSON"):
        env.pop(k, None)
    log = open(os.path.join(tmp, "watcher.log"), "wb")
    w = subprocess.Popen([os.path.join(build, "livestatus-watcher"), "run"], env=env,
                         stdout=log, stderr=log)
    try:
        time.sleep(1.0)
        start = time.monotonic()
        player.play(src, dst, speed=speed, max_pause=30)
        played = time.monotonic() - start
        # The end is posted (the trailing flush) within a throttle interval or two.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            con = sqlite3.connect(db)
            row = con.execute("SELECT count(*) FROM mm_posts p JOIN boxes b ON b.id = p.box_id "
                              "WHERE b.status <> 'active' AND p.posted_revision >= "
                              "(SELECT revision FROM store_meta)").fetchone()
            con.close()
            if row[0] >= 1:
                break
            time.sleep(0.2)
        time.sleep(1.0)
        con = sqlite3.connect(db)
        changes = con.execute("SELECT revision FROM store_meta").fetchone()[0]
        tops = con.execute("SELECT count(*) FROM boxes WHERE parent_id IS NULL").fetchone()[0]
        kids = con.execute("SELECT count(*) FROM boxes WHERE parent_id IS NOT NULL").fetchone()[0]
        con.close()
    finally:
        w.send_signal(signal.SIGTERM)
        w.wait(timeout=20)
        log.close()
    reqs = [r for r in stub.requests() if r["done"]]
    stub.stop()
    posts = [r for r in reqs if r["method"] in ("POST", "PUT") and r["path"].startswith("/api/v4/posts")]
    by_post = {}
    for r in posts:
        pid = r["path"].rsplit("/", 1)[-1] if r["method"] == "PUT" else \
            (r["response"] or {}).get("id")
        by_post.setdefault(pid, []).append(r["t_ms"])
    peak, gap = 0, None
    for times in by_post.values():
        for i, t in enumerate(times):
            # A window a hair under 1 s: edits exactly THROTTLE_MS apart land on its edge.
            peak = max(peak, sum(1 for u in times[i:] if u - t < 990))
        for a, b in zip(times, times[1:]):
            gap = b - a if gap is None else min(gap, b - a)
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"1. recorded session: {nlines} transcript lines over 120 s (played in {played:.0f} s), "
          f"{tops} top-level box + {kids} sub-agent box, THROTTLE_MS=500")
    print(f"   store changes (revisions): {changes}")
    print(f"   Mattermost requests: {len(reqs)} in all, {len(posts)} creates+edits for "
          f"{len(by_post)} post(s) = {len(posts) / max(tops, 1):.0f} per box "
          f"({len(posts) / max(played, 1):.2f}/s)")
    print(f"   most edits of one post in any 1 s: {peak} (ceiling 2); "
          f"shortest gap between two: {gap} ms")
    figure("Mattermost, a 2-minute session, `THROTTLE_MS=500`",
           f"{len(posts)} creates + edits for its post ({len(posts) / max(played, 1):.2f}/s), "
           f"at most {peak} in a second", "sh tests/bench/bench_mm.sh",
           peer="v4.1's pace: 2 edits a second", goal="<= 2 in any second", holds=peak <= 2)


def part2():
    stub = MMStub().start()
    stub.add_user("reader", user_id="r3ader0000000000000000000a", token="readertoken")
    chans = ["ch%02dxxxxxxxxxxxxxxxxxxxxxx" % i for i in range(20)]
    for c in chans:
        stub.add_channel(c, members=["r3ader0000000000000000000a"])
    out = {}
    with Stack(rate="100000000r/s", threads=16,
               env={"LOG_LEVEL": "warn", "MM_URL": stub.url, "MM_TOKEN": "bot-token",
                    "READ_AUTH": "mattermost"}) as s:
        for i, c in enumerate(chans):
            lines = [f"exec: grep -rn 'pattern {j}' src/module_{i}/ [OK]" for j in range(15)]
            r = s.request("POST", "/api/v1/sessions", {
                "id": f"bench-{i:02d}", "session_key": f"agent:main:mattermost:channel:{c}",
                "channel_id": c, "lines": lines, "post_id": "x"})
            assert r.status == 201, r
        url = s.api + "/api/v1/sessions"
        warm = s.request("GET", "/api/v1/sessions", auth="readertoken")
        assert warm.status == 200 and len(warm.json) == 20, warm
        for name, tok in (("secret", SECRET), ("mattermost", "readertoken")):
            argv = ["wrk", "-t", wthreads, "-c", conns, "-d", duration, "-H",
                    "Authorization: Bearer " + tok, url]
            res = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
            out[name] = float(re.search(r"Requests/sec:\s+([\d.]+)", res).group(1))
            bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", res)
            if bad:
                print(f"   ({name}: {bad.group(1)} non-2xx answers)")
        pid = s.procs["responder"].pid
        hwm, files = status_kb(pid, "VmHWM") / 1024, status_kb(pid, "RssFile") / 1024
        own = private_kb(pid) / 1024
    asked = len([r for r in stub.requests() if r["path"] == "/api/v4/users/me"])
    stub.stop()
    print(f"2. GET /api/v1/sessions (20 boxes in 20 channels, the reader a member of all), "
          f"wrk -t{wthreads} -c{conns} -d{duration}")
    print(f"   secret           : {out['secret']:10.0f} req/s")
    print(f"   mattermost (warm): {out['mattermost']:10.0f} req/s   ({asked} users/me call(s) in all)")
    print(f"   ratio mattermost/secret: {out['mattermost'] / out['secret']:.2f}")
    figure("reads with a Mattermost login (warm cache), 20 boxes",
           f"{out['mattermost']:.0f} req/s", "sh tests/bench/bench_mm.sh",
           peer=f"reads with the secret {out['secret']:.0f} req/s",
           ratio=out["mattermost"] / out["secret"])
    print(f"   responder with READ_AUTH=mattermost: peak RSS {hwm:.1f} MiB (binary and "
          f"shared libraries {files:.1f}, libcurl's among them; private {own:.1f})")
    figure("responder peak RSS with READ_AUTH=mattermost, 20 boxes, after the reads above",
           f"{hwm:.1f} MiB (binary and shared libraries {files:.1f}; private {own:.1f})",
           "sh tests/bench/bench_mm.sh", goal="< 8 MiB", holds=hwm < 8)


parts = os.environ.get("BENCH_MM_PARTS", "12")
if "1" in parts:
    part1()
if "2" in parts:
    part2()
PY
