"""The responder's Mattermost side against tests/mmstub.py, behind real nginx.

READ_AUTH=mattermost: a Mattermost token (Bearer that is not the secret, or
the MMAUTHTOKEN cookie) is checked against /api/v4/users/me and cached; a
user sees only boxes of channels they belong to; unknown or expired tokens
get 401; a bare Mattermost-User-Id header counts for nothing.  And
POST /api/v1/sessions makes the custom_livestatus post for a daemon's box.
"""
import sqlite3
import time
import unittest

from tests.integ.harness import Stack
from tests.mmstub import MMStub

ALICE = "a1iceuser00000000000000000"
BOB = "b0buser0000000000000000000"
CH_A = "chana000000000000000000000"
CH_B = "chanb000000000000000000000"
DENIED = ("unauthorized: valid Mattermost session or shared secret required: send "
            "Authorization: Bearer <PLUGIN_SECRET>, or a Mattermost session (MMAUTHTOKEN cookie "
            "or Authorization: Bearer <user token>); Mattermost-User-Id alone is not trusted")


class MMAuthCase(unittest.TestCase):
    env = {}

    def setUp(self):
        self.stub = MMStub().start()
        self.stub.add_user("alice", user_id=ALICE, token="alicetoken")
        self.stub.add_user("bob", user_id=BOB, token="bobtoken")
        self.stub.add_channel(CH_A, members=[ALICE, "livestatusbot0000000000000"])
        self.stub.add_channel(CH_B, members=[BOB, "livestatusbot0000000000000"])
        env = {"MM_URL": self.stub.url, "MM_TOKEN": "bot-token", "READ_AUTH": None,
               "AUTH_CACHE_S": "15", "MM_TIMEOUT_MS": "10000"}
        env.update(self.env)
        self.s = Stack(env=env)

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

    def s_query(self, sql):
        con = sqlite3.connect(self.s.db, timeout=10)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def users_me_calls(self):
        return [r for r in self.stub.requests() if r["path"] == "/api/v4/users/me"]


