#!/usr/bin/env python3
"""make demo: the whole of livestatus on one machine, nothing to configure.

Starts nginx and the responder (the integration tests' stack, READ_AUTH=none
on loopback), the watcher over a temp agents/ folder, and plays the
fixture session into it live, again every DEMO_PAUSE_S seconds with fresh
session ids (each round is a new box).  Prints what to open and run;
Ctrl-C stops everything it started.
"""
import os
import shutil
import signal
import sys
import tempfile
import threading
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from tests.integ.harness import Stack  # noqa: E402
import player  # noqa: E402

FIXTURE = os.path.join(ROOT, "tests", "fixtures", "agents", "main", "sessions")
PAUSE_S = float(os.environ.get("DEMO_PAUSE_S", "20"))


def fresh_copy(dst):
    """The fixture with new session ids, so each round is a new run."""
    os.makedirs(dst)
    names = [n for n in os.listdir(FIXTURE) if n.endswith(".jsonl")]
    ids = {n[:-len(".jsonl")]: str(uuid.uuid4()) for n in names}
    ids["e05a7c3d-1b92-4f86-b4d7-9c2e8a61f305"] = str(uuid.uuid4())  # sub-agent key
    for name in names + ["sessions.json"]:
        with open(os.path.join(FIXTURE, name), encoding="utf-8") as f:
            text = f.read()
        for old, new in ids.items():
            text = text.replace(old, new)
            name = name.replace(old, new)
        with open(os.path.join(dst, name), "w", encoding="utf-8") as f:
            f.write(text)


def main():
    if not os.path.isdir(FIXTURE):
        sys.exit(f"demo: fixture folder not found: {FIXTURE}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Stack(env={"READ_AUTH": "none", "LOG_LEVEL": "warn"}) as s:
        agents = os.path.join(s.tmp, "agents")
        sessions = os.path.join(agents, "main", "sessions")
        os.makedirs(sessions)
        build = os.environ.get("LIVESTATUS_BUILD", "build")
        env = dict(os.environ, TRANSCRIPT_DIR=agents, LIVESTATUS_DB=s.db,
                   PID_FILE=os.path.join(s.tmp, "watcher.pid"), LOG_LEVEL="info",
                   IDLE_TIMEOUT_S="60")
        if s.publish_url:
            env["PUBLISH_URL"] = s.publish_url
        s.start_process("watcher", [os.path.join(ROOT, build, "livestatus-watcher"), "run"], env)
        page = s.url + "/" if os.path.isdir(os.path.join(ROOT, "plugin", "dist", "demo")) \
            else "(no page: the webapp was not built; `make -C plugin build`)"
        print(f"""
livestatus demo is running (logs in {s.tmp}).

  browser:  {page}
  API:      curl -s {s.api}/api/v1/sessions | python3 -m json.tool
  health:   curl -s {s.api}/api/v1/health
  database: sqlite3 -readonly {s.db} 'SELECT * FROM active_boxes; SELECT * FROM box_lines;'
  watcher:  TRANSCRIPT_DIR={agents} LIVESTATUS_DB={s.db} PID_FILE={env['PID_FILE']} \\
              {build}/livestatus-watcher status

Playing the fixture session (a #ops channel run with a sub-agent) every {PAUSE_S:.0f} s.
Ctrl-C stops everything.
""", flush=True)
        round_no = 0
        try:
            while not stop.is_set():
                round_no += 1
                src = tempfile.mkdtemp(prefix="livestatus-demo-src-")
                try:
                    shutil.rmtree(src)
                    fresh_copy(src)
                    print(f"round {round_no}: playing", flush=True)
                    player.play(src, sessions, speed=1.0, max_pause=1.5)
                    print(f"round {round_no}: done; next in {PAUSE_S:.0f} s", flush=True)
                finally:
                    shutil.rmtree(src, ignore_errors=True)
                stop.wait(PAUSE_S)
        except KeyboardInterrupt:
            pass
        print("\nstopping", flush=True)


if __name__ == "__main__":
    main()
