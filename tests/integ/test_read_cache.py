"""nginx's cache of the API's reads, keyed by the revision link (REVISION_DIR).

The Stack runs nginx/livestatus.conf as shipped and the responder with
REVISION_DIR, as deployed.  What is proven here, against the real nginx and
responder: a repeated read by the secret is answered by nginx alone; every
write is in the very next read (the writer moves the link before it answers);
the cache key holds the credentials, so a wrong or missing one is never
answered from it; without the link nothing is kept and nothing fails; a link
that is gone comes back within a second.  The Mattermost readers' side (their
answers are never kept) is in test_mm_auth.py.
"""
import os
import unittest

from tests.integ.harness import Stack

LIST = "/api/v1/sessions"
ONE = "/api/v1/sessions/{id}"


def link_target(s):
    try:
        return os.readlink(os.path.join(s.revision_dir, "current"))
    except FileNotFoundError:
        return None


class ReadCache(unittest.TestCase):
    env = {}

    def setUp(self):
        self.s = Stack(env=self.env)

    def tearDown(self):
        self.s.stop()

    def create(self, box_id, **extra):
        body = {"id": box_id, "session_key": "agent:main:x:" + box_id, "lines": ["one"]}
        body.update(extra)
        r = self.s.request("POST", LIST, body)
        self.assertEqual(r.status, 201, r)
        return r.json


class TestCached(ReadCache):
    def test_repeated_reads_are_answered_by_nginx(self):
        self.create("b1")
        lists = [self.s.request("GET", LIST) for _ in range(5)]
        ones = [self.s.request("GET", "/api/v1/sessions/b1") for _ in range(5)]
        for r in lists + ones:
            self.assertEqual(r.status, 200, r)
            # browsers are still told not to keep it
            self.assertEqual(r.headers.get("cache-control"), "no-store")
            self.assertNotIn("x-accel-expires", r.headers)
        self.assertEqual({r.body for r in lists}, {lists[0].body})
        self.assertEqual({r.headers["etag"] for r in lists}, {lists[0].headers["etag"]})
        self.assertEqual({r.body for r in ones}, {ones[0].body})
        self.assertEqual([b["id"] for b in lists[0].json], ["b1"])
        self.assertEqual(ones[0].json["id"], "b1")
        # One answer each came from the responder; nginx gave the other four.
        self.assertEqual(self.s.responder_answers(LIST), 1)
        self.assertEqual(self.s.responder_answers(ONE), 1)
        # If-None-Match is answered from the entry as well.
        r = self.s.request("GET", LIST, headers={"If-None-Match": lists[0].headers["etag"]})
        self.assertEqual(r.status, 304, r)
        self.assertEqual(self.s.responder_answers(LIST, 304), 0)
        # Another query string is another entry; HEAD is never kept.
        self.assertEqual(self.s.request("GET", LIST + "?status=active").status, 200)
        self.assertEqual(self.s.responder_answers(LIST), 2)
        for _ in range(2):
            r = self.s.request("HEAD", LIST)
            self.assertEqual(r.status, 200, r)
        self.assertEqual(self.s.responder_answers(LIST), 4)

    def test_every_write_is_in_the_next_read(self):
        self.create("w1")
        etags = set()
        for i in range(25):
            r = self.s.request("PUT", "/api/v1/sessions/w1", {"lines": ["step %d" % i]})
            self.assertEqual(r.status, 200, r)
            for _ in range(2):  # the second read is nginx's
                lst = self.s.request("GET", LIST)
                one = self.s.request("GET", "/api/v1/sessions/w1")
                self.assertEqual(lst.json[0]["lines"], ["step %d" % i], (i, lst))
                self.assertEqual(one.json["lines"], ["step %d" % i], (i, one))
            etags.add(lst.headers["etag"])
        self.assertEqual(len(etags), 25)
        # A new box, an ended one, a deleted one: each in the next read.
        self.create("w2")
        self.assertEqual(sorted(b["id"] for b in self.s.request("GET", LIST).json),
                         ["w1", "w2"])
        self.assertEqual(self.s.request("PUT", "/api/v1/sessions/w2",
                                        {"status": "done"}).status, 200)
        self.assertEqual([b["id"] for b in self.s.request("GET", LIST + "?status=done").json],
                         ["w2"])
        self.assertEqual(self.s.request("DELETE", "/api/v1/sessions/w2").status, 204)
        self.assertEqual([b["id"] for b in self.s.request("GET", LIST).json], ["w1"])
        self.assertEqual(self.s.request("GET", "/api/v1/sessions/w2").status, 404)

    def test_credentials_are_part_of_the_key(self):
        self.create("c1")
        self.assertEqual(self.s.request("GET", LIST).status, 200)
        self.assertEqual(self.s.request("GET", LIST).status, 200)
        for auth in ("wrong-secret", None, "test-secret-and-more"):
            r = self.s.request("GET", LIST, auth=auth)
            self.assertEqual(r.status, 401, (auth, r))
            r = self.s.request("GET", "/api/v1/sessions/c1", auth=auth)
            self.assertEqual(r.status, 401, (auth, r))
        self.assertEqual(self.s.responder_answers(LIST, 401), 3)
        self.assertEqual(self.s.responder_answers(LIST), 1)

    def test_a_missing_link_is_no_error_and_comes_back(self):
        self.create("m1")
        self.assertEqual(self.s.request("GET", LIST).status, 200)
        before = self.s.responder_answers(LIST)
        os.unlink(os.path.join(self.s.revision_dir, "current"))
        # nginx's open_file_cache may believe in the link for up to a second
        # more: its target is then "" (nginx logs that realpath() failed)
        # and the reads go to the responder, whole.  (The link may be back
        # before the last of them: then nginx keeps an answer again.)
        for _ in range(3):
            r = self.s.request("GET", LIST)
            self.assertEqual(r.status, 200, r)
            self.assertEqual([b["id"] for b in r.json], ["m1"])
        self.assertGreaterEqual(self.s.responder_answers(LIST), before + 1)
        # The responder's cleanup thread puts it back (within a second).
        self.s.wait_for(lambda: link_target(self.s) is not None, what="the link back")
        self.create("m2")
        self.assertEqual(len(self.s.request("GET", LIST).json), 2)

    def test_a_restart_starts_a_new_link(self):
        self.create("r1")
        self.assertEqual(self.s.request("GET", LIST).status, 200)
        before = link_target(self.s)
        self.s.restart_responder()
        # The socket is there before the store and the link are opened.
        self.s.wait_for(lambda: link_target(self.s) not in (None, before),
                        what="a new link from the new responder")
        self.assertEqual(self.s.request("GET", LIST).status, 200)
        self.assertEqual(self.s.request("GET", LIST).status, 200)
        # the new process's counters: one answer, the other from nginx
        self.assertEqual(self.s.responder_answers(LIST), 1)


