"""Logs: logfmt lines, never a secret or a token, repeated faults rate-limited.

The whole stack runs at LOG_LEVEL=debug (the most it ever says): nginx,
the responder with the writer secret and Mattermost logins, the watcher
posting with a bot token to the Mattermost stand-in, and live-status.
Clients send the secret, near-misses of it, user tokens in headers and
cookies, and the secret in a query string.  No line the programs log may
contain any of them.  (nginx's own access log records request URIs as
nginx is configured to; it is not ours and is not checked.)
"""

import os
import re
import subprocess
import time
import unittest

from tests.integ.harness import Stack, build_dir, free_port, sanitizer_env
from tests.integ.wharness import WatcherCase, assistant, call, header, result, wait_for
from tests.mmstub import DEFAULT_BOT_ID, MMStub

LOGFMT = re.compile(r'^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=(debug|info|warn|error) '
                    r'prog=\S+ msg=("([^"\\]|\\.)*"|\S+)( [A-Za-z_][A-Za-z0-9_.]*=("([^"\\]|\\.)*"|\S*))*$')
BOT_TOKEN = "mmbot9x7k2q4w8e6r1t3y5u0i9o8p7"
USER_TOKEN = "usrtok4f6h8j0k2l4z6x8c0v2b4n6m"
CHANNEL = "l0gschanne10000000000000000"
SID = "5eb0c5e1-0000-4000-8000-0000000000bb"
KEY = "agent:main:mattermost:channel:%s" % CHANNEL


def program_lines(text):
    """Lines our programs wrote (sanitizer and tool noise would fail elsewhere)."""
    return [l for l in text.splitlines() if l.startswith("ts=")]


class NoSecretsTest(WatcherCase):
    def setUp(self):
        super().setUp()
        self.stub = MMStub().start()
        self.addCleanup(self.stub.stop)
        self.stub.add_token(BOT_TOKEN, DEFAULT_BOT_ID)
        self.stub.add_user("alice", user_id="a11ce" + "0" * 21)
        self.stub.add_token(USER_TOKEN, "a11ce" + "0" * 21)
        self.stub.add_channel(CHANNEL, members=("a11ce" + "0" * 21, DEFAULT_BOT_ID))
        self.stack = Stack(env={"LOG_LEVEL": "debug", "MM_URL": self.stub.url,
                                "MM_TOKEN": BOT_TOKEN})
        self.addCleanup(self.stack.stop)
        self.db = self.stack.db
        self.env.update(MM_URL=self.stub.url, MM_TOKEN=BOT_TOKEN, LOG_LEVEL="debug",
                        PLUGIN_SECRET=self.stack.secret, THROTTLE_MS="50",
                        MM_STOP_FLUSH_MS="1000")

    def test_no_secret_or_token_in_any_log(self):
        s = self.stack
        secrets = [s.secret, BOT_TOKEN, USER_TOKEN, s.secret + "x", s.secret[:-1] + "X",
                   "X" + s.secret, "stolen-cookie-7d1e2f"]
        self.start_watcher()
        name = SID + ".jsonl"
        self.write_sessions({KEY: {"sessionId": SID, "updatedAt": 1, "sessionFile": name}})
        self.lock(name)
        self.append(name, header(SID))
        self.append(name, assistant(["Working.", call("c1", "exec", command="true")]),
                    result("c1"))
        wait_for(lambda: self.stub.posts(), what="the watcher's post")

        # Clients: right and wrong secrets, user tokens, cookies, the query string.
        r = s.request("POST", "/api/v1/sessions", {"session_key": "agent:main:log",
                                                   "id": "log-box", "channel_id": CHANNEL})
        self.assertIn(r.status, (200, 201), r)
        for bad in secrets[3:6]:
            self.assertEqual(s.request("PUT", "/api/v1/sessions/log-box", {"label": "x"},
                                       auth=bad).status, 401)
            self.assertIn(s.request("GET", "/api/v1/sessions", auth=bad).status, (401, 403))
        for auth in (USER_TOKEN, "Bearer " + USER_TOKEN):
            s.request("GET", "/api/v1/sessions/log-box", auth=auth)
        s.request("GET", "/api/v1/sessions", auth=None,
                  headers={"Cookie": "MMAUTHTOKEN=stolen-cookie-7d1e2f"})
        s.request("GET", "/api/v1/sessions", auth=None,
                  headers={"Cookie": "MMAUTHTOKEN=" + USER_TOKEN})
        s.request("GET", "/api/v1/sessions?token=" + s.secret, auth=None)
        s.request("GET", "/api/v1/metrics", auth=s.secret + "x")
        cli = subprocess.run(
            [os.path.join(build_dir(), "live-status"), "--token", s.secret + "x", "create", "hi"],
            env=sanitizer_env(dict(os.environ, PLUGIN_URL=s.api)), capture_output=True,
            text=True)
        self.assertEqual(cli.returncode, 4)

        # Mattermost trouble makes the watcher log errors about its requests.
        self.stub.set_down("status", 401)
        self.append(name, assistant(["More.", call("c2", "exec", command="true")]))
        # (waited for, not slept on: the watcher was refused and has logged it)
        wait_for(lambda: [r for r in self.stub.requests() if r["status"] == 401],
                 what="a request of the watcher refused")
        wait_for(lambda: "status=401" in self.log(), what="the refusal in the watcher's log")
        self.stub.set_up()
        self.unlock(name)
        self.append(name, assistant(["Done."], stop="stop"))
        self.wait_box(KEY, lambda b: "Done." in b["lines"])
        self.stop_watcher()
        s.stop_process("responder")

        logs = {"responder": s.log("responder"), "watcher": self.log(),
                "live-status": cli.stdout + cli.stderr}
        self.assertGreater(len(program_lines(logs["responder"])), 3)
        self.assertGreater(len(program_lines(logs["watcher"])), 3)
        for prog, text in logs.items():
            for secret in secrets:
                self.assertNotIn(secret, text, f"{prog} logged {secret!r}")
            for line in program_lines(text):
                self.assertRegex(line, LOGFMT, prog)