class TestPostCreation(MMAuthCase):
    def test_post_creates_the_custom_livestatus_post(self):
        box = self.create("daemon-1", CH_A, agent_id="main")
        posts = self.stub.posts()
        self.assertEqual(len(posts), 1)
        post = posts[0]
        self.assertEqual(box["post_id"], post["id"])
        self.assertEqual(post["type"], "custom_livestatus")
        self.assertEqual(post["props"]["session_id"], "daemon-1")
        self.assertEqual(post["channel_id"], CH_A)
        self.assertEqual(post["user_id"], "livestatusbot0000000000000")
        got = self.s.request("GET", "/api/v1/sessions/daemon-1").json
        self.assertEqual(got["post_id"], post["id"])
        # Idempotent create: no second post.
        again = self.create("daemon-1", CH_A)
        self.assertEqual(again["post_id"], post["id"])
        self.assertEqual(len(self.stub.posts()), 1)

    def test_thread_and_no_post_cases(self):
        root = self.create("root-box", CH_A)["post_id"]
        self.create("in-thread", CH_A, root_id=root)
        by_box = {p["props"]["session_id"]: p for p in self.stub.posts()}
        self.assertEqual(by_box["in-thread"]["root_id"], root)
        # No channel, a given post_id, a sub-agent: no post is made.
        self.create("no-channel", "")
        self.create("has-post", CH_A, post_id="given0000000000000000000000")
        self.create("child", CH_A, parent_id="root-box")
        self.assertEqual(len(self.stub.posts()), 2)

    def post_of(self, box_id):
        return [p for p in self.stub.posts(history=True)
                if p["props"].get("session_id") == box_id][0]

    def put(self, box_id, body):
        r = self.s.request("PUT", "/api/v1/sessions/" + box_id, body)
        self.assertEqual(r.status, 200, r)
        return r

    def test_final_text_set_once_when_the_box_ends(self):
        # Only the responder runs (a v4.1 daemon setup): it made the post, so
        # it sets the post's message to the final text when a PUT ends the box.
        box = self.create("daemon-f", CH_A, agent_id="main", lines=["Reading the notes."])
        made = self.post_of("daemon-f")
        self.assertEqual(made["id"], box["post_id"])
        self.put("daemon-f", {"lines": ["Reading the notes.", "Sub-agent: sizing"],
                              "token_count": 12400})
        self.create("daemon-f-sub", "", parent_id="daemon-f", label="sizing",
                    lines=["exec: du -sh /var/log [OK]"])
        self.put("daemon-f-sub", {"status": "done"})  # a sub-agent ending: not the post
        self.put("daemon-f", {"lines": ["Reading the notes.", "Sub-agent: sizing",
                                        "exec: df -h / [OK]"]})
        post = self.post_of("daemon-f")
        self.assertEqual((post["edits"], post["updates"]), (0, 0), "edited while active")
        self.put("daemon-f", {"status": "done"})
        post = self.post_of("daemon-f")
        self.assertEqual((post["edits"], post["updates"]), (1, 1))
        lines = post["message"].split("\n")
        self.assertTrue(all(l.startswith("> ") for l in lines), post["message"])
        self.assertRegex(lines[0], r"^> \[DONE\] main \| \d+")
        self.assertIn("> Reading the notes.", lines)
        self.assertIn("> \u00a0\u00a0exec: du -sh /var/log [OK]", lines)
        self.assertIn("> exec: df -h / [OK]", lines)
        self.assertRegex(lines[-1], r"^> \[DONE\] \S+ \| 12\.4k tokens$")
        # Still the plugin's post: type and props kept.
        self.assertEqual(post["type"], "custom_livestatus")
        self.assertEqual(post["props"]["session_id"], "daemon-f")
        # Set once: later changes of the ended box do not edit it again.
        self.put("daemon-f", {"lines": ["A late line."]})
        self.put("daemon-f", {"status": "error"})
        self.put("daemon-f", {"status": "done", "token_count": 13000})
        post = self.post_of("daemon-f")
        self.assertEqual((post["edits"], post["updates"]), (1, 1))
        patches = [r for r in self.stub.requests(method="PUT")]
        self.assertEqual(len(patches), 1, patches)
        self.assertTrue(patches[0]["path"].endswith("/patch"))
        row = self.s_query("SELECT state, final_sent, posted_text FROM mm_posts "
                           "WHERE box_id = 'daemon-f'")
        self.assertEqual(row, [("posted", 1, post["message"])])

    def test_created_ended_gets_its_final_text(self):
        self.create("daemon-e", CH_A, status="done", lines=["Over before it began."])
        post = self.post_of("daemon-e")
        self.assertTrue(post["message"].startswith("> [DONE] main"), post["message"])
        self.assertEqual(post["edits"], 1)

    def test_final_text_tried_again_after_a_failure(self):
        self.create("daemon-g", CH_A, lines=["Working."])
        self.stub.set_down("status", 503)
        self.put("daemon-g", {"status": "done"})
        self.stub.set_up()
        self.assertEqual(self.post_of("daemon-g")["edits"], 0)
        self.put("daemon-g", {"token_count": 5})
        post = self.post_of("daemon-g")
        self.assertEqual((post["edits"], post["updates"]), (1, 1))
        self.assertTrue(post["message"].startswith("> [DONE] main"), post["message"])
        self.put("daemon-g", {"token_count": 6})
        self.assertEqual(self.post_of("daemon-g")["updates"], 1)

    def test_final_edit_waits_a_bounded_time(self):
        # Mattermost hangs: the daemon's PUT is answered within the bound
        # (the 3 s cap on a final edit, below MM_TIMEOUT_MS), not after the hang.
        self.create("daemon-h", CH_A)
        self.stub.add_fault(status=503, delay_s=30, count=1, method="PUT", path="/patch$")
        t0 = time.monotonic()
        self.put("daemon-h", {"status": "done"})
        # answered long before the hang ends (a bound, not a speed)
        self.assertLess(time.monotonic() - t0, 20.0)
        self.assertEqual(self.post_of("daemon-h")["edits"], 0)
        # Other requests were answered meanwhile by other workers; the
        # next change of the box sets the text.
        self.put("daemon-h", {"token_count": 1})
        self.assertTrue(self.post_of("daemon-h")["message"].startswith("> [DONE]"))

    def test_mattermost_down_box_still_created(self):
        self.stub.set_down("status", 503)
        box = self.create("while-down", CH_A)
        self.assertEqual(box["post_id"], "")
        self.assertEqual(self.s.request("GET", "/api/v1/sessions/while-down").status, 200)


