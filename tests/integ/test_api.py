"""The status API through a real nginx: every route of docs/api.md.

Run from the repository root:  python3 -m unittest tests/integ/test_api.py
(LIVESTATUS_BUILD=build/asan for the sanitizer build).  Each class starts
its own stack (tests/integ/harness.py).
"""

import os
import re
import unittest

from tests.integ.harness import ROOT, Stack

READ_401 = ("unauthorized: valid Mattermost session or shared secret required: send "
            "Authorization: Bearer <PLUGIN_SECRET>, or a Mattermost session (MMAUTHTOKEN cookie "
            "or Authorization: Bearer <user token>); Mattermost-User-Id alone is not trusted")
SESSION_FIELDS = {
    "id", "session_key", "agent_id", "channel_id", "root_id", "post_id", "parent_id",
    "label", "status", "lines", "children", "start_time_ms", "end_time_ms",
    "last_update_ms", "token_count", "model", "revision", "gateway",
}


def box(**kw):
    b = {"session_key": "agent:main:mattermost:channel:c1", "channel_id": "c1"}
    b.update(kw)
    return b


class StackCase(unittest.TestCase):
    """One stack per class; env is the class's responder environment."""

    env = None
    nchan = True

    @classmethod
    def setUpClass(cls):
        cls.s = Stack(env=cls.env, nchan=cls.nchan)

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def req(self, *a, **kw):
        r = self.s.request(*a, **kw)
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"), r)
        self.assertEqual(r.headers.get("cache-control"), "no-store", r)
        return r

    def error(self, r, status, text=None):
        self.assertEqual(r.status, status, r)
        self.assertIsInstance(r.json, dict, r)
        self.assertIn("error", r.json, r)
        if text is not None:
            self.assertIn(text, r.json["error"], r)

    def create(self, **kw):
        r = self.req("POST", "/api/v1/sessions", box(**kw))
        self.assertIn(r.status, (200, 201), r)
        return r.json


class TestHealth(StackCase):
    def test_health_ok_without_watcher(self):
        r = self.req("GET", "/api/v1/health")
        self.assertEqual(r.status, 200, r)
        h = r.json
        self.assertEqual(h["status"], "ok")
        self.assertRegex(h["version"], r"^\d+\.\d+\.\d+")
        self.assertEqual(h["db"], {"ok": True, "path": self.s.db, "schema_version":
                                   h["db"]["schema_version"]})
        self.assertGreaterEqual(h["db"]["schema_version"], 1)
        self.assertEqual(h["watcher"], {"alive": False, "pid": None, "last_heartbeat_ms": None,
                                        "breaker": None})
        self.assertEqual(set(h["sessions"]), {"active", "total"})
        self.assertIsInstance(h["uptime_s"], int)

    def test_health_needs_a_reader(self):
        self.error(self.req("GET", "/api/v1/health", auth=None), 401, READ_401)

    def test_head(self):
        r = self.s.request("HEAD", "/api/v1/health")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"")

    def test_auth_route(self):
        self.assertEqual(self.req("GET", "/api/v1/auth").status, 200)
        self.error(self.req("GET", "/api/v1/auth", auth=None), 401, READ_401)
        self.error(self.req("GET", "/api/v1/auth", auth="nope"), 401, READ_401)


