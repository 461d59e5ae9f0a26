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
                      WatcherCase, assistant, call, header, result, wait_for)

PARENT_CHANNEL = "q7wzk3h1y3nbbj8pt5a6zrxg3c"
KEY = "agent:main:main"


class SubAgentRouting(WatcherCase):
    def test_child_sits_in_parent_channel_not_default(self):
        # DEFAULT_CHANNEL is for sessions that name none; a sub-agent's box is a child of
        # its parent's box and so sits in the parent's channel.
        self.start_watcher(DEFAULT_CHANNEL="dflt")
        player.play(FIXTURE, self.sessions, speed=50, max_pause=0.2)
        parent = self.wait_box(PARENT_KEY, lambda b: b["status"] == "done", 20)
        child = self.wait_box(CHILD_KEY, lambda b: b["status"] == "done", 5)
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


class SubAgentRoutingDb(WatcherCase):
    def setUp(self):
        super().setUp()
        shutil.rmtree(self.sessions)
        self.dbs = []

    def tearDown(self):
        for db in self.dbs:
            db.close()
        super().tearDown()

    def test_child_sits_in_parent_channel_not_default(self):
        db = AgentDB(agent_db_path(self.agents, "main")).create()
        self.dbs.append(db)
        self.start_watcher(DEFAULT_CHANNEL="dflt")
        ocwriter.play(db, FIXTURE, speed=20, pause_ms=300)
        parent = self.wait_box(PARENT_KEY, lambda b: b["status"] == "done", 20)
        child = self.wait_box(CHILD_KEY, lambda b: b["status"] == "done", 5)
        self.assertEqual(parent["channel_id"], PARENT_CHANNEL)
        self.assertEqual(child["channel_id"], PARENT_CHANNEL)


if __name__ == "__main__":
    unittest.main()
