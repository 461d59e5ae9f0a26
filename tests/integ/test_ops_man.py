"""The man pages: mandoc lint clean, and complete about configuration.

mandoc -T lint implies -W all.  The only message allowed is the STYLE note
that a cross-reference to one of our own pages is "not found": mandoc looks
for it among the installed manuals, and these are not installed yet.

Completeness: every environment variable the C code reads (cfg_*() and
getenv() calls) is described in livestatus(7) and in the page of the
program that reads it, and the upgrade guide names every v4.1 variable.
"""

import glob
import os
import re
import shutil
import subprocess
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGES = ("live-status.1", "livestatus.7", "livestatus-fcgi.8", "livestatus-watcher.8")
OWN = re.compile(r"referenced manual not found: Xr (live-status 1|livestatus 7|"
                 r"livestatus-fcgi 8|livestatus-watcher 8)\b")
V41 = ("MM_TOKEN", "MM_BOT_TOKEN", "MM_URL", "MM_BASE_URL", "TRANSCRIPT_DIR", "SESSIONS_JSON",
       "THROTTLE_MS", "IDLE_TIMEOUT_S", "MAX_SESSION_DURATION_S", "MAX_STATUS_LINES",
       "MAX_ACTIVE_SESSIONS", "MAX_MESSAGE_CHARS", "LOG_LEVEL", "PID_FILE",
       "CIRCUIT_BREAKER_THRESHOLD", "CIRCUIT_BREAKER_COOLDOWN_S", "TOOL_LABELS_FILE",
       "DEFAULT_CHANNEL", "PLUGIN_URL", "PLUGIN_SECRET", "PLUGIN_ENABLED")
ENV_CALL = re.compile(r'\b(?:cfg_(?:long|bool|str|choice|env)|getenv|secure_getenv)\(\s*'
                      r'"([A-Z][A-Z0-9_]*)"(?:\s*,\s*"([A-Z][A-Z0-9_]*)")?')


def env_names(folder):
    names = set()
    for path in glob.glob(os.path.join(ROOT, folder, "*.[ch]")):
        with open(path, errors="replace") as f:
            for m in ENV_CALL.finditer(f.read()):
                names.update(n for n in m.groups() if n)
    # Variables read only by tests or debugging hooks are not configuration.
    return {n for n in names if not n.startswith("LIVESTATUS_TEST")}


def page(name):
    with open(os.path.join(ROOT, "man", name)) as f:
        return f.read()


class ManTest(unittest.TestCase):
    def test_pages_exist(self):
        for p in PAGES:
            self.assertTrue(os.path.exists(os.path.join(ROOT, "man", p)), p)

    @unittest.skipUnless(shutil.which("mandoc"), "mandoc is not installed")
    def test_lint_clean(self):
        for p in PAGES:
            proc = subprocess.run(["mandoc", "-T", "lint", os.path.join("man", p)], cwd=ROOT,
                                  capture_output=True, text=True)
            msgs = [l for l in (proc.stdout + proc.stderr).splitlines()
                    if l.strip() and not OWN.search(l) and "mandoc.db" not in l]
            self.assertEqual(msgs, [], p)

    @unittest.skipUnless(shutil.which("mandoc"), "mandoc is not installed")
    def test_renders(self):
        for p in PAGES:
            proc = subprocess.run(["mandoc", "-T", "utf8", os.path.join("man", p)], cwd=ROOT,
                                  capture_output=True, text=True)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            for section in ("NAME", "DESCRIPTION", "SEE ALSO"):
                self.assertIn(section, re.sub(".\b", "", proc.stdout), p)

    def test_every_variable_is_documented(self):
        seven = page("livestatus.7")
        for folder, name in (("watcher", "livestatus-watcher.8"), ("fcgi", "livestatus-fcgi.8"),
                             ("common", None), ("sql", None)):
            for var in sorted(env_names(folder)):
                self.assertRegex(seven, rf"\b{var}\b", f"{var} ({folder}/) not in livestatus.7")
                if name:
                    self.assertRegex(page(name), rf"\b{var}\b", f"{var} not in {name}")
        cli = page("live-status.1")
        for var in sorted(env_names("cli")):
            self.assertRegex(cli, rf"\b{var}\b", f"{var} not in live-status.1")

    def test_every_v41_variable_is_in_the_upgrade_guide_and_manual(self):
        with open(os.path.join(ROOT, "docs", "upgrading-from-v4.md")) as f:
            guide = f.read()
        seven = page("livestatus.7")
        for var in V41:
            self.assertIn(f"`{var}`", guide, var)
            self.assertRegex(seven, rf"\b{var}\b", var)

    def test_exit_status_sections(self):
        for p in ("live-status.1", "livestatus-fcgi.8", "livestatus-watcher.8", "livestatus.7"):
            self.assertIn(".Sh EXIT STATUS", page(p), p)


if __name__ == "__main__":
    unittest.main()
