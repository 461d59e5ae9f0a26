"""livestatus-watcher over OpenClaw 2026.8+ agent databases (agents/<id>/agent/openclaw-agent.sqlite).

The file-layout scenarios again, through the database the test writer (tests/ocwriter) builds
the gateway's way, and the database-only cases: rewrites, rollover windows, cold archives,
corrupt zstd rows, unknown schema versions, a long write transaction, a mixed agents/ folder.
"""
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import player  # noqa: E402
from ocwriter.ocwriter import AgentDB, agent_db_path  # noqa: E402
from ocwriter import ocwriter  # noqa: E402
from wharness import (CHILD_KEY, FIXTURE, PARENT_KEY, WATCHER,  # noqa: E402
                      WatcherCase, assistant, call, header, result, wait_equal, wait_for)

PARENT_SID = "3f1c9a52-7d04-4b8e-a6c1-0e92d5b7f438"
CHILD_SID = "b8e27d19-4c63-4f0a-9d15-7a3e6c2f1b90"
COMPACTED = "[session compacted - continuing]"
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
FIXTURE_ROWS = 23


class OcdbCase(WatcherCase):
    """A WatcherCase whose agents are followed through their databases."""

    def setUp(self):
        super().setUp()
        shutil.rmtree(self.sessions)  # main is a 2026.8+ agent: no sessions/ folder
        self.dbs = []

    def tearDown(self):
        for db in self.dbs:
            db.close()
        super().tearDown()

    def agent_db(self, agent="main", version=23, compress_min=ocwriter.COMPRESS_MIN,
                 journal="wal"):
        db = AgentDB(agent_db_path(self.agents, agent), agent_id=agent, version=version,
                     compress_min=compress_min, journal=journal).create()
        self.dbs.append(db)
        return db

    def view(self):
        """The boxes without ids and times: what a user sees, comparable across runs."""
        rows = self.boxes()
        keys = {r["id"]: r["session_key"] for r in rows}
        return sorted((r["session_key"], r["status"], tuple(r["lines"]), r["token_count"],
                       r["model"], r["channel_id"], r["root_id"], r["label"],
                       keys.get(r["parent_id"]), r["agent_id"], r["source"]) for r in rows)

    def check_fixture(self, agent="main", timeout=30):
        pk = PARENT_KEY.replace("agent:main:", "agent:%s:" % agent)
        ck = CHILD_KEY.replace("agent:main:", "agent:%s:" % agent)
        parent = self.wait_box(pk, lambda b: b["status"] == "done", timeout,
                               "the parent box to end")
        child = self.wait_box(ck, lambda b: b["status"] == "done", timeout)
        self.assertEqual(parent["lines"], PARENT_LINES)
        self.assertEqual(parent["token_count"], 857)
        self.assertEqual(parent["model"], "claude-opus-4-6")
        self.assertEqual(parent["channel_id"], "u4k9x2mdp7fq3nbc8wyh6tz1re")
        self.assertEqual(parent["agent_id"], agent)
        self.assertIsNone(parent["parent_id"])
        self.assertEqual(child["lines"], CHILD_LINES)
        self.assertEqual(child["parent_id"], parent["id"])
        self.assertEqual(child["label"], "dump sizes")
        self.assertEqual(child["token_count"], 290)
        return parent, child

    def play(self, db, **kw):
        kw.setdefault("speed", 20)
        kw.setdefault("pause_ms", 300)
        return ocwriter.play(db, FIXTURE, **kw)

    def cmd(self, *args, **extra):
        return subprocess.run([WATCHER] + list(args), env=self.watcher_env(**extra),
                              capture_output=True, text=True, timeout=30)


