"""Issue 13 A: the responder under hostile load from Mattermost readers.

Each test fails on the code before the fix: every unknown token cost a
/users/me call; a slow Mattermost held every worker thread, so a writer
with the secret waited for the slow look-ups to end; a 401 from Mattermost
left the token's cached answers in use; any TCP address was listened on.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from secbase import ALICE, CH_A, CH_B, MMCase, ROOT  # noqa: E402
from harness import build_dir  # noqa: E402

USERS_ME = r"^/api/v4/users/me$"


class TestLookupBudget(MMCase):
    env = {"AUTH_CLIENT_LOOKUPS": "5"}

    def test_unknown_tokens_from_one_client_are_bounded(self):
        statuses = []
        for i in range(40):
            r = self.s.request("GET", "/api/v1/sessions", auth="unknowntoken%03d" % i)
            statuses.append(r.status)
            if r.status == 429:
                retry = int(r.headers.get("retry-after", "0"))
                self.assertTrue(1 <= retry <= 10, r.headers)
        calls = self.calls(USERS_ME)
        # Five per 10 s window; the loop may straddle one window boundary.
        self.assertLessEqual(len(calls), 10, len(calls))
        self.assertIn(429, statuses)
        self.assertEqual(statuses[:5], [401] * 5)
        # A refused token is not asked again (negative cache), budget or not.
        before = len(self.calls(USERS_ME))
        for _ in range(5):
            self.assertEqual(self.s.request("GET", "/api/v1/sessions",
                                            auth="unknowntoken000").status, 401)
        self.assertEqual(len(self.calls(USERS_ME)), before)
        # Cached logins, other clients and the secret are not affected.
        self.assertEqual(self.s.request("GET", "/api/v1/sessions").status, 200)
        r = self.s.fcgi({"REQUEST_METHOD": "GET", "PATH_INFO": "/api/v1/sessions",
                         "REMOTE_ADDR": "192.0.2.7", "HTTP_AUTHORIZATION": "Bearer alicetoken"})
        self.assertEqual(r.status, 200, r)


class TestSlowMattermost(MMCase):
    threads = 4
    env = {"AUTH_TIMEOUT_MS": "3000", "MM_TIMEOUT_MS": "20000"}

    def test_writer_is_not_starved_by_slow_lookups(self):
        self.create("box-a", CH_A)
        self.stub.add_fault(delay_s=8, count=-1, path=USERS_ME)
        done = {}
        lock = threading.Lock()

        def reader(i):
            r = self.s.request("GET", "/api/v1/sessions", auth="slowtoken%02d" % i, timeout=30)
            with lock:
                done["r%d" % i] = (time.monotonic(), r.status, r.headers.get("retry-after"))

        readers = [threading.Thread(target=reader, args=(i,)) for i in range(8)]
        for t in readers:
            t.start()
        # Look-ups are waiting on the stub before the writer comes.
        self.stub.wait_for(lambda: len(self.calls(USERS_ME)) >= 2, timeout=10,
                           what="look-ups waiting on the slow stub")
        r = self.s.request("PUT", "/api/v1/sessions/box-a", {"lines": ["still here"]},
                           timeout=30)
        t_writer = time.monotonic()
        self.assertEqual(r.status, 200, r)
        for t in readers:
            t.join(40)
        asked = {r["token"] for r in self.calls(USERS_ME)}
        waited = [v for k, v in done.items() if "slowtoken%02d" % int(k[1:]) in asked]
        quick = [v for k, v in done.items() if "slowtoken%02d" % int(k[1:]) not in asked]
        # The writer was answered while the look-ups that reached Mattermost still
        # waited for it: none of them finished first.
        self.assertTrue(waited, done)
        self.assertLess(t_writer, min(v[0] for v in waited), done)
        # Half the threads at most waited on Mattermost; the others said 503.
        self.assertLessEqual(len(self.calls(USERS_ME)), 2 * 2, self.calls(USERS_ME))
        self.assertTrue(quick, done)
        self.assertTrue(all(v[1] == 503 and v[2] is not None for v in quick), done)


class TestEvictOn401(MMCase):
    def test_401_from_mattermost_evicts_the_cached_token(self):
        self.create("box-a", CH_A)
        r = self.s.request("GET", "/api/v1/sessions", auth="alicetoken")
        self.assertEqual([b["id"] for b in r.json], ["box-a"])
        self.assertEqual(len(self.calls(USERS_ME)), 1)
        # The token is revoked; the responder still has it (and channel A) cached.
        self.stub.revoke_token("alicetoken")
        # A box of a channel not asked about yet: Mattermost is asked, says 401.
        self.create("box-b", CH_B)
        r = self.s.request("GET", "/api/v1/sessions", auth="alicetoken")
        self.assertEqual(r.status, 401, r)
        members = self.calls(r"/members/me$")
        self.assertEqual(members[-1]["status"], 401, members[-1])
        # From then on the token is refused from the cache: nothing served, not asked.
        for path in ("/api/v1/sessions", "/api/v1/sessions/box-a"):
            r = self.s.request("GET", path, auth="alicetoken")
            self.assertEqual(r.status, 401, (path, r))
        self.assertEqual(len(self.calls(USERS_ME)), 1)


class TestCacheLimit(unittest.TestCase):
    def run_fcgi(self, args, env):
        tmp = tempfile.mkdtemp(prefix="ls-sec-")
        self.addCleanup(shutil.rmtree, tmp, True)
        full = dict(os.environ, LIVESTATUS_DB=os.path.join(tmp, "db.sqlite"), PLUGIN_SECRET="s")
        full.update(env)
        return subprocess.Popen([os.path.join(build_dir(), "livestatus-fcgi")] + args,
                                env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    def test_remote_listen_needs_the_flag(self):
        for addr in ("0.0.0.0:0", "[::]:0", "192.0.2.1:9000"):
            p = self.run_fcgi(["--listen", addr], {})
            out, err = p.communicate(timeout=20)
            self.assertEqual(p.returncode, 2, (addr, err))
            self.assertIn("not a loopback address", err)
            self.assertIn("--allow-remote-listen", err)
        # Loopback needs no flag; any address with the flag is taken.
        for args in (["--listen", "127.0.0.1:0"],
                     ["--listen", "0.0.0.0:0", "--allow-remote-listen"]):
            p = self.run_fcgi(args, {})
            try:
                time.sleep(1.0)
                self.assertIsNone(p.poll(), (args, p.stderr.read() if p.poll() else ""))
            finally:
                p.terminate()
                p.communicate(timeout=10)

    def test_auth_cache_at_most_15_s(self):
        p = self.run_fcgi(["--listen", "127.0.0.1:0"],
                          {"MM_URL": "http://127.0.0.1:9", "AUTH_CACHE_S": "60"})
        out, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 2, err)
        self.assertIn("AUTH_CACHE_S", err)


if __name__ == "__main__":
    unittest.main()
