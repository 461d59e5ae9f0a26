"""live-status, the v1 command, against the real stack (nginx + responder).

create / update / delete through the API with the writer secret, the
options and variables that steer them, the exit codes of live-status(1),
the deprecation notice on every call, and the pass-through commands
against a real livestatus-watcher.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from tests.integ.harness import Stack, build_dir, sanitizer_env, wait_for

CLI = os.path.join(build_dir(), "live-status")
WATCHER = os.path.join(build_dir(), "livestatus-watcher")
NOTICE = "live-status: deprecated:"


def run(args, env, timeout=30):
    proc = subprocess.run([CLI] + args, env=sanitizer_env(dict(env)), capture_output=True,
                          text=True, errors="replace", timeout=timeout)
    for mark in ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer"):
        assert mark not in proc.stderr, proc.stderr
    return proc


@unittest.skipUnless(os.access(CLI, os.X_OK), "live-status is not built")
class CliApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack()

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()

    def env(self, **extra):
        e = {k: v for k, v in os.environ.items()
             if k not in ("PLUGIN_URL", "PLUGIN_SECRET", "DEFAULT_CHANNEL", "MAX_STATUS_LINES")}
        e.update(PLUGIN_URL=self.stack.api, PLUGIN_SECRET=self.stack.secret)
        e.update(extra)
        return e

    def cli(self, *args, code=0, **env):
        proc = run(list(args), self.env(**env))
        self.assertEqual(proc.returncode, code, proc.stdout + proc.stderr)
        # One deprecation line first, on stderr, on every call.
        self.assertTrue(proc.stderr.startswith(NOTICE), proc.stderr)
        self.assertEqual(proc.stderr.count(NOTICE), 1, proc.stderr)
        return proc

    def box(self, box_id):
        r = self.stack.request("GET", f"/api/v1/sessions/{box_id}")
        return r.json if r.status == 200 else r.status

    def test_create_update_delete(self):
        p = self.cli("--channel", "c4xp9fdt7k3rbjd8xw3gzyq6n1", "--reply-to",
                     "ytg5rbzn5jnw3mrxbtm6b4rqhc", "create", "Starting the backup")
        box_id = p.stdout.strip()
        self.assertRegex(box_id, r"^cli-[0-9a-f]{16}$")
        self.assertEqual(p.stdout, box_id + "\n")  # stdout holds the id and nothing else
        b = self.box(box_id)
        self.assertEqual(b["status"], "active")
        self.assertEqual(b["channel_id"], "c4xp9fdt7k3rbjd8xw3gzyq6n1")
        self.assertEqual(b["root_id"], "ytg5rbzn5jnw3mrxbtm6b4rqhc")
        self.assertEqual(b["agent_id"], "main")
        self.assertRegex(b["session_key"], r"^agent:main:cli:[0-9a-f]{16}$")
        self.assertEqual(b["lines"], ["Starting the backup"])

        p = self.cli("update", box_id, "Dumping", "the database")
        self.assertEqual(p.stdout, "")
        self.assertEqual(self.box(box_id)["lines"], ["Starting the backup", "Dumping the database"])

        self.cli("update", box_id, "--tokens", "1234", "--model", "claude-opus-4-6",
                 "--label", "backup")
        b = self.box(box_id)
        self.assertEqual((b["token_count"], b["model"], b["label"]),
                         (1234, "claude-opus-4-6", "backup"))
        self.assertEqual(len(b["lines"]), 2)  # fields alone leave the lines

        self.cli("update", box_id, "--status", "done", "Backup finished")
        b = self.box(box_id)
        self.assertEqual(b["status"], "done")
        self.assertIsInstance(b["end_time_ms"], int)
        self.assertEqual(b["lines"][-1], "Backup finished")

        p = self.cli("delete", box_id)
        self.assertEqual(p.stdout, "")
        self.assertEqual(self.box(box_id), 404)
        p = self.cli("delete", box_id, code=3)
        self.assertIn(f"no such box: {box_id}", p.stderr)
        p = self.cli("update", box_id, "more", code=3)
        self.assertIn("no such box", p.stderr)

    def test_complete(self):
        """v1's complete: the box ends as done, with the text as its last line."""
        box_id = self.cli("create", "Starting").stdout.strip()
        p = self.cli("complete", box_id, "All", "done")
        self.assertEqual(p.stdout, "")
        b = self.box(box_id)
        self.assertEqual(b["status"], "done")
        self.assertIsInstance(b["end_time_ms"], int)
        self.assertEqual(b["lines"], ["Starting", "All done"])
        # Without text only the status changes; --status picks another end.
        other = self.cli("create", "Trying").stdout.strip()
        self.cli("complete", other, "--status", "error", "--label", "failed run")
        b = self.box(other)
        self.assertEqual((b["status"], b["label"], b["lines"]), ("error", "failed run", ["Trying"]))
        self.assertIsInstance(b["end_time_ms"], int)
        # Refused before anything is sent: no id, a status that does not end it.
        self.cli("complete", code=2)
        p = self.cli("complete", other, "--status", "active", code=2)
        self.assertIn("does not end a box", p.stderr)
        self.assertEqual(self.box(other)["status"], "error")
        p = self.cli("complete", "cli-no-such-box", code=3)
        self.assertIn("complete: no such box: cli-no-such-box", p.stderr)
        self.cli("delete", box_id)
        self.cli("delete", other)

    def test_lines_split_trimmed_and_capped(self):
        box_id = self.cli("--agent", "ops", "--id", "cli-test.lines", "create",
                          "one\n\n  two  \nthree").stdout.strip()
        self.assertEqual(box_id, "cli-test.lines")
        b = self.box(box_id)
        self.assertEqual(b["lines"], ["one", "two", "three"])
        self.assertEqual(b["agent_id"], "ops")
        self.assertTrue(b["session_key"].startswith("agent:ops:cli:"))
        self.cli("update", box_id, "four\nfive", MAX_STATUS_LINES="4")
        self.assertEqual(self.box(box_id)["lines"], ["two", "three", "four", "five"])
        self.cli("update", box_id, "--replace", "only this")
        self.assertEqual(self.box(box_id)["lines"], ["only this"])
        # A dash-led text after --, UTF-8 kept whole.
        self.cli("update", box_id, "--", "-v → ok ✓")
        self.assertEqual(self.box(box_id)["lines"][-1], "-v → ok ✓")
        # Creating an existing id answers that box (the API's idempotent create).
        self.assertEqual(self.cli("--id", box_id, "create", "again").stdout.strip(), box_id)
        self.cli("delete", box_id)

    def test_default_channel_and_host_option(self):
        box_id = self.cli("create", DEFAULT_CHANNEL="u4k9x2mdp7fq3nbc8wyh6tz1re").stdout.strip()
        b = self.box(box_id)
        self.assertEqual((b["channel_id"], b["lines"]), ("u4k9x2mdp7fq3nbc8wyh6tz1re", []))
        # --host and --token win over the variables.
        p = self.cli("--host", self.stack.api + "/", "--token", self.stack.secret, "delete",
                     box_id, PLUGIN_URL="http://127.0.0.1:1/nowhere", PLUGIN_SECRET="wrong")
        self.assertEqual(self.box(box_id), 404)

    def test_errors_and_exit_codes(self):
        p = self.cli("create", "x", code=4, PLUGIN_SECRET="not-the-secret")
        self.assertIn("unauthorized", p.stderr)
        self.assertNotIn("not-the-secret", p.stdout + p.stderr)
        self.assertNotIn(self.stack.secret, p.stdout + p.stderr)
        p = self.cli("create", code=2, PLUGIN_SECRET="")
        self.assertIn("no writer secret", p.stderr)
        p = self.cli("create", code=1, PLUGIN_URL="http://127.0.0.1:1")
        self.assertIn("cannot reach http://127.0.0.1:1/api/v1/sessions", p.stderr)
        self.cli("update", code=2)
        self.cli("update", "cli-x", code=2)  # nothing to change
        self.cli("update", "bad/id", "x", code=2)
        self.cli("delete", "a", "b", code=2)
        self.cli("frobnicate", code=2)
        self.cli("--status", "finished", "update", "cli-x", code=2)
        self.cli("--tokens", "-3", "update", "cli-x", code=2)
        self.cli("--agent", "a:b", "create", code=2)
        self.cli("update", "cli-x", "x", code=2, MAX_STATUS_LINES="lots")
        self.cli("--bogus", code=2)
        self.cli(code=2)
        # Not UTF-8: refused before anything is sent.
        proc = subprocess.run([CLI.encode(), b"create", b"\xff\xfe"],
                              env=sanitizer_env(self.env()), capture_output=True)
        self.assertEqual(proc.returncode, 2)
        # Over MAX_ACTIVE_SESSIONS the API answers 429: exit 1 with its message.
        made = []
        try:
            for _ in range(40):
                p = run(["create"], self.env())
                if p.returncode != 0:
                    break
                made.append(p.stdout.strip())
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("429", p.stderr)
        finally:
            for m in made:
                run(["delete", m], self.env())

    def test_help_and_version(self):
        p = self.cli("--help")
        for word in ("create", "update", "complete", "delete", "start-watcher", "stop-watcher",
                     "watcher-status", "--channel", "--reply-to", "--agent", "--token", "--host"):
            self.assertIn(word, p.stdout)
        p = self.cli("--version")
        with open(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
                os.path.abspath(__file__)))), "VERSION")) as f:
            self.assertIn(f.read().strip(), p.stdout)


