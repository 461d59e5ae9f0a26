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
