"""POST /api/v1/gateway/boxes through a real nginx: gateways on other hosts.

Two gateways, each with its own key from GATEWAY_KEYS_FILE, forward boxes
to one central responder; the boxes show up in the normal reads with their
gateway, health lists the gateways, metrics have a series per gateway, and
removing a gateway's line from the keys file revokes its key without a
restart.  Contract: docs/api.md, "Gateway forwarding".

Run from the repository root:  python3 -m unittest tests/integ/test_api_gateway.py
"""

import os
import shutil
import subprocess
import tempfile
import time
import unittest

from tests.integ import promparse
from tests.integ.harness import Stack, build_dir, sanitizer_env, wait_for

KEY_A = "gateway-a-key-0123456789abcdef"
KEY_B = "gateway-b-key-0123456789abcdef"
KEY_C = "gateway-c-key-0123456789abcdef"
KEYS = f"# central's gateways\ngw-a {KEY_A}\ngw-b\t{KEY_B}\n"


def box(bid, rev, parent=None, label="", status="active", lines=("working",)):
    return {"id": bid, "revision": rev, "session_key": f"agent:main:mattermost:channel:{bid}",
            "agent_id": "main", "channel_id": "chan1", "root_id": "", "post_id": "",
            "parent_id": parent, "label": label, "bot_user_id": "", "status": status,
            "lines": list(lines), "start_time_ms": 1700000000000,
            "end_time_ms": None if status == "active" else 1700000005000,
            "last_update_ms": int(time.time() * 1000), "token_count": 42, "model": "m1"}


def batch(gateway, boxes, lag_ms=0, queue=0):
    return {"gateway": gateway, "lag_ms": lag_ms, "queue": queue, "version": "0.1.0",
            "boxes": boxes}


