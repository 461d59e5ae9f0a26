"""livestatus-watcher read against the spec to the letter: regressions of what QA found.

Each test plays what the gateway writes (or what an operator sets) and checks what
architecture.md / api.md / openclaw-format.md say a user gets.  Stdlib only; waits poll
with a deadline, never a fixed sleep.
"""
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import player  # noqa: E402
from ocwriter.ocwriter import AgentDB, agent_db_path  # noqa: E402
from ocwriter import ocwriter  # noqa: E402
from wharness import (CHILD_KEY, FIXTURE, PARENT_KEY, WATCHER,  # noqa: E402
                      WatcherCase, assistant, call, header, result, wait_equal, wait_for)

PARENT_CHANNEL = "u4k9x2mdp7fq3nbc8wyh6tz1re"
COMPACTED = "[session compacted - continuing]"
KEY = "agent:main:main"


class SubAgentRouting(WatcherCase):
    def test_child_sits_in_parent_channel_not_default(self):
        # DEFAULT_CHANNEL is for sessions that name none; a sub-agent's box is a child of
        # its parent's box and so sits in the parent's channel.
        self.start_watcher(DEFAULT_CHANNEL="dflt")
        player.play(FIXTURE, self.sessions, speed=50, max_pause=0.2)
        parent = self.wait_box(PARENT_KEY, lambda b: b["status"] == "done")
        child = self.wait_box(CHILD_KEY, lambda b: b["status"] == "done")
        self.assertEqual(parent["channel_id"], PARENT_CHANNEL)
        self.assertEqual(child["parent_id"], parent["id"])
        self.assertEqual(child["channel_id"], PARENT_CHANNEL)

    def test_child_of_threaded_parent_in_its_thread(self):
        pkey = "agent:main:mattermost:channel:c1:thread:r1"
        ckey = "agent:main:subagent:0b1c"
        self.write_sessions({pkey: {"sessionId": "p"},
                             ckey: {"sessionId": "c", "spawnedBy": pkey, "label": "kid"}})
        self.start_watcher(DEFAULT_CHANNEL="dflt")
        self.lock("p.jsonl")
        self.append("p.jsonl", header("p"), assistant([call("s", "sessions_spawn", label="kid")]))
        self.lock("c.jsonl")
        self.append("c.jsonl", header("c"), assistant(["Child at work."]))
        child = self.wait_box(ckey, lambda b: b["lines"] == ["Child at work."])
        self.assertEqual((child["channel_id"], child["root_id"]), ("c1", "r1"))
        # a reload of the index does not move it to the default channel
        self.write_sessions({pkey: {"sessionId": "p", "updatedAt": 2},
                             ckey: {"sessionId": "c", "spawnedBy": pkey, "label": "kid"}})
        self.wait_stat("index_loads", 2)
        self.append("c.jsonl", assistant(["Still at work."]))
        child = self.wait_box(ckey, lambda b: b["lines"][-1:] == ["Still at work."])
        self.assertEqual((child["channel_id"], child["root_id"]), ("c1", "r1"))

    def test_child_linked_by_the_spawn_result_text(self):
        # sessions_spawn answers {"status":"accepted","childSessionKey":...} (its text);
        # the child's entry names no spawnedBy
        pkey = "agent:main:mattermost:channel:c1"
        ckey = "agent:main:subagent:0b2c"
        self.write_sessions({pkey: {"sessionId": "p"}, ckey: {"sessionId": "c", "label": "kid"}})
        self.start_watcher()
        self.lock("p.jsonl")
        answer = result("sp", name="sessions_spawn")
        answer["message"]["content"] = [{"type": "text", "text": json.dumps(
            {"status": "accepted", "childSessionKey": ckey, "runId": "r1"})}]
        self.append("p.jsonl", header("p"), assistant([call("sp", "sessions_spawn",
                                                            label="kid", task="t")]), answer)
        parent = self.wait_box(pkey, lambda b: b["lines"] == ["Sub-agent: kid"])
        self.lock("c.jsonl")
        self.append("c.jsonl", header("c"), assistant(["Child at work."]))
        child = self.wait_box(ckey, lambda b: b["lines"] == ["Child at work."])
        self.assertEqual(child["parent_id"], parent["id"])
        self.assertEqual(child["channel_id"], "c1")


