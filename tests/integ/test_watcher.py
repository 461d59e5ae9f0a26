"""livestatus-watcher end to end: the fixture played live, commands, lifecycle, routing."""
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import player  # noqa: E402
from wharness import (CHILD_KEY, FIXTURE, PARENT_FILE, PARENT_KEY, WATCHER,  # noqa: E402
                      WatcherCase, assistant, call, header, result, wait_equal, wait_for)

PARENT_LINES = [
    "Ask systemd about the backup job first.",
    "exec: systemctl status backup-db02 [OK]",
    "Opening the backup policy.",
    "read: /etc/backup/policy.md [OK]",
    "exec: ls -l /srv/backup/db-02 [ERR]",
    "Hand the size check to a helper.",
    "Sub-agent: dump sizes",
    "db-02's backup finished at 02:14; the newest dump (3.2G) is in line with the week before it.",
]
CHILD_LINES = [
    "List the dumps with their sizes.",
    "exec: sudo du -sh /srv/backup/db-02/* [OK]",
    "Newest dump 3.2G; the six before it 3.0G to 3.1G.",
]


class FixtureLive(WatcherCase):
    def check_fixture_boxes(self):
        parent = self.wait_box(PARENT_KEY, lambda b: b["status"] == "done",
                               what="the parent box to end")
        child = self.wait_box(CHILD_KEY, lambda b: b["status"] == "done")
        self.assertEqual(parent["lines"], PARENT_LINES)
        self.assertEqual(parent["token_count"], 857)
        self.assertEqual(parent["model"], "claude-opus-4-6")
        self.assertEqual(parent["channel_id"], "u4k9x2mdp7fq3nbc8wyh6tz1re")
        self.assertEqual(parent["root_id"], "")
        self.assertIsNone(parent["parent_id"])
        self.assertEqual(parent["source"], "watcher")
        self.assertLessEqual(parent["start_time_ms"], parent["last_update_ms"])
        self.assertIsNotNone(parent["end_time_ms"])
        self.assertEqual(child["lines"], CHILD_LINES)
        self.assertEqual(child["parent_id"], parent["id"])
        self.assertEqual(child["label"], "dump sizes")
        self.assertEqual(child["token_count"], 290)
        self.assertEqual(len(self.boxes()), 2, "one box per session, nothing else")
        return parent, child

    def test_fixture_played_live(self):
        self.start_watcher()
        seen_active = []

        def on_write(name, lines):
            # Once the parent has asked for a tool (its run goes on: the lock is held and a
            # call is pending), wait for its box to show lines rather than sampling it once:
            # a slow watcher must not make the observation a matter of luck.
            if seen_active or name != PARENT_FILE or not any(
                    json.loads(l).get("message", {}).get("stopReason") == "toolUse"
                    for l in lines):
                return
            b = wait_for(lambda: (lambda b: b if b is not None and b["lines"] else None)(
                self.box(PARENT_KEY)), what="the parent box with lines while it plays")
            if b["status"] == "active":
                seen_active.append(list(b["lines"]))
        player.play(FIXTURE, self.sessions, speed=20, max_pause=0.3, on_write=on_write)
        self.check_fixture_boxes()
        self.assertTrue(seen_active, "the box was active while the session played")
        # The heartbeat's figures lag the boxes: wait until they cover every line.
        wait_equal(lambda: self.stats().get("lines_read"), 23, what="lines_read")
        self.assertEqual(self.stats()["parse_errors"], 0)

    def test_lines_in_pieces(self):
        self.start_watcher()
        player.play(FIXTURE, self.sessions, speed=20, max_pause=0.3, pieces=True)
        self.check_fixture_boxes()
        self.assertEqual(self.stats()["parse_errors"], 0)

    def test_polling_fallback(self):
        self.start_watcher(WATCHER_FORCE_POLL=1, POLL_INTERVAL_MS=100)
        self.assertFalse(self.stats()["inotify"])
        player.play(FIXTURE, self.sessions, speed=20, max_pause=0.3)
        self.check_fixture_boxes()

    def test_sessions_folder_as_root(self):
        self.start_watcher(TRANSCRIPT_DIR=self.sessions)
        player.play(FIXTURE, self.sessions, speed=20, max_pause=0.3)
        parent, _ = self.check_fixture_boxes()
        self.assertEqual(parent["agent_id"], "main")

    def test_finished_transcript_shows_nothing(self):
        for n in os.listdir(FIXTURE):
            shutil.copy(os.path.join(FIXTURE, n), self.sessions)
        self.start_watcher()
        self.wait_stat("files", 2)
        self.assertEqual(self.boxes(), [])
        self.assertEqual(self.stats()["lines_read"], 0)
        # new activity on the finished session: a fresh box with only the new lines
        self.lock(PARENT_FILE)
        self.append(PARENT_FILE, assistant(["Looking again."], stop="stop"))
        b = self.wait_box(PARENT_KEY, lambda b: b["lines"] == ["Looking again."])
        self.assertEqual(b["status"], "active")
        self.unlock(PARENT_FILE)
        self.wait_box(PARENT_KEY, lambda b: b["status"] == "done")
        # Read from the end: the one new line is all that was ever read, all that was shown.
        wait_equal(lambda: self.stats().get("lines_read"), 1, what="lines_read")
        self.assertEqual(len(self.boxes()), 1)

    def test_api_shows_the_box(self):
        try:
            from harness import Stack
        except ImportError:
            self.skipTest("tests/integ/harness.py not there yet")
        stack = Stack()
        try:
            self.db = stack.db
            if stack.publish_url:
                self.env["PUBLISH_URL"] = stack.publish_url
            # as deployed: the watcher moves the link nginx keys its cache of reads by
            self.env["REVISION_DIR"] = stack.revision_dir
            self.start_watcher()
            # reads all along, so that nginx keeps an entry of many states
            reading = threading.Event()

            def read_along():
                for _ in range(20000):  # bounded; the play ends it much sooner
                    if reading.wait(0.005):
                        break
                    stack.request("GET", "/api/v1/sessions")
            reader = threading.Thread(target=read_along)
            reader.start()
            try:
                player.play(FIXTURE, self.sessions, speed=20, max_pause=0.3)
                parent, child = self.check_fixture_boxes()
            finally:
                reading.set()
                reader.join()
            # Once the link names the store's revision, the next read is that state.
            rev = self.query("SELECT revision FROM store_meta")[0]["revision"]

            def link_rev():
                name = os.readlink(os.path.join(stack.revision_dir, "current"))
                return int(name.split(".")[0][1:])
            wait_for(lambda: link_rev() >= rev, what="the link at the store's revision")
            r = stack.request("GET", "/api/v1/sessions")
            self.assertEqual(r.json[0]["status"], "done", r)
            self.assertEqual(r.json[0]["lines"], PARENT_LINES)
            # The watcher moved it after its commits itself (not only when it
            # opened it: its counter, the name's last part, went past 0).
            pid = "%x" % self.proc.pid
            moved = [n for n in os.listdir(stack.revision_dir)
                     if n.startswith("r") and n.split(".")[2] == pid and n.split(".")[3] != "0"]
            self.assertTrue(moved, os.listdir(stack.revision_dir))

            def listed():
                r = stack.request("GET", "/api/v1/sessions")
                return r.json if r.status == 200 and r.json else None
            body = wait_for(listed, what="GET /api/v1/sessions")
            self.assertEqual(len(body), 1)
            self.assertEqual(body[0]["lines"], PARENT_LINES)
            self.assertEqual(body[0]["status"], "done")
            self.assertEqual(body[0]["children"][0]["lines"], CHILD_LINES)
            r = stack.request("GET", "/api/v1/sessions/" + child["id"])
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json["parent_id"], parent["id"])
            # alive: a heartbeat within 3 intervals; on a loaded machine one can be late
            h = wait_for(lambda: (lambda j: j if j["watcher"]["alive"] else None)(
                stack.request("GET", "/api/v1/health").json), what="health: watcher alive")
            self.assertTrue(h["watcher"]["alive"], h)
        finally:
            self.stop_watcher()
            stack.stop()