class TestReaders(MMAuthCase):
    def setUp(self):
        super().setUp()
        self.create("box-a", CH_A)
        self.create("box-b", CH_B)
        self.create("box-local", "")

    def ids(self, r):
        self.assertEqual(r.status, 200, r)
        return sorted(b["id"] for b in r.json)

    def test_member_token_sees_only_its_channels(self):
        self.assertEqual(self.ids(self.s.request("GET", "/api/v1/sessions", auth="alicetoken")),
                         ["box-a"])
        self.assertEqual(self.ids(self.s.request("GET", "/api/v1/sessions", auth="bobtoken")),
                         ["box-b"])
        self.assertEqual(self.s.request("GET", "/api/v1/sessions/box-a", auth="alicetoken").status,
                         200)
        r = self.s.request("GET", "/api/v1/sessions/box-b", auth="alicetoken")
        self.assertEqual(r.status, 403, r)
        self.assertEqual(self.s.request("GET", "/api/v1/sessions/box-local",
                                        auth="alicetoken").status, 403)
        self.assertEqual(self.ids(self.s.request(
            "GET", "/api/v1/sessions?channel_id=" + CH_B, auth="alicetoken")), [])
        # The secret still reads everything.
        self.assertEqual(self.ids(self.s.request("GET", "/api/v1/sessions")),
                         ["box-a", "box-b", "box-local"])

    def test_sub_agent_boxes_follow_their_top_level_box(self):
        # A DM box's sub-agents keep an empty channel_id (the watcher writes
        # the direct channel into the top-level box only): whoever may read
        # the top-level box may read its sub-agents, at any depth.
        self.create("child-a", "", parent_id="box-a")
        self.create("grandchild-a", "", parent_id="child-a")
        self.create("child-a-in-b", CH_B, parent_id="box-a")
        self.create("child-local", "", parent_id="box-local")
        for box_id in ("child-a", "grandchild-a"):
            r = self.s.request("GET", "/api/v1/sessions/" + box_id, auth="alicetoken")
            self.assertEqual(r.status, 200, (box_id, r))
            self.assertEqual(r.json["id"], box_id)
        # A sub-agent in a channel alice is not in: not hers, even under her box
        # (issue 13; tests/security/test_children.py).
        self.assertEqual(self.s.request("GET", "/api/v1/sessions/child-a-in-b",
                                        auth="alicetoken").status, 403)
        r = self.s.request("GET", "/api/v1/sessions/box-a", auth="alicetoken")
        self.assertEqual(sorted(c["id"] for c in r.json["children"]), ["child-a"])
        for box_id in ("child-a", "grandchild-a"):
            r = self.s.request("GET", "/api/v1/sessions/" + box_id, auth="bobtoken")
            self.assertEqual(r.status, 403, (box_id, r))
        # A sub-agent's own channel still counts for its members.
        self.assertEqual(self.s.request("GET", "/api/v1/sessions/child-a-in-b",
                                        auth="bobtoken").status, 200)
        # Under a box without a channel: the secret only.
        self.assertEqual(self.s.request("GET", "/api/v1/sessions/child-local",
                                        auth="alicetoken").status, 403)
        self.assertEqual(self.s.request("GET", "/api/v1/sessions/child-local").status, 200)

    def test_non_member_sees_nothing(self):
        self.stub.add_user("carol", user_id="car01user0000000000000000", token="caroltoken")
        self.assertEqual(self.ids(self.s.request("GET", "/api/v1/sessions", auth="caroltoken")),
                         [])
        self.assertEqual(self.s.request("GET", "/api/v1/sessions/box-a",
                                        auth="caroltoken").status, 403)

    def test_cookie_login(self):
        r = self.s.request("GET", "/api/v1/sessions", auth=None,
                           headers={"Cookie": "MMUSERID=%s; MMAUTHTOKEN=alicetoken; x=1" % ALICE})
        self.assertEqual(self.ids(r), ["box-a"])
        r = self.s.request("GET", "/api/v1/auth", auth=None,
                           headers={"Cookie": "MMAUTHTOKEN=alicetoken"})
        self.assertEqual(r.status, 200, r)

    def test_unknown_and_expired_tokens(self):
        for auth, headers in (("nosuchtoken", None), (None, {"Cookie": "MMAUTHTOKEN=nosuch"}),
                              (None, None)):
            r = self.s.request("GET", "/api/v1/sessions", auth=auth, headers=headers)
            self.assertEqual(r.status, 401, r)
            self.assertEqual(r.json, {"error": DENIED})
        self.stub.add_token("oldtoken", ALICE)
        self.stub.expire_token("oldtoken")
        r = self.s.request("GET", "/api/v1/sessions/box-a", auth="oldtoken")
        self.assertEqual(r.status, 401, r)

    def test_forged_user_id_header_is_not_trusted(self):
        for headers in ({"Mattermost-User-Id": ALICE},
                        {"Mattermost-User-Id": ALICE, "Cookie": "MMUSERID=" + ALICE}):
            r = self.s.request("GET", "/api/v1/sessions", auth=None, headers=headers)
            self.assertEqual(r.status, 401, r)
            # v4.1's plugin took this header: the refusal says what to send instead.
            self.assertEqual(r.json, {"error": DENIED})
            for what in ("Authorization: Bearer <PLUGIN_SECRET>", "MMAUTHTOKEN cookie",
                         "Mattermost-User-Id alone is not trusted"):
                self.assertIn(what, r.json["error"])
            r = self.s.request("GET", "/api/v1/sessions/box-a", auth=None, headers=headers)
            self.assertEqual(r.status, 401, r)
            self.assertEqual(r.json, {"error": DENIED})
        # Nor does it change what a valid token sees.
        r = self.s.request("GET", "/api/v1/sessions", auth="bobtoken",
                           headers={"Mattermost-User-Id": ALICE})
        self.assertEqual(self.ids(r), ["box-b"])

    def test_token_and_membership_are_cached(self):
        for _ in range(5):
            self.s.request("GET", "/api/v1/sessions", auth="alicetoken")
            self.s.request("GET", "/api/v1/sessions/box-a", auth="alicetoken")
        self.assertEqual(len(self.users_me_calls()), 1)
        members = [r for r in self.stub.requests() if "/members/me" in r["path"]]
        # One per channel alice asked about (A, B, and never the empty one).
        self.assertLessEqual(len(members), 2)
        # Mattermost going away does not log out a cached user ...
        self.stub.set_down("status", 503)
        self.assertEqual(self.ids(self.s.request("GET", "/api/v1/sessions", auth="alicetoken")),
                         ["box-a"])
        # ... but an unknown token cannot be checked: 503, not 401.
        r = self.s.request("GET", "/api/v1/sessions", auth="bobtoken2")
        self.assertEqual(r.status, 503, r)

    def test_writes_still_need_the_secret(self):
        r = self.s.request("PUT", "/api/v1/sessions/box-a", {"status": "done"}, auth="alicetoken")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json, {"error": "unauthorized"})