class DbCase(WatcherCase):
    """main is an OpenClaw 2026.8+ agent: a database, no sessions/ folder."""

    def setUp(self):
        super().setUp()
        shutil.rmtree(self.sessions)
        self.dbs = []

    def tearDown(self):
        for db in self.dbs:
            db.close()
        super().tearDown()

    def agent_db(self, agent="main"):
        db = AgentDB(agent_db_path(self.agents, agent), agent_id=agent).create()
        self.dbs.append(db)
        return db


class SubAgentRoutingDb(DbCase):

    def test_child_sits_in_parent_channel_not_default(self):
        db = self.agent_db()
        self.start_watcher(DEFAULT_CHANNEL="dflt")
        ocwriter.play(db, FIXTURE, speed=20, pause_ms=300)
        parent = self.wait_box(PARENT_KEY, lambda b: b["status"] == "done")
        child = self.wait_box(CHILD_KEY, lambda b: b["status"] == "done")
        self.assertEqual(parent["channel_id"], PARENT_CHANNEL)
        self.assertEqual(child["channel_id"], PARENT_CHANNEL)


class Lifecycle(WatcherCase):
    def setUp(self):
        super().setUp()
        self.write_sessions(dict([self.session_entry(KEY, "s1")]))

    def test_copy_known_by_model_is_not_work(self):
        # a delivery-mirror / gateway-injected copy is not work, whatever its provider says
        self.start_watcher()
        self.append("s1.jsonl", header("s1"),
                    assistant(["mirror"], provider="mattermost", model="delivery-mirror",
                              stop="stop"),
                    assistant(["injected"], provider="", model="gateway-injected", stop="stop"))
        self.wait_stat("lines_read", 3)
        self.assertEqual(self.boxes(), [])
        self.lock("s1.jsonl")
        self.append("s1.jsonl", assistant(["Real work."]),
                    assistant(["mirror"], provider="x", model="delivery-mirror", tokens=(500, 500)))
        self.wait_stat("lines_read", 5)
        b = self.wait_box(KEY, lambda b: b["lines"] == ["Real work."])
        self.assertEqual(b["token_count"], 15)
        self.assertEqual(b["model"], "claude-opus-4-6")

    def test_lock_gone_then_last_result_ends_the_box(self):
        # "the .jsonl.lock file goes away and the last assistant line has no pending tool
        # call (done)": the lock went first, the result came after it
        self.start_watcher()
        self.lock("s1.jsonl")
        self.append("s1.jsonl", header("s1"), assistant([call("t1", "exec", command="ls")]))
        self.wait_box(KEY, lambda b: b["lines"] == ["exec: ls"])
        self.unlock("s1.jsonl")
        # The watcher has taken the unlock in: its stored session state says so (committed
        # with the box).  A "commits + 1" read off the heartbeat could be a commit from
        # before the unlock, the heartbeat's figures lagging the store.
        wait_equal(lambda: (self.session_state(KEY) or {}).get("lock"), False,
                   what="the session's lock gone in the stored state")
        self.assertEqual(self.box(KEY)["status"], "active", "a tool call is still pending")
        self.append("s1.jsonl", result("t1"))
        b = self.wait_box(KEY, lambda b: b["status"] == "done")
        self.assertEqual(b["lines"], ["exec: ls [OK]"])
        self.assertIsNotNone(b["end_time_ms"])


