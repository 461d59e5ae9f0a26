"""Hostile neighbours of the watcher: files that are not what their names say,
links out of the state folder, the pid file and the modes of what it creates.

Each test fails on the code before the fix (issue 13, items 1 to 4):
a FIFO named like a transcript or sessions.json froze the watcher for good
(SIGTERM ignored); links out of the state folder were followed; the pid
file lived in /tmp under a fixed name, was opened through links, and `stop`
signalled whatever pid it held; store and pid files took their modes from
the umask.
"""
import fcntl
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integ"))

from wharness import WATCHER, WatcherCase, assistant, header, wait_for  # noqa: E402


class StrangeFiles(WatcherCase):
    def stops_on_sigterm(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.fail("the watcher ignored SIGTERM:\n" + self.log()[-3000:])
        self.proc = None
        self.log_file.close()

    def test_fifo_named_like_a_transcript_is_skipped_and_sigterm_works(self):
        os.mkfifo(self.path("evil.jsonl"))
        self.start_watcher()
        self.lock("good.jsonl")
        self.append("good.jsonl", header("good"), assistant(["Still reading."], stop="stop"))
        self.unlock("good.jsonl")
        wait_for(lambda: self.box("agent:main:file:good") and
                 self.box("agent:main:file:good")["lines"] == ["Still reading."], 30,
                 what="the good transcript's box beside the FIFO")
        wait_for(lambda: "not a transcript, skipped" in self.log(), 30, what="the warning")
        self.assertEqual(self.log().count("not a transcript, skipped"), 1, self.log())
        self.stops_on_sigterm()

    def test_fifo_named_sessions_json_does_not_freeze(self):
        os.mkfifo(self.path("sessions.json"))
        self.start_watcher()
        self.lock("a.jsonl")
        self.append("a.jsonl", header("a"), assistant(["Works."], stop="stop"))
        self.unlock("a.jsonl")
        wait_for(lambda: self.boxes() and self.boxes()[0]["lines"] == ["Works."], 30,
                 what="a box while sessions.json is a FIFO")
        self.assertIn("not a regular file", self.log())
        self.stops_on_sigterm()

    def test_socket_and_folder_named_like_transcripts_are_skipped(self):
        import socket
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(self.path("sock.jsonl"))
        os.mkdir(self.path("dir.jsonl"))
        try:
            self.start_watcher()
            self.lock("ok.jsonl")
            self.append("ok.jsonl", header("ok"), assistant(["Fine."], stop="stop"))
            self.unlock("ok.jsonl")
            wait_for(lambda: self.boxes() and self.boxes()[0]["lines"] == ["Fine."], 30,
                     what="the regular transcript's box")
            self.assertEqual(len(self.boxes()), 1)
            self.stops_on_sigterm()
        finally:
            s.close()

    def test_link_out_of_the_state_folder_is_not_read(self):
        outside = tempfile.mkdtemp(prefix="lsw-outside-")
        secret = os.path.join(outside, "secret.jsonl")
        with open(secret, "w") as f:
            f.write('{"type":"session","version":3,"id":"x"}\n')
        self.start_watcher()
        os.symlink(secret, self.path("leak.jsonl"))
        with open(secret, "a") as f:
            f.write('{"type":"message","message":{"role":"assistant","content":'
                    '[{"type":"text","text":"TOP SECRET"}],"stopReason":"stop"}}\n')
        self.lock("fine.jsonl")
        self.append("fine.jsonl", header("fine"), assistant(["Visible."], stop="stop"))
        self.unlock("fine.jsonl")
        wait_for(lambda: any(b["lines"] == ["Visible."] for b in self.boxes()), 30,
                 what="the ordinary box")
        wait_for(lambda: "a link out of the state folder" in self.log(), 30, what="the warning")
        self.assertFalse(any("TOP SECRET" in " ".join(b["lines"]) for b in self.boxes()))

    def test_link_inside_the_state_folder_and_allowed_outside_links_are_read(self):
        outside = tempfile.mkdtemp(prefix="lsw-outside-")
        target = os.path.join(outside, "t.jsonl")
        open(target, "w").close()
        self.start_watcher(FOLLOW_OUTSIDE_LINKS="1")
        open(target + ".lock", "w").close()
        os.symlink(target, self.path("t.jsonl"))
        open(self.path("t.jsonl.lock"), "w").close()
        with open(target, "a") as f:
            f.write('{"type":"session","version":3,"id":"t"}\n')
            f.write('{"type":"message","message":{"role":"assistant","content":'
                    '[{"type":"text","text":"Allowed."}],"stopReason":"stop"}}\n')
        wait_for(lambda: any(b["lines"] == ["Allowed."] for b in self.boxes()), 30,
                 what="the box of an allowed outside link")


class PidFileAndModes(WatcherCase):
    def run_cmd(self, *args, **env):
        e = self.watcher_env(**env)
        return subprocess.run([WATCHER] + list(args), env=e, capture_output=True, text=True,
                              timeout=60)

    def test_default_pid_file_is_in_a_runtime_folder_of_ours(self):
        runtime = os.path.join(self.tmp, "run")
        os.mkdir(runtime, 0o700)
        self.env = {"XDG_RUNTIME_DIR": runtime}
        env = self.watcher_env()
        del env["PID_FILE"]
        self.proc = subprocess.Popen([WATCHER, "run"], env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.log_file = open(os.devnull, "ab")
        pid_file = os.path.join(runtime, "livestatus-watcher.pid")
        wait_for(lambda: os.path.exists(pid_file), 30, what="the pid file in XDG_RUNTIME_DIR")
        self.assertEqual(stat.S_IMODE(os.stat(pid_file).st_mode), 0o640)

    def test_pid_file_that_is_a_link_is_refused(self):
        target = os.path.join(self.tmp, "elsewhere")
        open(target, "w").close()
        os.symlink(target, self.pid_file)
        p = self.run_cmd("run")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("link", p.stderr)
        self.assertEqual(os.path.getsize(target), 0)

    def test_stop_signals_only_the_watcher_that_holds_the_lock(self):
        victim = subprocess.Popen(["sleep", "60"])
        try:
            # a stale or forged pid file: another process holds its lock
            with open(self.pid_file, "w") as f:
                f.write("%d\n" % victim.pid)
            holder = open(self.pid_file, "r")
            fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
            p = self.run_cmd("stop")
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn("not signalled", p.stderr)
            time.sleep(0.2)  # let a wrongly sent signal land before looking
            self.assertIsNone(victim.poll(), "stop killed a process that is not the watcher")
            holder.close()
        finally:
            victim.kill()
            victim.wait()
        # the real watcher is stopped
        self.start_watcher()
        p = self.run_cmd("stop")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.proc.wait(timeout=30)

    def test_store_and_pid_file_modes_do_not_follow_the_umask(self):
        old = os.umask(0)
        try:
            self.start_watcher()
        finally:
            os.umask(old)
        wait_for(lambda: os.path.exists(self.db), 30, what="the store")
        self.assertEqual(stat.S_IMODE(os.stat(self.db).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(self.pid_file).st_mode), 0o640)
        for suffix in ("-wal", "-shm"):
            if os.path.exists(self.db + suffix):
                self.assertEqual(stat.S_IMODE(os.stat(self.db + suffix).st_mode) & 0o007, 0,
                                 suffix)


if __name__ == "__main__":
    unittest.main()