class SameBoxes(OcdbCase):
    def test_fixture_same_boxes_as_files(self):
        # the file layout first: the reference
        os.makedirs(self.sessions)
        self.start_watcher()
        player.play(FIXTURE, self.sessions, speed=20, max_pause=0.3)
        self.check_fixture()
        files_view = self.view()
        self.stop_watcher()
        # then the same session through a database, half the rows compressed
        self.agents = os.path.join(self.tmp, "agents-db")
        self.db = os.path.join(self.tmp, "livestatus-db.db")
        db = self.agent_db(compress_min=300)
        self.start_watcher()
        self.play(db)
        self.check_fixture()
        self.assertEqual(self.view(), files_view)
        n = db.connect().execute("SELECT count(*) FROM transcript_events"
                                 " WHERE event_zstd IS NOT NULL").fetchone()[0]
        self.assertGreaterEqual(n, 11, "half the rows are zstd")
        self.wait_stat("db_events_read", FIXTURE_ROWS)
        st = self.stats()
        self.assertEqual(st["db_events_read"], FIXTURE_ROWS)
        self.assertEqual(st["parse_errors"], 0)
        self.assertEqual(st["db_rows_bad"], 0)

    def test_polling_fallback(self):
        db = self.agent_db()
        self.start_watcher(WATCHER_FORCE_POLL=1, POLL_INTERVAL_MS=100)
        self.assertFalse(self.stats()["inotify"])
        self.play(db)
        self.check_fixture()

    def test_state_dir_as_root(self):
        db = self.agent_db()
        db.close()
        os.makedirs(os.path.join(self.tmp, "state"))
        os.rename(self.agents, os.path.join(self.tmp, "state", "agents"))
        db.path = agent_db_path(os.path.join(self.tmp, "state", "agents"), "main")
        env = dict(OPENCLAW_STATE_DIR=os.path.join(self.tmp, "state"))
        self.env["TRANSCRIPT_DIR"] = ""
        self.start_watcher(**env)
        self.play(db)
        self.check_fixture()
        self.stop_watcher()
        self.assertIn("following openclaw database", self.log())

    def test_finished_database_shows_nothing_old(self):
        db = self.agent_db()
        self.play(db, speed=0, pause_ms=0)
        self.start_watcher()
        wait_for(lambda: self.stats().get("db_agents") == 1, what="the agent followed")
        self.assertEqual(self.boxes(), [])
        self.assertEqual(self.stats()["db_events_read"], 0)
        db.append(PARENT_SID, assistant(["Looking again."], stop="stop"))
        b = self.wait_box(PARENT_KEY, lambda b: b["lines"] == ["Looking again."])
        self.assertEqual(b["status"], "done")
        self.assertEqual(len(self.boxes()), 1)
        # read from its end: the one new row is all that was ever read
        wait_equal(lambda: self.stats().get("db_events_read"), 1, what="db_events_read")
        self.assertEqual(len(self.boxes()), 1)