class Settings(WatcherCase):
    def cmd(self, *args, timeout=30, **env):
        return subprocess.run([WATCHER] + list(args), env=self.watcher_env(**env),
                              capture_output=True, text=True, timeout=timeout)

    def test_every_bad_value_exit_2_naming_the_variable(self):
        missing = os.path.join(self.tmp, "no-such-folder")
        for var, val in (("THROTTLE_MS", "abc"), ("IDLE_TIMEOUT_S", "-1"),
                         ("MAX_STATUS_LINES", "0"), ("LOG_LEVEL", "loud"),
                         ("PLUGIN_ENABLED", "maybe"), ("MAX_SESSION_DURATION_S", "1.5"),
                         ("MAX_ACTIVE_SESSIONS", "x"), ("MAX_MESSAGE_CHARS", "-3"),
                         ("CIRCUIT_BREAKER_THRESHOLD", "0"), ("CIRCUIT_BREAKER_COOLDOWN_S", "z"),
                         ("PLUGIN_URL", "nope"), ("MM_URL", "nope"), ("MM_BASE_URL", "nope"),
                         ("HEARTBEAT_S", "0"), ("POLL_INTERVAL_MS", "1"),
                         ("WATCHER_FORCE_POLL", "2"), ("PUBLISH_URL", "x"),
                         ("TRANSCRIPT_DIR", missing),
                         ("LIVESTATUS_DB", os.path.join(missing, "ls.db")),
                         ("LIVESTATUS_DB", self.tmp),
                         ("PID_FILE", os.path.join(missing, "w.pid"))):
            for command in ("run", "start"):
                r = self.cmd(command, **{var: val})
                self.assertEqual(r.returncode, 2, "%s=%s %s: %s" % (var, val, command, r.stderr))
                self.assertIn(var, r.stderr)
        self.assertIsNone(self.heartbeat())

    def test_mattermost_settings_checked_before_start(self):
        for extra, name in (({"MM_URL": "http://127.0.0.1:9"}, "MM_TOKEN"),
                            ({"MM_URL": "http://127.0.0.1:9", "MM_TOKEN": "t",
                              "MM_TIMEOUT_MS": "soon"}, "MM_TIMEOUT_MS")):
            for command in ("run", "start"):
                r = self.cmd(command, **extra)
                self.assertEqual(r.returncode, 2, "%s %s: %s" % (extra, command, r.stderr))
                self.assertIn(name, r.stderr)
        self.assertEqual(self.cmd("status").returncode, 3)

    def test_start_with_a_log_file_it_cannot_open(self):
        bad = os.path.join(self.tmp, "no-such-folder", "w.log")
        r = self.cmd("start", LOG_FILE=bad)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("LOG_FILE", r.stderr)
        self.assertEqual(self.cmd("status").returncode, 3)

    def test_start_says_why_it_failed(self):
        # the store cannot be opened: `start` says so, not "see its log" with no log
        bad = os.path.join(self.tmp, "garbage.db")
        with open(bad, "w") as f:
            f.write("this is not a database\n" * 100)
        r = self.cmd("start", LIVESTATUS_DB=bad)
        self.assertEqual(r.returncode, 1)
        self.assertIn("LIVESTATUS_DB", r.stderr)
        self.assertIn("not a database", r.stderr)
        self.assertEqual(self.cmd("status").returncode, 3)

    def test_start_with_relative_paths(self):
        # the daemon leaves the caller's folder: relative settings still mean the same files
        os.makedirs(os.path.join(self.tmp, "rel", "agents", "main", "sessions"))
        env = self.watcher_env(TRANSCRIPT_DIR="agents", LIVESTATUS_DB="ls.db",
                               PID_FILE="w.pid")
        cwd = os.path.join(self.tmp, "rel")
        run = lambda *a: subprocess.run([WATCHER] + list(a), env=env, cwd=cwd,  # noqa: E731
                                        capture_output=True, text=True, timeout=40)
        r = run("start")
        self.assertEqual(r.returncode, 0, r.stderr)
        try:
            self.assertEqual(r.stderr, "", "start prints no log lines when all is well")
            self.db = os.path.join(cwd, "ls.db")
            wait_for(self.heartbeat, what="the heartbeat in rel/ls.db")
            self.assertTrue(os.path.exists(os.path.join(cwd, "w.pid")))
            self.assertEqual(run("status").returncode, 0)
        finally:
            self.assertEqual(run("stop").returncode, 0)
        self.assertEqual(run("status").returncode, 3)


class StopLog(DbCase):
    def test_stopped_line_counts_database_events(self):
        db = self.agent_db()
        self.start_watcher()
        n = ocwriter.play(db, FIXTURE, speed=0, pause_ms=0)
        self.wait_stat("lines_read", 23)
        self.assertEqual(self.stop_watcher(), 0)
        stopped = [l for l in self.log().splitlines() if 'msg=stopped' in l]
        self.assertEqual(len(stopped), 1, self.log()[-2000:])
        self.assertIn(" lines_read=%d " % n, stopped[0] + " ")


