#!/usr/bin/env python3
"""player: plays OpenClaw transcripts into a sessions folder, as the gateway writes them.

    python3 tests/player.py SRC_SESSIONS DST_SESSIONS [--speed 4] [--max-pause 1.5]
                            [--no-lock] [--pieces] [--only NAME.jsonl ...]

SRC_SESSIONS is a finished sessions folder (e.g. tests/fixtures/agents/main/sessions).
The player installs its sessions.json in DST_SESSIONS the gateway's way (temp file, rename),
then appends the transcripts' lines in timestamp order across files, pausing as the
timestamps say (divided by --speed, at most --max-pause seconds).  Per transcript it takes
"<transcript>.lock" before its first line and removes it after its last one; the header
and the lines up to the first assistant reply land in one write (OpenClaw buffers them),
the rest one write per line (--pieces: each line in two writes, cut mid-line).

Used by the integration tests, `make demo` and the benchmark; import it and call play().
"""
import argparse
import datetime
import json
import os
import sys
import time


def _ts(line):
    try:
        obj = json.loads(line)
        t = obj.get("timestamp")
        if isinstance(t, str):
            return datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        pass
    return None


def _is_assistant(line):
    try:
        obj = json.loads(line)
        return obj.get("type") == "message" and obj.get("message", {}).get("role") == "assistant"
    except ValueError:
        return False


def install_sessions_json(src_dir, dst_dir, data=None):
    """Writes sessions.json into dst_dir atomically (from src_dir, or data)."""
    if data is None:
        with open(os.path.join(src_dir, "sessions.json"), encoding="utf-8") as f:
            data = f.read()
    elif not isinstance(data, str):
        data = json.dumps(data, indent=2)
    tmp = os.path.join(dst_dir, "sessions.json.%d.tmp" % os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, os.path.join(dst_dir, "sessions.json"))


def schedule(src_dir, only=None):
    """The writes to make: a list of (time, file name, [lines]) in order."""
    names = sorted(n for n in os.listdir(src_dir) if n.endswith(".jsonl"))
    if only:
        names = [n for n in names if n in only]
    writes = []
    for name in names:
        with open(os.path.join(src_dir, name), encoding="utf-8") as f:
            lines = [l for l in f.read().splitlines(keepends=True) if l.strip()]
        first = next((i for i, l in enumerate(lines) if _is_assistant(l)), len(lines) - 1)
        head = lines[: first + 1]
        writes.append((_ts(head[-1]) or 0.0, name, head))
        last = writes[-1][0]
        for l in lines[first + 1:]:
            t = _ts(l)
            last = t if t is not None else last
            writes.append((last, name, [l]))
    writes.sort(key=lambda w: w[0])
    return writes


def play(src_dir, dst_dir, speed=4.0, max_pause=1.5, lock=True, pieces=False, only=None,
         install_index=True, on_write=None):
    """Plays src_dir's transcripts into dst_dir; returns the number of lines written."""
    if install_index and os.path.exists(os.path.join(src_dir, "sessions.json")):
        install_sessions_json(src_dir, dst_dir)
    writes = schedule(src_dir, only)
    last_of = {}
    for i, (_, name, _) in enumerate(writes):
        last_of[name] = i
    locked = set()
    prev = None
    count = 0
    for i, (t, name, lines) in enumerate(writes):
        if prev is not None and speed > 0:
            time.sleep(min(max(t - prev, 0.0) / speed, max_pause))
        prev = t
        path = os.path.join(dst_dir, name)
        if lock and name not in locked:
            with open(path + ".lock", "w") as f:
                json.dump({"pid": os.getpid(), "createdAt": time.time() * 1000}, f)
            locked.add(name)
            if speed > 0:
                time.sleep(min(0.2, max_pause))
        data = "".join(lines).encode("utf-8")
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if pieces and len(data) > 2:
                cut = len(data) // 2
                os.write(fd, data[:cut])
                time.sleep(0.15)
                os.write(fd, data[cut:])
            else:
                os.write(fd, data)
        finally:
            os.close(fd)
        count += len(lines)
        if on_write:
            on_write(name, lines)
        if lock and last_of[name] == i:
            if speed > 0:
                time.sleep(min(0.1, max_pause))
            os.unlink(path + ".lock")
    return count


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--speed", type=float, default=4.0, help="time compression (0: no pauses)")
    ap.add_argument("--max-pause", type=float, default=1.5)
    ap.add_argument("--no-lock", action="store_true")
    ap.add_argument("--pieces", action="store_true")
    ap.add_argument("--only", nargs="*")
    a = ap.parse_args()
    os.makedirs(a.dst, exist_ok=True)
    n = play(a.src, a.dst, a.speed, a.max_pause, not a.no_lock, a.pieces, a.only)
    print("played %d lines into %s" % (n, a.dst))
    return 0


if __name__ == "__main__":
    sys.exit(main())
