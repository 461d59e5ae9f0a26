"""deploy/openclaw-hook/handler.js: the gateway:startup hook.

The hook runs under node with fake `livestatus-watcher` and `systemctl`
programs first on PATH; each records its arguments, so the test sees
whether the hook started a watcher.  A watcher that systemd runs (its
unit active, system or user manager) must not get a second one next to
it: its PID file is not the one the hook's `status` looks at.  The watcher
it starts gets the env file the systemd unit reads (LIVESTATUS_ENV_FILE
here, /etc/livestatus/livestatus.env by default) under the gateway's own
variables.
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
  "livestatus-watcher status") env > "$HOOK_CALLS.status-env"; exit 3 ;;
  "livestatus-watcher start") env > "$HOOK_CALLS.start-env"; echo "started (pid 4242)"; exit 0 ;;
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
        env.setdefault("LIVESTATUS_ENV_FILE", os.path.join(self.tmp, "no-such.env"))
        for name in ("MM_URL", "MM_TOKEN", "PLUGIN_SECRET", "LOG_LEVEL", "TRANSCRIPT_DIR",
                     "LOG_FILE", "PID_FILE"):
            env.pop(name, None)
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

    def started_env(self, which="start"):
        with open(f"{self.calls}.{which}-env") as f:
            return dict(l.split("=", 1) for l in f.read().splitlines() if "=" in l)

    def test_reads_the_env_file_the_unit_reads(self):
        self.fake("livestatus-watcher")
        self.fake("systemctl")
        env_file = os.path.join(self.tmp, "livestatus.env")
        with open(env_file, "w") as f:
            f.write("# v4.1's file, copied over\n"
                    "MM_URL=https://chat.example.com\n"
                    "MM_TOKEN = 'bot token'\n"
                    'PLUGIN_SECRET="s3cret \\"x\\""\n'
                    "export LOG_LEVEL=warn\n"
                    "PID_FILE=/tmp/from-file.pid\n"
                    "TRANSCRIPT_DIR=/srv/openclaw/agents\n"
                    "; a comment\n"
                    "not an assignment\n")
        # The gateway's own LOG_LEVEL wins over the file's.
        calls, proc = self.run_hook(LIVESTATUS_ENV_FILE=env_file, LOG_LEVEL="debug")
        self.assertIn("livestatus-watcher start", calls)
        for which in ("status", "start"):  # status must look at the same PID_FILE
            env = self.started_env(which)
            self.assertEqual(env["MM_URL"], "https://chat.example.com")
            self.assertEqual(env["MM_TOKEN"], "bot token")
            self.assertEqual(env["PLUGIN_SECRET"], 's3cret "x"')
            self.assertEqual(env["LOG_LEVEL"], "debug")
            self.assertEqual(env["PID_FILE"], "/tmp/from-file.pid")
            # The file's TRANSCRIPT_DIR, not the hook's default under OPENCLAW_STATE_DIR.
            self.assertEqual(env["TRANSCRIPT_DIR"], "/srv/openclaw/agents")
        self.assertNotIn("s3cret", proc.stdout + proc.stderr)

    def test_missing_or_unreadable_env_file(self):
        self.fake("livestatus-watcher")
        self.fake("systemctl")
        calls, proc = self.run_hook()  # no file: the gateway's environment and the defaults
        self.assertIn("livestatus-watcher start", calls)
        env = self.started_env()
        self.assertNotIn("MM_URL", env)
        self.assertEqual(env["TRANSCRIPT_DIR"], os.path.join(self.tmp, "state", "agents"))
        self.assertEqual(proc.stderr, "")
        # A folder where the file should be cannot be read: said, and the watcher still starts.
        os.remove(f"{self.calls}.start-env")
        calls, proc = self.run_hook(LIVESTATUS_ENV_FILE=self.tmp)
        self.assertIn("livestatus-watcher start", calls)
        self.assertIn(f"cannot read {self.tmp}", proc.stderr)

    def test_other_events_do_nothing(self):
        self.fake("livestatus-watcher")
        self.fake("systemctl")
        calls, _ = self.run_hook(event={"type": "command", "action": "new"})
        self.assertEqual(calls, [])


if __name__ == "__main__":
    unittest.main()
