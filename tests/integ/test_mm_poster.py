"""The watcher's Mattermost poster against tests/mmstub.py, end to end.

Transcript lines go in (tests/player.py or hand-written lines), the real
livestatus-watcher runs with MM_URL pointing at an in-process MMStub, and
the tests read back what the stub recorded: posts, their edit history and
every request with its time.  Covered: both modes, threads, direct
messages, the throttle, the circuit breaker, 429 with Retry-After,
Mattermost down for a while (MM_TEST_DOWN_S, 30 s by default) and kill -9
with restarts (one post per box, never two).
"""
import datetime
import json
import os
import re
import signal
import threading
import time
import unittest

from tests import player
from tests.integ.wharness import (CHILD_KEY, FIXTURE, PARENT_KEY, WatcherCase, assistant,
                                  call, header, result, wait_for)
from tests.mmstub import DEFAULT_BOT_ID, PENDING_TTL_S, MMStub

CHANNEL = "u4k9x2mdp7fq3nbc8wyh6tz1re"
NBSP2 = "\u00a0\u00a0"
DOWN_S = float(os.environ.get("MM_TEST_DOWN_S", "30"))


def log_time_ms(line):
    """The wall-clock time (ms) of a watcher log line (ts=...Z)."""
    m = re.match(r"ts=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z ", line)
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc)
    return int(t.timestamp()) * 1000 + int(m.group(2))


class MMCase(WatcherCase):
    """A WatcherCase with a Mattermost stand-in the watcher posts to."""

    def setUp(self):
        super().setUp()
        self.stub = MMStub().start()
        self.env.update(MM_URL=self.stub.url, MM_TOKEN="bot-token", MM_TIMEOUT_MS="10000",
                        MM_STOP_FLUSH_MS="3000")

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            self.stub.stop()

    # ---- helpers ----

    def play_fixture(self, speed=8.0, sessions=None, background=False):
        if sessions is not None:
            self.write_sessions(sessions)
        kw = dict(speed=speed, max_pause=0.5, install_index=sessions is None)
        if background:
            t = threading.Thread(target=player.play, args=(FIXTURE, self.sessions), kwargs=kw)
            t.start()
            return t
        return player.play(FIXTURE, self.sessions, **kw)

    def fixture_sessions(self, parent_key, **parent_extra):
        """The fixture's sessions.json with the parent under another key."""
        with open(os.path.join(FIXTURE, "sessions.json")) as f:
            data = json.load(f)
        entry = data.pop(PARENT_KEY)
        for k in ("deliveryContext", "lastTo", "origin", "groupId"):
            entry.pop(k, None)
        entry.update(parent_extra)
        data[parent_key] = entry
        data[CHILD_KEY]["spawnedBy"] = parent_key
        return data

    def tree_revision(self, box_id):
        rows = self.query(
            "WITH RECURSIVE t(id, rev) AS (SELECT id, revision FROM boxes WHERE id = ? "
            "UNION ALL SELECT b.id, b.revision FROM boxes b JOIN t ON b.parent_id = t.id) "
            "SELECT max(rev) AS rev FROM t", (box_id,))
        return rows[0]["rev"]

    def mm_row(self, box_id):
        rows = self.query("SELECT * FROM mm_posts WHERE box_id = ?", (box_id,))
        return rows[0] if rows else None

    def wait_posted(self, key=PARENT_KEY, timeout=30, ended=True):
        """Waits until the box of key has ended (if asked) and Mattermost shows its newest state."""
        def check():
            b = self.box(key)
            if b is None or (ended and b["status"] == "active"):
                return None
            row = self.mm_row(b["id"])
            if row is None or row["state"] != "posted":
                return None
            if row["posted_revision"] < self.tree_revision(b["id"]):
                return None
            return b, row
        return wait_for(check, timeout, interval=0.05, what="the newest state of %s posted" % key)

    def posts(self, channel_id=None):
        return self.stub.posts(channel_id=channel_id, history=True)

    def post_requests(self, post_id=None):
        """Creates and edits, in order (with their times)."""
        reqs = [r for r in self.stub.requests() if r["done"] and (
            (r["method"] == "POST" and r["path"] == "/api/v4/posts") or
            (r["method"] == "PUT" and r["path"].startswith("/api/v4/posts/")))]
        if post_id is not None:
            reqs = [r for r in reqs if r.get("post_id") == post_id or
                    r["path"].endswith("/" + post_id) or
                    (r["method"] == "POST" and isinstance(r["response"], dict) and
                     r["response"].get("id") == post_id)]
        return reqs

    def assert_final_text(self, post, box):
        """The post shows the box's final state: header, every line, the footer."""
        msg = post["message"]
        lines = msg.split("\n")
        self.assertTrue(all(l.startswith("> ") for l in lines), msg)
        state = box["status"].upper()
        self.assertTrue(lines[0].startswith("> [%s] main | " % state), lines[0])
        self.assertRegex(lines[-1], r"^> \[%s\] \S+ \| [0-9.]+[kM]? tokens$" % state)
        for text in box["lines"]:
            self.assertIn("> " + text.replace("\n", " "), msg)
        for child in self.query("SELECT * FROM boxes WHERE parent_id = ?", (box["id"],)):
            for text in json.loads(child["lines"]):
                self.assertIn("> " + NBSP2 + text, msg)
            self.assertIn("> %s[%s] " % (NBSP2, child["status"].upper()), msg)

    def assert_no_unchanged_edit(self, post):
        hist = post["history"] + [post["message"]]
        for a, b in zip(hist, hist[1:]):
            self.assertNotEqual(a, b, "a message was sent again unchanged")

    def synthetic_session(self, channel, n_lines, gap_s, sid="5eb0c5e1-0000-4000-8000-000000000001"):
        """A session in channel that writes n_lines tool calls gap_s apart, then ends."""
        key = "agent:main:mattermost:channel:%s" % channel
        name = sid + ".jsonl"
        self.write_sessions({key: {"sessionId": sid, "updatedAt": 1, "sessionFile": name}})
        self.lock(name)
        self.append(name, header(sid))
        for i in range(n_lines):
            cid = "call%d" % i
            self.append(name, assistant(["Step %d." % i, call(cid, "exec", command="echo %d" % i)]),
                        result(cid))
            time.sleep(gap_s)
        self.append(name, assistant(["All done."], stop="stop"))
        self.unlock(name)
        return key


