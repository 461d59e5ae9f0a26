"""Issue 13, item 6: the nchan stream is a channel per Mattermost channel.

Before the fix every logged-in reader subscribed to one global channel and
got every box's id, channel and revision; the Origin was echoed with
credentials and a WebSocket upgrade from a foreign Origin got 101.  Now a
subscriber names its channels (?channels=<id>,<id>), nginx asks the
responder whether the reader may read each one, notices of a channel reach
only its subscribers (and "all", for secret holders), and a foreign Origin
gets 403.
"""
import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from secbase import ALICE, CH_A, CH_B, MMCase  # noqa: E402,F401
from harness import PREFIX, Stream  # noqa: E402

STREAM = PREFIX + "/api/v1/stream"


class StreamChannels(MMCase):
    def sub(self, token, channels=None, headers=None):
        path = STREAM + ("?channels=" + channels if channels is not None else "")
        h = {"Authorization": "Bearer " + token}
        h.update(headers or {})
        st = Stream(self.s.port, path, h)
        self.addCleanup(st.close)
        return st

    def upgrade(self, token, channels, origin):
        c = socket.create_connection(("127.0.0.1", self.s.port), timeout=10)
        self.addCleanup(c.close)
        c.sendall(("GET %s?channels=%s HTTP/1.1\r\nHost: localhost\r\nOrigin: %s\r\n"
                   "Authorization: Bearer %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                   "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "\r\n" % (STREAM, channels, origin, token)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = c.recv(4096)
            if not chunk:
                break
            head += chunk
        return int(head.split()[1])

    def test_a_channel_s_notices_reach_only_its_readers(self):
        alice = self.sub("alicetoken", CH_A)
        bob = self.sub("bobtoken", CH_B)
        admin = self.sub(self.s.secret)  # no list: every notice
        self.assertEqual((alice.status, bob.status, admin.status), (200, 200, 200))
        self.create("box-in-a", CH_A)
        self.create("box-in-b", CH_B)
        # bob's first notice is his channel's: the one of channel A never reached him
        self.assertEqual(bob.next_json(30)["id"], "box-in-b")
        self.assertEqual(alice.next_json(30)["id"], "box-in-a")
        seen = {admin.next_json(30)["id"], admin.next_json(30)["id"]}
        self.assertEqual(seen, {"box-in-a", "box-in-b"})
        # a sub-agent without a channel is heard in its parent's channel
        self.create("child-of-a", "", parent_id="box-in-a")
        self.create("box-in-b-2", CH_B)
        self.assertEqual(alice.next_json(30)["id"], "child-of-a")
        self.assertEqual(bob.next_json(30)["id"], "box-in-b-2")

    def test_a_reader_may_not_subscribe_outside_its_channels(self):
        self.assertEqual(self.sub("alicetoken", CH_B).status, 403)
        self.assertEqual(self.sub("alicetoken", CH_A + "," + CH_B).status, 403)
        self.assertEqual(self.sub("alicetoken").status, 403)  # all: secret holders only
        self.assertEqual(self.sub("alicetoken", "all").status, 403)
        self.assertNotEqual(self.sub("alicetoken", "bad%2Fid").status, 200)
        self.assertIn(self.sub("nobody-token", CH_A).status, (401, 403))

    def test_a_foreign_origin_is_refused(self):
        st = self.sub("alicetoken", CH_A, {"Origin": "https://evil.example"})
        self.assertEqual(st.status, 403)  # nchan still names the Origin on its empty 403
        self.assertEqual(self.upgrade("alicetoken", CH_A, "https://evil.example"), 403)
        self.assertEqual(self.upgrade("alicetoken", CH_A, "http://localhost"), 101)


if __name__ == "__main__":
    unittest.main()