class VanishedFolders(WatcherCase):
    def comes_back(self, root=False):
        os.makedirs(self.sessions)
        self.write_sessions(dict([self.session_entry(KEY, "s1")]))
        self.lock("s1.jsonl")
        self.append("s1.jsonl", header("s1"), assistant(["Back again."]))
        # A re-created TRANSCRIPT_DIR (root) is found by a poll (POLL_INTERVAL_MS):
        # while it is missing the 30 s safety rescan stands aside and no inotify watch
        # covers it, so a poll is the only way back and the deadline can leave a loaded
        # machine's ASan build room (15 s was once too short there).
        b = self.wait_box(KEY, lambda b: b["lines"] == ["Back again."], 60,
                          "the box of a transcript in the re-created folder")
        if root:
            self.assertIn("TRANSCRIPT_DIR is back", self.log())
        self.assertEqual(b["status"], "active")

    def test_agents_folder_removed_and_made_again(self):
        self.start_watcher()
        shutil.rmtree(self.agents)
        wait_for(lambda: "TRANSCRIPT_DIR is gone" in self.log(), what="the watcher noticing")
        self.assertIsNone(self.proc.poll())
        self.comes_back(root=True)

    def test_sessions_root_removed_and_made_again(self):
        self.env["TRANSCRIPT_DIR"] = self.sessions
        self.start_watcher()
        shutil.rmtree(self.sessions)
        wait_for(lambda: "TRANSCRIPT_DIR is gone" in self.log(), what="the watcher noticing")
        self.comes_back(root=True)

    def test_agent_folder_moved_in_shows_nothing_old(self):
        # "A transcript that already exists when the watcher first sees its folder, with no
        # stored offset, is read from its end (no backlog dump)"
        self.start_watcher()
        staging = os.path.join(self.tmp, "staging", "sessions")
        os.makedirs(staging)
        with open(os.path.join(staging, "sessions.json"), "w") as f:
            json.dump({"agent:ops:main": {"sessionId": "o1"}}, f)
        with open(os.path.join(staging, "o1.jsonl"), "w") as f:
            for o in (header("o1"), assistant(["Old news."], stop="stop")):
                f.write(json.dumps(o) + "\n")
        os.makedirs(os.path.join(self.agents, "ops"))
        os.rename(staging, os.path.join(self.agents, "ops", "sessions"))
        wait_for(lambda: self.stats().get("folders") == 2, what="the new agent's folder")
        ops = os.path.join(self.agents, "ops", "sessions")
        with open(os.path.join(ops, "o1.jsonl.lock"), "w") as f:
            f.write("{}")
        with open(os.path.join(ops, "o1.jsonl"), "a") as f:
            f.write(json.dumps(assistant(["New work."])) + "\n")
        b = self.wait_box("agent:ops:main", lambda b: b["lines"] == ["New work."])
        self.assertEqual(len(self.boxes()), 1)
        self.assertEqual(b["agent_id"], "ops")

    def test_folder_moved_away_and_back_goes_on_where_it_was(self):
        self.write_sessions(dict([self.session_entry(KEY, "s1")]))
        self.start_watcher()
        self.lock("s1.jsonl")
        self.append("s1.jsonl", header("s1"), assistant(["One."]))
        self.wait_box(KEY, lambda b: b["lines"] == ["One."])
        away = self.sessions + ".away"
        os.rename(self.sessions, away)
        wait_for(lambda: "sessions folder gone" in self.log(), what="the folder gone")
        with open(os.path.join(away, "s1.jsonl"), "a") as f:
            f.write(json.dumps(assistant(["Two."])) + "\n")
        os.rename(away, self.sessions)
        self.append("s1.jsonl", assistant(["Three."]))
        b = self.wait_box(KEY, lambda b: b["lines"][-1:] == ["Three."])
        lines = [l for x in self.boxes(KEY) for l in x["lines"]]
        self.assertEqual(lines, ["One.", "Two.", "Three."], "nothing twice, nothing lost")
        self.assertNotIn(COMPACTED, lines)

    def test_agent_sessions_folder_removed_and_made_again(self):
        self.start_watcher()
        shutil.rmtree(self.sessions)
        wait_for(lambda: "sessions folder gone" in self.log(), what="the watcher noticing")
        self.comes_back()


