"""Bad input to the status API: every error comes back as documented JSON.

The "Bad input" list of issue 2: invalid JSON, wrong types, non-UTF-8,
\\u0000 and lone surrogates, 2 MiB bodies, missing or bogus Content-Length,
ids with / .. %00 and 129+ characters, SQL fragments, a forged
Mattermost-User-Id, near-miss secrets, the secret as a query string, and 8
concurrent clients mixing writes and reads.  Data written before all of it
must survive, and health must still answer 200.

Some malformed requests never reach the responder through nginx: a URI
holding %00, an unparsable Content-Length and others are refused by nginx
itself while it reads the request line and headers, before any location
applies.  nginx/livestatus.conf turns those answers into the API's JSON
errors for requests under the plugin's prefix (NginxErrors below, with
other paths keeping nginx's own pages); the responder's own answers to the
same input are checked over FastCGI directly.

Run from the repository root:  python3 -m unittest tests/integ/test_api_input.py
"""

import json
import threading
import unittest

from tests.integ.harness import PREFIX, SECRET, Stack

READ_401 = ("unauthorized: valid Mattermost session or shared secret required: send "
            "Authorization: Bearer <PLUGIN_SECRET>, or a Mattermost session (MMAUTHTOKEN cookie "
            "or Authorization: Bearer <user token>); Mattermost-User-Id alone is not trusted")


class BadInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Stack()
        # Data written before the abuse starts; test_zz_* checks it survived.
        cls.before = []
        for i in range(5):
            r = cls.s.request("POST", "/api/v1/sessions", {
                "id": f"keep-{i}", "session_key": f"agent:main:mattermost:channel:c{i}",
                "channel_id": f"c{i}", "lines": [f"kept line {i}"], "label": f"keep {i}"})
            assert r.status == 201, r
            cls.before.append(r.json)
        r = cls.s.request("POST", "/api/v1/sessions", {
            "id": "keep-child", "session_key": "agent:main:subagent:x", "parent_id": "keep-0",
            "channel_id": "c0"})
        assert r.status == 201, r

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def error(self, r, status, text=None):
        self.assertEqual(r.status, status, r)
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"), r)
        self.assertEqual(r.headers.get("cache-control"), "no-store", r)
        self.assertIsInstance(r.json, dict, r)
        self.assertEqual(set(r.json), {"error"}, r)
        if text is not None:
            self.assertIn(text, r.json["error"], r)

    def post(self, body, **kw):
        return self.s.request("POST", "/api/v1/sessions", body, **kw)

    def put(self, body, box="keep-1", **kw):
        return self.s.request("PUT", f"/api/v1/sessions/{box}", body, **kw)

    # -- JSON ----------------------------------------------------------

    def test_invalid_json(self):
        bodies = [b"", b" ", b"{", b"}", b"{\"session_key\":}", b"{\"session_key\":\"k\",}",
                  b"{'session_key':'k'}", b"{session_key:\"k\"}", b"NaN", b"[1,]",
                  b"{\"session_key\":\"k\"} trailing", b"{\"session_key\":\"k\"}{}",
                  b"/* c */{\"session_key\":\"k\"}", b"{\"session_key\":\"k\n\"}",
                  b"{\"session_key\":\"\\x41\"}", b"{\"a\":1,\"a\":2,\"session_key\":\"k\"}",
                  b"[" * 100 + b"]" * 100, b"\xef\xbb\xbf{\"session_key\":\"k\"}"]
        for body in bodies:
            with self.subTest(body=body[:40]):
                self.error(self.post(body), 400)
                self.error(self.put(body), 400)

    def test_not_an_object(self):
        for body in (b"null", b"[]", b"\"s\"", b"42", b"true"):
            with self.subTest(body=body):
                self.error(self.post(body), 400, "expected a JSON object")
                self.error(self.put(body), 400, "expected a JSON object")

    def test_wrong_types(self):
        post_cases = {
            "session_key": [5, None, [], {}, True, ""],
            "id": [5, [], {}, True, ""],
            "channel_id": [5, None, [], True],
            "root_id": [5, []],
            "parent_id": [5, [], True],
            "label": [5, [], None],
            "agent_id": [5, {}],
            "bot_user_id": [5, False],
            "lines": ["x", 5, [5], [None], [["x"]], {"a": "b"}],
            "status": [5, "running", "", None, "ACTIVE"],
            "start_time_ms": ["5", 1.5, -1, True, 1e30],
        }
        for field, values in post_cases.items():
            for v in values:
                with self.subTest(field=field, value=v):
                    body = {"session_key": "k", field: v}
                    self.error(self.post(body), 400, field)
        put_cases = {
            "status": [5, "nope", None],
            "lines": ["x", [1], None],
            "token_count": ["5", 1.5, -3, None, [], 1e300],
            "label": [5, None],
            "model": [[], 5],
            "post_id": [5, "a b", None],
            "end_time_ms": ["1", 1.5, -1, True],
        }
        for field, values in put_cases.items():
            for v in values:
                with self.subTest(field=field, value=v):
                    self.error(self.put({field: v}), 400, field)

    def test_non_utf8(self):
        for body in (b'{"session_key":"\xff"}', b'{"session_key":"\xc3("}',
                     b'{"session_key":"\xc0\xaf"}', b'{"session_key":"\xed\xa0\x80"}',
                     b'{"\xfe":1,"session_key":"k"}', b'{"session_key":"k","label":"\x80"}'):
            with self.subTest(body=body):
                self.error(self.post(body), 400, "UTF-8")
                self.error(self.put(body), 400, "UTF-8")

    def test_nul_and_surrogates(self):
        cases = [(b'{"session_key":"a\\u0000b"}', "\\u0000"),
                 (b'{"session_key":"k","label":"\\u0000"}', "\\u0000"),
                 (b'{"session_key\\u0000":"k"}', "\\u0000"),
                 (b'{"session_key":"\\ud800"}', "lone surrogate"),
                 (b'{"session_key":"\\udfff"}', "lone surrogate"),
                 (b'{"session_key":"\\ud800\\u0041"}', "lone surrogate"),
                 (b'{"session_key":"\\ude00\\ud83d"}', "lone surrogate"),
                 (b'{"session_key":"k","lines":["\\ud83d"]}', "lone surrogate")]
        for body, text in cases:
            with self.subTest(body=body):
                self.error(self.post(body), 400, text)
        self.error(self.put(b'{"lines":["ok","\\u0000"]}'), 400, "\\u0000")
        # A real pair is fine and comes back as the character.
        r = self.post(b'{"session_key":"k","label":"\\ud83d\\ude00 \xc3\xa9"}')
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["label"], "\U0001f600 \u00e9")

    # -- framing -------------------------------------------------------

    def test_2mib_bodies(self):
        big = b'{"session_key":"k","label":"' + b"x" * (2 << 20) + b'"}'
        self.error(self.post(big), 413, "1 MiB")
        self.error(self.put(big), 413, "1 MiB")
        # The responder's own limit, without nginx in front.
        r = self.s.fcgi({"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/sessions",
                         "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(big)),
                         "HTTP_AUTHORIZATION": "Bearer " + SECRET}, big)
        self.error(r, 413, "1 MiB")

    def test_just_under_1mib_is_read(self):
        lines = ["y" * 4000 for _ in range(250)]
        body = json.dumps({"session_key": "k", "lines": lines}).encode()
        self.assertLess(len(body), 1 << 20)
        r = self.post(body)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(len(r.json["lines"]), 15)
        self.error(self.post(json.dumps({"session_key": "k", "lines": ["z" * 5000]})), 400,
                   "too long")

    def raw_post(self, headers, body=b""):
        head = (f"POST {PREFIX}/api/v1/sessions HTTP/1.1\r\nHost: localhost\r\n"
                f"Authorization: Bearer {SECRET}\r\nConnection: close\r\n")
        return self.s.raw((head + "".join(f"{h}\r\n" for h in headers) + "\r\n").encode() + body)

    def test_missing_content_length(self):
        self.error(self.raw_post(["Content-Type: application/json"]), 411)
        r = self.s.fcgi({"REQUEST_METHOD": "PUT", "PATH_INFO": "/api/v1/sessions/keep-1",
                         "CONTENT_TYPE": "application/json",
                         "HTTP_AUTHORIZATION": "Bearer " + SECRET})
        self.error(r, 411)

    def test_bogus_content_length(self):
        # nginx refuses these before any location applies: JSON all the same.
        for cl in ("abc", "-1", "1e3", "0x10", "99999999999999999999999"):
            with self.subTest(cl=cl, via="nginx"):
                r = self.raw_post(["Content-Type: application/json", f"Content-Length: {cl}"],
                                  b'{"session_key":"k"}')
                self.assertIn(r.status, (400, 413), r)
                self.error(r, r.status)
        # The responder's own answer to the same, over FastCGI.
        for cl in ("abc", "-1", "1e3", " 5", "5 ", "+5", "99999999999999999999999"):
            with self.subTest(cl=cl, via="fastcgi"):
                r = self.s.fcgi({"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/sessions",
                                 "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": cl,
                                 "HTTP_AUTHORIZATION": "Bearer " + SECRET},
                                b'{"session_key":"k"}')
                self.error(r, 400, "Content-Length")
        # Longer than the body sent.
        r = self.s.fcgi({"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/sessions",
                         "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": "500",
                         "HTTP_AUTHORIZATION": "Bearer " + SECRET}, b'{"session_key":"k"}')
        self.error(r, 400, "shorter")

    def test_chunked_body_works(self):
        body = b'{"session_key":"chunked"}'
        r = self.raw_post(["Content-Type: application/json", "Transfer-Encoding: chunked"],
                          b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        self.assertEqual(r.status, 201, r)

    def test_content_types(self):
        body = b'{"session_key":"k"}'
        for ct in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                   "application/json; charset=latin-1", "application/jsonp", "json"):
            with self.subTest(ct=ct):
                self.error(self.post(body, headers={"Content-Type": ct}), 415)
        self.error(self.raw_post([f"Content-Length: {len(body)}"], body), 415)
        for ct in ("application/json; charset=utf-8", "application/json;charset=UTF-8",
                   "Application/Json"):
            with self.subTest(ct=ct):
                self.assertEqual(self.post(body, headers={"Content-Type": ct}).status, 201)

    # -- ids and injection ---------------------------------------------

    def test_bad_ids_in_paths(self):
        long_id = "a" * 129
        for path in ("/api/v1/sessions/a%2Fb", "/api/v1/sessions/a..b",
                     "/api/v1/sessions/" + long_id, "/api/v1/sessions/a%20b",
                     "/api/v1/sessions/x'%20OR%20'1'='1", "/api/v1/sessions/a;DROP%20TABLE%20boxes",
                     "/api/v1/sessions/%22%3E%3Cscript%3E", "/api/v1/sessions/a%25"):
            for method in ("GET", "PUT", "DELETE"):
                with self.subTest(path=path, method=method):
                    body = {"status": "done"} if method == "PUT" else None
                    self.error(self.s.request(method, path, body), 400, "invalid session id")
        ok = "b" * 128
        self.assertEqual(self.s.request("GET", "/api/v1/sessions/" + ok).status, 404)
        # Dot segments are resolved by nginx: they never reach the responder.
        for path in ("/api/v1/sessions/..", "/api/v1/sessions/%2e%2e"):
            with self.subTest(path=path):
                r = self.s.request("GET", path)
                self.assertIn(r.status, (400, 404))
                self.error(r, r.status)
        # %00 in a URI: nginx itself answers 400, as JSON; the responder does too.
        r = self.s.raw(f"GET {PREFIX}/api/v1/sessions/a%00b HTTP/1.1\r\nHost: x\r\n"
                       f"Authorization: Bearer {SECRET}\r\nConnection: close\r\n\r\n".encode())
        self.error(r, 400)
        r = self.s.fcgi({"REQUEST_METHOD": "GET", "PATH_INFO": "/api/v1/sessions/a\x01b",
                         "HTTP_AUTHORIZATION": "Bearer " + SECRET})
        self.error(r, 400, "invalid session id")

    def test_bad_ids_in_bodies(self):
        for bad in ("a/b", "..", "a..b", "../etc/passwd", "a%00b", "a b", "x" * 129, "",
                    "x' OR '1'='1", "id;DROP TABLE boxes;--", "\u00e9t\u00e9"):
            with self.subTest(id=bad):
                self.error(self.post({"id": bad, "session_key": "k"}), 400, "id")
                if bad:  # "" is the same as null: a top-level box
                    self.error(self.post({"session_key": "k", "parent_id": bad}), 400,
                               "parent_id")
        self.assertEqual(self.post({"id": "y" * 128, "session_key": "k"}).status, 201)

    def test_sql_fragments_are_just_text(self):
        evil = ["'); DROP TABLE boxes;--", "\" OR 1=1 --", "x'||(SELECT sqlite_version())||'",
                "1; UPDATE store_meta SET revision=0"]
        r = self.post({"id": "sql-1", "session_key": evil[0], "label": evil[1],
                       "lines": evil, "channel_id": "c-sql"})
        self.assertEqual(r.status, 201, r)
        g = self.s.request("GET", "/api/v1/sessions/sql-1")
        self.assertEqual(g.json["session_key"], evil[0])
        self.assertEqual(g.json["label"], evil[1])
        self.assertEqual(g.json["lines"], evil)
        u = self.put({"model": evil[2], "label": evil[3]}, box="sql-1")
        self.assertEqual(u.status, 200)
        self.assertEqual(u.json["model"], evil[2])
        for q in ("channel_id=%27%20OR%201=1%20--", "status=active%27--",
                  "status=active;DROP%20TABLE%20boxes"):
            with self.subTest(q=q):
                self.error(self.s.request("GET", "/api/v1/sessions?" + q), 400)
        self.assertEqual(self.s.request("GET", "/api/v1/health").status, 200)

    # -- credentials ---------------------------------------------------

    def test_forged_mattermost_user_id(self):
        for headers in ({"Mattermost-User-Id": "admin"},
                        {"Mattermost-User-Id": "admin", "X-Forwarded-For": "127.0.0.1"},
                        {"X-Mattermost-User-Id": "admin"},
                        {"Cookie": "MMUSERID=admin; MMAUTHTOKEN=" + SECRET}):
            with self.subTest(headers=headers):
                self.error(self.s.request("GET", "/api/v1/sessions", auth=None, headers=headers),
                           401, READ_401)
                if "Mattermost-User-Id" in headers:
                    r = self.s.request("GET", "/api/v1/sessions", auth=None, headers=headers)
                    self.assertIn("send Authorization: Bearer <PLUGIN_SECRET>", r.json["error"])
                    self.assertIn("Mattermost-User-Id alone is not trusted", r.json["error"])
                self.error(self.post({"session_key": "k"}, auth=None, headers=headers), 401)
                self.assertEqual(self.post({"session_key": "k"}, auth=None,
                                           headers=headers).json, {"error": "unauthorized"})

    def test_near_miss_secrets(self):
        near = [SECRET[:-1], SECRET + "x", SECRET.upper(), SECRET[0].upper() + SECRET[1:],
                SECRET.replace("-", "_"), "x" + SECRET[1:], SECRET[:-1] + "T",
                SECRET + SECRET, " " + SECRET + "x", SECRET[::-1], "", "Bearer"]
        for token in near:
            with self.subTest(token=token):
                r = self.s.request("GET", "/api/v1/sessions", auth=token)
                self.error(r, 401, READ_401)
                r = self.post({"session_key": "k"}, auth=token)
                self.assertEqual(r.status, 401, r)
                self.assertEqual(r.json, {"error": "unauthorized"})
        for value in ("Basic " + SECRET, SECRET, "Token " + SECRET, "Bearer:" + SECRET,
                      "Bearer " + SECRET + "," + SECRET):
            with self.subTest(header=value):
                r = self.s.request("GET", "/api/v1/sessions", auth=None,
                                   headers={"Authorization": value})
                self.error(r, 401, READ_401)

    def test_secret_in_query_string(self):
        for q in (f"secret={SECRET}", f"token={SECRET}", f"access_token={SECRET}",
                  f"PLUGIN_SECRET={SECRET}", f"authorization=Bearer%20{SECRET}"):
            with self.subTest(q=q):
                self.error(self.s.request("GET", "/api/v1/sessions?" + q, auth=None), 401,
                           READ_401)
                self.error(self.s.request("GET", "/api/v1/health?" + q, auth=None), 401)
                self.error(self.s.request("POST", "/api/v1/sessions?" + q, {"session_key": "k"},
                                          auth=None), 401, "unauthorized")

    def test_secret_never_logged(self):
        self.s.request("GET", "/api/v1/sessions", auth=SECRET + "x")
        self.s.request("POST", "/api/v1/sessions", {"session_key": "k"})
        self.assertNotIn(SECRET, self.s.log("responder"))

    # -- load ----------------------------------------------------------

    def test_concurrent_clients(self):
        results, errors = {}, []

        def client(n):
            try:
                mine = []
                for i in range(12):
                    bid = f"conc-{n}-{i}"
                    r = self.post({"id": bid, "session_key": f"agent:main:c{n}",
                                   "channel_id": f"cc{n}", "status": "done"})
                    if r.status != 201:
                        errors.append(("post", bid, r))
                        continue
                    r = self.put({"lines": [f"{n}/{i}"], "token_count": i}, box=bid)
                    if r.status != 200:
                        errors.append(("put", bid, r))
                    r = self.s.request("GET", "/api/v1/sessions")
                    if r.status != 200 or not isinstance(r.json, list):
                        errors.append(("list", bid, r))
                    r = self.s.request("GET", f"/api/v1/sessions/{bid}")
                    if r.status != 200:
                        errors.append(("get", bid, r))
                    if i % 4 == 3:
                        r = self.s.request("DELETE", f"/api/v1/sessions/{bid}")
                        if r.status != 204:
                            errors.append(("delete", bid, r))
                    else:
                        mine.append((bid, i))
                    r = self.post(b'{"session_key":', auth="secret")  # bad input mixed in
                    if r.status != 400:
                        errors.append(("bad", bid, r))
                results[n] = mine
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(("exception", n, repr(e)))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        listed = {b["id"]: b for b in self.s.request("GET", "/api/v1/sessions").json}
        for n, mine in results.items():
            for bid, i in mine:
                self.assertIn(bid, listed)
                self.assertEqual(listed[bid]["lines"], [f"{n}/{i}"])
                self.assertEqual(listed[bid]["token_count"], i)
        self.assertEqual(sum(len(m) for m in results.values()), 8 * 9)

    # -- afterwards ----------------------------------------------------

    def test_zz_health_and_nothing_lost(self):
        """Runs last (alphabetical order): the earlier data is all there."""
        r = self.s.request("GET", "/api/v1/health")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["db"]["ok"])
        for b in self.before:
            g = self.s.request("GET", f"/api/v1/sessions/{b['id']}")
            self.assertEqual(g.status, 200, g)
            for k in ("session_key", "channel_id", "lines", "label", "status", "start_time_ms"):
                self.assertEqual(g.json[k], b[k])
        kids = self.s.request("GET", "/api/v1/sessions/keep-0").json["children"]
        self.assertEqual([k["id"] for k in kids], ["keep-child"])
        self.assertNotIn(" 502 ", self.s.log("nginx-access"))