class Lifecycle(OcdbCase):
    def session(self, db, key="agent:main:mattermost:channel:c1", sid="s-1", **kw):
        db.add_session(key, session_id=sid, **kw)
        db.append(sid, header(sid))
        return key, sid

    def test_error_then_fresh_box(self):
        db = self.agent_db()
        self.start_watcher()
        key, sid = self.session(db)
        db.append(sid, assistant([call("c1", "exec", command="false")]))
        db.append(sid, result("c1", error=True))
        db.append(sid, assistant(["It failed."], stop="error"))
        b = self.wait_box(key, lambda b: b["status"] == "error")
        self.assertEqual(b["lines"], ["exec: false [ERR]", "It failed."])
        db.append(sid, assistant(["Trying again."], stop="stop"))
        wait_equal(lambda: [b["lines"] for b in self.boxes(key)],
                   [["exec: false [ERR]", "It failed."], ["Trying again."]],
                   what="a fresh box with its line")
        self.assertEqual(self.box(key)["lines"], ["Trying again."])
        self.assertEqual(self.box(key)["channel_id"], "c1")

    def test_run_start_shows_thinking_error_text_and_announce(self):
        """Issue 12: the header and user message show the box (thinking) before any reply;
        an errorMessage ends it as error with its text; an announce run starts no box."""
        db = self.agent_db()
        self.start_watcher()
        key, sid = self.session(db)
        b = self.wait_box(key, lambda b: b["status"] == "active", what="the box at the header")
        self.assertEqual(b["lines"], ["Thinking..."])
        db.append(sid, {"type": "message", "id": "u1", "parentId": None,
                        "timestamp": "2026-04-14T09:12:04.000Z",
                        "message": {"role": "user", "content": "check", "timestamp": 1}})
        failed = assistant([], stop="error")
        failed["message"]["errorMessage"] = "400 model overloaded"
        failed["message"]["errorCode"] = "model_overloaded"
        db.append(sid, failed)
        wait_equal(lambda: [(b["status"], b["lines"]) for b in self.boxes(key)],
                   [("error", ["Error: 400 model overloaded (model_overloaded)"])],
                   what="the error box with its text")
        ann = assistant(["The helper is done."], stop="stop")
        ann["message"]["__openclaw"] = {"runId": "announce:v1:agent:main:subagent:x:r1"}
        db.append(sid, ann)
        db.append(sid, assistant(["Next run."], stop="stop"))
        wait_equal(lambda: [b["lines"] for b in self.boxes(key)],
                   [["Error: 400 model overloaded (model_overloaded)"], ["Next run."]],
                   what="no box for the announce run, one for the next")

    def test_gateway_node_row_starts_the_box_before_the_transcript(self):
        """Issue 12: under the gateway the run's session_nodes row comes seconds before its
        transcript; the box shows at that row, and the transcript's events fill the same box.
        Rows of cron and internal runs, and finished ones, start nothing."""
        db = self.agent_db()
        self.start_watcher()
        db.add_node("agent:main:cron:job-1", "s-cron", created_via="cron")
        db.add_node("agent:main:mattermost:channel:c2", "s-old", status="done")
        key, sid = "agent:main:mattermost:channel:c1", "s-1"
        db.add_node(key, sid)
        b = self.wait_box(key, lambda b: b["status"] == "active", what="the box at the node row")
        self.assertEqual(b["lines"], ["Thinking..."])
        self.assertEqual(b["channel_id"], "c1")
        self.session(db, key, sid)
        db.append(sid, assistant(["Done here."], stop="stop"))
        wait_equal(lambda: [(b["status"], b["lines"]) for b in self.boxes(key)],
                   [("done", ["Done here."])], what="the same box, ended with its line")
        self.assertEqual([b["session_key"] for b in self.boxes()], [key])

    def test_compaction_and_reset_events(self):
        db = self.agent_db()
        self.start_watcher()
        key, sid = self.session(db)
        db.append(sid, assistant([call("c1", "read", path="/a")]))
        db.append(sid, {"type": "compaction", "id": "cc000001", "parentId": None,
                        "timestamp": "2026-04-14T09:12:07.000Z", "summary": "s",
                        "firstKeptEntryId": "x", "tokensBefore": 100})
        db.append(sid, result("c1", "read"))
        db.append(sid, {"type": "reset", "id": "cc000002", "parentId": None,
                        "timestamp": "2026-04-14T09:12:08.000Z"})
        db.append(sid, assistant(["Done."], stop="stop"))
        b = self.wait_box(key, lambda b: b["status"] == "done")
        self.assertEqual(b["lines"], ["read: /a [OK]", COMPACTED, COMPACTED, "Done."])

    def test_new_generation_is_read_again_without_duplicates(self):
        db = self.agent_db()
        self.start_watcher()
        key, sid = self.session(db)
        db.append(sid, assistant(["One.", call("c1", "exec", command="ls")]))
        db.append(sid, result("c1"))
        self.wait_box(key, lambda b: b["lines"] == ["One.", "exec: ls [OK]"])
        # a rewrite: same events renumbered under a new generation, one more at the end
        events = db.events(sid) + [json.dumps(assistant(["Two."]))]
        db.rewrite(sid, events)
        b = self.wait_box(key, lambda b: "Two." in b["lines"])
        self.assertEqual(b["lines"], ["One.", "exec: ls [OK]", COMPACTED, "Two."])
        self.wait_stat("db_rereads", 1)
        db.append(sid, assistant(["Three."], stop="stop"))
        b = self.wait_box(key, lambda b: b["status"] == "done")
        self.assertEqual(b["lines"], ["One.", "exec: ls [OK]", COMPACTED, "Two.", "Three."])
        gen = db.connect().execute("SELECT generation FROM transcript_rewrite_watermarks"
                                   ).fetchone()[0]
        cur = self.query("SELECT generation, seq FROM watcher_ocdb_cursors"
                         " WHERE session_id = ?", (sid,))
        self.assertEqual(cur, [{"generation": gen, "seq": 4}])
        self.assertEqual(self.stats()["db_rereads"], 1)

    def test_rollover_window_continues_under_the_key(self):
        db = self.agent_db()
        self.start_watcher()
        key, sid = self.session(db)
        db.append(sid, assistant(["Before.", call("c1", "exec", command="uptime")]))
        first = self.wait_box(key, lambda b: b["lines"] == ["Before.", "exec: uptime"])
        new = db.rollover(key)
        db.append(new, header(new))
        db.append(new, result("c1"))
        db.append(new, assistant(["After."], stop="stop"))
        b = self.wait_box(key, lambda b: b["status"] == "done")
        self.assertEqual(b["id"], first["id"])
        self.assertEqual(b["lines"], ["Before.", "exec: uptime [OK]", "After."])
        self.assertEqual(len(self.boxes()), 1)

    def test_cold_archived_session_is_ignored(self):
        db = self.agent_db()
        self.start_watcher()
        key, sid = self.session(db)
        db.append(sid, assistant(["Old work."], stop="stop"))
        self.wait_box(key, lambda b: b["status"] == "done")
        key2, sid2 = self.session(db, "agent:main:mattermost:channel:c2", "s-2")
        db.cold_archive(sid)
        db.append(sid2, assistant(["Other."], stop="stop"))
        self.wait_box(key2, lambda b: b["status"] == "done")
        self.assertEqual(self.box(key)["lines"], ["Old work."])
        self.assertEqual(self.stats()["db_rereads"], 0)
        wait_for(lambda: not self.query("SELECT 1 FROM watcher_ocdb_cursors"
                                        " WHERE session_id = ?", (sid,)),
                 what="the archived session's cursor dropped")

    def test_corrupt_zstd_row_counted_and_skipped(self):
        db = self.agent_db(compress_min=200)
        self.start_watcher()
        key, sid = self.session(db)
        db.append(sid, assistant(["Before the bad row.", call("c1", "exec", command="ls")]))
        db.corrupt_zstd(sid)
        db.append(sid, result("c1"))
        db.append(sid, assistant(["After the bad row."], stop="stop"))
        b = self.wait_box(key, lambda b: b["status"] == "done")
        self.assertEqual(b["lines"], ["Before the bad row.", "exec: ls [OK]",
                                      "After the bad row."])
        self.wait_stat("db_rows_bad", 1)
        self.assertEqual(self.stats()["db_rows_bad"], 1)
        self.assertIn("skipping openclaw transcript row", self.log())

    def test_kill9_and_restart(self):
        db = self.agent_db(compress_min=400)
        self.start_watcher()
        total = FIXTURE_ROWS
        half = 13  # mid-run: the parent has tools done and pending
        self.play(db, stop=half)
        wait_for(lambda: self.stats().get("db_events_read", 0) >= half, what="half read")
        self.kill9()
        # the gateway goes on while the watcher is down, and after it is back
        self.play(db, start=half, stop=half + 4, speed=0, pause_ms=0)
        self.start_watcher()
        self.play(db, start=half + 4, stop=total)
        self.check_fixture()
        self.assertEqual(len(self.boxes()), 2)

    def test_kill9_while_reading(self):
        db = self.agent_db()
        self.start_watcher()
        key, sid = self.session(db)
        want = []
        for i in range(300):
            db.append(sid, assistant(["Step %d." % i]))
            want.append("Step %d." % i)
            if i == 150:
                self.kill9()
                self.start_watcher(MAX_STATUS_LINES=400)
        db.append(sid, assistant(["End."], stop="stop"))
        want.append("End.")
        b = self.wait_box(key, lambda b: b["status"] == "done", 60)
        self.assertEqual(b["lines"], want[-len(b["lines"]):])
        self.assertEqual(len(b["lines"]), len(set(b["lines"])), "no line twice")