class BatchesAndParents(WatcherCase):
    """What arrives in one wake-up, in any order, is stored whole; nothing blocks the store."""

    def test_error_and_next_run_in_one_write_keep_both_boxes(self):
        self.write_sessions(dict([self.session_entry(KEY, "s1")]))
        self.start_watcher()
        self.lock("s1.jsonl")
        self.append("s1.jsonl", header("s1"), assistant(["Trying."], stop="error"),
                    assistant(["Again."], stop="toolUse"))
        wait_equal(lambda: sorted((b["status"], b["lines"]) for b in self.boxes(KEY)),
                   [("active", ["Again."]), ("error", ["Trying."])],
                   what="the error box and the next run's box, each with its line")
        first, second = sorted(self.boxes(KEY), key=lambda b: b["status"] == "active")
        self.assertEqual((first["status"], first["lines"]), ("error", ["Trying."]))
        self.assertIsNotNone(first["end_time_ms"])
        self.assertEqual((second["status"], second["lines"]), ("active", ["Again."]))

    def test_sub_agent_lines_before_any_parent_box(self):
        # the watcher meets a sub-agent's work before its parent's: the parent box is made
        # for it, in the same batch, and the store takes both (parent first)
        pkey = "agent:main:mattermost:channel:c1"
        ckey = "agent:main:subagent:0c1d"
        self.write_sessions({pkey: {"sessionId": "p"},
                             ckey: {"sessionId": "c", "spawnedBy": pkey, "label": "kid"}})
        self.start_watcher()
        self.append("c.jsonl", header("c"), assistant(["Child first."]))
        child = self.wait_box(ckey, lambda b: b["lines"] == ["Child first."])
        parent = self.wait_box(pkey, lambda b: True)
        self.assertEqual(child["parent_id"], parent["id"])
        # and the watcher goes on committing
        self.lock("p.jsonl")
        self.append("p.jsonl", header("p"), assistant(["Parent now."]))
        self.wait_box(pkey, lambda b: b["lines"] == ["Parent now."])
        self.assertEqual(self.stats()["commit_busy"], 0)
        self.assertNotIn("FOREIGN KEY", self.log())

    def test_grandchild_shown_once_its_chain_is_known(self):
        pkey = "agent:main:mattermost:channel:c1"
        ckey = "agent:main:subagent:c2"
        gkey = "agent:main:subagent:c2:subagent:g3"
        self.write_sessions({pkey: {"sessionId": "p"}, ckey: {"sessionId": "c"},
                             gkey: {"sessionId": "g", "spawnedBy": ckey, "label": "grand"}})
        self.start_watcher()
        self.lock("g.jsonl")
        self.append("g.jsonl", header("g"), assistant(["Grandchild at work."]))
        self.wait_stat("lines_read", 2)
        self.assertEqual(self.boxes(), [], "no box of its own while its parent is unknown")
        self.write_sessions({pkey: {"sessionId": "p"},
                             ckey: {"sessionId": "c", "spawnedBy": pkey, "label": "child"},
                             gkey: {"sessionId": "g", "spawnedBy": ckey, "label": "grand"}})
        g = self.wait_box(gkey, lambda b: True)
        c = self.wait_box(ckey, lambda b: True)
        p = self.wait_box(pkey, lambda b: True)
        self.assertEqual((g["parent_id"], c["parent_id"], p["parent_id"]),
                         (c["id"], p["id"], None))
        self.assertEqual(g["lines"], ["Grandchild at work."])
        self.assertNotIn("FOREIGN KEY", self.log())

    def test_parent_box_deleted_under_a_running_child(self):
        # cleanup (or DELETE /api/v1/sessions/{id}) removes a parent box; its sub-agent
        # goes on: the watcher must not stop writing
        pkey = "agent:main:mattermost:channel:c1"
        ckey = "agent:main:subagent:0c1e"
        self.write_sessions({pkey: {"sessionId": "p"},
                             ckey: {"sessionId": "c", "spawnedBy": pkey, "label": "kid"},
                             KEY: {"sessionId": "s1"}})
        self.start_watcher()
        self.lock("p.jsonl")
        self.lock("c.jsonl")
        self.append("p.jsonl", header("p"), assistant(["Parent."]))
        self.append("c.jsonl", header("c"), assistant(["Child."]))
        parent = self.wait_box(pkey, lambda b: b["lines"] == ["Parent."])
        self.wait_box(ckey, lambda b: b["parent_id"] == parent["id"])
        con = __import__("sqlite3").connect(self.db, timeout=10)
        con.execute("PRAGMA foreign_keys = ON")
        con.execute("DELETE FROM boxes WHERE id = ?", (parent["id"],))
        con.commit()
        con.close()
        self.append("c.jsonl", assistant(["Child goes on."]))
        self.lock("s1.jsonl")
        self.append("s1.jsonl", header("s1"), assistant(["Elsewhere."]))
        self.wait_box(KEY, lambda b: b["lines"] == ["Elsewhere."])
        self.wait_box(ckey, lambda b: b["lines"][-1:] == ["Child goes on."])
        self.assertNotIn("FOREIGN KEY", self.log())


