"""Old sessions copied in while the watcher is stopped are not news (issue 17).

A transcript or agent-database session the store does not know is read
from its start only when it may have begun while the watcher was down: its
first event is not older than the watcher's last moment alive (heartbeat or
clean stop), less two minutes of clock skew.  A whole agents folder restored
from a backup (files and a database, events months old) therefore shows no
box and makes no Mattermost post, while a session that began during a short
outage, running or finished, still gets its box, after a clean stop and
after kill -9.
"""
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ocwriter"))

import ocwriter  # noqa: E402
from tests.integ.wharness import (FIXTURE, PARENT_FILE, PARENT_KEY, WatcherCase,  # noqa: E402
                                  assistant, header, wait_for)
from tests.mmstub import MMStub  # noqa: E402


class OldSessions(WatcherCase):
    def setUp(self):
        super().setUp()
        self.stub = MMStub().start()
        self.env.update(MM_URL=self.stub.url, MM_TOKEN="bot-token", MM_TIMEOUT_MS="3000",
                        MM_STOP_FLUSH_MS="3000", DEFAULT_CHANNEL="d" * 26)

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            self.stub.stop()

    def post_requests(self):
        return [r for r in self.stub.requests(method="POST") if "/posts" in r["path"]]

    def restore_backup(self):
        """Copies a finished agents folder in: the fixture's files (April 2026) and a
        database agent whose session is as old."""
        for name in os.listdir(FIXTURE):
            shutil.copy(os.path.join(FIXTURE, name), self.sessions)
        staging = os.path.join(self.tmp, "staging")
        db = ocwriter.AgentDB(ocwriter.agent_db_path(staging, "ops"), agent_id="ops")
        db.create()
        rows = ocwriter.play(db, FIXTURE, agent="ops")
        db.close()
        shutil.copytree(os.path.join(staging, "ops"), os.path.join(self.agents, "ops"))
        return rows

    def test_restored_agents_folder_shows_nothing_and_posts_nothing(self):
        self.start_watcher()
        # the watcher has worked before: a session of today, read and stored
        self.lock("today.jsonl")
        self.append("today.jsonl", header("today"), assistant(["Today's run."], stop="stop"))
        self.unlock("today.jsonl")
        wait_for(lambda: self.boxes() and self.boxes()[0]["status"] == "done",
                 what="today's box")
        wait_for(lambda: self.post_requests(), what="today's post")
        self.stop_watcher()  # a clean stop; the backup arrives while it is down
        before = [b["id"] for b in self.boxes()]
        posts = len(self.post_requests())
        rows = self.restore_backup()
        self.start_watcher()
        # proof the watcher looked at both: the files and the database agent
        self.wait_stat("files", 3)
        self.wait_stat("db_agents", 1)
        self.assertEqual([b["id"] for b in self.boxes()], before,
                         "months-old sessions became boxes")
        self.assertEqual(len(self.post_requests()), posts, "months-old sessions were posted")
        self.assertGreater(rows, 0)
        # lines appended after the start show as usual, and only they
        self.lock(PARENT_FILE)
        self.append(PARENT_FILE, assistant(["A new question, answered."], stop="stop"))
        self.unlock(PARENT_FILE)
        box = wait_for(lambda: self.box(PARENT_KEY) if self.box(PARENT_KEY) and
                       self.box(PARENT_KEY)["status"] == "done" else None,
                       what="the new run's box")
        self.assertEqual(box["lines"], ["A new question, answered."])
        wait_for(lambda: len(self.post_requests()) > posts, what="its post")

    def session_begun_while_down(self, stop, finished):
        self.start_watcher()
        stop()
        self.lock("s1.jsonl")
        self.append("s1.jsonl", header("s1"), assistant(["Begun while the watcher was down."]))
        if finished:
            self.append("s1.jsonl", assistant(["And finished."], stop="stop"))
            self.unlock("s1.jsonl")
        self.start_watcher()
        want = ["Begun while the watcher was down."] + (["And finished."] if finished else [])
        box = wait_for(lambda: self.boxes() and self.boxes()[0]["lines"] == want and
                       self.boxes()[0], what="the box of the session begun while down")
        self.assertEqual(box["status"], "done" if finished else "active")
        if not finished:
            self.append("s1.jsonl", assistant(["Done now."], stop="stop"))
            self.unlock("s1.jsonl")
            wait_for(lambda: self.boxes()[0]["status"] == "done", what="the box to end")

    def test_running_session_begun_during_a_clean_stop_shows(self):
        self.session_begun_while_down(self.stop_watcher, finished=False)

    def test_finished_session_begun_during_a_clean_stop_shows(self):
        self.session_begun_while_down(self.stop_watcher, finished=True)

    def test_running_session_begun_after_kill_9_shows(self):
        self.session_begun_while_down(self.kill9, finished=False)

    def test_finished_session_begun_after_kill_9_shows(self):
        self.session_begun_while_down(self.kill9, finished=True)


if __name__ == "__main__":
    unittest.main()
