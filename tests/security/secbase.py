"""Shared set-up of the security tests (issue 13): a Mattermost stub and a stack.

The tests import the integration harness the way tests/integ does not need
to: tests/integ and tests/ go on sys.path, so each file also runs on its
own (python3 -m unittest tests/security/test_x.py).
"""
import os
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integ"))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from harness import Stack  # noqa: E402
from mmstub import MMStub  # noqa: E402

ALICE = "a1iceuser00000000000000000"
BOB = "b0buser0000000000000000000"
CH_A = "chana000000000000000000000"
CH_B = "chanb000000000000000000000"
BOT = "livestatusbot0000000000000"


class MMCase(unittest.TestCase):
    """A stub with alice in channel A, bob in channel B; READ_AUTH=mattermost."""
    env = {}
    threads = None

    def setUp(self):
        self.stub = MMStub().start()
        self.stub.add_user("alice", user_id=ALICE, token="alicetoken")
        self.stub.add_user("bob", user_id=BOB, token="bobtoken")
        self.stub.add_channel(CH_A, members=[ALICE, BOT])
        self.stub.add_channel(CH_B, members=[BOB, BOT])
        env = {"MM_URL": self.stub.url, "MM_TOKEN": "bot-token", "READ_AUTH": None,
               "MM_TIMEOUT_MS": "10000"}
        env.update(self.env)
        self.s = Stack(env=env, threads=self.threads)

    def tearDown(self):
        try:
            self.s.stop()
        finally:
            self.stub.stop()

    def create(self, box_id, channel, **extra):
        body = {"id": box_id, "session_key": "agent:main:x:" + box_id, "channel_id": channel}
        body.update(extra)
        r = self.s.request("POST", "/api/v1/sessions", body)
        self.assertIn(r.status, (200, 201), r)
        return r.json

    def calls(self, path_re):
        return [r for r in self.stub.requests(path=path_re)]