class LockReleasedRightAfterTheLines(WatcherCase):
    def test_lines_written_before_the_unlock_stay_in_the_run(self):
        # the gateway appends, then lets go of the lock at once: whatever the watcher reads
        # when it sees the lock gone, the run's last lines belong to that run's box
        # (a race: many short runs make it likely to show)
        n = 25
        self.write_sessions({"agent:main:k%d" % i: {"sessionId": "r%d" % i} for i in range(n)})
        self.start_watcher(MAX_STATUS_LINES=200)
        for i in range(n):
            name = "r%d.jsonl" % i
            self.lock(name)
            self.append(name, header("r%d" % i))
            for j in range(40):
                self.append(name, assistant(["step %d" % j, call("c%d" % j, "exec", command="x")]))
                self.append(name, result("c%d" % j))
            self.append(name, assistant(["end %d" % i], stop="stop"))
            self.unlock(name)
        for i in range(n):
            key = "agent:main:k%d" % i
            b = self.wait_box(key, lambda b: b["status"] == "done")
            self.assertEqual(len(self.boxes(key)), 1, "one run, one box: %s" % key)
            self.assertEqual(len(b["lines"]), 81, key)
            self.assertEqual(b["lines"][-1], "end %d" % i)


class BatchesDb(DbCase):
    def test_fixture_written_at_once(self):
        # every row of the fixture lands before the watcher looks: one batch
        db = self.agent_db()
        self.start_watcher()
        ocwriter.play(db, FIXTURE, speed=0, pause_ms=0)
        parent = self.wait_box(PARENT_KEY, lambda b: b["status"] == "done")
        child = self.wait_box(CHILD_KEY, lambda b: b["status"] == "done")
        self.assertEqual(child["parent_id"], parent["id"])
        self.assertEqual(child["lines"], ["List the dumps with their sizes.",
                                          "exec: sudo du -sh /srv/backup/db-02/* [OK]",
                                          "Newest dump 3.2G; the six before it 3.0G to 3.1G."])
        self.assertEqual(parent["lines"][-1], "db-02's backup finished at 02:14; the newest "
                         "dump (3.2G) is in line with the week before it.")
        self.assertEqual(len(self.boxes()), 2)
        self.assertNotIn("FOREIGN KEY", self.log())