class RateLimitTest(unittest.TestCase):
    def test_repeated_errors_are_counted_not_printed(self):
        # Change notices to a publisher that is not there: one warning per change.
        dead = f"http://127.0.0.1:{free_port()}/_livestatus/publish"
        s = Stack(nchan=False, env={"PUBLISH_URL": dead})
        try:
            r = s.request("POST", "/api/v1/sessions", {"session_key": "agent:main:rl", "id": "rl"})
            self.assertEqual(r.status, 201, r)
            # As many changes as fit well inside one 10 s window (at most 30),
            # so that a slow machine changes the count, not the outcome.
            start = time.monotonic()
            sent = 0
            while sent < 30 and (sent < 2 or time.monotonic() - start < 5):
                self.assertEqual(s.request("PUT", "/api/v1/sessions/rl",
                                           {"label": f"n{sent}"}).status, 200)
                sent += 1

            def notices():
                return [l for l in program_lines(s.log("responder"))
                        if "cannot publish change notice" in l]
            self.assertEqual(len(notices()), 1, notices())
            self.assertNotIn("repeated=", notices()[0])
            # After the window the next copy is printed, carrying the count.
            time.sleep(max(0.0, 10.5 - (time.monotonic() - start)))
            self.assertEqual(s.request("PUT", "/api/v1/sessions/rl", {"label": "z"}).status, 200)
            lines = wait_for(lambda: len(notices()) == 2 and notices(),
                             what="the second notice line")
            m = re.search(r" repeated=(\d+)$", lines[1])
            self.assertIsNotNone(m, lines[1])
            self.assertEqual(int(m.group(1)), sent)
        finally:
            s.stop()


if __name__ == "__main__":
    unittest.main()
