"""Issue 13, items 1, 2 and 10 for OpenClaw 2026.8+ agent databases.

A FIFO named openclaw-agent.sqlite would freeze the watcher in a blocking
open; a database that is a link out of the state folder was read; the
conversations table's key column name was pasted into SQL; no read had a
time limit, so a hostile file (a view that never ends) held the watcher.
Now each is skipped with one warning, and the watcher keeps serving the
other agents and stops on SIGTERM.
"""
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integ"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "ocwriter"))

import ocwriter  # noqa: E402
from wharness import FIXTURE, WatcherCase, assistant, header, wait_for  # noqa: E402


class AgentDatabases(WatcherCase):
    def db_path(self, agent):
        return ocwriter.agent_db_path(self.agents, agent)

    def other_agent_still_served(self):
        self.lock("alive.jsonl")
        self.append("alive.jsonl", header("alive"), assistant(["Still served."], stop="stop"))
        self.unlock("alive.jsonl")
        wait_for(lambda: any(b["lines"] == ["Still served."] for b in self.boxes()), 60,
                 what="the file-layout agent's box beside the bad database")

    def stops(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.fail("SIGTERM ignored:\n" + self.log()[-3000:])
        self.proc = None
        self.log_file.close()

    def test_fifo_named_like_an_agent_database(self):
        path = self.db_path("evil")
        os.makedirs(os.path.dirname(path))
        os.mkfifo(path)
        self.start_watcher()
        self.other_agent_still_served()
        wait_for(lambda: "not an openclaw database, skipped" in self.log(), what="the warning")
        self.assertEqual(self.log().count("not an openclaw database, skipped"), 1)
        self.stops()

    def test_database_linked_out_of_the_state_folder(self):
        outside = tempfile.mkdtemp(prefix="lsw-outside-db-")
        db = ocwriter.AgentDB(os.path.join(outside, "openclaw-agent.sqlite"), agent_id="leak")
        db.create()
        os.makedirs(os.path.dirname(self.db_path("leak")))
        os.symlink(db.path, self.db_path("leak"))
        self.start_watcher()
        db.add_session("agent:leak:mattermost:channel:c1", session_id="s-leak")
        db.append("s-leak", header("s-leak"))
        db.append("s-leak", assistant(["TOP SECRET"], stop="stop"))
        db.close()
        self.other_agent_still_served()
        wait_for(lambda: "a link out of the state folder" in self.log(), what="the warning")
        self.assertFalse(any("TOP SECRET" in " ".join(b["lines"]) for b in self.boxes()))

    def test_hostile_key_column_name_is_not_sql(self):
        db = ocwriter.AgentDB(self.db_path("odd"), agent_id="odd")
        db.create()
        con = sqlite3.connect(db.path)
        cols = [r for r in con.execute("PRAGMA table_info(conversations)")]
        if cols:
            con.executescript(
                'ALTER TABLE conversations RENAME TO conv_old;'
                'CREATE TABLE conversations ("id""); DROP TABLE schema_meta; --" TEXT '
                'PRIMARY KEY, kind TEXT, peer_id TEXT, thread_id TEXT, '
                'native_channel_id TEXT, channel TEXT);')
        con.close()
        self.start_watcher()
        db.add_session("agent:odd:mattermost:channel:c2", session_id="s-odd")
        db.append("s-odd", header("s-odd"))
        db.append("s-odd", assistant(["Odd but fine."], stop="stop"))
        wait_for(lambda: any(b["lines"] == ["Odd but fine."] for b in self.boxes()), 60,
                 what="the box of the database with a strange column name")
        con = sqlite3.connect(db.path)
        self.assertEqual(con.execute("SELECT count(*) FROM sqlite_master WHERE name = "
                                     "'schema_meta'").fetchone()[0], 1, "SQL was injected")
        con.close()
        db.close()

    def test_a_read_that_never_ends_is_cut_short(self):
        db = ocwriter.AgentDB(self.db_path("slow"), agent_id="slow")
        db.create()
        db.add_session("agent:slow:mattermost:channel:c3", session_id="s-slow")
        db.close()
        con = sqlite3.connect(db.path)
        # session_windows becomes a view that takes for ever to read
        con.executescript(
            "ALTER TABLE session_windows RENAME TO session_windows_real;"
            "CREATE VIEW session_windows AS SELECT w.* FROM session_windows_real AS w, "
            "(WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r "
            "WHERE x < 4000000000) SELECT max(x) AS m FROM r) AS forever;")
        con.close()
        self.start_watcher()
        wait_for(lambda: "a read took longer than" in self.log(), 90,
                 what="the slow read to be cut short")
        self.other_agent_still_served()
        self.stops()


if __name__ == "__main__":
    unittest.main()