class Lifecycle(WatcherCase):
    KEY = "agent:main:mattermost:channel:c1"

    def setUp(self):
        super().setUp()
        self.write_sessions(dict([self.session_entry(self.KEY, "s1")]))

    def test_error_stop_reason_then_fresh_box(self):
        self.start_watcher()
        self.lock("s1.jsonl")
        self.append("s1.jsonl", header("s1"), assistant(["Trying."], stop="error"))
        first = self.wait_box(self.KEY, lambda b: b["status"] == "error")
        self.assertIsNotNone(first["end_time_ms"])
        # not work: the ended box stays ended, nothing new starts
        self.append("s1.jsonl", {"type": "custom", "customType": "model-snapshot", "data": {}},
                    assistant(["mirror"], provider="openclaw", model="delivery-mirror"))
        self.wait_stat("lines_read", 4)
        self.assertEqual(len(self.boxes(self.KEY)), 1)
        self.append("s1.jsonl", assistant(["Again."], stop="stop"))
        # the new box and its line, and the first one unchanged (the lock is still held)
        wait_equal(lambda: [(b["lines"], b["status"]) for b in self.boxes(self.KEY)],
                   [(["Trying."], "error"), (["Again."], "active")],
                   what="the ended box and a fresh active one with its line")
        b = self.box(self.KEY)
        self.assertNotEqual(b["id"], first["id"])
        self.assertEqual(b["lines"], ["Again."])
        self.assertEqual(b["status"], "active")  # the lock is still held

    def test_idle_timeout_and_max_duration(self):
        self.start_watcher(IDLE_TIMEOUT_S=1)
        self.lock("s1.jsonl")
        self.append("s1.jsonl", header("s1"), assistant([call("t1", "exec", command="sleep")]))
        b = self.wait_box(self.KEY, lambda b: b["status"] == "done")
        self.assertEqual(b["lines"], ["exec: sleep"])
        self.stop_watcher()
        self.start_watcher(MAX_SESSION_DURATION_S=2, IDLE_TIMEOUT_S=60)
        self.append("s1.jsonl", assistant(["Working."]))
        b = self.wait_box(self.KEY, lambda b: b["status"] == "done" and "Working." in b["lines"])
        self.assertEqual(b["lines"][-1], "[max session duration reached - stopped tracking]")

    def test_sigterm_interrupts(self):
        self.start_watcher()
        self.lock("s1.jsonl")
        self.append("s1.jsonl", header("s1"), assistant(["Busy."]))
        self.wait_box(self.KEY, lambda b: b["lines"] == ["Busy."])
        self.assertEqual(self.stop_watcher(), 0)
        b = self.box(self.KEY)
        self.assertEqual(b["status"], "interrupted")
        self.assertIsNone(self.heartbeat())

    def test_routing_dm_target_and_default_channel(self):
        self.write_sessions({
            "agent:main:main": {"sessionId": "s2",
                                "deliveryContext": {"channel": "mattermost", "to": "user:u9"}},
            "agent:main:cron:nightly": {"sessionId": "s3"},
            "agent:main:mattermost:channel:c1:thread:root7": {"sessionId": "s4"},
        })
        self.start_watcher(DEFAULT_CHANNEL="dflt")
        for sid in ("s2", "s3", "s4"):
            self.lock(sid + ".jsonl")
        dm = self.wait_box("agent:main:main", lambda b: True)
        cron = self.wait_box("agent:main:cron:nightly", lambda b: True)
        thread = self.wait_box("agent:main:mattermost:channel:c1:thread:root7", lambda b: True)
        self.assertEqual(dm["channel_id"], "")
        self.assertEqual(cron["channel_id"], "dflt")
        self.assertEqual((thread["channel_id"], thread["root_id"]), ("c1", "root7"))
        row = wait_for(lambda: self.query(
            "SELECT target FROM watcher_sessions WHERE session_key = 'agent:main:main'"))
        self.assertEqual(row[0]["target"], "user:u9")

    def test_labels_file(self):
        path = os.path.join(self.tmp, "labels.json")
        with open(path, "w") as f:
            json.dump({"exact": {"exec": "shell", "tts": None},
                       "patterns": {"mcp__*": {"label": "mcp", "detail": "q"}}}, f)
        self.start_watcher(TOOL_LABELS_FILE=path)
        self.lock("s1.jsonl")
        self.append("s1.jsonl", header("s1"), assistant([
            call("a", "exec", command="ls"), call("b", "tts", text="hi"),
            call("c", "mcp__x__y", q="find")]))
        self.wait_box(self.KEY, lambda b: b["lines"] == ["shell: ls", "mcp: find"])


