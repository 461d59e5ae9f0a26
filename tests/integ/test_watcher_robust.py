"""livestatus-watcher under real conditions: bursts, huge and broken lines, sessions.json
churn, file names, rewrites, successors, inotify overflow."""
import json
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wharness import WatcherCase, assistant, call, header, result, wait_for  # noqa: E402

KEY = "agent:main:mattermost:channel:c1"


class Robust(WatcherCase):
    def setUp(self):
        super().setUp()
        self.write_sessions(dict([self.session_entry(KEY, "s1")]))

    def test_burst_of_1000_lines(self):
        self.start_watcher()
        self.lock("s1.jsonl")
        lines = [header("s1")]
        for i in range(500):
            lines.append(assistant(["step %d" % i, call("c%d" % i, "exec", command="n %d" % i)]))
            lines.append(result("c%d" % i, error=(i % 7 == 0)))
        self.append("s1.jsonl", *lines[:1000])  # one write of 1000 lines
        # header + 499 (call, result) pairs + the 500th call, still running
        b = self.wait_box(KEY, lambda b: b["lines"] and b["lines"][-1] == "exec: n 499")
        self.assertEqual(len(b["lines"]), 15)
        self.assertEqual(b["lines"][-3:], ["exec: n 498 [OK]", "step 499", "exec: n 499"])
        self.assertEqual(b["lines"][-5], "exec: n 497 [ERR]")
        self.assertEqual(b["token_count"], 500 * 15)
        self.wait_stat("lines_read", 1000)
        self.assertEqual(self.stats()["parse_errors"], 0)
        off = self.query("SELECT offset FROM watcher_files WHERE path = ?",
                         (self.path("s1.jsonl"),))[0]["offset"]
        self.assertEqual(off, os.path.getsize(self.path("s1.jsonl")))

    def test_many_sessions_at_once(self):
        n = 40
        self.write_sessions({"agent:main:mattermost:channel:ch%d" % i: {"sessionId": "m%d" % i}
                             for i in range(n)})
        self.start_watcher(MAX_ACTIVE_SESSIONS=100)
        for r in range(10):
            for i in range(n):
                if r == 0:
                    self.lock("m%d.jsonl" % i)
                    self.append("m%d.jsonl" % i, header("m%d" % i))
                self.append("m%d.jsonl" % i, assistant(["s%d round %d" % (i, r)]))

        def all_there():
            rows = self.boxes()
            return len(rows) == n and all(len(b["lines"]) == 10 for b in rows)
        wait_for(all_there, what="40 boxes with 10 lines each")
        for b in self.boxes():
            i = int(b["session_key"].rsplit("ch", 1)[1])
            self.assertEqual(b["lines"][-1], "s%d round 9" % i)
            self.assertEqual(b["channel_id"], "ch%d" % i)
        wait_for(lambda: self.stats().get("active_boxes") == n, what="active_boxes == 40")

    def test_10mib_line_and_oversized_line(self):
        self.start_watcher()
        self.lock("s1.jsonl")
        big = "Big answer " + "x" * (10 * 1024 * 1024)
        self.append("s1.jsonl", header("s1"), assistant([big]))
        # the lock's "Thinking..." line first, then the answer's
        b = self.wait_box(KEY, lambda b: b["lines"] and b["lines"] != ["Thinking..."])
        self.assertEqual(b["lines"], [big[:120]])
        # past the 16 MiB cap: dropped, counted, and the next line is used
        huge = assistant(["y" * (17 * 1024 * 1024)])
        self.append("s1.jsonl", huge, assistant(["After the huge one."]))
        self.wait_box(KEY, lambda b: b["lines"] and b["lines"][-1] == "After the huge one.", 60)
        self.assertEqual(self.wait_stat("parse_errors", 1) and self.stats()["parse_errors"], 1)

    def test_malformed_json_invalid_utf8_unknown_types(self):
        self.start_watcher()
        self.lock("s1.jsonl")
        self.append("s1.jsonl", header("s1"))
        self.append("s1.jsonl", raw=b'{"type":"message","message":{"role":"assi\n')
        self.append("s1.jsonl", raw=b'not json at all\n')
        self.append("s1.jsonl", raw=b'{"type":"message","bad":"\xff\xfe"}\n')
        self.append("s1.jsonl", {"type": "future_thing", "payload": {"a": [1, 2]}},
                    {"type": "message", "message": {"role": "alien", "content": 3}})
        a = assistant(["Still fine."])
        a["message"]["content"].append({"type": "hologram", "data": "?"})
        a["message"]["newField"] = {"x": 1}
        self.append("s1.jsonl", a)
        b = self.wait_box(KEY, lambda b: b["lines"] == ["Still fine."])
        self.assertEqual(b["status"], "active")
        wait_for(lambda: self.stats().get("lines_read") == 7, what="7 lines read")
        st = self.stats()
        self.assertEqual(st["parse_errors"], 3)
        self.assertEqual(st["bad_utf8"], 1)
        self.assertIsNone(self.proc.poll())

    def test_sessions_json_renamed_invalid_and_missing_file(self):
        self.start_watcher()
        # the index names a transcript that does not exist yet
        self.write_sessions({KEY: {"sessionId": "s1"},
                             "agent:main:mattermost:channel:c2": {
                                 "sessionId": "s2", "sessionFile": "custom-name.jsonl"}})
        self.wait_stat("index_loads", 2)
        # briefly invalid (written in place, half done), then good again by rename
        with open(self.path("sessions.json"), "w") as f:
            f.write('{"agent:main:mattermost:chan')
        self.lock("custom-name.jsonl")
        self.append("custom-name.jsonl", header("s2"), assistant(["Second session."]))
        b = self.wait_box("agent:main:mattermost:channel:c2",
                          lambda b: b["lines"] == ["Second session."])
        self.assertEqual(b["channel_id"], "c2")
        # the watcher has read the broken index (and said so) before it is put right again;
        # the log line is written before the count reaches the heartbeat
        self.wait_stat("index_errors", 1)
        self.assertIn("keeping the last good session index", self.log())
        self.write_sessions({KEY: {"sessionId": "s1"},
                             "agent:main:mattermost:channel:c2": {
                                 "sessionId": "s2", "sessionFile": "custom-name.jsonl",
                                 "label": "renamed"}})
        self.wait_box("agent:main:mattermost:channel:c2", lambda b: b["label"] == "renamed")
        self.assertIn("keeping the last good session index", self.log())
        self.assertGreaterEqual(self.stats()["index_errors"], 1)

    def test_iso_and_topic_names_and_ignored_files(self):
        iso = "2026-04-14T09-12-03-000Z_0c8f1b52-1f0e-4a4e-9d3c-6f1e2a3b4c5d.jsonl"
        topic = "s5-topic-root9.jsonl"
        self.write_sessions({
            "agent:main:mattermost:channel:c3:thread:root8": {"sessionId": "0c8f1b52",
                                                               "sessionFile": iso},
            "agent:main:mattermost:channel:c4:thread:root9": {"sessionId": "s5",
                                                               "sessionFile": topic},
        })
        self.start_watcher()
        ignored = ["s1.checkpoint.1.jsonl", "s1.trajectory.jsonl", "s1.jsonl.reset.2026",
                   "s1.reset.2026.jsonl", "s1.deleted.jsonl", "s1.jsonl.tmp",
                   "sessions.json.bak.3", "x.jsonl.tmp"]
        for name in ignored:
            self.append(name, header("s1"), assistant(["must not show"]))
        for name in (iso, topic):
            self.lock(name)
            self.append(name, header("x"), assistant(["from " + name[:4]]))
        a = self.wait_box("agent:main:mattermost:channel:c3:thread:root8", lambda b: b["lines"])
        t = self.wait_box("agent:main:mattermost:channel:c4:thread:root9", lambda b: b["lines"])
        self.assertEqual((a["channel_id"], a["root_id"]), ("c3", "root8"))
        self.assertEqual((t["channel_id"], t["root_id"]), ("c4", "root9"))
        self.assertEqual(len(self.boxes()), 2)
        paths = {r["path"] for r in self.query("SELECT path FROM watcher_files")}
        for name in ignored:
            self.assertNotIn(self.path(name), paths)

    def test_truncated_and_replaced_transcript(self):
        self.start_watcher()
        self.lock("s1.jsonl")
        self.append("s1.jsonl", header("s1"), *[assistant(["before %d" % i]) for i in range(5)])
        self.wait_box(KEY, lambda b: b["lines"] and b["lines"][-1] == "before 4")
        # truncated in place, then new content
        with open(self.path("s1.jsonl"), "w") as f:
            f.write(json.dumps(header("s1")) + "\n")
        self.append("s1.jsonl", assistant(["after truncation"]))
        b = self.wait_box(KEY, lambda b: b["lines"] and b["lines"][-1] == "after truncation")
        self.assertEqual(b["lines"][-2], "[session compacted - continuing]")
        # replaced by rename: new inode, smaller
        tmp = self.path("s1.jsonl.tmp")
        with open(tmp, "w") as f:
            f.write(json.dumps(header("s1")) + "\n" + json.dumps(assistant(["rewritten"])) + "\n")
        os.rename(tmp, self.path("s1.jsonl"))
        b = self.wait_box(KEY, lambda b: b["lines"] and b["lines"][-1] == "rewritten")
        self.assertEqual(b["lines"][-2], "[session compacted - continuing]")
        self.assertEqual(len(self.boxes(KEY)), 1)

    def test_key_repointed_to_successor(self):
        self.start_watcher()
        self.lock("s1.jsonl")
        self.append("s1.jsonl", header("s1"), assistant(["in the first file"]))
        first = self.wait_box(KEY, lambda b: b["lines"] == ["in the first file"])
        succ = "2026-04-14T10-00-00-000Z_s9.jsonl"
        self.write_sessions({KEY: {"sessionId": "s9", "sessionFile": succ}})
        h = header("s9")
        h["parentSession"] = self.path("s1.jsonl")
        self.lock(succ)
        self.unlock("s1.jsonl")
        self.append(succ, h, assistant(["in the successor"]))
        b = self.wait_box(KEY, lambda b: b["lines"] and b["lines"][-1] == "in the successor")
        self.assertEqual(b["id"], first["id"])
        self.assertEqual(b["lines"], ["in the first file", "in the successor"])
        self.unlock(succ)
        self.wait_box(KEY, lambda b: b["status"] == "done")

    def test_inotify_overflow_misses_nothing(self):
        self.write_sessions({"agent:main:mattermost:channel:a": {"sessionId": "a"},
                             "agent:main:mattermost:channel:b": {"sessionId": "b"}})
        self.start_watcher(MAX_STATUS_LINES=1000)
        for n in ("a", "b"):
            self.lock(n + ".jsonl")
            self.append(n + ".jsonl", header(n))
        self.wait_stat("lines_read", 2)
        self.proc.send_signal(signal.SIGSTOP)
        try:
            # alternating appends queue one event each: more than max_queued_events
            with open("/proc/sys/fs/inotify/max_queued_events") as f:
                limit = int(f.read())
            count = limit // 2 + 600
            fa = os.open(self.path("a.jsonl"), os.O_WRONLY | os.O_APPEND)
            fb = os.open(self.path("b.jsonl"), os.O_WRONLY | os.O_APPEND)
            for i in range(count):
                os.write(fa, (json.dumps(assistant(["a%d" % i])) + "\n").encode())
                os.write(fb, (json.dumps(assistant(["b%d" % i])) + "\n").encode())
            os.close(fa)
            os.close(fb)
        finally:
            self.proc.send_signal(signal.SIGCONT)
        for n in ("a", "b"):
            b = self.wait_box("agent:main:mattermost:channel:" + n,
                              lambda b: b["lines"] and b["lines"][-1] == "%s%d" % (n, count - 1),
                              60)
            self.assertEqual(len(b["lines"]), 1000)
            self.assertEqual(b["lines"][0], "%s%d" % (n, count - 1000))
        self.wait_stat("overflows", 1)
        self.wait_stat("lines_read", 2 + 2 * count)
        self.assertEqual(self.stats()["lines_read"], 2 + 2 * count)

    def test_forced_rescan_finds_missed_changes(self):
        """SIGUSR1 runs the same full rescan an overflow does (a lost watch)."""
        self.start_watcher()
        self.lock("s1.jsonl")
        self.append("s1.jsonl", header("s1"), assistant(["one"]))
        self.wait_box(KEY, lambda b: b["lines"] == ["one"])
        self.proc.send_signal(signal.SIGUSR1)
        self.wait_stat("rescans", 1)
        self.append("s1.jsonl", assistant(["two"]))
        self.wait_box(KEY, lambda b: b["lines"] == ["one", "two"])

    def test_new_agent_folder_appears(self):
        self.start_watcher()
        other = os.path.join(self.agents, "ops", "sessions")
        os.makedirs(other)
        with open(os.path.join(other, "sessions.json"), "w") as f:
            json.dump({"agent:ops:mattermost:channel:c9": {"sessionId": "o1"}}, f)
        with open(os.path.join(other, "o1.jsonl.lock"), "w") as f:
            f.write("{}")
        with open(os.path.join(other, "o1.jsonl"), "a") as f:
            f.write(json.dumps(header("o1")) + "\n" + json.dumps(assistant(["ops agent"])) + "\n")
        b = self.wait_box("agent:ops:mattermost:channel:c9", lambda b: b["lines"] == ["ops agent"])
        self.assertEqual(b["agent_id"], "ops")


if __name__ == "__main__":
    unittest.main()