class TestWithoutLink(ReadCache):
    env = {"REVISION_DIR": None}

    def test_nothing_is_kept(self):
        self.create("n1")
        for _ in range(3):
            r = self.s.request("GET", LIST)
            self.assertEqual(r.status, 200, r)
        self.assertIsNone(link_target(self.s))
        self.assertEqual(self.s.responder_answers(LIST), 3)


class TestUnusableLinkFolder(ReadCache):
    """A REVISION_DIR the responder cannot use costs the cache, not the API."""
    env = {"REVISION_DIR": "/nonexistent/dir/revision"}

    def test_serves_without_the_cache(self):
        self.create("u1")
        for _ in range(3):
            r = self.s.request("GET", LIST)
            self.assertEqual([b["id"] for b in r.json], ["u1"])
        self.assertEqual(self.s.responder_answers(LIST), 3)
        self.assertIn("REVISION_DIR: cannot make /nonexistent/dir/revision",
                      self.s.log("responder"))
        self.assertIn("nginx keeps no reads", self.s.log("responder"))

    def test_a_link_another_writer_moves_is_not_trusted(self):
        # The watcher may move a link at nginx's path that this responder
        # cannot use: a kept read would then outlive this responder's writes.
        self.create("u2")  # revision 1
        r = self.s.request("PUT", "/api/v1/sessions/u2", {"lines": ["two"]})  # 2
        self.assertEqual(r.status, 200, r)
        os.makedirs(os.path.join(self.s.revision_dir, "r2.x.1.0"))
        os.symlink("r2.x.1.0", os.path.join(self.s.revision_dir, "current"))
        for _ in range(2):
            self.assertEqual(self.s.request("GET", "/api/v1/sessions/u2").json["lines"],
                             ["two"])
        # none kept: the PUT and both reads were the responder's
        self.assertEqual(self.s.responder_answers(ONE), 3)
        r = self.s.request("PUT", "/api/v1/sessions/u2", {"lines": ["three"]})  # 3
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.s.request("GET", "/api/v1/sessions/u2").json["lines"], ["three"])


class TestOpenReads(ReadCache):
    """READ_AUTH=none: every reader sees every box, so every reader shares entries."""
    env = {"READ_AUTH": "none"}

    def test_shared_entry(self):
        self.create("o1")
        for auth in (None, None, "anything", "anything"):
            r = self.s.request("GET", LIST, auth=auth)
            self.assertEqual([b["id"] for b in r.json], ["o1"])
        # one per distinct Authorization header (none; "anything")
        self.assertEqual(self.s.responder_answers(LIST), 2)


if __name__ == "__main__":
    unittest.main()