class TestModes(MMCase):
    def test_rest_mode_end_to_end(self):
        self.start_watcher()
        self.play_fixture()
        box, row = self.wait_posted()
        posts = self.posts()
        self.assertEqual(len(posts), 1, posts)
        post = posts[0]
        self.assertEqual(post["channel_id"], CHANNEL)
        self.assertEqual(post["root_id"], "")
        self.assertEqual(post["type"], "")
        self.assertEqual(post["props"]["session_id"], box["id"])
        self.assertEqual(post["user_id"], DEFAULT_BOT_ID)
        self.assertEqual(box["post_id"], post["id"])
        self.assertEqual(row["post_id"], post["id"])
        self.assertEqual(post["message"], row["posted_text"])
        self.assert_final_text(post, box)
        self.assert_no_unchanged_edit(post)
        self.assertGreaterEqual(post["edits"], 1)
        # The sub-agent has no post of its own.
        child = self.box(CHILD_KEY)
        self.assertEqual(child["post_id"], "")
        self.assertIsNone(self.mm_row(child["id"]))
        # One keep-alive connection carried the posts.
        conns = {r["conn_id"] for r in self.post_requests()}
        self.assertEqual(len(conns), 1, conns)

    def test_plugin_mode_end_to_end(self):
        self.stub.set_plugin(True)
        self.start_watcher()
        self.play_fixture()
        box, row = self.wait_posted()
        posts = self.posts()
        self.assertEqual(len(posts), 1, posts)
        post = posts[0]
        self.assertEqual(post["type"], "custom_livestatus")
        self.assertEqual(post["props"]["session_id"], box["id"])
        self.assertEqual(row["mode"], "plugin")
        self.assertEqual(row["final_sent"], 1)
        # Never edited while active; the final text set once at the end.
        reqs = self.post_requests()
        puts = [r for r in reqs if r["method"] == "PUT"]
        self.assertEqual(len(puts), 1, [(r["method"], r["t_ms"]) for r in reqs])
        self.assertGreaterEqual(puts[0]["t_ms"], box["end_time_ms"])
        self.assertEqual(post["updates"], 1)
        self.assertEqual(post["message"], row["posted_text"])
        self.assert_final_text(post, box)

    def test_plugin_check_follows_the_server(self):
        # Enabled while the watcher runs: the next box is a plugin post.  Disabled
        # again: its active post is edited as text from then on.
        self.start_watcher(MM_PLUGIN_CHECK_S=1, THROTTLE_MS=100)
        ch = "p1uginchanne10000000000000"
        sid = "5eb0c5e1-0000-4000-8000-0000000000f0"
        key = "agent:main:mattermost:channel:%s" % ch
        name = sid + ".jsonl"
        self.stub.set_plugin(True)
        wait_for(lambda: "mode=plugin" in self.log(), what="plugin mode")
        self.write_sessions({key: {"sessionId": sid, "updatedAt": 1, "sessionFile": name}})
        self.lock(name)
        self.append(name, header(sid), assistant(["First."], stop="toolUse"))
        post = wait_for(lambda: self.posts(), what="the post")[0]
        self.assertEqual(post["type"], "custom_livestatus")
        self.append(name, assistant(["Second."], stop="toolUse"))
        # The poster has taken the new line in (the box shows it and the post's row is at
        # its newest revision) -- only then does "not edited" mean anything.
        self.wait_box(key, lambda b: "Second." in b["lines"])
        self.wait_posted(key, ended=False)
        self.assertEqual(self.posts()[0]["updates"], 0)  # not edited while active
        self.stub.set_plugin(False)
        # the switch back to rest after the one to plugin (the first check, before the
        # plugin was enabled, may have logged "mode=rest" already)
        wait_for(lambda: [l.rsplit("mode=", 1)[-1] for l in self.log().splitlines()
                          if 'msg="mattermost mode"' in l][-2:] == ["plugin", "rest"],
                 what="rest mode")
        self.append(name, assistant(["Third."], stop="toolUse"))
        wait_for(lambda: "> Third." in self.posts()[0]["message"], what="the text edit")
        self.append(name, assistant(["Done."], stop="stop"))
        self.unlock(name)
        box, row = self.wait_posted(key)
        self.assertEqual(row["mode"], "rest")
        self.assertEqual(len(self.posts()), 1)
        self.assertEqual(self.posts()[0]["message"], row["posted_text"])

    def test_plugin_disabled_by_setting(self):
        self.stub.set_plugin(True)
        self.start_watcher(PLUGIN_ENABLED="false")
        self.play_fixture()
        box, row = self.wait_posted()
        self.assertEqual(row["mode"], "rest")
        self.assertEqual(self.posts()[0]["type"], "")
        self.assertFalse([r for r in self.stub.requests() if r["path"] == "/api/v4/plugins/webapp"])

    def test_thread_box_lands_in_its_thread(self):
        root = "r00tp0st1d0000000000000000"
        key = "agent:main:mattermost:channel:%s:thread:%s" % (CHANNEL, root)
        self.start_watcher()
        self.play_fixture(sessions=self.fixture_sessions(key))
        box, row = self.wait_posted(key)
        posts = self.posts()
        self.assertEqual(len(posts), 1)
        self.assertEqual(posts[0]["root_id"], root)
        self.assertEqual(posts[0]["channel_id"], CHANNEL)

    def test_direct_message_target(self):
        user = "us3r0000000000000000000001"
        self.stub.add_user("alice", user_id=user)
        key = "agent:main:mattermost:direct:%s" % user
        self.start_watcher()
        self.play_fixture(sessions=self.fixture_sessions(key))
        box, row = self.wait_posted(key)
        direct = [r for r in self.stub.requests() if r["path"] == "/api/v4/channels/direct"]
        self.assertEqual(len(direct), 1)
        self.assertEqual(sorted(direct[0]["body"]), sorted([DEFAULT_BOT_ID, user]))
        dm = direct[0]["response"]["id"]
        posts = self.posts()
        self.assertEqual(len(posts), 1)
        self.assertEqual(posts[0]["channel_id"], dm)
        # The box now names the channel, so the API's channel rules apply.
        self.assertEqual(box["channel_id"], dm)
        self.assertEqual(self.query("SELECT channel_id FROM mm_direct_channels "
                                    "WHERE user_id = ?", (user,))[0]["channel_id"], dm)

    def test_no_channel_stays_local(self):
        key = "agent:main:main"
        self.start_watcher()
        self.play_fixture(sessions=self.fixture_sessions(key))
        self.wait_box(key, lambda b: b["status"] != "active")
        wait_for(lambda: (self.mm_row(self.box(key)["id"]) or {}).get("state") == "local",
                 what="the box marked local")
        self.assertEqual(self.posts(), [])

    def test_default_channel(self):
        key = "agent:main:main"
        self.start_watcher(DEFAULT_CHANNEL="d3fau1tchanne10000000000000")
        self.play_fixture(sessions=self.fixture_sessions(key))
        self.wait_posted(key)
        self.assertEqual([p["channel_id"] for p in self.posts()], ["d3fau1tchanne10000000000000"])