class TestShortCache(MMAuthCase):
    env = {"AUTH_CACHE_S": "1"}

    def test_expired_token_after_cache(self):
        self.create("box-a", CH_A)
        self.assertEqual(self.s.request("GET", "/api/v1/sessions/box-a",
                                        auth="alicetoken").status, 200)
        self.stub.expire_token("alicetoken")
        self.s.wait_for(lambda: self.s.request("GET", "/api/v1/sessions/box-a",
                                               auth="alicetoken").status == 401,
                        what="the expired token refused once its cache entry ends")
        # Removed from the channel: 403 once the membership entry ends.
        self.stub.add_token("alice2", ALICE)
        self.stub.remove_member(CH_A, ALICE)
        self.s.wait_for(lambda: self.s.request("GET", "/api/v1/sessions/box-a",
                                               auth="alice2").status == 403,
                        what="403 after leaving the channel")


class TestReadCache(MMAuthCase):
    """nginx's cache of reads (test_read_cache.py) never answers a Mattermost reader.

    The secret's reads are kept by nginx; a user's list depends on their
    channels, so the responder never lets nginx keep it, and the cache key
    holds the Authorization header, so a user's request never meets the
    secret's entry.  Proven by the responder's own count of its answers, and
    by what a user sees while leaving a channel (AUTH_CACHE_S=1 here).
    """
    env = {"AUTH_CACHE_S": "1"}
    LIST = "/api/v1/sessions"

    def setUp(self):
        super().setUp()
        self.create("box-a", CH_A)
        self.create("box-b", CH_B)

    def ids(self, r):
        self.assertEqual(r.status, 200, r)
        return sorted(b["id"] for b in r.json)

    def test_a_reader_is_never_answered_from_the_cache(self):
        # The secret's list is kept: its second read is nginx's.
        for _ in range(2):
            self.assertEqual(self.ids(self.s.request("GET", self.LIST)), ["box-a", "box-b"])
        self.assertEqual(self.s.responder_answers(self.LIST), 1)
        cookie = {"Cookie": "MMAUTHTOKEN=alicetoken"}
        for i in range(3):
            self.assertEqual(self.ids(self.s.request("GET", self.LIST, auth="alicetoken")),
                             ["box-a"])
            self.assertEqual(self.ids(self.s.request("GET", self.LIST, auth=None,
                                                     headers=cookie)), ["box-a"])
            r = self.s.request("GET", "/api/v1/sessions/box-a", auth="alicetoken")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(self.s.request("GET", "/api/v1/sessions/box-b",
                                            auth="alicetoken").status, 403)
        # Every one of alice's reads was the responder's.
        self.assertEqual(self.s.responder_answers(self.LIST), 1 + 6)
        self.assertEqual(self.s.responder_answers("/api/v1/sessions/{id}"), 3)

    def test_leaving_a_channel_while_the_secret_reads(self):
        self.assertEqual(self.ids(self.s.request("GET", self.LIST, auth="alicetoken")),
                         ["box-a"])
        self.stub.remove_member(CH_A, ALICE)
        seen_empty = 0
        for _ in range(400):  # bounded: AUTH_CACHE_S=1 ends it within about a second
            # the secret's entry is there all along
            self.assertEqual(self.ids(self.s.request("GET", self.LIST)), ["box-a", "box-b"])
            mine = self.ids(self.s.request("GET", self.LIST, auth="alicetoken"))
            one = self.s.request("GET", "/api/v1/sessions/box-a", auth="alicetoken").status
            self.assertNotIn("box-b", mine)
            if seen_empty:
                # once the membership is known to be gone, it stays gone
                self.assertEqual(mine, [])
                self.assertEqual(one, 403)
                seen_empty += 1
                if seen_empty > 5:
                    break
            elif mine == [] and one == 403:
                seen_empty = 1
            time.sleep(0.02)
        self.assertGreater(seen_empty, 5, "alice still saw box-a after leaving its channel")