class NginxErrors(unittest.TestCase):
    """nginx's own refusals: JSON under the prefix, nginx's pages elsewhere."""

    API = PREFIX + "/api/v1/sessions"

    # name: (request with {path} for the path, status under the prefix,
    #        status elsewhere, text of the JSON error)
    CASES = {
        "%00 in the path": ("GET {path}/a%00b HTTP/1.1\r\nHost: x\r\n\r\n", 400, 400,
                            "bad request"),
        "%00 at the end": ("GET {path}%00 HTTP/1.1\r\nHost: x\r\n\r\n", 400, 400, None),
        "bad escape": ("GET {path}/%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400, 400, None),
        "control character": ("GET {path}/a\x01b HTTP/1.1\r\nHost: x\r\n\r\n", 400, 400,
                              None),
        "space in the URI": ("GET {path}/a b HTTP/1.1\r\nHost: x\r\n\r\n", 400, 400, None),
        "bad request line": ("GET {path} HTTQ/1.1\r\nHost: x\r\n\r\n", 400, 400, None),
        "no Host": ("GET {path} HTTP/1.1\r\n\r\n", 400, 400, None),
        "two Hosts": ("GET {path} HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, 400, None),
        "bad Host": ("GET {path} HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, 400, None),
        "Content-Length abc": ("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n"
                               "\r\n{{}}", 400, 400, None),
        "Content-Length -1": ("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
                              400, 400, None),
        "Content-Length twice": ("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                                 "Content-Length: 2\r\n\r\n{{}}", 400, 400, None),
        "Content-Length and chunked": ("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, 400,
                                       None),
        "chunked in HTTP/1.0": ("POST {path} HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "0\r\n\r\n", 400, 400, None),
        "unknown Transfer-Encoding": ("POST {path} HTTP/1.1\r\nHost: x\r\n"
                                      "Transfer-Encoding: gzip\r\n\r\n", 501, 501,
                                      "Transfer-Encoding"),
        "URI too long": ("GET {path}?" + "a" * 9000 + " HTTP/1.1\r\nHost: x\r\n\r\n", 414, 414,
                         "too long"),
        "header too large": ("GET {path} HTTP/1.1\r\nHost: x\r\nX-Big: " + "b" * 9000
                             + "\r\n\r\n", 431, 400, "headers too large"),
        "headers too large": ("GET {path} HTTP/1.1\r\nHost: x\r\n"
                              + "".join(f"X-H{i}: " + "c" * 7000 + "\r\n" for i in range(6))
                              + "\r\n", 431, 400, "headers too large"),
        "cookie too large": ("GET {path} HTTP/1.1\r\nHost: x\r\nCookie: MMAUTHTOKEN="
                             + "d" * 9000 + "\r\n\r\n", 431, 400, None),
        "TRACE": ("TRACE {path} HTTP/1.1\r\nHost: x\r\n\r\n", 405, 405, "method not allowed"),
        "HTTP/2.0": ("GET {path} HTTP/2.0\r\nHost: x\r\n\r\n", 505, 505, "version"),
    }

    @classmethod
    def setUpClass(cls):
        cls.s = Stack(nchan=False)
        r = cls.s.request("POST", "/api/v1/sessions", {"id": "kept", "session_key": "k"})
        assert r.status == 201, r

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def send(self, template, path):
        return self.s.raw(template.format(path=path).encode("latin-1"))

    def test_json_under_the_prefix(self):
        for name, (template, status, _, text) in self.CASES.items():
            for path in (self.API, PREFIX + "/main.js", f"http://x{self.API}"):
                with self.subTest(name, path=path):
                    r = self.send(template, path)
                    self.assertEqual(r.status, status, r)
                    self.assertEqual(r.headers.get("content-type"), "application/json", r)
                    self.assertEqual(r.headers.get("cache-control"), "no-store", r)
                    self.assertIsInstance(r.json, dict, r)
                    self.assertEqual(set(r.json), {"error"}, r)
                    if text is not None:
                        self.assertIn(text, r.json["error"], r)
                    if status == 405:
                        self.assertIn("GET", r.headers.get("allow", ""), r)

    def test_other_paths_keep_nginx_pages(self):
        for name, (template, _, status, _) in self.CASES.items():
            for path in ("/other", "/", "/plugins/com.openclaw.livestatusx/a",
                         "/api/v4/plugins/com.openclaw.livestatus/"):
                with self.subTest(name, path=path):
                    r = self.send(template, path)
                    self.assertEqual(r.status, status, r)
                    self.assertEqual(r.headers.get("content-type"), "text/html", r)
                    self.assertIn(b"<html>", r.body)
                    self.assertNotIn("cache-control", r.headers)

    def test_bad_chunked_body_in_the_api(self):
        r = self.s.raw(f"POST {self.API} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SECRET}"
                       "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "zz\r\n{}\r\n0\r\n\r\n".encode())
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.headers.get("content-type"), "application/json", r)
        self.assertEqual(r.json, {"error": "bad request"})

    def test_nul_in_the_query_is_the_responders_400(self):
        r = self.s.raw(f"GET {self.API}?status=%00 HTTP/1.1\r\nHost: x\r\n"
                       f"Authorization: Bearer {SECRET}\r\n\r\n".encode())
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.headers.get("content-type"), "application/json", r)
        self.assertIn("status", r.json["error"])

    def test_error_pages_are_internal(self):
        for code in (400, 405, 414, 494, 501, 505):
            with self.subTest(code=code):
                self.assertEqual(self.s.raw(f"GET /_livestatus/error/{code} HTTP/1.1\r\n"
                                            "Host: x\r\n\r\n".encode()).status, 404)

    def test_zz_service_is_fine_after(self):
        self.assertEqual(self.s.request("GET", "/api/v1/health").status, 200)
        self.assertEqual(self.s.request("GET", "/api/v1/sessions/kept").status, 200)


class RateLimit(unittest.TestCase):
    def test_nginx_rate_limit_answers_429_json(self):
        with Stack(rate="1r/s") as s:
            statuses = []
            import http.client
            conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
            try:
                for _ in range(260):  # burst is 200
                    conn.request("GET", PREFIX + "/api/v1/health",
                                 headers={"Authorization": "Bearer " + SECRET})
                    r = conn.getresponse()
                    body = r.read()
                    statuses.append(r.status)
                    if r.status == 429:
                        self.assertEqual(r.getheader("Content-Type"), "application/json")
                        self.assertEqual(json.loads(body), {"error": "too many requests"})
            finally:
                conn.close()
            self.assertIn(429, statuses)
            self.assertIn(200, statuses)
            self.assertFalse(set(statuses) - {200, 429}, statuses)


if __name__ == "__main__":
    unittest.main()
