"""livestatus-watcher crash safety: kill -9 mid-session, and a store locked by another writer."""
import os
import random
import sqlite3
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wharness import WatcherCase, assistant, call, header, result, wait_for  # noqa: E402

KEY = "agent:main:mattermost:channel:c1"
SUB = "agent:main:subagent:k1"


def session_script(n_steps, seed):
    """A long scripted run: thoughts, tool calls and results, a sub-agent."""
    rnd = random.Random(seed)
    parent = [header("s1")]
    child = [header("k1")]
    for i in range(n_steps):
        cid = "c%d" % i
        parent.append(assistant(["thinking %d" % i, call(cid, "exec", command="cmd %d" % i)],
                                tokens=(i, 1)))
        parent.append(result(cid, error=rnd.random() < 0.2))
        if i == n_steps // 3:
            parent.append(assistant([call("sp", "sessions_spawn", task="t", label="helper")]))
            parent.append(result("sp", "sessions_spawn",
                                 details={"status": "accepted", "childSessionKey": SUB}))
        if n_steps // 3 < i < n_steps // 3 + 20:
            child.append(assistant(["child %d" % i], stop="toolUse"))
    parent.append(assistant(["All done."], stop="stop"))
    child.append(assistant(["child done"], stop="stop"))
    return parent, child


class Crash(WatcherCase):
    ENV = dict(MAX_STATUS_LINES=1000)

    def setUp(self):
        super().setUp()
        self.write_sessions({KEY: {"sessionId": "s1"},
                             SUB: {"sessionId": "k1", "spawnedBy": KEY, "label": "helper"}})

    def play(self, parent, child, start, stop, pause=0.0):
        """Writes lines [start, stop) of the merged script; the child runs mid-way."""
        merged = [("s1.jsonl", l) for l in parent]
        at = len(parent) // 3 + 2
        merged[at:at] = [("k1.jsonl", l) for l in child]
        for name, line in merged[start:stop]:
            if not os.path.exists(self.path(name) + ".lock") and not os.path.exists(
                    self.path(name)):
                self.lock(name)
            self.append(name, line)
            if pause:
                time.sleep(pause)
        return len(merged)

    def finish(self):
        self.unlock("s1.jsonl")
        self.unlock("k1.jsonl")
        self.wait_box(KEY, lambda b: b["status"] == "done", 60, "the parent to end")
        self.wait_box(SUB, lambda b: b["status"] == "done", 60, "the child to end")
        return self.summary()

    def summary(self):
        out = {}
        for b in self.boxes():
            out[b["session_key"]] = (b["status"], b["lines"], b["token_count"], b["model"],
                                     b["label"], b["parent_id"] is not None)
        return out

    def test_kill9_mid_session_resumes_exactly(self):
        parent, child = session_script(150, seed=7)
        # the reference: a run never interrupted
        self.start_watcher(**self.ENV)
        total = self.play(parent, child, 0, 10 ** 9)
        ref = self.finish()
        self.stop_watcher()
        self.assertEqual(len(ref[KEY][1]), 2 * 150 + 2)  # thoughts, calls, spawn, reply
        # again in a fresh tree, killed with -9 several times while lines arrive
        self.tearDown()
        self.setUp()
        rnd = random.Random(3)
        cuts = sorted(rnd.sample(range(5, total - 5), 4)) + [total]
        pos = 0
        self.start_watcher(**self.ENV)
        for cut in cuts:
            writer = threading.Thread(target=self.play, args=(parent, child, pos, cut, 0.001))
            writer.start()
            time.sleep(rnd.uniform(0.0, 0.05))
            if cut != total:
                self.kill9()
            writer.join()
            pos = cut
            if cut != total:
                self.start_watcher(**self.ENV)
        got = self.finish()
        self.assertEqual(got, ref)
        self.assertEqual(len(self.boxes(KEY)), 1, "the same box continued")
        self.assertEqual(self.stats()["parse_errors"], 0)

    def test_store_locked_by_another_writer(self):
        self.start_watcher(**self.ENV)
        self.lock("s1.jsonl")
        self.append("s1.jsonl", header("s1"), assistant(["before the lock"]))
        self.wait_box(KEY, lambda b: b["lines"] == ["before the lock"])
        con = sqlite3.connect(self.db, timeout=10, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute("UPDATE store_meta SET revision = revision WHERE id = 1")
            for i in range(50):
                self.append("s1.jsonl", assistant(["while locked %d" % i]))
            # the other writer holds the lock for 3 s (the point of the test), and at least
            # until the watcher has run into it: its commit found the store busy (its log
            # says so) -- a slow watcher might not have tried within the 3 s
            t0 = time.monotonic()
            wait_for(lambda: "store busy, keeping changes" in self.log(),
                     what="the watcher's commit to find the store busy")
            time.sleep(max(0.0, 3.0 - (time.monotonic() - t0)))
        finally:
            con.execute("COMMIT")
            con.close()
        b = self.wait_box(KEY, lambda b: len(b["lines"]) == 51)
        self.assertEqual(b["lines"][1:], ["while locked %d" % i for i in range(50)])
        self.assertIsNone(self.proc.poll())
        self.wait_stat("commit_busy", 1)
        self.unlock("s1.jsonl")
        self.wait_box(KEY, lambda b: b["status"] == "done")
        # the sqlite3 CLI may hold the store open for reading meanwhile
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        con.execute("BEGIN")
        con.execute("SELECT count(*) FROM boxes").fetchone()
        self.append("s1.jsonl", assistant(["read-only reader open"], stop="stop"))
        self.wait_box(KEY, lambda b: b["lines"] == ["read-only reader open"])
        con.close()


if __name__ == "__main__":
    unittest.main()