class Commands(WatcherCase):
    def run_cmd(self, *args, **env):
        return subprocess.run([WATCHER] + list(args), env=self.watcher_env(**env),
                              capture_output=True, text=True, timeout=40)

    def test_version_and_help(self):
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        with open(os.path.join(root, "VERSION")) as f:
            version = f.read().strip()
        r = self.run_cmd("--version")
        self.assertEqual(r.returncode, 0)
        self.assertIn(version, r.stdout)
        r = self.run_cmd("--help")
        self.assertEqual(r.returncode, 0)
        for var in ("TRANSCRIPT_DIR", "IDLE_TIMEOUT_S", "MAX_STATUS_LINES", "PID_FILE"):
            self.assertIn(var, r.stdout)
        self.assertEqual(self.run_cmd("bogus").returncode, 2)

    def test_bad_settings_exit_2_naming_the_variable(self):
        for var, val in (("IDLE_TIMEOUT_S", "soon"), ("MAX_STATUS_LINES", "0"),
                         ("LOG_LEVEL", "loud"), ("MM_URL", "ftp://x"),
                         ("PLUGIN_ENABLED", "maybe"), ("TRANSCRIPT_DIR", "/nonexistent/x"),
                         ("TOOL_LABELS_FILE", "/nonexistent/labels.json")):
            r = self.run_cmd("run", **{var: val})
            self.assertEqual(r.returncode, 2, var)
            self.assertIn(var, r.stderr)

    def test_start_status_stop(self):
        r = self.run_cmd("status")
        self.assertEqual(r.returncode, 3)
        r = self.run_cmd("start", LOG_FILE=self.log_path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("started", r.stdout)
        try:
            r = self.run_cmd("start")
            self.assertEqual(r.returncode, 1)
            self.assertIn("already running", r.stderr)
            wait_for(self.heartbeat, what="heartbeat")
            r = self.run_cmd("status")
            self.assertEqual(r.returncode, 0)
            for word in ("pid:", "uptime:", "active boxes:", "lines read:", "parse errors:"):
                self.assertIn(word, r.stdout)
            # a second foreground copy is refused too
            r = self.run_cmd("run")
            self.assertEqual(r.returncode, 1)
        finally:
            r = self.run_cmd("stop")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(self.run_cmd("status").returncode, 3)
        self.assertFalse(os.path.exists(self.pid_file))


if __name__ == "__main__":
    unittest.main()