class TestListETag(MMAuthCase):
    """A user's list depends on the store and on their channels: so does its ETag."""
    env = {"AUTH_CACHE_S": "1"}

    def setUp(self):
        super().setUp()
        self.create("box-a", CH_A)
        self.create("box-b", CH_B)

    def listing(self, auth, etag=None):
        return self.s.request("GET", "/api/v1/sessions", auth=auth,
                              headers={"If-None-Match": etag} if etag else None)

    def test_membership_change_is_not_a_stale_304(self):
        first = self.listing("alicetoken")
        self.assertEqual(sorted(b["id"] for b in first.json), ["box-a"])
        e1 = first.headers["etag"]
        self.assertEqual(self.listing("alicetoken", e1).status, 304)
        rev = self.listing("secret").headers["etag"]
        self.assertRegex(rev, r'^"\d+"$')  # the secret's ETag stays the revision
        self.assertNotEqual(e1, rev)
        # Another user with the same revision but other channels: not a 304.
        r = self.listing("bobtoken", e1)
        self.assertEqual(r.status, 200, r)
        self.assertEqual([b["id"] for b in r.json], ["box-b"])
        # Alice joins channel B; no box changes (same revision).
        self.stub.add_member(CH_B, ALICE)
        r = self.s.wait_for(lambda: (lambda x: x if x.status == 200 else None)(
            self.listing("alicetoken", e1)), what="200 after joining a channel")
        self.assertEqual(sorted(b["id"] for b in r.json), ["box-a", "box-b"])
        e2 = r.headers["etag"]
        self.assertNotEqual(e2, e1)
        self.assertEqual(self.listing("secret").headers["etag"], rev)
        self.assertEqual(self.listing("alicetoken", e2).status, 304)
        # And leaves both channels: the empty list is new too.
        self.stub.remove_member(CH_A, ALICE)
        self.stub.remove_member(CH_B, ALICE)
        # The two memberships are cached apart and expire apart: the first new view may
        # still show one of the channels.  Wait for the one this asserts.
        r = self.s.wait_for(lambda: (lambda x: x if x.status == 200 and x.json == [] else None)(
            self.listing("alicetoken", e2)), what="200 and an empty list after leaving")
        self.assertEqual(r.json, [])
        # A box change still changes the ETag of an unchanged view.
        e3 = r.headers["etag"]
        self.create("box-c", CH_B)
        self.assertEqual(self.listing("alicetoken", e3).status, 200)


class TestSecretMode(MMAuthCase):
    env = {"READ_AUTH": "secret"}

    def test_secret_mode_ignores_tokens_but_still_posts(self):
        self.create("box-a", CH_A)
        self.assertEqual(len(self.stub.posts()), 1)
        self.assertEqual(self.s.request("GET", "/api/v1/sessions", auth="alicetoken").status, 401)
        self.assertEqual(self.users_me_calls(), [])


if __name__ == "__main__":
    unittest.main()
