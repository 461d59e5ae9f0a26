"""make demo's player, scripts/demo.py, as a background job: SIGTERM and SIGINT
stop it and every process it started (nginx and its workers, the responder,
the watcher), and it keeps only the newest DEMO_KEEP finished boxes.

It is started as a shell starts `python3 scripts/demo.py &`: no terminal (its
own session), stdin from /dev/null and SIGINT ignored.  Every wait polls with a
deadline.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
import urllib.request

from tests.integ.harness import ROOT, wait_for


def proc_table():
    """{pid: (ppid, pgid, starttime, state, cmdline)} of every process now."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            continue
        # comm may hold spaces and parentheses: the fields start after the last ')'
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(name)] = (int(fields[1]), int(fields[2]), fields[19], fields[0], cmd)
    return table


def descendants(root):
    """{pid: (starttime, cmdline)} of every process below root, now."""
    table = proc_table()
    kids = {}
    for pid, (ppid, _, _, _, _) in table.items():
        kids.setdefault(ppid, []).append(pid)
    out, todo = {}, list(kids.get(root, []))
    while todo:
        pid = todo.pop()
        if pid in table:
            out[pid] = (table[pid][2], table[pid][4])
            todo.extend(kids.get(pid, []))
    return out


def still_running(procs):
    """Those of procs (from descendants) alive now: same pid and start time, not a zombie."""
    table = proc_table()
    return {pid: cmd for pid, (start, cmd) in procs.items()
            if pid in table and table[pid][2] == start and table[pid][3] != "Z"}


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


class DemoInBackground(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="livestatus-test-demo-")
        self.out_path = os.path.join(self.dir, "demo.out")
        self.proc = None

    def tearDown(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # a failed test: leave nothing behind
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def output(self):
        with open(self.out_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def start(self, **env):
        run_env = dict(os.environ, DEMO_BUILD_PAGE="0", PYTHONUNBUFFERED="1", **env)
        run_env.pop("DEMO_PARENT", None)
        run_env.pop("KEEP_TMP", None)
        with open(self.out_path, "wb") as out:
            # As `python3 scripts/demo.py &` from a script: SIGINT ignored, no terminal.
            self.proc = subprocess.Popen(
                [sys.executable, "scripts/demo.py"], cwd=ROOT, env=run_env,
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))

        def printed():
            if self.proc.poll() is not None:
                raise AssertionError(f"demo.py exited with {self.proc.returncode}:\n"
                                     + self.output()[-3000:])
            text = self.output()
            api = re.search(r"API:\s+curl -s (\S+)/api/v1/sessions", text)
            tmp = re.search(r"its logs are in (\S+)", text)
            return api and tmp and (api.group(1), tmp.group(1))
        self.api, self.tmp = wait_for(printed, timeout=60, what="the demo's banner")
        self.assertTrue(os.path.isdir(self.tmp), self.tmp)

    def boxes(self):
        return get_json(self.api + "/api/v1/sessions")

    def stops_on(self, sig):
        self.start(DEMO_PAUSE_S="30")
        wait_for(lambda: self.proc.poll() is None and self.boxes(), timeout=60,
                 what="a box in the API")
        started = descendants(self.proc.pid)
        names = " ".join(cmd for _, cmd in started.values())
        for prog in ("livestatus-fcgi", "livestatus-watcher", "nginx: master", "nginx: worker"):
            self.assertIn(prog, names, f"{prog} is not among the demo's processes: {names}")
        # The logs are in the run folder it printed.
        for log in ("responder.log", "watcher.log", "nginx-error.log"):
            self.assertTrue(os.path.exists(os.path.join(self.tmp, log)), log)

        os.kill(self.proc.pid, sig)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.fail(f"demo.py still runs 30 s after {sig.name}:\n{self.output()[-3000:]}")
        self.assertEqual(rc, 0, self.output()[-3000:])
        self.assertIn(f"stopping ({sig.name})", self.output())
        # Its children are reaped by then; their own children (nginx's workers) may take a
        # moment longer to go.
        wait_for(lambda: not still_running(started), timeout=15,
                 what=f"the demo's processes to end: {still_running(started)}")
        group = [pid for pid, row in proc_table().items()
                 if row[1] == self.proc.pid and row[3] != "Z"]
        self.assertEqual(group, [], "processes left in the demo's process group")
        self.assertFalse(os.path.exists(self.tmp), "the run folder is left behind")

    def test_sigterm_stops_everything_it_started(self):
        self.stops_on(signal.SIGTERM)

    def test_sigint_stops_it_in_the_background_too(self):
        self.stops_on(signal.SIGINT)

    def test_keeps_only_the_newest_finished_boxes(self):
        self.start(DEMO_PAUSE_S="0", DEMO_SPEED="10", DEMO_KEEP="1")
        # Five rounds are five boxes; with one finished box kept, the list never holds
        # more than that one, the one that may have ended since the last round began,
        # and the running one.
        wait_for(lambda: "round 5: playing" in self.output(), timeout=120,
                 what="the fifth round")
        # A watcher a round behind (a loaded machine) leaves a box active that a
        # prune then keeps, so the bound is waited for, not sampled once; without
        # pruning the five boxes stay and the wait fails.
        seen = []

        def bounded():
            boxes = [b for b in self.boxes() if not b.get("parent_id")]
            finished = [b for b in boxes if b["status"] != "active"]
            seen[:] = boxes
            return len(boxes) <= 3 and len(finished) <= 2

        wait_for(bounded, what="at most three boxes, two of them finished")
        self.assertLessEqual(len(seen), 3, json.dumps(seen)[:2000])
        os.kill(self.proc.pid, signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=30), 0, self.output()[-3000:])


if __name__ == "__main__":
    unittest.main()