class GatewayCase(unittest.TestCase):
    """A keys file in its own temp dir and a stack that reads it."""

    @classmethod
    def setUpClass(cls):
        cls.keydir = tempfile.mkdtemp(prefix="livestatus-gwkeys-")
        cls.keys = os.path.join(cls.keydir, "gateway-keys")
        with open(cls.keys, "w") as f:
            f.write(KEYS)
        try:
            cls.s = Stack(env={"GATEWAY_KEYS_FILE": cls.keys, "GATEWAY_SILENT_S": "60"})
        except BaseException:
            shutil.rmtree(cls.keydir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.s.stop()
        finally:
            shutil.rmtree(cls.keydir, ignore_errors=True)

    def post(self, key, body, status=200):
        r = self.s.request("POST", "/api/v1/gateway/boxes", body, auth=key)
        self.assertEqual(r.status, status, r)
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"), r)
        if status == 200:
            self.assertEqual(set(r.json), {"store_id", "results"}, r)
            self.assertEqual(len(r.json["results"]), len(body["boxes"]), r)
        return r.json

    def statuses(self, answer):
        return [(x["id"], x["status"]) for x in answer["results"]]


class TestTwoGateways(GatewayCase):
    def test_forwarding(self):
        a = self.post(KEY_A, batch("gw-a", [box("a-kid", 3, parent="a-top", label="sub"),
                                            box("a-top", 7, label="top")], lag_ms=1500, queue=2))
        self.assertEqual(self.statuses(a), [("a-kid", "stored"), ("a-top", "stored")])
        self.assertRegex(a["store_id"], r"^[0-9a-f]{32}$")
        b = self.post(KEY_B, batch("gw-b", [box("b-top", 1, label="b")]))
        self.assertEqual(self.statuses(b), [("b-top", "stored")])
        self.assertEqual(b["store_id"], a["store_id"])

        # A repeat and an older state change nothing; a newer one is stored.
        again = self.post(KEY_A, batch("gw-a", [box("a-top", 7, label="again"),
                                                box("a-top", 6, label="older")]))
        self.assertEqual(self.statuses(again), [("a-top", "unchanged"), ("a-top", "unchanged")])
        newer = self.post(KEY_A, batch("gw-a", [box("a-top", 8, label="newer",
                                                    status="done")]))
        self.assertEqual(self.statuses(newer), [("a-top", "stored")])

        # The boxes as readers see them, with their gateway.
        r = self.s.request("GET", "/api/v1/sessions")
        self.assertEqual(r.status, 200, r)
        listed = {x["id"]: x for x in r.json}
        self.assertEqual(set(listed), {"a-top", "b-top"})
        self.assertEqual(listed["a-top"]["gateway"], "gw-a")
        self.assertEqual(listed["a-top"]["label"], "newer")
        self.assertEqual(listed["a-top"]["status"], "done")
        self.assertEqual(listed["a-top"]["children"][0]["id"], "a-kid")
        self.assertEqual(listed["a-top"]["children"][0]["gateway"], "gw-a")
        self.assertEqual(listed["b-top"]["gateway"], "gw-b")
        one = self.s.request("GET", "/api/v1/sessions/b-top")
        self.assertEqual(one.json["gateway"], "gw-b")
        self.assertEqual(one.json["token_count"], 42)
        made = self.s.request("POST", "/api/v1/sessions",
                              {"session_key": "agent:main:x", "id": "by-hand"})
        self.assertEqual(made.status, 201, made)
        self.assertEqual(made.json["gateway"], "")

        # Another gateway's box, another gateway's name, a wrong key.
        steal = self.post(KEY_B, batch("gw-b", [box("a-top", 99, label="mine")]))
        self.assertEqual(steal["results"][0]["status"], "rejected")
        self.assertEqual(steal["results"][0]["code"], 403)
        self.assertIn("gw-a", steal["results"][0]["error"])
        r = self.post(KEY_B, batch("gw-a", []), status=403)
        self.assertEqual(r, {"error": "this key writes only for gateway gw-b"})
        r = self.post("not-a-key-of-anyone-at-all", batch("gw-a", []), status=401)
        self.assertIn("GATEWAY_KEYS_FILE", r["error"])
        orphan = self.post(KEY_A, batch("gw-a", [box("lost", 1, parent="nowhere")]))
        self.assertEqual(orphan["results"][0]["code"], 409)

        # Health: both gateways, fresh.
        h = self.s.request("GET", "/api/v1/health")
        self.assertEqual(h.status, 200, h)
        self.assertEqual(h.json["status"], "ok")
        gws = {g["name"]: g for g in h.json["gateways"]}
        self.assertEqual(set(gws), {"gw-a", "gw-b"})
        for g in gws.values():
            self.assertEqual(set(g), {"name", "last_contact_ms", "silent_s", "lag_ms", "queue",
                                      "boxes_received", "rejected", "state"})
            self.assertEqual(g["state"], "ok")
            self.assertLess(g["silent_s"], 60)  # GATEWAY_SILENT_S here
        self.assertEqual(gws["gw-a"]["boxes_received"], 3)
        self.assertEqual(gws["gw-a"]["rejected"], 1)
        self.assertEqual(gws["gw-b"]["boxes_received"], 1)
        self.assertEqual(gws["gw-b"]["rejected"], 1)

        # Metrics: one series per gateway.
        m = self.s.request("GET", "/api/v1/metrics")
        self.assertEqual(m.status, 200, m)
        f = promparse.parse(m.body.decode())
        self.assertGreaterEqual(promparse.value(f, "livestatus_gateway_last_contact_seconds",
                                                gateway="gw-a"), 0)
        self.assertEqual(promparse.value(f, "livestatus_gateway_lag_seconds", gateway="gw-b"),
                         0)
        self.assertEqual(promparse.value(f, "livestatus_gateway_rejected_total",
                                         gateway="gw-b"), 1)
        self.assertGreaterEqual(promparse.value(
            f, "livestatus_api_requests_total", route="/api/v1/gateway/boxes", status="200"), 1)

    def test_method_and_body_errors(self):
        r = self.s.request("GET", "/api/v1/gateway/boxes")
        self.assertEqual(r.status, 405, r)
        self.assertEqual(r.headers.get("allow"), "POST")
        self.post(KEY_A, {"boxes": []}, status=400)
        self.post(KEY_A, {"gateway": "no spaces", "boxes": []}, status=400)
        r = self.s.request("POST", "/api/v1/gateway/boxes", "{}", auth=KEY_A,
                           headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status, 415, r)


class TestRevoke(GatewayCase):
    def test_removing_a_line_revokes_the_key(self):
        self.post(KEY_A, batch("gw-a", [box("r-a", 1)]))
        self.post(KEY_B, batch("gw-b", [box("r-b", 1)]))
        self.post(KEY_C, batch("gw-c", []), status=401)

        # gw-a's line goes, gw-c's comes; the mtime moves for sure.
        with open(self.keys, "w") as f:
            f.write(f"gw-b {KEY_B}\ngw-c {KEY_C}\n")
        later = time.time() + 10
        os.utime(self.keys, (later, later))

        def revoked():
            r = self.s.request("POST", "/api/v1/gateway/boxes", batch("gw-a", []), auth=KEY_A)
            return r.status == 401 and "GATEWAY_KEYS_FILE" in r.json["error"]

        wait_for(revoked, what="gw-a's key to be refused")
        self.assertEqual(self.statuses(self.post(KEY_C, batch("gw-c", [box("r-c", 1)]))),
                         [("r-c", "stored")])
        self.post(KEY_B, batch("gw-b", [box("r-b", 2)]))
        # PLUGIN_SECRET still writes for any gateway (one gateway, v4.1 style).
        self.post("secret", batch("gw-a", [box("r-a", 2)]))
        self.assertIn("gateway keys read", self.s.log("responder"))


class TestStartup(unittest.TestCase):
    def test_missing_keys_file_named_is_exit_2(self):
        tmp = tempfile.mkdtemp(prefix="livestatus-gwkeys-")
        self.addCleanup(shutil.rmtree, tmp, True)
        missing = os.path.join(tmp, "nope")
        env = sanitizer_env({"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                             "LIVESTATUS_DB": os.path.join(tmp, "t.db"),
                             "PLUGIN_SECRET": "x", "GATEWAY_KEYS_FILE": missing})
        p = subprocess.run([os.path.join(build_dir(), "livestatus-fcgi"), "--listen",
                            "unix:" + os.path.join(tmp, "s.sock")], env=env,
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("GATEWAY_KEYS_FILE", p.stderr)
        self.assertIn(missing, p.stderr)
        env["GATEWAY_KEYS_FILE"] = os.path.join(tmp, "keys")
        env["GATEWAY_SILENT_S"] = "1"
        with open(env["GATEWAY_KEYS_FILE"], "w") as f:
            f.write(KEYS)
        p = subprocess.run([os.path.join(build_dir(), "livestatus-fcgi"), "--listen",
                            "unix:" + os.path.join(tmp, "s.sock")], env=env,
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("GATEWAY_SILENT_S", p.stderr)


if __name__ == "__main__":
    unittest.main()
