"""End to end in a real browser: the watcher plays the fixture session, nginx
and the responder serve it, and tests/e2e/run.mjs drives Debian's chromium
over the plugin's demo page (see tests/e2e/README.md).  Once with nchan
pushing notices, once with nginx's nchan locations left out, where the
webapp must fall back to polling.
"""
import os
import re
import subprocess
import sys
import unittest

from tests.integ.harness import Stack

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "agents", "main", "sessions")
OUT = os.path.join(ROOT, "tests", "out", os.path.basename(os.environ.get("LIVESTATUS_BUILD", "build")))


def setUpModule():
    # The page and the browser driver come from the webapp's build.
    subprocess.run(["make", "--no-print-directory", "-C", "plugin", "build"], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)


class BrowserEndToEnd(unittest.TestCase):
    def run_e2e(self, nchan):
        with Stack(env={"READ_AUTH": "none"}, nchan=nchan) as s:
            agents = os.path.join(s.tmp, "agents")
            sessions = os.path.join(agents, "main", "sessions")
            os.makedirs(sessions)
            build = os.environ.get("LIVESTATUS_BUILD", "build")
            wenv = dict(os.environ, TRANSCRIPT_DIR=agents, LIVESTATUS_DB=s.db,
                        PID_FILE=os.path.join(s.tmp, "watcher.pid"),
                        REVISION_DIR=s.revision_dir)
            if s.publish_url:
                wenv["PUBLISH_URL"] = s.publish_url
            s.start_process("watcher", [os.path.join(ROOT, build, "livestatus-watcher"), "run"],
                            wenv)
            s.wait_for(lambda: s.request("GET", "/api/v1/health").json["watcher"]["alive"],
                       timeout=30, what="watcher heartbeat")
            drive = f"{sys.executable} tests/player.py {FIXTURE} {sessions} --speed 4 --max-pause 1.5"
            env = dict(os.environ, LIVESTATUS_E2E_URL=s.url, PLUGIN_SECRET=s.secret,
                       E2E_STREAM="on" if nchan else "off", E2E_DRIVE_CMD=drive, E2E_OUT=OUT)
            proc = subprocess.run(["node", "tests/e2e/run.mjs"], cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=300)
            out = proc.stdout + proc.stderr
            m = re.search(r"^(\d+) passed, (\d+) failed", out, re.M)
            self.assertIsNotNone(m, out[-4000:])
            self.assertEqual(int(m.group(2)), 0, out[-4000:])
            self.assertGreater(int(m.group(1)), 0, out[-4000:])
            self.assertEqual(proc.returncode, 0, out[-4000:])

    def test_push_through_nchan(self):
        self.run_e2e(nchan=True)

    def test_polling_fallback_without_nchan(self):
        self.run_e2e(nchan=False)


if __name__ == "__main__":
    unittest.main()
