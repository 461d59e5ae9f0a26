"""Self-check of tests/mmstub.py, the Mattermost stand-in.

The livestatus integration tests trust the stub to behave like Mattermost;
this file pins down the shapes and failure modes they rely on.  Run from the
repository root:  python3 -m unittest tests/integ/test_mmstub.py
Waits poll with a deadline; nothing sleeps a fixed time.  Deadlines are generous (30 s):
the suite runs on loaded machines, and a passing wait returns at once.
"""

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import unittest.mock
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS_DIR))
import mmstub  # noqa: E402

STUB = TESTS_DIR / "mmstub.py"
ID_RE = re.compile(r"[a-z0-9]{26}")
ERROR_KEYS = {"id", "message", "detailed_error", "request_id", "status_code"}
BOT = mmstub.DEFAULT_BOT_ID


def poll(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def start_stub(workdir, *extra):
    """Start the stub the way the integration tests do: --port 0 --port-file."""
    port_file = os.path.join(workdir, f"port-{time.monotonic_ns()}")
    # The stub's stderr is kept: a failure in one of its threads is printed there.
    with open(os.path.join(workdir, "stub.err"), "ab") as err:
        proc = subprocess.Popen([sys.executable, str(STUB), "--port", "0", "--port-file",
                                 port_file, *extra], stdin=subprocess.DEVNULL, stderr=err)

    def port():
        if proc.poll() is not None:
            raise AssertionError(f"stub exited with {proc.returncode}")
        if os.path.exists(port_file):
            with open(port_file) as f:
                return int(f.read())
        return None

    return proc, poll(port, what="the port file")


def stub_stderr(workdir):
    try:
        with open(os.path.join(workdir, "stub.err"), errors="replace") as f:
            return f.read()[-4000:] or "(empty)"
    except OSError as e:
        return f"(unreadable: {e})"


def stop_stub(proc):
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Api:
    """A keep-alive client, like livestatus' libcurl pool."""

    def __init__(self, port, timeout=30.0):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def call(self, method, path, body=None, token="bot-token", headers=None, raw=None):
        h = {"Authorization": f"Bearer {token}"} if token else {}
        h.update(headers or {})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        self.conn.request(method, path, body=data, headers=h)
        resp = self.conn.getresponse()
        payload = resp.read()
        try:
            parsed = json.loads(payload)
        except ValueError:
            parsed = payload.decode()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed

    def close(self):
        self.conn.close()


class StubTestCase(unittest.TestCase):
    """One stub subprocess for the class, reset before every test."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.proc, cls.port = start_stub(cls.tmp.name)
        cls.ctl = mmstub.StubClient(f"http://127.0.0.1:{cls.port}", timeout=30.0)

    @classmethod
    def tearDownClass(cls):
        stop_stub(cls.proc)
        cls.tmp.cleanup()

    def setUp(self):
        try:
            self.ctl.reset()
        except OSError as e:
            raise AssertionError(f"the stub does not answer ({e}); its stderr:\n"
                                 + stub_stderr(self.tmp.name)) from e
        self.api = Api(self.port)

    def tearDown(self):
        self.api.close()

    def post(self, channel="chan1", message="hello", **extra):
        return self.api.call("POST", "/api/v4/posts", {"channel_id": channel, "message": message, **extra})

    def assertAppError(self, status, headers, body, code, err_id=None):
        self.assertEqual(status, code, body)
        self.assertEqual(set(body), ERROR_KEYS, body)
        self.assertEqual(body["status_code"], code)
        self.assertEqual(body["request_id"], headers["x-request-id"])
        if err_id:
            self.assertEqual(body["id"], err_id)


class ApiShapes(StubTestCase):
    def test_ping_and_common_headers(self):
        status, headers, body = self.api.call("GET", "/api/v4/system/ping", token=None)
        self.assertEqual((status, body), (200, {"status": "OK"}))
        for name in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
                     "x-request-id", "content-length"):
            self.assertIn(name, headers)
        self.assertNotEqual(headers.get("connection"), "close")

    def test_auth_header_cookie_and_errors(self):
        self.assertAppError(*self.api.call("GET", "/api/v4/users/me", token=None), 401,
                            "api.context.session_expired.app_error")
        self.assertAppError(*self.api.call("GET", "/api/v4/users/me", token="nope"), 401)
        status, _, me = self.api.call("GET", "/api/v4/users/me")
        self.assertEqual(status, 200)
        self.assertEqual((me["id"], me["is_bot"]), (BOT, True))
        self.assertTrue(ID_RE.fullmatch(me["id"]))
        for key in ("username", "roles", "create_at", "delete_at"):
            self.assertIn(key, me)
        status, _, me = self.api.call("GET", "/api/v4/users/me", token=None,
                                      headers={"Authorization": "Token bot-token"})
        self.assertEqual((status, me["id"]), (200, BOT))

        alice = self.ctl.add_user("alice", token="alice-token")
        self.assertTrue(ID_RE.fullmatch(alice["id"]))
        status, _, me = self.api.call("GET", "/api/v4/users/me", token=None,
                                      headers={"Cookie": "MMAUTHTOKEN=alice-token; other=1"})
        self.assertEqual((status, me["id"], me["username"]), (200, alice["id"], "alice"))
        # A forged Mattermost-User-Id header is not a login.
        status, _, _ = self.api.call("GET", "/api/v4/users/me", token=None,
                                     headers={"Mattermost-User-Id": alice["id"]})
        self.assertEqual(status, 401)

        self.ctl.expire_token("alice-token")
        self.assertAppError(*self.api.call("GET", "/api/v4/users/me", token="alice-token"), 401)
        self.ctl.add_token("old-token", alice["id"], expires_at=time.time() - 5)
        self.assertEqual(self.api.call("GET", "/api/v4/users/me", token="old-token")[0], 401)
        self.ctl.add_token("short-token", alice["id"], ttl_s=60)
        self.assertEqual(self.api.call("GET", "/api/v4/users/me", token="short-token")[0], 200)

    def test_create_post_shape(self):
        status, _, post = self.post(message="hi", type="custom_livestatus",
                                    props={"session_id": "box1"}, pending_post_id="pp1")
        self.assertEqual(status, 201, post)
        self.assertTrue(ID_RE.fullmatch(post["id"]))
        self.assertEqual(post["create_at"], post["update_at"])
        self.assertEqual((post["edit_at"], post["delete_at"]), (0, 0))
        self.assertEqual((post["user_id"], post["channel_id"], post["root_id"]), (BOT, "chan1", ""))
        self.assertEqual((post["message"], post["type"], post["pending_post_id"]),
                         ("hi", "custom_livestatus", "pp1"))
        self.assertEqual(post["props"], {"session_id": "box1", "from_bot": "true"})
        status, _, got = self.api.call("GET", f"/api/v4/posts/{post['id']}")
        self.assertEqual((status, got["message"], got["pending_post_id"]), (200, "hi", ""))

    def test_create_post_validation(self):
        self.assertEqual(self.post(message="é" * 16383)[0], 201)  # 32766 bytes, 16383 runes
        self.assertEqual(self.post(message="🙂" * 16383)[0], 201)
        self.assertAppError(*self.post(message="é" * 16384), 400,
                            "model.post.is_valid.message_length.app_error")
        self.assertAppError(*self.post(type="system_join_channel"), 400,
                            "model.post.is_valid.type.app_error")
        self.assertEqual(self.post(type="livestatus")[0], 400)
        self.assertEqual(self.post(type="")[0], 201)
        self.assertAppError(*self.api.call("POST", "/api/v4/posts", {"message": "x"}), 400)
        self.assertAppError(*self.api.call("POST", "/api/v4/posts", raw=b"{not json"), 400)
        self.assertEqual(len(self.ctl.posts()), 3)

    def test_channel_membership_for_posting(self):
        self.ctl.add_channel("private1", type="P")
        self.assertAppError(*self.post(channel="private1"), 403, "api.context.permissions.app_error")
        self.ctl.add_member("private1", BOT)
        self.assertEqual(self.post(channel="private1")[0], 201)

    def test_update_patch_get_delete(self):
        _, _, post = self.post(message="one", props={"session_id": "b"})
        pid = post["id"]
        status, _, upd = self.api.call("PUT", f"/api/v4/posts/{pid}", {"id": pid, "message": "two"})
        self.assertEqual(status, 200, upd)
        self.assertEqual(upd["message"], "two")
        self.assertGreater(upd["edit_at"], 0)
        self.assertGreater(upd["update_at"], post["update_at"])
        self.assertEqual(upd["props"], {}, "a full update clears props it was not given")

        # Same message again: update_at moves, edit_at does not (no new "(edited)").
        _, _, again = self.api.call("PUT", f"/api/v4/posts/{pid}",
                                    {"id": pid, "message": "two", "props": {"session_id": "b"}})
        self.assertEqual(again["edit_at"], upd["edit_at"])
        self.assertGreater(again["update_at"], upd["update_at"])

        status, _, patched = self.api.call("PUT", f"/api/v4/posts/{pid}/patch", {"message": "three"})
        self.assertEqual((status, patched["message"], patched["props"]), (200, "three", {"session_id": "b"}))
        [rec] = [p for p in self.ctl.posts(history=True) if p["id"] == pid]
        self.assertEqual((rec["edits"], rec["updates"], rec["history"]), (2, 3, ["one", "two"]))

        self.assertAppError(*self.api.call("PUT", f"/api/v4/posts/{pid}", {"id": "x", "message": "m"}), 400)
        self.assertAppError(*self.api.call("PUT", f"/api/v4/posts/{pid}", {"id": pid, "message": "é" * 16384}), 400)
        unknown = mmstub.new_id()
        self.assertAppError(*self.api.call("PUT", f"/api/v4/posts/{unknown}", {"id": unknown, "message": "m"}),
                            403, "api.context.permissions.app_error")
        self.ctl.set_options(unknown_post_status=404)
        self.assertAppError(*self.api.call("PUT", f"/api/v4/posts/{unknown}", {"id": unknown, "message": "m"}), 404)

        self.assertEqual(self.api.call("DELETE", f"/api/v4/posts/{pid}"), (200, unittest.mock.ANY, {"status": "OK"}))
        self.assertAppError(*self.api.call("GET", f"/api/v4/posts/{pid}"), 404)

    def test_edit_of_another_users_post_is_forbidden(self):
        self.ctl.add_user("alice", token="alice-token")
        _, _, post = self.post()
        self.assertAppError(*self.api.call("PUT", f"/api/v4/posts/{post['id']}",
                                           {"id": post["id"], "message": "x"}, token="alice-token"), 403)

    def test_pending_post_id_is_idempotent(self):
        first = self.post(message="a", pending_post_id="box1:1")
        second = self.post(message="a", pending_post_id="box1:1")
        self.assertEqual((first[0], second[0]), (201, 201))
        self.assertEqual(first[2]["id"], second[2]["id"])
        self.assertEqual(len(self.ctl.posts()), 1)
        self.ctl.add_user("alice", token="alice-token")
        status, headers, body = self.api.call("POST", "/api/v4/posts",
                                              {"channel_id": "chan1", "message": "a",
                                               "pending_post_id": "box1:1"}, token="alice-token")
        self.assertAppError(status, headers, body, 400)
        self.assertNotEqual(self.post(message="a", pending_post_id="box1:2")[2]["id"], first[2]["id"])
        self.assertEqual(len(self.ctl.posts()), 2)

    def test_direct_channel_and_members_me(self):
        alice = self.ctl.add_user("alice", token="alice-token")["id"]
        self.ctl.add_user("bob", token="bob-token")
        status, _, ch = self.api.call("POST", "/api/v4/channels/direct", [BOT, alice])
        self.assertEqual(status, 201, ch)
        self.assertEqual(ch["type"], "D")
        self.assertTrue(ID_RE.fullmatch(ch["id"]))
        self.assertEqual(ch["name"], "__".join(sorted([BOT, alice])))
        status, _, again = self.api.call("POST", "/api/v4/channels/direct", [alice, BOT])
        self.assertEqual((status, again["id"]), (201, ch["id"]))

        for token, uid in (("bot-token", BOT), ("alice-token", alice)):
            status, _, member = self.api.call("GET", f"/api/v4/channels/{ch['id']}/members/me", token=token)
            self.assertEqual(status, 200, member)
            self.assertEqual((member["channel_id"], member["user_id"]), (ch["id"], uid))
            self.assertIn("channel_user", member["roles"].split())
        self.assertAppError(*self.api.call("GET", f"/api/v4/channels/{ch['id']}/members/me",
                                           token="bob-token"), 403, "api.context.permissions.app_error")
        self.ctl.set_options(nonmember_status=404)
        self.assertAppError(*self.api.call("GET", f"/api/v4/channels/{ch['id']}/members/me",
                                           token="bob-token"), 404, "app.channel.get_member.missing.app_error")
        self.assertEqual(self.post(channel=ch["id"])[0], 201)
        # Only a party to the pair may open it.
        status, _, _ = self.api.call("POST", "/api/v4/channels/direct", [BOT, alice], token="bob-token")
        self.assertEqual(status, 403)
        self.assertEqual(self.api.call("POST", "/api/v4/channels/direct", [BOT])[0], 400)

    def test_channel_posts_since_and_pages(self):
        t0 = int(time.time() * 1000)
        _, _, root = self.post(channel="chanp", message="root")
        time.sleep(0.005)
        mid = int(time.time() * 1000)
        time.sleep(0.005)
        _, _, reply = self.post(channel="chanp", message="reply", root_id=root["id"])
        _, _, gone = self.post(channel="chanp", message="gone")
        self.post(channel="other", message="elsewhere")
        self.api.call("DELETE", f"/api/v4/posts/{gone['id']}")
        status, _, plist = self.api.call("GET", f"/api/v4/channels/chanp/posts?since={t0 - 1}")
        self.assertEqual(status, 200, plist)
        for key in ("order", "posts", "next_post_id", "prev_post_id"):
            self.assertIn(key, plist)
        self.assertEqual(set(plist["order"]), {root["id"], reply["id"], gone["id"]})
        self.assertEqual(set(plist["posts"]), set(plist["order"]))
        creates = [plist["posts"][i]["create_at"] for i in plist["order"]]
        self.assertEqual(creates, sorted(creates, reverse=True))
        self.assertGreater(plist["posts"][gone["id"]]["delete_at"], 0, "deletions are listed")
        # A reply changed after since brings its thread root along.
        _, _, plist = self.api.call("GET", f"/api/v4/channels/chanp/posts?since={mid}")
        self.assertIn(reply["id"], plist["posts"])
        self.assertIn(root["id"], plist["posts"])
        _, _, plist = self.api.call("GET", "/api/v4/channels/chanp/posts?since=%d" % (
            int(time.time() * 1000) + 1000))
        self.assertEqual((plist["order"], plist["posts"]), ([], {}))
        # Pages: live posts only, newest first.
        _, _, plist = self.api.call("GET", "/api/v4/channels/chanp/posts?per_page=1")
        self.assertEqual(plist["order"], [reply["id"]])
        _, _, plist = self.api.call("GET", "/api/v4/channels/chanp/posts?page=1&per_page=1")
        self.assertEqual(plist["order"], [root["id"]])
        self.assertAppError(*self.api.call("GET", "/api/v4/channels/chanp/posts?since=x"), 400)
        self.ctl.add_channel("private2", type="P")
        self.assertAppError(*self.api.call("GET", "/api/v4/channels/private2/posts?since=0"), 403,
                            "api.context.permissions.app_error")
        self.assertEqual(self.api.call("GET", "/api/v4/channels/chanp/posts", token=None)[0], 401)

    def test_webapp_plugins(self):
        self.assertEqual(self.api.call("GET", "/api/v4/plugins/webapp", token=None)[:3:2], (200, []))
        self.ctl.set_plugin(enabled=True, version="0.1.0")
        status, _, plugins = self.api.call("GET", "/api/v4/plugins/webapp")
        self.assertEqual(status, 200)
        self.assertEqual([(p["id"], p["version"]) for p in plugins], [(mmstub.PLUGIN_ID, "0.1.0")])
        self.assertTrue(plugins[0]["webapp"]["bundle_path"].endswith(".js"))
        self.ctl.set_plugin(plugins_enabled=False)
        self.assertAppError(*self.api.call("GET", "/api/v4/plugins/webapp"), 501)

    def test_unknown_route(self):
        self.assertAppError(*self.api.call("GET", "/api/v4/nothing"), 404)
        self.assertEqual(self.api.call("PATCH", "/api/v4/posts", {})[0], 405)


class Faults(StubTestCase):
    def test_status_fault_matches_method_and_path(self):
        self.ctl.add_fault(status=500, method="POST", path=r"^/api/v4/posts$", count=2)
        self.assertEqual(self.api.call("GET", "/api/v4/system/ping")[0], 200)
        self.assertAppError(*self.post(), 500, "stub.injected.app_error")
        self.assertEqual(self.post()[0], 500)
        self.assertEqual(self.post()[0], 201)
        [rule] = self.ctl.faults()
        self.assertEqual((rule["count"], rule["hits"]), (0, 2))
        recs = self.ctl.requests(method="POST")
        self.assertEqual([r["status"] for r in recs], [500, 500, 201])
        self.assertTrue(recs[0]["fault"].endswith("status:500"))

    def test_429_fault(self):
        self.ctl.add_fault(status=429, retry_after=2)
        status, headers, body = self.post()
        self.assertEqual((status, body), (429, "limit exceeded\n"))
        self.assertEqual((headers["retry-after"], headers["x-ratelimit-remaining"],
                          headers["x-ratelimit-reset"]), ("2", "0", "2"))
        self.assertEqual(self.post()[0], 201)

    def test_delay_fault_times_a_client_out(self):
        self.ctl.add_fault(delay_s=0.6, path="/users/me")
        slow = Api(self.port, timeout=0.2)
        with self.assertRaises(TimeoutError):
            slow.call("GET", "/api/v4/users/me")
        slow.close()
        [rec] = self.ctl.wait_requests(1, path="/users/me", timeout=30.0)
        self.assertEqual(rec["status"], 200)
        self.assertGreaterEqual(rec["duration_ms"], 600)
        self.ctl.add_fault(delay_s=0.1)
        status, _, _ = self.api.call("GET", "/api/v4/users/me")
        self.assertEqual(status, 200)
        self.assertGreaterEqual(self.ctl.requests(path="/users/me")[-1]["duration_ms"], 100)

    def test_drop_and_reset(self):
        for drop in (True, "reset"):
            self.ctl.add_fault(drop=drop)
            with self.assertRaises((ConnectionError, http.client.HTTPException)):
                self.post()
            self.api.close()
            self.assertTrue(self.ctl.requests()[-1]["dropped"])
        self.assertEqual(len(self.ctl.posts()), 0)
        self.assertEqual(self.post()[0], 201)

    def test_processed_then_dropped_create_is_deduplicated_on_retry(self):
        # The post is made but the answer lost: a retry with the same
        # pending_post_id must get that post back, not a second one.
        self.ctl.add_fault(drop=True, process=True, method="POST")
        with self.assertRaises((ConnectionError, http.client.HTTPException)):
            self.post(pending_post_id="box9:1")
        self.api.close()
        [made] = self.ctl.posts()
        status, _, post = self.post(pending_post_id="box9:1")
        self.assertEqual((status, post["id"]), (201, made["id"]))
        self.assertEqual(len(self.ctl.posts()), 1)

    def test_down_status_and_drop(self):
        self.ctl.set_down("status", status=503)
        self.assertAppError(*self.api.call("GET", "/api/v4/system/ping"), 503)
        self.assertEqual(self.post()[0], 503)
        self.ctl.set_down("drop")
        with self.assertRaises((ConnectionError, http.client.HTTPException)):
            self.api.call("GET", "/api/v4/system/ping")
        self.api.close()
        self.ctl.set_up()
        self.assertEqual(self.api.call("GET", "/api/v4/system/ping")[0], 200)
        self.assertEqual(len(self.ctl.posts()), 0)

    def test_down_refuse_then_back(self):
        def port_state():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return "listening"
            except ConnectionRefusedError:
                return "refused"
            except ConnectionResetError:
                # accepted into the closing listener's backlog: between the two
                return "closing"

        # The stub's controls are on this port too: whatever happens below, the
        # next test must find it listening again (else its setUp cannot reset it).
        self.addCleanup(poll, lambda: port_state() == "listening",
                        what="the port to listen again after the test")
        # refused long enough that a loaded machine still sees it (the port then comes
        # back by itself)
        self.ctl.set_down("refuse", for_s=3.0)
        poll(lambda: port_state() == "refused", what="the port to refuse connections")
        # the port stays the stub's: nothing running beside can take it meanwhile
        other = socket.socket()
        with self.assertRaises(OSError):
            other.bind(("127.0.0.1", self.port))
        other.close()
        poll(lambda: port_state() == "listening", what="the port to listen again")
        self.assertEqual(self.ctl.health()["ok"], True)
        fresh = Api(self.port)
        self.assertEqual(fresh.call("GET", "/api/v4/system/ping")[0], 200)
        fresh.close()

    def test_real_rate_limit(self):
        # One request per 5 s and a burst of 1: the third of three quick requests is
        # refused even if a loaded machine spreads them over seconds (at 2/s it took 0.5 s).
        self.ctl.set_rate_limit(0.2, burst=1)
        statuses = [self.api.call("GET", "/api/v4/system/ping") for _ in range(3)]
        self.assertEqual([s[0] for s in statuses], [200, 200, 429])
        _, headers, body = statuses[2]
        self.assertEqual(body, "limit exceeded\n")
        self.assertEqual((headers["x-ratelimit-limit"], headers["x-ratelimit-remaining"]), ("2", "0"))
        self.assertGreaterEqual(int(headers["retry-after"]), 1)
        self.ctl.set_rate_limit(0)
        self.assertEqual(self.api.call("GET", "/api/v4/system/ping")[0], 200)


class Recording(StubTestCase):
    def test_keepalive_connection_ids_and_fields(self):
        start = len(self.ctl.requests())
        self.api.call("GET", "/api/v4/system/ping?x=1")
        self.post(message="m", props={"k": "v"})
        other = Api(self.port)
        other.call("GET", "/api/v4/users/me", token=None)
        other.close()
        recs = self.ctl.requests(since=start)
        self.assertEqual(len(recs), 3)
        self.assertEqual(recs[0]["conn_id"], recs[1]["conn_id"], "keep-alive reused the connection")
        self.assertNotEqual(recs[1]["conn_id"], recs[2]["conn_id"])
        ping, create, anon = recs
        self.assertEqual((ping["method"], ping["path"], ping["args"]), ("GET", "/api/v4/system/ping", {"x": "1"}))
        self.assertEqual(create["body"], {"channel_id": "chan1", "message": "m", "props": {"k": "v"}})
        self.assertEqual((create["status"], create["auth"], create["user_id"]), (201, "bearer", BOT))
        self.assertTrue(create["has_authorization"])
        self.assertEqual(create["post_id"], create["response"]["id"])
        self.assertFalse(anon["has_authorization"])
        self.assertEqual(anon["status"], 401)
        for rec in recs:
            self.assertTrue(rec["done"])
            self.assertIsInstance(rec["t_ms"], int)
            self.assertIsInstance(rec["duration_ms"], float)
        self.assertEqual(self.ctl.requests(since=start + 2), [anon])

    def test_connection_close_is_honoured(self):
        status, headers, _ = self.api.call("GET", "/api/v4/system/ping", headers={"Connection": "close"})
        self.assertEqual((status, headers.get("connection")), (200, "close"))

    def test_chunked_and_expect_100_bodies(self):
        body = json.dumps({"channel_id": "chan1", "message": "x" * 5000}).encode()
        self.api.conn.request("POST", "/api/v4/posts", body=iter([body[:100], body[100:]]),
                              headers={"Authorization": "Bearer bot-token"}, encode_chunked=True)
        resp = self.api.conn.getresponse()
        resp.read()
        self.assertEqual(resp.status, 201)

        # libcurl sends Expect: 100-continue for large bodies and waits for
        # the interim answer before sending them.
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            s.sendall(b"POST /api/v4/posts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer bot-token\r\n"
                      b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body))
            self.assertTrue(s.recv(64).startswith(b"HTTP/1.1 100"))
            s.sendall(body)
            answer = b""
            while b"\r\n\r\n" not in answer:
                answer += s.recv(4096)
            self.assertTrue(answer.startswith(b"HTTP/1.1 201"), answer[:100])

    def test_reset_and_control_errors(self):
        self.ctl.add_user("alice", token="alice-token")
        self.post()
        self.ctl.add_fault(status=500, count=-1)
        self.ctl.reset()
        self.assertEqual((self.ctl.posts(), self.ctl.requests(), self.ctl.faults()), ([], [], []))
        self.assertEqual(self.api.call("GET", "/api/v4/users/me", token="alice-token")[0], 401)
        self.ctl.add_user("alice", token="alice-token")
        self.ctl.reset(keep_config=True)
        self.assertEqual(self.api.call("GET", "/api/v4/users/me", token="alice-token")[0], 200)
        with self.assertRaises(ValueError):
            self.ctl._control("GET", "nothing")
        with self.assertRaises(ValueError):
            self.ctl.add_fault(drop="sideways")
        with self.assertRaises(ValueError):
            self.ctl.add_token("t", "no-such-user")


class StateFile(unittest.TestCase):
    def test_posts_and_config_survive_a_restart(self):
        with tempfile.TemporaryDirectory() as tmp:
            state = os.path.join(tmp, "state.json")
            proc, port = start_stub(tmp, "--state-file", state)
            try:
                ctl = mmstub.StubClient(f"http://127.0.0.1:{port}", timeout=30.0)
                ctl.add_user("alice", token="alice-token")
                api = Api(port)
                _, _, post = api.call("POST", "/api/v4/posts", {"channel_id": "c1", "message": "keep",
                                                                "pending_post_id": "p:1"})
                api.close()
            finally:
                stop_stub(proc)
            proc, port = start_stub(tmp, "--state-file", state)
            try:
                api = Api(port)
                status, _, got = api.call("GET", f"/api/v4/posts/{post['id']}")
                self.assertEqual((status, got["message"]), (200, "keep"))
                self.assertEqual(api.call("GET", "/api/v4/users/me", token="alice-token")[0], 200)
                _, _, again = api.call("POST", "/api/v4/posts", {"channel_id": "c1", "message": "keep",
                                                                 "pending_post_id": "p:1"})
                self.assertEqual(again["id"], post["id"])
                api.close()
            finally:
                stop_stub(proc)


class InProcess(unittest.TestCase):
    def test_start_stop_and_python_controls(self):
        with mmstub.MMStub() as stub:
            self.assertTrue(stub.url.startswith("http://127.0.0.1:"))
            api = Api(stub.port)
            self.assertEqual(api.call("GET", "/api/v4/system/ping")[0], 200)
            api.close()
            stub.set_down("refuse")
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", stub.port), timeout=1)
            stub.set_up()
            api = Api(stub.port)
            self.assertEqual(api.call("GET", "/api/v4/users/me")[0], 200)
            api.close()
            self.assertEqual([r["status"] for r in stub.requests()], [200, 200])
            port = stub.port
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1)

    def test_a_late_drop_spares_connections_opened_after_it(self):
        # Over HTTP a change's follow-ups run after the answer: the drop's closing of
        # pooled connections must not reach a connection the client opened since.
        with mmstub.MMStub() as stub:
            old = Api(stub.port)
            self.assertEqual(old.call("GET", "/api/v4/system/ping")[0], 200)
            status, _, actions = stub.control("POST", "down", {"mode": "drop"}, {})
            self.assertEqual(status, 200)
            stub.set_up()
            new = Api(stub.port)
            self.assertEqual(new.call("GET", "/api/v4/system/ping")[0], 200)
            for action in actions:  # late, as a loaded machine runs them
                action()
            self.assertEqual(new.call("GET", "/api/v4/system/ping")[0], 200)
            with self.assertRaises((ConnectionError, http.client.HTTPException)):
                old.call("GET", "/api/v4/system/ping")
            old.close()
            new.close()


if __name__ == "__main__":
    unittest.main()
