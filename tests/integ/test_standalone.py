"""The repository stands alone: nothing it tracks reads or names a folder beside it.

The sample agent folder the tests, `make demo` and `make bench` play is
tests/fixtures/agents/, written by tests/fixtures/make_fixture.py; the
committed copy must be exactly what the script writes.
"""
import os
import subprocess
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "fixtures"))

import make_fixture  # noqa: E402

# Built here so that this file does not name them itself.
SIBLING = "../" + "shared"
SIBLING_VAR = "LIVESTATUS_" + "SHARED"
SKIP_DIRS = {".git", "build", "node_modules", "dist", "out"}


def tracked_files():
    """The files git tracks, or every file outside build output when this is no checkout."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True).stdout
        names = [n for n in out.decode().split("\0") if n]
        if names:
            return names
    except (OSError, subprocess.CalledProcessError):
        pass
    names = []
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        names += [os.path.relpath(os.path.join(top, f), ROOT) for f in files]
    return names


class Standalone(unittest.TestCase):
    def test_committed_fixture_is_what_the_writer_makes(self):
        self.assertTrue(make_fixture.check(), "tests/fixtures/agents/main/sessions is stale: "
                        "run python3 tests/fixtures/make_fixture.py")

    def test_fixture_has_the_documented_scenario(self):
        with open(os.path.join(make_fixture.DEFAULT_DEST, "sessions.json")) as f:
            index = f.read()
        self.assertIn(make_fixture.PARENT_KEY, index)
        self.assertIn('"spawnedBy": "%s"' % make_fixture.PARENT_KEY, index)
        parent = os.path.join(make_fixture.DEFAULT_DEST, make_fixture.PARENT_SID + ".jsonl")
        with open(parent) as f:
            text = f.read()
        for needed in ('"name":"exec"', '"name":"read"', '"isError":true', '"thinking"',
                       '"name":"sessions_spawn"', '"usage"'):
            self.assertIn(needed, text)

    def test_no_tracked_file_names_a_sibling_folder(self):
        found = []
        for name in tracked_files():
            path = os.path.join(ROOT, name)
            if not os.path.isfile(path) or os.path.islink(path):
                continue
            with open(path, "rb") as f:
                data = f.read()
            for needle in (SIBLING, SIBLING_VAR):
                if needle.encode() in data:
                    found.append(f"{name}: {needle}")
        self.assertEqual(found, [], "the repository must stand alone")


if __name__ == "__main__":
    unittest.main()
