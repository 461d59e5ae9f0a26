"""Issue 13 B: a Mattermost reader sees no sub-agent box of a channel they are not in.

The channel rule applies at every depth: a box's channel is its own, else
the nearest one above it, and a nested sub-agent in a foreign channel is
left out of its parent's children, with everything under it.
"""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from secbase import CH_A, CH_B, MMCase  # noqa: E402


def ids_in(tree):
    """Every box id in a SessionData tree (or list of trees)."""
    out = []
    for box in tree if isinstance(tree, list) else [tree]:
        out.append(box["id"])
        out.extend(ids_in(box["children"]))
    return out


class TestChildrenOfOtherChannels(MMCase):
    def setUp(self):
        super().setUp()
        # top (A) -> child (no channel: shows under A) -> grandchild (B)
        #                                               -> great-grandchild (none: B's)
        #                                               -> sibling (A)
        self.create("top", CH_A)
        self.create("child", "", parent_id="top")
        self.create("grand-b", CH_B, parent_id="child")
        self.create("great-b", "", parent_id="grand-b")
        self.create("grand-a", CH_A, parent_id="child")

    def get(self, path, auth):
        r = self.s.request("GET", path, auth=auth)
        return r

    def test_grandchild_in_a_foreign_channel_is_pruned(self):
        # The secret sees the whole tree.
        r = self.get("/api/v1/sessions/top", "secret")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(sorted(ids_in(r.json)), ["child", "grand-a", "grand-b", "great-b", "top"])
        # Alice (channel A only): the B grandchild and what is under it are gone,
        # in the one-box answer, the child's answer and the list.
        for path in ("/api/v1/sessions/top", "/api/v1/sessions/child"):
            r = self.get(path, "alicetoken")
            self.assertEqual(r.status, 200, r)
            seen = ids_in(r.json)
            self.assertNotIn("grand-b", seen, (path, seen))
            self.assertNotIn("great-b", seen, (path, seen))
            self.assertIn("grand-a", seen, (path, seen))
            self.assertNotIn(CH_B, json.dumps(r.json))
        r = self.get("/api/v1/sessions", "alicetoken")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(sorted(ids_in(r.json)), ["child", "grand-a", "top"])
        # Nor can she ask for them by id.
        for box_id in ("grand-b", "great-b"):
            self.assertEqual(self.get("/api/v1/sessions/" + box_id, "alicetoken").status, 403,
                             box_id)

    def test_member_of_the_grandchild_channel_sees_only_that_part(self):
        # Bob (channel B only) reads the B grandchild and its own sub-agent ...
        r = self.get("/api/v1/sessions/grand-b", "bobtoken")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(sorted(ids_in(r.json)), ["grand-b", "great-b"])
        self.assertEqual(self.get("/api/v1/sessions/great-b", "bobtoken").status, 200)
        # ... but not the boxes of channel A above it.
        for box_id in ("top", "child", "grand-a"):
            self.assertEqual(self.get("/api/v1/sessions/" + box_id, "bobtoken").status, 403,
                             box_id)
        r = self.get("/api/v1/sessions", "bobtoken")
        self.assertEqual(r.json, [], r)


if __name__ == "__main__":
    unittest.main()
