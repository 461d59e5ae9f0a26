"""The systemd units are sandboxed: systemd-analyze rates each 2.0 or lower.

`systemd-analyze security --offline=yes` scores a unit file without a
running systemd; the score is read from its last line ("Overall exposure
level for <unit>: N.N").  Before issue 13 the responder's unit scored 3.2.
"""
import os
import re
import shutil
import subprocess
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY = os.path.join(ROOT, "deploy")
UNITS = ("livestatus-watcher.service", "livestatus-fcgi.service")


def exposure(unit):
    p = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", unit],
                       cwd=DEPLOY, capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for %s: (\d+\.\d+)" % re.escape(unit),
                  p.stdout + p.stderr)
    if m is None:
        raise AssertionError("no score for %s:\n%s" % (unit, (p.stdout + p.stderr)[-2000:]))
    return float(m.group(1))


class UnitSandbox(unittest.TestCase):
    def setUp(self):
        if shutil.which("systemd-analyze") is None:
            self.fail("systemd-analyze is missing (Debian's systemd package)")

    def test_each_unit_rates_2_0_or_lower(self):
        for unit in UNITS:
            with self.subTest(unit=unit):
                self.assertLessEqual(exposure(unit), 2.0)

    def test_system_call_filter_allows_first_then_denies(self):
        # a deny list given first would turn a later allow list into exceptions
        for unit in UNITS:
            with open(os.path.join(DEPLOY, unit)) as f:
                filters = [ln.split("=", 1)[1].strip() for ln in f
                           if ln.startswith("SystemCallFilter=")]
            with self.subTest(unit=unit):
                self.assertEqual(filters[0], "@system-service")
                self.assertTrue(all(x.startswith("~") for x in filters[1:]), filters)


if __name__ == "__main__":
    unittest.main()


def expand(group, seen=None):
    """The system calls of a systemd filter group, nested groups expanded."""
    seen = set() if seen is None else seen
    if group in seen:
        return set()
    seen.add(group)
    out = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager", group],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        if name.startswith("@"):
            calls |= expand(name, seen)
        else:
            calls.add(name)
    return calls


def unit_allow_list(unit):
    """The calls a unit's SystemCallFilter= lines allow (an allow list, then denials)."""
    with open(os.path.join(DEPLOY, unit)) as f:
        filters = [ln.split("=", 1)[1].split() for ln in f if ln.startswith("SystemCallFilter=")]
    allowed = set()
    for words in filters:
        deny = words[0].startswith("~")
        groups = [w.lstrip("~") for w in words]
        calls = set()
        for g in groups:
            calls |= expand(g) if g.startswith("@") else {g}
        allowed = allowed - calls if deny else allowed | calls
    return allowed


class ProgramsUnderTheFilter(unittest.TestCase):
    """Both programs start and serve under their unit's system call filter."""

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.tmp = tempfile.mkdtemp(prefix="ls-sandbox-")
        cls.runner = os.path.join(cls.tmp, "sandbox_run")
        subprocess.run(["cc", "-O2", "-o", cls.runner,
                        os.path.join(ROOT, "tests", "security", "sandbox_run.c"), "-lseccomp"],
                       check=True, capture_output=True)
        cls.allowed = {}
        for unit in UNITS:
            path = os.path.join(cls.tmp, unit + ".allow")
            with open(path, "w") as f:
                f.write("\n".join(sorted(unit_allow_list(unit))) + "\n")
            cls.allowed[unit] = path

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_the_filter_refuses_what_it_should(self):
        # the filter is real: a call the unit denies fails inside it
        nice = shutil.which("nice")
        p = subprocess.run([self.runner, self.allowed["livestatus-fcgi.service"], nice, "-n",
                            "5", "true"], capture_output=True, text=True, timeout=30)
        self.assertIn("Operation not permitted", p.stderr)  # setpriority is @resources
        p = subprocess.run([nice, "-n", "5", "true"], capture_output=True, text=True, timeout=30)
        self.assertNotIn("Operation not permitted", p.stderr)  # allowed without the filter

    def test_responder_serves_under_its_filter(self):
        import sys
        sys.path.insert(0, os.path.join(ROOT, "tests", "integ"))
        from harness import Stack, build_dir

        runner, allowed = self.runner, self.allowed["livestatus-fcgi.service"]

        class Sandboxed(Stack):
            def _start_responder(self):
                real = self.start_process

                def wrapped(name, argv, env=None):
                    # LeakSanitizer needs ptrace, which no unit allows
                    env = dict(env if env is not None else os.environ,
                               ASAN_OPTIONS="detect_leaks=0:abort_on_error=0")
                    return real(name, [runner, allowed] + argv, env)
                self.start_process = wrapped
                try:
                    super()._start_responder()
                finally:
                    self.start_process = real

        with Sandboxed() as s:
            self.assertEqual(s.request("GET", "/api/v1/health").status, 200)
            r = s.request("POST", "/api/v1/sessions",
                          body={"session_key": "agent:main:sandbox", "channel_id": "c1"})
            self.assertIn(r.status, (200, 201), r.json)
            r = s.request("GET", "/api/v1/sessions")
            self.assertEqual(r.status, 200)
            self.assertEqual(len(r.json["sessions"]) if isinstance(r.json, dict) else len(r.json),
                             1)
        self.assertTrue(os.path.exists(build_dir()))

    def test_watcher_follows_and_stops_under_its_filter(self):
        import signal
        import sys
        sys.path.insert(0, os.path.join(ROOT, "tests", "integ"))
        from wharness import WATCHER, WatcherCase, assistant, header, wait_for

        case = WatcherCase()
        case.setUp()
        try:
            log = open(case.log_path, "ab")
            proc = subprocess.Popen([self.runner, self.allowed["livestatus-watcher.service"],
                                     WATCHER, "run"],
                                    env=case.watcher_env(
                                        HEALTH_PORT="0",
                                        ASAN_OPTIONS="detect_leaks=0:abort_on_error=0"),
                                    stdout=log, stderr=log)
            try:
                wait_for(lambda: proc.poll() is not None or case.heartbeat(), 30,
                         what="the first heartbeat under the filter")
                self.assertIsNone(proc.poll(), case.log())
                case.lock("s.jsonl")
                case.append("s.jsonl", header("s"), assistant(["Sandboxed."], stop="stop"))
                case.unlock("s.jsonl")
                wait_for(lambda: case.boxes() and case.boxes()[0]["status"] == "done", 30,
                         what="the box under the filter")
                proc.send_signal(signal.SIGTERM)
                self.assertEqual(proc.wait(timeout=30), 0, case.log())
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                log.close()
        finally:
            case.tearDown()
