"""Issue 13 D: a full disk shows in /api/v1/health.

Before the fix a write that failed for lack of space was a 500 and health
stayed 200 however the writes failed, the responder's own or the
watcher's.  Now the responder's failed write is a 507 and health is
degraded with "reason":"store full" for a minute; a watcher heartbeat that
reports a failed store write (stats.store_write_failed_ms, and
store_write_error) degrades health until a heartbeat without a recent one.

The full disk is real: a 2 MiB ext4 image mounted on a loop device (root
only; the test is skipped when mounting is impossible here).
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from secbase import Stack  # noqa: E402


def small_fs(testcase, size="2M"):
    """Mounts a fresh ext4 image of size; returns the mount point (cleaned up after)."""
    if os.geteuid() != 0 or shutil.which("mkfs.ext4") is None:
        testcase.skipTest("needs root and mkfs.ext4 to mount a small file system")
    tmp = tempfile.mkdtemp(prefix="ls-full-")
    testcase.addCleanup(shutil.rmtree, tmp, True)
    img, mnt = os.path.join(tmp, "img"), os.path.join(tmp, "mnt")
    os.mkdir(mnt)
    subprocess.run(["truncate", "-s", size, img], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", img], check=True, capture_output=True)
    p = subprocess.run(["mount", "-o", "loop", img, mnt], capture_output=True, text=True)
    if p.returncode != 0:
        testcase.skipTest("cannot mount a loop file system here: " + p.stderr.strip())
    testcase.addCleanup(subprocess.run, ["umount", "-l", mnt], capture_output=True)
    os.chmod(mnt, 0o777)
    return mnt


class TestResponderWriteFails(unittest.TestCase):
    def test_full_disk_is_507_and_degrades_health(self):
        mnt = small_fs(self)
        s = Stack(env={"LIVESTATUS_DB": os.path.join(mnt, "livestatus.db")})
        self.addCleanup(s.stop)
        r = s.request("GET", "/api/v1/health")
        self.assertEqual(r.status, 200, r)
        line = "x" * 4000
        last = None
        for i in range(200):
            last = s.request("POST", "/api/v1/sessions",
                             {"id": "fill-%03d" % i, "session_key": "agent:main:fill:%d" % i,
                              "status": "done", "lines": [line] * 15})
            if last.status != 201:
                break
        self.assertEqual(last.status, 507, last)
        self.assertIn("store full", last.json["error"])
        r = s.request("GET", "/api/v1/health")
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.json["status"], "degraded")
        self.assertIn("store full", r.json["reason"])
        # Reads still work.
        self.assertEqual(s.request("GET", "/api/v1/sessions/fill-000").status, 200)


class TestWatcherWriteFails(unittest.TestCase):
    def setUp(self):
        self.s = Stack()
        self.addCleanup(self.s.stop)
        # the store's tables exist once the responder has answered (it makes them)
        self.assertEqual(self.s.request("GET", "/api/v1/health").status, 200)

    def heartbeat(self, stats, age_ms=0, interval_ms=10000):
        now = int(time.time() * 1000)
        con = sqlite3.connect(self.s.db, timeout=10)
        try:
            con.execute("INSERT OR REPLACE INTO watcher_heartbeat (id, pid, started_ms, "
                        "last_heartbeat_ms, interval_ms, breaker, stats) "
                        "VALUES (1, 4242, ?, ?, ?, NULL, ?)",
                        (now - 100000, now - age_ms, interval_ms, json.dumps(stats)))
            con.commit()
        finally:
            con.close()
        return now

    def test_heartbeat_with_a_failed_write_degrades_health(self):
        now = self.heartbeat({"commits": 3, "commit_busy": 0})
        r = self.s.request("GET", "/api/v1/health")
        self.assertEqual(r.status, 200, r)
        self.heartbeat({"commits": 3, "store_write_failed_ms": now - 2000,
                        "store_write_error": "database or disk is full"})
        r = self.s.request("GET", "/api/v1/health")
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.json["status"], "degraded")
        self.assertEqual(r.json["reason"],
                         "watcher cannot write the store: database or disk is full")
        # Recovered: the next heartbeat's last failure is older than its interval.
        self.heartbeat({"commits": 4, "store_write_failed_ms": now - 60000})
        self.assertEqual(self.s.request("GET", "/api/v1/health").status, 200)
        # Read defensively: odd values are ignored, never a 500.
        for odd in ({"store_write_failed_ms": "soon"}, {"store_write_failed_ms": -5},
                    {"store_write_failed_ms": 1.5}, {"store_write_failed_ms": None}, []):
            self.heartbeat(odd)
            self.assertEqual(self.s.request("GET", "/api/v1/health").status, 200, odd)


if __name__ == "__main__":
    unittest.main()


class TestRealWatcherOnAFullDisk(unittest.TestCase):
    """The real watcher, its store on a small file system that fills up."""

    def test_watcher_write_failure_reaches_health(self):
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))), "integ"))
        from wharness import WatcherCase, assistant, header, wait_for

        mnt = small_fs(self, "4M")
        db = os.path.join(mnt, "livestatus.db")
        s = Stack(env={"LIVESTATUS_DB": db})
        self.addCleanup(s.stop)
        case = WatcherCase()
        case.setUp()
        self.addCleanup(case.tearDown)
        case.db = db
        case.start_watcher(HEARTBEAT_S="1")
        case.lock("a.jsonl")
        case.append("a.jsonl", header("a"), assistant(["Before the disk filled."]))
        wait_for(lambda: case.boxes() and case.boxes()[0]["lines"], what="a first box")
        self.assertEqual(s.request("GET", "/api/v1/health").status, 200)
        # fill the file system to the last block
        with open(os.path.join(mnt, "filler"), "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        for i in range(20):
            case.append("a.jsonl", assistant(["line %d %s" % (i, "y" * 3000)]))
        r = wait_for(lambda: (lambda r: r if r.status == 503 else None)(
            s.request("GET", "/api/v1/health")), 60, what="health to turn degraded")
        self.assertEqual(r.json["status"], "degraded", r.json)
        self.assertTrue("cannot write the store" in r.json["reason"] or
                        "heartbeat" in r.json["reason"], r.json)
        self.assertIn("cannot write to the store", case.log())
        # room again: the watcher catches up and health recovers
        os.unlink(os.path.join(mnt, "filler"))
        wait_for(lambda: case.boxes() and case.boxes()[0]["lines"][-1].startswith("line 19"),
                 60, what="the watcher to catch up after space came back")
        wait_for(lambda: s.request("GET", "/api/v1/health").status == 200, 60,
                 what="health to recover")