class Agents(OcdbCase):
    def test_unknown_version_refused_other_agent_works(self):
        ops = self.agent_db("ops")
        ops.set_user_version(99)
        db = self.agent_db()
        self.start_watcher()
        self.play(db)
        self.check_fixture()
        log = self.log()
        line = [ln for ln in log.splitlines() if "openclaw database refused" in ln]
        self.assertEqual(len(line), 1, log[-3000:])
        self.assertIn("version=99", line[0])
        self.assertIn(agent_db_path(self.agents, "ops"), line[0])
        self.assertEqual(self.stats()["db_refused"], 1)
        r = self.cmd("status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("agent ops: sqlite, schema 99, refused", r.stdout)
        self.assertIn("agent main: sqlite, schema 23, ok", r.stdout)

    def test_writer_holds_a_write_transaction_for_3s(self):
        db = self.agent_db()
        ops = self.agent_db("ops")
        self.start_watcher()
        key, sid = "agent:main:mattermost:channel:c1", "s-1"
        db.add_session(key, session_id=sid)
        okey, osid = "agent:ops:mattermost:channel:c2", "o-1"
        ops.add_session(okey, session_id=osid)
        holder = AgentDB(db.path)
        held, release, committed = threading.Event(), threading.Event(), threading.Event()

        def hold():
            holder.connect().execute("BEGIN IMMEDIATE")
            holder._insert(holder.db, sid, 1, holder._row(assistant(["Held."], stop="stop")))
            holder._bump(holder.db, sid)
            t_held = time.monotonic()
            held.set()
            # held for 3 s at least, and until the test has seen what it looks for: a slow
            # watcher (ASan, a loaded machine) must not see the hold end first by chance
            release.wait(60)
            time.sleep(max(0.0, 3.0 - (time.monotonic() - t_held)))
            holder.db.execute("COMMIT")
            committed.set()
        db.append(sid, assistant(["Before the hold."]))
        t = threading.Thread(target=hold)
        t.start()
        try:
            self.assertTrue(held.wait(30))
            # while the gateway holds its write lock: this DB's last commit is read, the other
            # agent is followed, the heartbeat goes on
            self.wait_box(key, lambda b: b["lines"] == ["Before the hold."])
            ops.append(osid, assistant(["Other agent."], stop="stop"))
            self.wait_box(okey, lambda b: b["status"] == "done")
            self.assertFalse(committed.is_set(), "read while the write was held")
            self.assertTrue(t.is_alive())
        finally:
            release.set()
        t.join()
        b = self.wait_box(key, lambda b: b["status"] == "done")
        self.assertEqual(b["lines"], ["Before the hold.", "Held."])
        holder.close()
        # a heartbeat from after all three events were read
        self.wait_stat("db_events_read", 3)
        self.assertEqual(self.stats()["db_busy"], 0)
        self.assertNotIn("cannot read openclaw database", self.log())

    def test_mixed_agents_folder(self):
        os.makedirs(self.sessions)  # main: the file layout
        ops = self.agent_db("ops")  # ops: the database
        self.start_watcher()
        t = threading.Thread(target=self.play, args=(ops,), kwargs={"agent": "ops"})
        t.start()
        player.play(FIXTURE, self.sessions, speed=20, max_pause=0.3)
        t.join()
        self.check_fixture("main")
        self.check_fixture("ops")
        self.assertEqual(len(self.boxes()), 4)
        r = self.cmd("status")
        self.assertIn("agent ops: sqlite, schema 23, ok", r.stdout)
        self.assertIn("agent main: files", r.stdout)

    def test_database_appears_while_running(self):
        os.makedirs(os.path.join(self.agents, "late", "agent"))
        self.start_watcher()
        db = self.agent_db("late", version=20)  # 2026.9.5 shape: no zstd columns
        self.play(db, agent="late")
        self.check_fixture("late")

    def test_latency_smoke(self):
        db = self.agent_db()
        self.start_watcher()
        key, sid = "agent:main:mattermost:channel:c1", "s-1"
        db.add_session(key, session_id=sid)
        # each line shows (how fast is make bench's question, not a test's)
        for i in range(20):
            db.append(sid, assistant(["Line %d." % i]))
            self.wait_box(key, lambda b, i=i: b["lines"][-1:] == ["Line %d." % i])


if __name__ == "__main__":
    unittest.main()