class ResetRename(WatcherCase):
    """/new and /reset rename the transcript to <name>.reset.<ts> (openclaw-format.md)."""
    RESET = "s1.jsonl.reset.2026-04-14T09-30-00.000Z"

    def setUp(self):
        super().setUp()
        self.write_sessions(dict([self.session_entry(KEY, "s1")]))

    def file_rows(self):
        return [r["path"] for r in self.query("SELECT path FROM watcher_files")]

    def test_tail_written_just_before_the_rename_is_shown(self):
        self.start_watcher()
        self.lock("s1.jsonl")
        self.append("s1.jsonl", header("s1"), assistant(["One."]))
        self.wait_box(KEY, lambda b: b["lines"] == ["One."])
        # the last lines and the rename land while the watcher is stopped in its tracks
        self.proc.send_signal(__import__("signal").SIGSTOP)
        try:
            self.append("s1.jsonl", assistant(["Last words."], stop="stop"))
            os.rename(self.path("s1.jsonl"), self.path(self.RESET))
            self.write_sessions(dict([self.session_entry(KEY, "s2")]))
            self.unlock("s1.jsonl")
        finally:
            self.proc.send_signal(__import__("signal").SIGCONT)
        b = self.wait_box(KEY, lambda b: b["status"] == "done")
        self.assertEqual(b["lines"], ["One.", "Last words."])
        wait_for(lambda: self.path("s1.jsonl") not in self.file_rows(),
                 what="the renamed transcript's row deleted")
        # the key goes on in its new transcript
        self.lock("s2.jsonl")
        self.append("s2.jsonl", header("s2"), assistant(["Fresh start."]))
        b = self.wait_box(KEY, lambda b: b["lines"] == ["Fresh start."])
        self.assertEqual(len(self.boxes(KEY)), 2)

    def test_renamed_while_the_watcher_was_down(self):
        self.start_watcher()
        self.lock("s1.jsonl")
        self.append("s1.jsonl", header("s1"), assistant(["One."]))
        self.wait_box(KEY, lambda b: b["lines"] == ["One."])
        self.kill9()
        self.append("s1.jsonl", assistant(["Written while down."], stop="stop"))
        os.rename(self.path("s1.jsonl"), self.path(self.RESET))
        self.unlock("s1.jsonl")
        self.write_sessions(dict([self.session_entry(KEY, "s2")]))
        self.start_watcher()
        b = self.wait_box(KEY, lambda b: b["status"] == "done")
        self.assertEqual(b["lines"], ["One.", "Written while down."])
        wait_for(lambda: self.file_rows() == [], what="no row left for the renamed file")

    def test_deleted_transcript_row_goes_too(self):
        self.start_watcher(WATCHER_FORCE_POLL=1, POLL_INTERVAL_MS=100)
        self.lock("s1.jsonl")
        self.append("s1.jsonl", header("s1"), assistant(["One."], stop="stop"))
        self.wait_box(KEY, lambda b: b["lines"] == ["One."])
        wait_for(lambda: self.file_rows() == [self.path("s1.jsonl")], what="the row")
        self.unlock("s1.jsonl")
        os.unlink(self.path("s1.jsonl"))
        wait_equal(lambda: (self.file_rows(), self.box(KEY)["status"]), ([], "done"),
                   what="no row for the deleted file, and its box done")


class SuccessorByHeader(WatcherCase):
    """A successor transcript names its parent in its header (parentSession)."""
    SUCC = "2026-04-14T09-20-00-000Z_s9.jsonl"

    def setUp(self):
        super().setUp()
        self.write_sessions(dict([self.session_entry(KEY, "s1")]))

    def succ_header(self, parent):
        h = header("s9")
        h["parentSession"] = parent
        return h

    def test_successor_continues_the_running_box(self):
        self.start_watcher()
        self.lock("s1.jsonl")
        self.append("s1.jsonl", header("s1"), assistant(["Before the rotation."]))
        self.wait_box(KEY, lambda b: b["lines"] == ["Before the rotation."])
        # the gateway takes the successor's lock first (nothing written yet), then writes;
        # the watcher has seen that lock once the file is stored (known only by its lock)
        self.lock(self.SUCC)
        wait_for(lambda: self.path(self.SUCC) in [r["path"] for r in self.query(
            "SELECT path FROM watcher_files")], what="the successor's lock taken in")
        self.append(self.SUCC, self.succ_header("s1"), assistant(["After the rotation."]))
        b = self.wait_box(KEY, lambda b: b["lines"][-1:] == ["After the rotation."])
        self.assertEqual(b["lines"], ["Before the rotation.", "After the rotation."])
        # the old transcript's lock goes: the successor's still holds the run
        self.unlock("s1.jsonl")
        self.append(self.SUCC, assistant(["Still running."]))
        b = self.wait_box(KEY, lambda b: b["lines"][-1:] == ["Still running."])
        self.assertEqual(b["status"], "active", "the successor's lock is held")
        self.assertEqual([x["session_key"] for x in self.boxes()], [KEY],
                         "no box of its own for the successor file")
        self.unlock(self.SUCC)
        b = self.wait_box(KEY, lambda b: b["status"] == "done")
        self.assertEqual(len(self.boxes()), 1)
        self.assertEqual(b["lines"], ["Before the rotation.", "After the rotation.",
                                      "Still running."])
        rows = self.query("SELECT session_key FROM watcher_files WHERE path = ?",
                          (self.path(self.SUCC),))
        self.assertEqual(rows, [{"session_key": KEY}])

    def test_successor_named_by_path_starts_the_next_box_of_its_session(self):
        self.start_watcher()
        self.lock("s1.jsonl")
        self.append("s1.jsonl", header("s1"), assistant(["First run."], stop="stop"))
        self.unlock("s1.jsonl")
        self.wait_box(KEY, lambda b: b["status"] == "done")
        self.lock(self.SUCC)
        self.append(self.SUCC, self.succ_header(self.path("s1.jsonl")),
                    assistant(["Second run."], stop="stop"))
        self.unlock(self.SUCC)
        wait_equal(lambda: [(b["lines"], b["status"]) for b in self.boxes(KEY)],
                   [(["First run."], "done"), (["Second run."], "done")],
                   what="the second box of the session, done, with its line")
        self.assertEqual({x["session_key"] for x in self.boxes()}, {KEY})
        # after a restart the successor still belongs to the session
        self.stop_watcher()
        self.start_watcher()
        self.lock(self.SUCC)
        self.append(self.SUCC, assistant(["Third run."]))
        wait_equal(lambda: [b["lines"] for b in self.boxes(KEY)],
                   [["First run."], ["Second run."], ["Third run."]],
                   what="the third box with its line")