class TestPace(MMCase):
    def test_throttle_leading_edge_and_last_state(self):
        throttle = 500
        self.start_watcher(THROTTLE_MS=throttle)
        ch = "thr0tt1echanne100000000000"
        key = self.synthetic_session(ch, 30, 0.06)
        box, row = self.wait_posted(key)
        post = self.posts()[0]
        reqs = self.post_requests()
        times = [r["t_ms"] for r in reqs]
        gaps = [b - a for a, b in zip(times, times[1:])]
        # At most one create or edit per THROTTLE_MS (a little clock slack).
        self.assertTrue(all(g >= throttle - 5 for g in gaps), gaps)
        # Coalesced: far fewer requests than changes, and the last state was sent.
        self.assertLess(len(reqs), 15)
        self.assertEqual(post["message"], row["posted_text"])
        self.assertIn("> All done.", post["message"])
        self.assertTrue(post["message"].splitlines()[0].startswith("> [DONE]"))
        self.assert_no_unchanged_edit(post)

    def test_request_budget(self):
        self.start_watcher(THROTTLE_MS=0, MM_RATE_LIMIT=4)
        ch = "budg3tchanne10000000000000"
        key = self.synthetic_session(ch, 20, 0.03)
        self.wait_posted(key)
        times = [r["t_ms"] for r in self.stub.requests()]
        # Bucket of 4 with 4/s: any 2 s window holds at most 4 + 8 requests.
        for i, t in enumerate(times):
            n = sum(1 for u in times[i:] if u - t < 2000)
            self.assertLessEqual(n, 12, times)

    def test_429_retry_after(self):
        self.stub.add_fault(status=429, retry_after=2, count=1, method="PUT")
        self.start_watcher(THROTTLE_MS=100)
        ch = "ratelim1tchanne10000000000"
        key = self.synthetic_session(ch, 8, 0.1)
        box, row = self.wait_posted(key)
        reqs = self.stub.requests()
        i = next(i for i, r in enumerate(reqs) if r["status"] == 429)
        self.assertGreater(len(reqs), i + 1)
        # Nothing at all was sent before Retry-After had passed.
        self.assertGreaterEqual(reqs[i + 1]["t_ms"] - reqs[i]["t_ms"], 1950)
        self.assertEqual(len(self.posts()), 1)
        self.assertEqual(self.posts()[0]["message"], row["posted_text"])

    def test_server_rate_limit(self):
        # Mattermost's own limiter is stricter than our budget: its
        # X-Ratelimit-Remaining is watched, so it hardly ever has to say 429,
        # and any 429 is waited out; the newest state still arrives.
        self.stub.set_rate_limit(2, burst=1)
        self.start_watcher(THROTTLE_MS=0, MM_RATE_LIMIT=50)
        key = self.synthetic_session("s3rver1imitchanne100000000", 15, 0.05)
        box, row = self.wait_posted(key, timeout=30)
        reqs = self.stub.requests()
        limited = [i for i, r in enumerate(reqs) if r["status"] == 429]
        self.assertLessEqual(len(limited), 1, [(r["t_ms"], r["status"]) for r in reqs])
        for i in limited:
            if i + 1 < len(reqs):
                self.assertGreaterEqual(reqs[i + 1]["t_ms"] - reqs[i]["t_ms"], 900)
        self.assertEqual(len(self.posts()), 1)
        self.assertEqual(self.posts()[0]["message"], row["posted_text"])