class TestSessions(StackCase):
    env = {"MAX_STATUS_LINES": "5"}

    def test_create_get_update_delete(self):
        r = self.req("POST", "/api/v1/sessions",
                     box(id="crud-1", label="main", lines=["one", "two"], bot_user_id="bot1",
                         root_id="root1", start_time_ms=1000))
        self.assertEqual(r.status, 201, r)
        b = r.json
        self.assertEqual(set(b), SESSION_FIELDS)
        self.assertEqual(b["id"], "crud-1")
        self.assertEqual(b["agent_id"], "main")
        self.assertEqual(b["status"], "active")
        self.assertEqual(b["lines"], ["one", "two"])
        self.assertEqual(b["children"], [])
        self.assertIsNone(b["parent_id"])
        self.assertIsNone(b["end_time_ms"])
        self.assertEqual(b["start_time_ms"], 1000)
        self.assertEqual(b["root_id"], "root1")
        self.assertEqual(b["post_id"], "")
        self.assertGreater(b["revision"], 0)

        g = self.req("GET", "/api/v1/sessions/crud-1")
        self.assertEqual(g.status, 200)
        self.assertEqual(g.json, b)

        u = self.req("PUT", "/api/v1/sessions/crud-1",
                     {"lines": ["a", "b", "c"], "token_count": 1234, "model": "m1",
                      "post_id": "post1", "label": "L", "unknown_field": {"x": 1}})
        self.assertEqual(u.status, 200, u)
        self.assertEqual(u.json["lines"], ["a", "b", "c"])
        self.assertEqual(u.json["token_count"], 1234)
        self.assertEqual(u.json["model"], "m1")
        self.assertEqual(u.json["post_id"], "post1")
        self.assertEqual(u.json["label"], "L")
        self.assertGreater(u.json["revision"], b["revision"])
        self.assertGreaterEqual(u.json["last_update_ms"], b["last_update_ms"])
        self.assertIsNone(u.json["end_time_ms"])

        done = self.req("PUT", "/api/v1/sessions/crud-1", {"status": "done"})
        self.assertEqual(done.json["status"], "done")
        self.assertIsInstance(done.json["end_time_ms"], int)
        given = self.req("PUT", "/api/v1/sessions/crud-1",
                         {"status": "error", "end_time_ms": 5000})
        self.assertEqual(given.json["end_time_ms"], 5000)

        d = self.s.request("DELETE", "/api/v1/sessions/crud-1")
        self.assertEqual(d.status, 204)
        self.assertEqual(d.body, b"")
        self.error(self.req("GET", "/api/v1/sessions/crud-1"), 404, "not found")
        self.error(self.req("DELETE", "/api/v1/sessions/crud-1"), 404)
        self.error(self.req("PUT", "/api/v1/sessions/crud-1", {"status": "done"}), 404)

    def test_server_made_id(self):
        a = self.create()
        b = self.create()
        self.assertNotEqual(a["id"], b["id"])
        self.assertRegex(a["id"], r"^[A-Za-z0-9_.:-]{1,128}$")

    def test_idempotent_create(self):
        r1 = self.req("POST", "/api/v1/sessions", box(id="idem-1", label="first"))
        self.assertEqual(r1.status, 201)
        r2 = self.req("POST", "/api/v1/sessions", box(id="idem-1", label="second"))
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(r2.json["label"], "first")
        self.assertEqual(r2.json["revision"], r1.json["revision"])

    def test_lines_capped_to_newest(self):
        r = self.req("POST", "/api/v1/sessions",
                     box(lines=[f"line {i}" for i in range(12)]))
        self.assertEqual(r.json["lines"], [f"line {i}" for i in range(7, 12)])
        u = self.req("PUT", f"/api/v1/sessions/{r.json['id']}",
                     {"lines": [str(i) for i in range(9)]})
        self.assertEqual(u.json["lines"], ["4", "5", "6", "7", "8"])

    def test_nesting_and_list(self):
        p = self.create(id="nest-p", channel_id="nestc", start_time_ms=10)
        self.create(id="nest-k2", parent_id="nest-p", channel_id="nestc", start_time_ms=30)
        self.create(id="nest-k1", parent_id="nest-p", channel_id="nestc", start_time_ms=20)
        self.create(id="nest-g", parent_id="nest-k1", channel_id="nestc", start_time_ms=40)
        self.create(id="nest-other", channel_id="nestd", status="done", start_time_ms=50)

        r = self.req("GET", "/api/v1/sessions?channel_id=nestc")
        self.assertEqual(r.status, 200)
        self.assertEqual([b["id"] for b in r.json], ["nest-p"])
        kids = r.json[0]["children"]
        self.assertEqual([k["id"] for k in kids], ["nest-k1", "nest-k2"])  # start order
        self.assertEqual([g["id"] for g in kids[0]["children"]], ["nest-g"])
        self.assertEqual(kids[0]["parent_id"], "nest-p")

        all_ids = [b["id"] for b in self.req("GET", "/api/v1/sessions").json]
        self.assertIn("nest-p", all_ids)
        self.assertIn("nest-other", all_ids)
        self.assertNotIn("nest-k1", all_ids)  # top level only
        self.assertNotIn("nest-g", all_ids)

        active = self.req("GET", "/api/v1/sessions?status=active").json
        self.assertTrue(all(b["status"] == "active" for b in active))
        self.assertNotIn("nest-other", [b["id"] for b in active])
        both = self.req("GET", "/api/v1/sessions?status=active&channel_id=nestd").json
        self.assertEqual(both, [])

        one = self.req("GET", "/api/v1/sessions/nest-k1").json
        self.assertEqual([g["id"] for g in one["children"]], ["nest-g"])
        self.assertEqual(p["children"], [])

        # Deleting the parent takes the subtree.
        self.assertEqual(self.s.request("DELETE", "/api/v1/sessions/nest-p").status, 204)
        self.error(self.req("GET", "/api/v1/sessions/nest-g"), 404)

    def test_etag_and_304(self):
        r = self.req("GET", "/api/v1/sessions")
        etag = r.headers.get("etag")
        self.assertRegex(etag or "", r'^"\d+"$')
        n = self.s.request("GET", "/api/v1/sessions", headers={"If-None-Match": etag})
        self.assertEqual(n.status, 304, n)
        self.assertEqual(n.body, b"")
        self.assertEqual(n.headers.get("etag"), etag)
        self.create()
        r2 = self.req("GET", "/api/v1/sessions", headers={"If-None-Match": etag})
        self.assertEqual(r2.status, 200)
        self.assertNotEqual(r2.headers["etag"], etag)
        self.assertGreater(int(r2.headers["etag"].strip('"')), int(etag.strip('"')))
        # The same revision with a filter: 304 too.
        f = self.s.request("GET", "/api/v1/sessions?status=active",
                           headers={"If-None-Match": r2.headers["etag"]})
        self.assertEqual(f.status, 304)

    def test_bad_filters(self):
        self.error(self.req("GET", "/api/v1/sessions?status=running"), 400, "status")
        self.error(self.req("GET", "/api/v1/sessions?channel_id=a%20b"), 400, "channel_id")
        self.error(self.req("GET", "/api/v1/sessions?channel_id=%00"), 400)

    def test_parent_must_exist(self):
        self.error(self.req("POST", "/api/v1/sessions", box(parent_id="no-such-box")), 400,
                   "parent_id")


