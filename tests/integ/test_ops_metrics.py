"""GET /api/v1/metrics: valid Prometheus text that moves with the work.

A real stack (nginx + responder), a real watcher on the same store posting
to the Mattermost stand-in, transcript lines written the gateway's way.
Every scrape goes through tests/integ/promparse.py, which fails on anything
a Prometheus server would refuse.
"""

import os
import sqlite3
import threading
import time
import unittest

from tests.integ import promparse
from tests.integ.harness import Stack
from tests.integ.wharness import WatcherCase, assistant, call, header, result, wait_for
from tests.mmstub import MMStub

CHANNEL = "m3tr1cschanne1000000000000"
SID = "5eb0c5e1-0000-4000-8000-0000000000aa"
KEY = "agent:main:mattermost:channel:%s" % CHANNEL


class PromparseTest(unittest.TestCase):
    GOOD = (
        "# HELP a_total Things.\n# TYPE a_total counter\n"
        'a_total{k="x\\"y\\\\z\\n"} 3\na_total{k="b"} 0 1700000000000\n'
        "# TYPE h histogram\n"
        'h_bucket{le="0.1"} 1\nh_bucket{le="1"} 3\nh_bucket{le="+Inf"} 4\n'
        "h_sum 2.5\nh_count 4\n"
        "g NaN\n")

    def test_good(self):
        f = promparse.parse(self.GOOD)
        self.assertEqual(f["a_total"].type, "counter")
        self.assertEqual(promparse.value(f, "a_total", k='x"y\\z\n'), 3)
        self.assertEqual(promparse.value(f, "h_count"), 4)
        self.assertEqual(promparse.total(f, "a_total"), 3)
        self.assertIsNone(promparse.value(f, "missing"))

    def test_bad(self):
        bad = [
            "a 1",                                           # no final newline
            "a 1\na 2\n",                                    # the same series twice
            'a{k="\\t"} 1\n',                                # bad escape
            "a{k=x} 1\n",                                    # unquoted value
            "1a 1\n",                                        # bad name
            "a one\n",                                       # bad value
            "# TYPE a counter\na -1\n",                      # negative counter
            "# TYPE a counter\n# TYPE a gauge\n",            # TYPE twice
            "a 1\nb 1\na{x=\"1\"} 2\n",                      # family split
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
            "h_sum 1\nh_count 1\n",                          # not cumulative
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",  # no +Inf
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
            "# TYPE a frequency\n",                          # unknown type
        ]
        for text in bad:
            with self.subTest(text=text):
                with self.assertRaises(promparse.ParseError):
                    promparse.parse(text)