@unittest.skipUnless(os.access(CLI, os.X_OK) and os.access(WATCHER, os.X_OK),
                     "live-status or livestatus-watcher is not built")
class CliWatcherTest(unittest.TestCase):
    """start-watcher / watcher-status / stop-watcher run livestatus-watcher."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ls-cli-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        os.makedirs(os.path.join(self.tmp, "agents", "main", "sessions"))
        self.pidfile = os.path.join(self.tmp, "watcher.pid")
        self.logfile = os.path.join(self.tmp, "watcher.log")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("MM_", "PLUGIN_"))}
        self.env.update(TRANSCRIPT_DIR=os.path.join(self.tmp, "agents"),
                        LIVESTATUS_DB=os.path.join(self.tmp, "ls.db"), PID_FILE=self.pidfile,
                        LOG_FILE=self.logfile, HEARTBEAT_S="1")
        self.addCleanup(self.kill_left_over)

    def kill_left_over(self):
        try:
            with open(self.pidfile) as f:
                os.kill(int(f.read().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
        if os.path.exists(self.logfile):
            with open(self.logfile, errors="replace") as f:
                log = f.read()
            for mark in ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer"):
                self.assertNotIn(mark, log)

    def test_start_status_stop(self):
        p = run(["watcher-status"], self.env)
        self.assertEqual(p.returncode, 3, p.stdout + p.stderr)
        self.assertIn("not running", p.stdout)
        self.assertTrue(p.stderr.startswith(NOTICE))

        p = run(["start-watcher"], self.env)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("started", p.stdout)
        self.assertTrue(p.stderr.startswith(NOTICE))
        self.assertTrue(os.path.exists(self.pidfile))

        def running():
            r = run(["watcher-status"], self.env)
            return r if r.returncode == 0 and "lines read" in r.stdout else None
        r = wait_for(running, what="watcher-status with figures")
        self.assertIn("is running", r.stdout)
        # A second start is refused by the watcher, and its code comes through.
        p = run(["start-watcher"], self.env)
        self.assertEqual(p.returncode, 1)
        self.assertIn("already running", p.stderr)

        p = run(["stop-watcher"], self.env)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("stopped", p.stdout)
        p = run(["watcher-status"], self.env)
        self.assertEqual(p.returncode, 3)
        p = run(["watcher-status", "extra"], self.env)
        self.assertEqual(p.returncode, 2)

    def test_found_in_path_or_not_at_all(self):
        lone = os.path.join(self.tmp, "bin")
        os.makedirs(lone)
        shutil.copy(CLI, lone)
        env = dict(self.env, PATH="/usr/bin:/bin")
        proc = subprocess.run([os.path.join(lone, "live-status"), "watcher-status"],
                              env=sanitizer_env(env), capture_output=True, text=True)
        self.assertEqual(proc.returncode, 127, proc.stderr)
        self.assertIn("cannot run livestatus-watcher", proc.stderr)
        # Found in PATH but not executable: 126, as a shell says.
        fake = os.path.join(self.tmp, "fake")
        os.makedirs(fake)
        with open(os.path.join(fake, "livestatus-watcher"), "w") as f:
            f.write("#!/bin/sh\n")
        env["PATH"] = fake + ":/usr/bin:/bin"
        proc = subprocess.run([os.path.join(lone, "live-status"), "watcher-status"],
                              env=sanitizer_env(env), capture_output=True, text=True)
        self.assertEqual(proc.returncode, 126, proc.stderr)
        env["PATH"] = os.path.dirname(WATCHER) + ":/usr/bin:/bin"
        proc = subprocess.run([os.path.join(lone, "live-status"), "watcher-status"],
                              env=sanitizer_env(env), capture_output=True, text=True)
        self.assertEqual(proc.returncode, 3, proc.stderr)
        self.assertIn("not running", proc.stdout)


if __name__ == "__main__":
    unittest.main()