class TestMethodsAndRoutes(StackCase):
    def test_405_with_allow(self):
        cases = [
            ("DELETE", "/api/v1/sessions", "GET, HEAD, POST"),
            ("PUT", "/api/v1/sessions", "GET, HEAD, POST"),
            ("PATCH", "/api/v1/sessions", "GET, HEAD, POST"),
            ("POST", "/api/v1/sessions/x1", "GET, HEAD, PUT, DELETE"),
            ("PATCH", "/api/v1/sessions/x1", "GET, HEAD, PUT, DELETE"),
            ("POST", "/api/v1/health", "GET, HEAD"),
            ("DELETE", "/api/v1/auth", "GET, HEAD"),
            ("OPTIONS", "/api/v1/health", "GET, HEAD"),
        ]
        for method, path, allow in cases:
            with self.subTest(method=method, path=path):
                r = self.req(method, path)
                self.error(r, 405, "method not allowed")
                self.assertEqual(r.headers.get("allow"), allow)

    def test_404_unknown_routes(self):
        for path in ("/api/v1/", "/api/v1/nope", "/api/v2/sessions", "/api/v1/health/x",
                     "/api/v1/sessionsx", "/api/"):
            with self.subTest(path=path):
                self.error(self.req("GET", path), 404, "not found")

    def test_rest_of_plugin_prefix_is_not_ours(self):
        # Outside /api/ nginx serves what the site serves (here: the demo root).
        r = self.s.request("GET", "/static/main.js")
        self.assertNotEqual(r.headers.get("cache-control"), "no-store")


class TestActiveLimit(StackCase):
    env = {"MAX_ACTIVE_SESSIONS": "3"}

    def test_429_over_max_active(self):
        ids = [self.create(id=f"lim-{i}")["id"] for i in range(3)]
        self.error(self.req("POST", "/api/v1/sessions", box(id="lim-x")), 429,
                   "too many active sessions")
        # Finished boxes do not count; a repeated id is still idempotent.
        self.assertEqual(self.req("POST", "/api/v1/sessions", box(status="done")).status, 201)
        self.assertEqual(self.req("POST", "/api/v1/sessions", box(id=ids[0])).status, 200)
        self.req("PUT", f"/api/v1/sessions/{ids[0]}", {"status": "done"})
        self.assertEqual(self.req("POST", "/api/v1/sessions", box(id="lim-x")).status, 201)


class TestReadAuthNone(StackCase):
    env = {"READ_AUTH": "none"}

    def test_anyone_reads_only_the_secret_writes(self):
        self.assertEqual(self.req("GET", "/api/v1/sessions", auth=None).status, 200)
        self.assertEqual(self.req("GET", "/api/v1/health", auth=None).status, 200)
        self.assertEqual(self.req("GET", "/api/v1/auth", auth=None).status, 200)
        self.error(self.req("POST", "/api/v1/sessions", box(), auth=None), 401)
        r = self.req("POST", "/api/v1/sessions", box(), auth=None)
        self.assertEqual(r.json, {"error": "unauthorized"})