class MetricsTest(WatcherCase):
    def setUp(self):
        super().setUp()
        self.stub = MMStub().start()
        self.addCleanup(self.stub.stop)
        self.stack = Stack()
        self.addCleanup(self.stack.stop)
        self.db = self.stack.db  # the watcher writes where the responder reads
        self.env.update(MM_URL=self.stub.url, MM_TOKEN="bot-token", MM_TIMEOUT_MS="2000",
                        MM_STOP_FLUSH_MS="1000", THROTTLE_MS="50",
                        CIRCUIT_BREAKER_THRESHOLD="2", CIRCUIT_BREAKER_COOLDOWN_S="60")

    def scrape(self, **kw):
        r = self.stack.request("GET", "/api/v1/metrics", **kw)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("content-type"),
                         "text/plain; version=0.0.4; charset=utf-8")
        return promparse.parse(r.body.decode())

    def metric(self, name, **labels):
        return promparse.value(self.scrape(), name, **labels)

    def wait_metric(self, name, at_least, timeout=30, **labels):
        def check():
            v = self.metric(name, **labels)
            return v is not None and v >= at_least
        wait_for(check, timeout, what=f"{name}{labels} >= {at_least}")

    def test_figures_move(self):
        f = self.scrape(auth=None)  # loopback: no credentials needed
        for name in ("livestatus_info", "livestatus_boxes", "livestatus_api_requests_total",
                     "livestatus_store_busy_total", "livestatus_process_open_fds",
                     "livestatus_process_resident_memory_bytes", "livestatus_watcher_up",
                     "livestatus_mm_requests_total", "livestatus_mm_rate_limited_total"):
            self.assertIn(name, f, name)
        self.assertEqual(promparse.value(f, "livestatus_watcher_up"), 0)
        self.assertGreater(promparse.value(f, "livestatus_process_resident_memory_bytes",
                                           program="fcgi"), 1 << 20)
        self.assertGreater(promparse.value(f, "livestatus_process_open_fds", program="fcgi"), 3)

        self.start_watcher()
        self.wait_metric("livestatus_watcher_up", 1)
        f = self.scrape()
        self.assertEqual(promparse.value(f, "livestatus_mm_breaker_state", state="closed"), 1)
        self.assertGreater(promparse.value(f, "livestatus_process_resident_memory_bytes",
                                           program="watcher"), 1 << 20)
        self.assertGreater(promparse.value(f, "livestatus_process_open_fds", program="watcher"), 3)

        # Lines: 1 header + 3 x (assistant, tool result) + one that is not JSON.
        name = SID + ".jsonl"
        self.write_sessions({KEY: {"sessionId": SID, "updatedAt": 1, "sessionFile": name}})
        self.lock(name)
        self.append(name, header(SID))
        for i in range(3):
            self.append(name, assistant([f"Step {i}.", call(f"c{i}", "exec", command="true")]),
                        result(f"c{i}"))
        self.append(name, raw=b"{this is not json\n")
        self.wait_metric("livestatus_watcher_lines_read_total", 8, agent="main")
        self.wait_metric("livestatus_watcher_bad_lines_total", 1, agent="main")
        self.wait_metric("livestatus_append_latency_seconds_count", 8)
        self.wait_metric("livestatus_boxes", 1, status="active")
        self.wait_metric("livestatus_mm_requests_total", 1, program="watcher", code="201")
        f = self.scrape()
        self.assertEqual(promparse.value(f, "livestatus_watcher_bad_lines_total", agent="main"), 1)
        lat_sum = promparse.value(f, "livestatus_append_latency_seconds_sum")
        self.assertGreaterEqual(lat_sum, 0)
        self.assertLess(lat_sum / promparse.value(f, "livestatus_append_latency_seconds_count"), 5)

        # API requests by route template and status, counted exactly; each
        # list asks for something else, so none is nginx's (test_read_cache.py).
        before = self.scrape()
        for q in ("", "?status=active", "?status=done"):
            self.assertEqual(self.stack.request("GET", "/api/v1/sessions" + q).status, 200)
        self.assertEqual(self.stack.request("GET", "/api/v1/sessions/no-such-box").status, 404)
        self.assertEqual(self.stack.request("GET", "/api/v1/nothing-here").status, 404)
        after = self.scrape()

        def delta(name, **labels):
            return ((promparse.value(after, name, **labels) or 0)
                    - (promparse.value(before, name, **labels) or 0))
        self.assertEqual(delta("livestatus_api_requests_total", route="/api/v1/sessions",
                               status="200"), 3)
        self.assertEqual(delta("livestatus_api_requests_total",
                               route="/api/v1/sessions/{id}", status="404"), 1)
        self.assertEqual(delta("livestatus_api_requests_total", route="other", status="404"), 1)
        self.assertEqual(delta("livestatus_api_requests_total", route="/api/v1/metrics",
                               status="200"), 1)  # the scrape before counts, not its own

        # A 429 from Mattermost, then Mattermost down: the breaker opens.
        self.stub.add_fault(status=429, retry_after=1, count=1, method="PUT")
        self.append(name, assistant(["Step 3.", call("c3", "exec", command="true")]))
        self.wait_metric("livestatus_mm_rate_limited_total", 1, program="watcher")
        self.wait_metric("livestatus_mm_requests_total", 1, program="watcher", code="429")
        self.stub.set_down("status", 503)
        for i in range(4, 8):
            self.append(name, assistant([f"Step {i}."]))
            time.sleep(0.3)
        self.wait_metric("livestatus_mm_breaker_state", 1, state="open")
        f = self.scrape()
        self.assertEqual(promparse.value(f, "livestatus_mm_breaker_state", state="closed"), 0)
        self.assertGreaterEqual(promparse.value(f, "livestatus_mm_requests_total",
                                                program="watcher", code="503"), 2)

    def test_store_busy_and_503_are_counted(self):
        before = self.scrape()
        con = sqlite3.connect(self.stack.db, timeout=10, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        got = {}
        t = threading.Thread(target=lambda: got.update(r=self.stack.request(
            "POST", "/api/v1/sessions", {"session_key": "agent:main:busy"}, timeout=30)))
        t.start()
        # the responder waits its 5 s busy timeout, then answers 503; the lock is held
        # until it has (a deadline, not a fixed wait: a slow responder must still see it)
        t.join(60)
        con.execute("COMMIT")
        con.close()
        t.join(10)
        self.assertEqual(got["r"].status, 503, got["r"])
        after = self.scrape()
        # At least the POST's: the cleanup thread's first pass runs when it gets the CPU
        # after start, and on a loaded machine it may meet the same lock (and count too).
        self.assertGreaterEqual(promparse.value(after, "livestatus_store_busy_total",
                                                program="fcgi")
                                - promparse.value(before, "livestatus_store_busy_total",
                                                  program="fcgi"), 1)
        self.assertEqual(promparse.value(after, "livestatus_api_requests_total",
                                         route="/api/v1/sessions", status="503"), 1)

    def test_responder_mattermost_requests(self):
        uid = "m3tr1csuser000000000000000"
        self.stub.add_user("metrics-user", user_id=uid)
        self.stub.add_token("usr-metrics-token", uid)
        self.stub.add_channel(CHANNEL, members=(uid,))
        s = Stack(env={"MM_URL": self.stub.url, "MM_TOKEN": "bot-token",
                       "READ_AUTH": "mattermost"})
        try:
            self.assertEqual(s.request("GET", "/api/v1/sessions", auth="usr-metrics-token").status,
                             200)
            self.assertEqual(s.request("GET", "/api/v1/sessions", auth="not-a-token").status, 401)
            f = promparse.parse(s.request("GET", "/api/v1/metrics").body.decode())
            self.assertGreaterEqual(promparse.value(f, "livestatus_mm_requests_total",
                                                    program="fcgi", code="200"), 1)
            self.assertGreaterEqual(promparse.value(f, "livestatus_mm_requests_total",
                                                    program="fcgi", code="401"), 1)
        finally:
            s.stop()

    def test_who_may_read(self):
        def fcgi(addr, auth=None, method="GET"):
            p = {"REQUEST_METHOD": method, "PATH_INFO": "/api/v1/metrics",
                 "REMOTE_ADDR": addr}
            if auth:
                p["HTTP_AUTHORIZATION"] = auth
            return self.stack.fcgi(p)
        self.assertEqual(fcgi("127.0.0.1").status, 200)
        self.assertEqual(fcgi("::1").status, 200)
        r = fcgi("192.0.2.7")
        self.assertEqual(r.status, 401)
        self.assertTrue(r.json["error"].startswith(
            "unauthorized: valid Mattermost session or shared secret required"), r.json)
        self.assertEqual(fcgi("192.0.2.7", "Bearer " + self.stack.secret).status, 200)
        self.assertEqual(fcgi("192.0.2.7", "Bearer " + self.stack.secret + "x").status, 401)
        self.assertEqual(fcgi("192.0.2.7", "Basic " + self.stack.secret).status, 401)
        self.assertEqual(fcgi("", "Bearer").status, 401)
        r = fcgi("127.0.0.1", method="POST")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.headers.get("allow"), "GET, HEAD")
        r = fcgi("127.0.0.1", method="HEAD")
        self.assertEqual((r.status, r.body), (200, b""))


if __name__ == "__main__":
    unittest.main()