class SessionsJsonElsewhere(WatcherCase):
    """SESSIONS_JSON outside a lone sessions folder (architecture.md: optional)."""

    def setUp(self):
        super().setUp()
        self.index_dir = os.path.join(self.tmp, "state")
        os.makedirs(self.index_dir)
        self.index = os.path.join(self.index_dir, "index.json")

    def write_index(self, data):
        tmp = self.index + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.rename(tmp, self.index)

    def start(self, root):
        # a long heartbeat: nothing wakes the watcher but what it watches
        self.start_watcher(TRANSCRIPT_DIR=root, SESSIONS_JSON=self.index, HEARTBEAT_S=60)

    def test_index_and_lines_at_once(self):
        self.write_index({KEY: {"sessionId": "s1"}})
        self.start(self.sessions + "/")  # written with a trailing slash
        k2 = "agent:main:mattermost:channel:c2"
        self.write_index({KEY: {"sessionId": "s1"}, k2: {"sessionId": "s2"}})
        self.lock("s2.jsonl")
        self.append("s2.jsonl", header("s2"), assistant(["Second session."]))
        b = self.wait_box(k2, lambda b: b["lines"] == ["Second session."])
        self.assertEqual(b["channel_id"], "c2")
        self.assertEqual([x["session_key"] for x in self.boxes()], [k2])

    def test_index_change_alone_is_seen_at_once(self):
        self.write_index({KEY: {"sessionId": "s1", "label": "before"}})
        self.start(self.sessions)
        self.lock("s1.jsonl")
        self.append("s1.jsonl", header("s1"), assistant(["Working."]))
        self.wait_box(KEY, lambda b: b["label"] == "before")
        self.write_index({KEY: {"sessionId": "s1", "label": "after",
                                "deliveryContext": {"channel": "mattermost",
                                                    "to": "channel:c9"}}})
        # HEARTBEAT_S=60 and the safety rescan at 30 s: a deadline of 15 s still tells
        # "at once" from "at the next wake-up", with room for the ASan build
        b = self.wait_box(KEY, lambda b: b["label"] == "after", 15,
                          "the new label within 15 s (not at the next heartbeat)")
        self.assertEqual(b["channel_id"], "c9")

    def test_ignored_with_an_agents_folder_says_so(self):
        self.write_index({})
        self.start_watcher(SESSIONS_JSON=self.index)
        wait_for(lambda: "SESSIONS_JSON is only used" in self.log(), what="a warning")


if __name__ == "__main__":
    unittest.main()