class TestNoSecret(StackCase):
    env = {"PLUGIN_SECRET": None}

    def test_nobody_writes_or_reads(self):
        r = self.req("POST", "/api/v1/sessions", box(), auth="")
        self.assertEqual(r.json, {"error": "unauthorized"})
        self.error(self.req("POST", "/api/v1/sessions", box()), 401)
        self.error(self.req("GET", "/api/v1/sessions"), 401, READ_401)


class TestLiveStream(StackCase):
    def test_stream_needs_a_reader(self):
        for auth in (None, "near-miss"):
            st = self.s.stream(auth=auth)
            st.close()
            self.assertIn(st.status, (401, 403), st.head)

    def test_notice_after_each_change(self):
        st = self.s.stream()
        try:
            self.assertEqual(st.status, 200, st.head)
            self.assertIn("text/event-stream", st.head)
            created = self.create(id="live-1", channel_id="chan9")
            self.assertEqual(st.next_json(), {"revision": created["revision"], "id": "live-1",
                                              "channel_id": "chan9"})
            upd = self.req("PUT", "/api/v1/sessions/live-1", {"lines": ["x"]}).json
            self.assertEqual(st.next_json()["revision"], upd["revision"])
            self.s.request("DELETE", "/api/v1/sessions/live-1")
            notice = st.next_json()
            self.assertEqual(notice["id"], "live-1")
            self.assertGreater(notice["revision"], upd["revision"])
        finally:
            st.close()

    def test_publisher_is_loopback_only_and_not_under_the_api(self):
        # The publisher answers loopback (this test) ...
        r = self.s.raw(b"GET /_livestatus/publish HTTP/1.1\r\nHost: x\r\n"
                       b"Connection: close\r\n\r\n")
        self.assertNotEqual(r.status, 404)
        # ... and nothing under the API prefix publishes.
        r = self.s.request("POST", "/api/v1/stream", {"x": 1})
        self.assertIn(r.status, (403, 404, 405), r)


class TestWithoutNchan(StackCase):
    nchan = False

    def test_polling_setup_serves_the_api(self):
        self.assertIsNone(self.s.publish_url)
        self.assertEqual(self.req("GET", "/api/v1/health").status, 200)
        created = self.create()
        r = self.req("GET", "/api/v1/sessions")
        self.assertIn(created["id"], [b["id"] for b in r.json])
        self.assertEqual(self.s.request("GET", "/api/v1/sessions",
                                        headers={"If-None-Match": r.headers["etag"]}).status, 304)
        # No stream location: the request falls to the API, which has no such route.
        self.error(self.req("GET", "/api/v1/stream"), 404)


def openapi_routes(path):
    """(method, path) pairs of an OpenAPI file, read without a YAML library."""
    routes, current = [], None
    in_paths = False
    with open(path) as f:
        for line in f:
            if re.match(r"^paths:\s*$", line):
                in_paths = True
                continue
            if in_paths and re.match(r"^\S", line):
                break
            if not in_paths:
                continue
            m = re.match(r"^  (/\S*):\s*$", line)
            if m:
                current = m.group(1)
                continue
            m = re.match(r"^    (get|put|post|delete|patch|head|options):\s*$", line)
            if m and current:
                routes.append((m.group(1).upper(), current))
    return routes


class TestOpenAPI(StackCase):
    def test_every_documented_route_answers(self):
        routes = openapi_routes(os.path.join(ROOT, "fcgi", "openapi.yaml"))
        self.assertGreaterEqual(len(routes), 7, routes)
        self.create(id="oa-box")
        for method, path in routes:
            with self.subTest(method=method, path=path):
                p = path.replace("{id}", "oa-box")
                body = None
                if method == "POST" and path == "/api/v1/gateway/boxes":
                    body = {"gateway": "oa-gw", "boxes": [
                        {"id": "oa-fwd", "revision": 1, "session_key": "agent:main:fwd"}]}
                elif method == "POST":
                    body = box(id="oa-new")
                elif method == "PUT":
                    body = {"label": "x"}
                r = self.s.request(method, p, body)
                self.assertLess(r.status, 400, (method, p, r))
                self.assertNotIn(r.status, (404, 405))

    def test_spec_names_the_api_routes(self):
        routes = set(openapi_routes(os.path.join(ROOT, "fcgi", "openapi.yaml")))
        for want in [("GET", "/api/v1/health"), ("GET", "/api/v1/sessions"),
                     ("POST", "/api/v1/sessions"), ("GET", "/api/v1/sessions/{id}"),
                     ("PUT", "/api/v1/sessions/{id}"), ("DELETE", "/api/v1/sessions/{id}"),
                     ("GET", "/api/v1/auth"), ("POST", "/api/v1/gateway/boxes")]:
            self.assertIn(want, routes)


if __name__ == "__main__":
    unittest.main()
