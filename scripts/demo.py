#!/usr/bin/env python3
"""make demo: the whole of livestatus on one machine, nothing to configure.

Starts nginx and the responder (the integration tests' stack, READ_AUTH=none
on loopback), builds the webapp's demo page, starts the watcher over a temp
agents/ folder, and plays the fixture session into it live, again every
DEMO_PAUSE_S seconds with fresh session ids (each round is a new box).  Only
the newest DEMO_KEEP (3) finished boxes are kept: older ones are deleted
through the API, so the page and the API's list stay short.  Prints what to
open and run; every log (the page's build too) is in the run folder it
prints.

SIGINT (Ctrl-C), SIGTERM and SIGHUP (unless ignored, as under nohup) stop
everything it started, however it was started: in the foreground, in the
background (where the shell ignores SIGINT for it), or under nohup.  Started
by `make demo` (scripts/demo.sh sets DEMO_PARENT), it also stops when make
goes away.

DEMO_BUILD_PAGE=0 skips building the page (the tests do, to leave
plugin/dist alone); DEMO_SPEED plays the session faster (1: as written).
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from tests.integ.harness import Stack  # noqa: E402
import player  # noqa: E402

FIXTURE = os.path.join(ROOT, "tests", "fixtures", "agents", "main", "sessions")
PAUSE_S = float(os.environ.get("DEMO_PAUSE_S", "20"))
KEEP = int(os.environ.get("DEMO_KEEP", "3"))
SPEED = float(os.environ.get("DEMO_SPEED", "1"))  # the tests play it faster


class Stop(BaseException):
    """Raised in the main thread by the first stop signal."""


def on_signal(signum, _frame):
    # Once: the teardown that follows must not be cut short by a second signal.
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
    raise Stop(signal.Signals(signum).name)


def install_signals():
    # Set even when inherited as ignored: a shell starts background jobs with SIGINT
    # ignored, and Python then leaves it so.  SIGHUP ignored means nohup: kept.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if signal.getsignal(signal.SIGHUP) != signal.SIG_IGN:
        signal.signal(signal.SIGHUP, on_signal)


def follow_parent():
    """Under make (DEMO_PARENT=make's pid): when make is gone, stop as if signalled."""
    try:
        parent = int(os.environ.get("DEMO_PARENT", ""))
    except ValueError:
        return
    if os.getppid() != parent:
        return

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)
    threading.Thread(target=watch, daemon=True).start()


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


def build_page(s):
    """make -C plugin build, its output in <run folder>/webapp-build.log; True when built.
    In its own process group, so a stop ends npm and node with it."""
    if os.environ.get("DEMO_BUILD_PAGE", "1") == "0" or not shutil.which("npm"):
        return os.path.isdir(os.path.join(ROOT, "plugin", "dist", "demo"))
    path = os.path.join(s.tmp, "webapp-build.log")
    print("building the demo page ...", flush=True)
    with open(path, "ab") as log:
        p = subprocess.Popen(["make", "--no-print-directory", "-C", "plugin", "build"], cwd=ROOT,
                             stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
    try:
        rc = p.wait()
    except BaseException:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        p.wait()
        raise
    if rc != 0:
        print(f"demo: the webapp did not build (see {path}); API only", flush=True)
        return False
    return True


def prune(s):
    """Deletes finished top-level boxes but the newest KEEP (their sub-agents go with them)."""
    try:
        r = s.request("GET", "/api/v1/sessions")
        boxes = r.json if r.status == 200 and isinstance(r.json, list) else []
        done = [b for b in boxes if isinstance(b, dict) and not b.get("parent_id")
                and b.get("status") != "active"]
        done.sort(key=lambda b: b.get("end_time_ms") or b.get("last_update_ms") or 0, reverse=True)
        for b in done[KEEP:]:
            s.request("DELETE", "/api/v1/sessions/" + b["id"])
    except Exception as e:  # noqa: BLE001 - the demo goes on; the next round tries again
        print(f"demo: could not prune old boxes: {e}", flush=True)


def run(s):
    agents = os.path.join(s.tmp, "agents")
    sessions = os.path.join(agents, "main", "sessions")
    os.makedirs(sessions)
    page_built = build_page(s)
    build = os.environ.get("LIVESTATUS_BUILD", "build")
    env = dict(os.environ, TRANSCRIPT_DIR=agents, LIVESTATUS_DB=s.db,
               PID_FILE=os.path.join(s.tmp, "watcher.pid"), LOG_LEVEL="info",
               IDLE_TIMEOUT_S="60")
    env.pop("DEMO_PARENT", None)
    if s.publish_url:
        env["PUBLISH_URL"] = s.publish_url
    s.start_process("watcher", [os.path.join(ROOT, build, "livestatus-watcher"), "run"], env)
    page = s.url + "/" if page_built \
        else "(no page: the webapp was not built; `make -C plugin build`)"
    print(f"""
livestatus demo is running; its logs are in {s.tmp}
(removed when it stops; KEEP_TMP=1 keeps them).

  browser:  {page}
  API:      curl -s {s.api}/api/v1/sessions | python3 -m json.tool
  health:   curl -s {s.api}/api/v1/health
  database: sqlite3 -readonly {s.db} 'SELECT * FROM active_boxes; SELECT * FROM box_lines;'
  watcher:  TRANSCRIPT_DIR={agents} LIVESTATUS_DB={s.db} PID_FILE={env['PID_FILE']} \\
              {build}/livestatus-watcher status

Playing the fixture session (a #ops channel run with a sub-agent) every {PAUSE_S:.0f} s;
the newest {KEEP} finished boxes are kept.  Ctrl-C (or kill {os.getpid()}) stops everything.
""", flush=True)
    round_no = 0
    while True:
        round_no += 1
        prune(s)
        src = tempfile.mkdtemp(prefix="livestatus-demo-src-")
        try:
            shutil.rmtree(src)
            fresh_copy(src)
            print(f"round {round_no}: playing", flush=True)
            player.play(src, sessions, speed=SPEED, max_pause=1.5 / SPEED)
            print(f"round {round_no}: done; next in {PAUSE_S:.0f} s", flush=True)
        finally:
            shutil.rmtree(src, ignore_errors=True)
        time.sleep(PAUSE_S)


def main():
    if not os.path.isdir(FIXTURE):
        sys.exit(f"demo: fixture folder not found: {FIXTURE}")
    install_signals()
    follow_parent()
    why = None
    try:
        with Stack(env={"READ_AUTH": "none", "LOG_LEVEL": "warn"}) as s:
            try:
                run(s)
            except Stop as e:
                why = str(e)
                print(f"\nstopping ({why})", flush=True)
    except Stop as e:  # during the stack's start, which then tears itself down
        why = str(e)
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
