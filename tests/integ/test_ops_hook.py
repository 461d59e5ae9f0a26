"""deploy/openclaw-hook/handler.js: the gateway:startup hook.

The hook runs under node with fake `livestatus-watcher` and `systemctl`
programs first on PATH; each records its arguments, so the test sees
whether the hook started a watcher.  A watcher that systemd runs (its
unit active, system or user manager) must not get a second one next to
it: its PID file is not the one the hook's `status` looks at.
"""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HANDLER = os.path.join(ROOT, "deploy", "openclaw-hook", "handler.js")
NODE = shutil.which("node") or shutil.which("nodejs")

FAKE = """#!/bin/sh
echo "$(basename "$0") $*" >> "$HOOK_CALLS"
case "$(basename "$0") $*" in
  "systemctl is-active --quiet livestatus-watcher") exit "${FAKE_SYSTEM_ACTIVE:-3}" ;;
  "systemctl --user is-active --quiet livestatus-watcher") exit "${FAKE_USER_ACTIVE:-3}" ;;
  "systemctl "*) exit 1 ;;
  "livestatus-watcher status") exit 3 ;;
  "livestatus-watcher start") echo "started (pid 4242)"; exit 0 ;;
esac
exit 2
"""


@unittest.skipIf(NODE is None, "node not installed")
class TestHook(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="lshook-")
        self.bin = os.path.join(self.tmp, "bin")
        os.mkdir(self.bin)
        self.calls = os.path.join(self.tmp, "calls")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def fake(self, name):
        path = os.path.join(self.bin, name)
        with open(path, "w") as f:
            f.write(FAKE)
        os.chmod(path, 0o755)

    def run_hook(self, event=None, **env_extra):
        env = dict(os.environ, PATH=self.bin + os.pathsep + "/usr/bin:/bin",
                   HOOK_CALLS=self.calls, OPENCLAW_STATE_DIR=os.path.join(self.tmp, "state"))
        env.pop("LIVESTATUS_WATCHER_BIN", None)
        env.update(env_extra)
        event = event or {"type": "gateway", "action": "startup"}
        script = ("import(%s).then(m => m.default(%s)).catch(e => { console.error(e); "
                  "process.exit(1); });" % (json.dumps("file://" + HANDLER), json.dumps(event)))
        proc = subprocess.run([NODE, "--input-type=module", "-e", script], env=env,
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        try:
            with open(self.calls) as f:
                calls = f.read().splitlines()
        except FileNotFoundError:
            calls = []
        return calls, proc

    def test_starts_when_nothing_runs(self):
        self.fake("livestatus-watcher")
        self.fake("systemctl")
        calls, proc = self.run_hook()
        self.assertIn("livestatus-watcher start", calls)
        self.assertIn("started (pid 4242)", proc.stdout)

    def test_skips_when_the_systemd_unit_is_active(self):
        self.fake("livestatus-watcher")
        self.fake("systemctl")
        calls, proc = self.run_hook(FAKE_SYSTEM_ACTIVE="0")
        self.assertIn("systemctl is-active --quiet livestatus-watcher", calls)
        self.assertNotIn("livestatus-watcher start", calls)

    def test_skips_when_the_user_unit_is_active(self):
        self.fake("livestatus-watcher")
        self.fake("systemctl")
        calls, _ = self.run_hook(FAKE_USER_ACTIVE="0")
        self.assertIn("systemctl --user is-active --quiet livestatus-watcher", calls)
        self.assertNotIn("livestatus-watcher start", calls)

    def test_starts_without_systemctl(self):
        self.fake("livestatus-watcher")
        calls, _ = self.run_hook()
        self.assertIn("livestatus-watcher start", calls)

    def test_other_events_do_nothing(self):
        self.fake("livestatus-watcher")
        self.fake("systemctl")
        calls, _ = self.run_hook(event={"type": "command", "action": "new"})
        self.assertEqual(calls, [])


if __name__ == "__main__":
    unittest.main()