class TestFailures(MMCase):
    def breaker_log(self):
        return [l for l in self.log().splitlines() if "circuit breaker" in l]

    def test_breaker_opens_probes_and_closes(self):
        self.stub.set_down("status", 503)
        self.start_watcher(CIRCUIT_BREAKER_THRESHOLD=2, CIRCUIT_BREAKER_COOLDOWN_S=3,
                           HEARTBEAT_S=1)
        open_line = wait_for(lambda: next((l for l in self.breaker_log() if "to=open" in l),
                                          None), what="breaker open in the log")
        # When it opened, by the watcher's own clock (its log line), not by when this test
        # got round to looking: on a loaded machine that can be late by a second or more.
        opened = log_time_ms(open_line)
        n_open = len([r for r in self.stub.requests() if r["t_ms"] <= opened])
        self.assertGreaterEqual(n_open, 2)
        # The heartbeat row shows it (health and `status` read it there).
        wait_for(lambda: self.heartbeat()["breaker"] == "open", what="breaker open")
        # After the cooldown one probe goes out; it fails and the breaker reopens.
        wait_for(lambda: len(self.stub.requests()) > n_open, what="the probe")
        reqs = self.stub.requests()
        # While open, nothing is sent: the first request after the opening is the probe,
        # 2 s and more after it (the stub's own times of the requests).
        self.assertEqual([r for r in reqs if opened < r["t_ms"] < opened + 2000], [])
        probe = reqs[n_open]
        # The cooldown starts after the answer to the last failed request,
        # so by the stub's clock alone the gap is the whole 3 s (the log
        # line's time may be late on a loaded machine).
        self.assertGreaterEqual(probe["t_ms"] - reqs[n_open - 1]["t_ms"], 2950)
        wait_for(lambda: any("to=half_open" in l for l in self.breaker_log()),
                 what="half_open in the log")
        wait_for(lambda: any("from=half_open to=open" in l for l in self.breaker_log()),
                 what="the breaker open again after the failed probe")
        # Mattermost is back: the next probe closes it and the session is posted.
        self.stub.set_up()
        key = self.synthetic_session("br3akerchanne1000000000000", 3, 0.05)
        self.wait_posted(key)
        wait_for(lambda: self.heartbeat()["breaker"] == "closed", what="breaker closed")
        # The failed probe was the only request until the next cooldown was over.
        after = self.stub.requests()[n_open + 1:]
        self.assertTrue(after)
        self.assertGreaterEqual(after[0]["t_ms"] - probe["t_ms"], 2950,
                                [(r["t_ms"], r["path"]) for r in self.stub.requests()])
        log = self.breaker_log()
        self.assertTrue(any("to=open" in l for l in log))
        self.assertTrue(any("from=half_open to=closed" in l for l in log), log)
        stats = self.stats()
        self.assertGreaterEqual(stats["mm_requests"]["503"], 2)
        self.assertEqual(len(self.posts()), 1)

    def test_mattermost_down_mid_session(self):
        self.start_watcher(CIRCUIT_BREAKER_COOLDOWN_S=3, THROTTLE_MS=200)
        ch = "d0wnchanne1000000000000000"
        sid = "5eb0c5e1-0000-4000-8000-0000000000d0"
        key = "agent:main:mattermost:channel:%s" % ch
        name = sid + ".jsonl"
        self.write_sessions({key: {"sessionId": sid, "updatedAt": 1, "sessionFile": name}})
        self.lock(name)
        self.append(name, header(sid), assistant(["Before the outage."], stop="toolUse"))
        wait_for(lambda: self.posts(), what="the first post")
        self.stub.set_down("refuse")
        down_at = time.monotonic()
        for i in range(5):
            self.append(name, assistant(["During the outage %d." % i,
                                         call("c%d" % i, "exec", command="true")]),
                        result("c%d" % i))
            time.sleep(0.2)
        self.append(name, assistant(["After all that, done."], stop="stop"))
        self.unlock(name)
        # A second session starts and ends while Mattermost is away: its post
        # intent grows older than Mattermost's pending_post_id memory.
        ch2 = "d0wnchanne1000000000000002"
        sid2 = "5eb0c5e1-0000-4000-8000-0000000000d2"
        key2 = "agent:main:mattermost:channel:%s" % ch2
        self.write_sessions({key: {"sessionId": sid, "updatedAt": 1, "sessionFile": name},
                             key2: {"sessionId": sid2, "updatedAt": 1,
                                    "sessionFile": sid2 + ".jsonl"}})
        self.lock(sid2 + ".jsonl")
        self.append(sid2 + ".jsonl", header(sid2), assistant(["Born in the outage."]))
        self.append(sid2 + ".jsonl", assistant(["Over."], stop="stop"))
        self.unlock(sid2 + ".jsonl")
        self.wait_box(key, lambda b: b["status"] != "active")
        self.wait_box(key2, lambda b: b["status"] != "active")
        time.sleep(max(0.0, DOWN_S - (time.monotonic() - down_at)))
        self.stub.set_up()
        box, row = self.wait_posted(key, timeout=30)
        posts = self.posts(ch)
        self.assertEqual(len(posts), 1)
        self.assertEqual(posts[0]["message"], row["posted_text"])
        self.assertIn("> After all that, done.", posts[0]["message"])
        self.assertTrue(posts[0]["message"].startswith("> [DONE] main"))
        box2, row2 = self.wait_posted(key2, timeout=30)
        posts2 = self.posts(ch2)
        self.assertEqual(len(posts2), 1)
        self.assertEqual(posts2[0]["message"], row2["posted_text"])
        self.assertIn("> Over.", posts2[0]["message"])
        if DOWN_S > 26:
            # It looked for a post made by an unanswered create before making one.
            looked = [r for r in self.stub.requests()
                      if r["path"] == "/api/v4/channels/%s/posts" % ch2]
            self.assertTrue(looked)
            self.assertIn("since", looked[0]["args"])

    def test_kill9_and_restart_one_post_per_box(self):
        self.start_watcher(THROTTLE_MS=100)
        t = self.play_fixture(speed=2.0, background=True)
        wait_for(lambda: self.posts(), what="the first post")
        self.kill9()
        self.start_watcher(THROTTLE_MS=100)
        t.join()
        box, row = self.wait_posted(timeout=30)
        posts = self.posts()
        self.assertEqual(len(posts), 1, posts)
        self.assertEqual(posts[0]["message"], row["posted_text"])
        self.assert_final_text(posts[0], box)

    def test_kill9_while_create_unanswered(self):
        # Mattermost makes the post but its answer is held back; the watcher dies
        # before it hears it.  The restarted watcher re-sends the same
        # pending_post_id and adopts the post instead of making a second one.
        # The answer is held back far longer than this test needs to see the intent and
        # kill the watcher, and the watcher waits for it as long (it must not time out and
        # retry by itself first): a slow machine cannot turn the scenario into another.
        self.stub.add_fault(process=True, delay_s=60, count=1, method="POST",
                            path="^/api/v4/posts$")
        self.start_watcher(MM_TIMEOUT_MS=60000)
        t = self.play_fixture(speed=4.0, background=True)
        wait_for(lambda: self.stub.posts(), what="the post made on the server")
        row = wait_for(lambda: self.mm_row(self.box(PARENT_KEY)["id"]), what="the intent")
        self.assertEqual(row["state"], "creating")
        self.assertEqual(row["post_id"], "")
        self.kill9()
        self.start_watcher()
        t.join()
        box, row = self.wait_posted(timeout=30)
        posts = self.posts()
        self.assertEqual(len(posts), 1, posts)
        self.assertEqual(box["post_id"], posts[0]["id"])
        creates = [r for r in self.stub.requests(method="POST", path="^/api/v4/posts$")]
        self.assertEqual(len({r["body"]["pending_post_id"] for r in creates}), 1)
        self.assertGreaterEqual(len(creates), 2)

    def test_kill9_create_answer_lost_past_pending_window(self):
        # Mattermost makes the post, its answer is held back and the watcher
        # dies before it hears it; it comes back only after Mattermost has
        # forgotten the pending_post_id.  It finds the post in the channel
        # (GET /channels/{id}/posts?since=, props.livestatus_box_id) and
        # adopts it: exactly one post, never a second create.
        # (held back long enough that a slow machine still kills the watcher first)
        self.stub.add_fault(process=True, delay_s=60, count=1, method="POST",
                            path="^/api/v4/posts$")
        self.start_watcher(MM_TIMEOUT_MS=60000)
        ch = "1ostanswerchanne1000000000"
        sid = "5eb0c5e1-0000-4000-8000-0000000000a1"
        key = "agent:main:mattermost:channel:%s" % ch
        name = sid + ".jsonl"
        self.write_sessions({key: {"sessionId": sid, "updatedAt": 1, "sessionFile": name}})
        self.lock(name)
        self.append(name, header(sid), assistant(["Working."], stop="toolUse"))
        made = wait_for(lambda: self.stub.posts(ch), what="the post made on the server")[0]
        row = wait_for(lambda: self.box(key) and self.mm_row(self.box(key)["id"]),
                       what="the intent")
        self.assertEqual((row["state"], row["post_id"]), ("creating", ""))
        self.kill9()
        self.append(name, assistant(["Finished."], stop="stop"))
        self.unlock(name)
        # Past Mattermost's memory of pending ids (30 s after the post was made).
        time.sleep(max(0.0, made["create_at"] / 1000.0 + PENDING_TTL_S + 1 - time.time()))
        self.start_watcher(MM_TIMEOUT_MS=20000)
        box, row = self.wait_posted(key, timeout=30)
        posts = self.posts(ch)
        self.assertEqual(len(posts), 1, posts)
        self.assertEqual((box["post_id"], row["post_id"]), (made["id"], made["id"]))
        self.assertEqual(posts[0]["message"], row["posted_text"])
        self.assertIn("> Finished.", posts[0]["message"])
        looked = [r for r in self.stub.requests()
                  if r["path"] == "/api/v4/channels/%s/posts" % ch]
        self.assertTrue(looked)
        self.assertIn("since", looked[0]["args"])
        self.assertEqual(looked[0]["status"], 200)
        creates = self.stub.requests(method="POST", path="^/api/v4/posts$")
        self.assertEqual(len(creates), 1, [(r["t_ms"], r["status"]) for r in creates])

    def test_dropped_answer_retried_with_same_pending_id(self):
        self.stub.add_fault(process=True, drop=True, count=1, method="POST",
                            path="^/api/v4/posts$")
        self.start_watcher()
        self.play_fixture()
        self.wait_posted(timeout=30)
        self.assertEqual(len(self.posts()), 1)

    def test_sigterm_posts_interrupted_state(self):
        # (a stop flush long enough for a slow machine; it ends once the post is sent)
        self.start_watcher(THROTTLE_MS=5000, MM_STOP_FLUSH_MS=10000)
        ch = "st0pchanne1000000000000000"
        sid = "5eb0c5e1-0000-4000-8000-0000000000e0"
        key = "agent:main:mattermost:channel:%s" % ch
        name = sid + ".jsonl"
        self.write_sessions({key: {"sessionId": sid, "updatedAt": 1, "sessionFile": name}})
        self.lock(name)
        self.append(name, header(sid), assistant(["Working."], stop="toolUse"))
        wait_for(lambda: self.posts(), what="the first post")
        self.append(name, assistant(["Still working.", call("c1", "exec", command="sleep")]))
        # the watcher has read the line (a fixed sleep might end before it did)
        self.wait_box(key, lambda b: b["lines"][-1:] == ["exec: sleep"])
        self.assertEqual(self.stop_watcher(), 0)
        post = self.posts()[0]
        # The throttle is ignored at stop: the interrupted state is out.
        self.assertTrue(post["message"].startswith("> [INTERRUPTED] main"), post["message"])
        self.assertIn("Still working.", post["message"])


if __name__ == "__main__":
    unittest.main()
