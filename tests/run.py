#!/usr/bin/env python3
"""The livestatus test runner: every unit and integration test, one summary.

  python3 tests/run.py --build build [--asan-build build/asan] [-k PATTERN]

For each build given, it runs the cmocka unit binaries in <build>/tests/
and the Python integration tests tests/integ/test_*.py (unittest, with
LIVESTATUS_BUILD=<build> so they start that build's programs), then the
webapp's tests once (plugin/, when present).  With --openclaw, also the
real-OpenClaw tests (tests/openclaw/test_openclaw.py) once, with the first
build; --openclaw-only runs just those (make test-openclaw).  It prints one line per test
file and closes with the plain summary line "N passed, N failed" (and
", N skipped" when some were skipped); the exit status is 1 on any failure.
"""

import argparse
import glob
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.failures = []

    def add(self, name, passed, failed, skipped=0, detail=""):
        self.passed += passed
        self.failed += failed
        self.skipped += skipped
        state = "ok" if failed == 0 else "FAIL"
        extra = f", {skipped} skipped" if skipped else ""
        print(f"{state:4} {name}: {passed} passed, {failed} failed{extra}", flush=True)
        if failed:
            self.failures.append((name, detail))


def run_units(build, tally, pattern):
    for binary in sorted(glob.glob(os.path.join(build, "tests", "test_*"))):
        if binary.endswith(".d") or not os.access(binary, os.X_OK):
            continue
        name = f"{build}: unit {os.path.basename(binary)}"
        if pattern and not re.search(pattern, name):
            continue
        env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="stdout", LIVESTATUS_BUILD=build)
        start = time.monotonic()
        try:
            proc = subprocess.run([binary], cwd=ROOT, env=env, capture_output=True,
                                  text=True, errors="replace", timeout=300)
            out, rc = proc.stdout + proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as e:
            out, rc = f"timed out after {e.timeout}s", -1
        passed = sum(int(m) for m in re.findall(r"\[  PASSED  \] (\d+) test", out))
        failed = sum(int(m) for m in re.findall(r"\[  FAILED  \] (\d+) test", out))
        skipped = sum(int(m) for m in re.findall(r"\[  SKIPPED \] (\d+) test", out))
        if rc != 0 and failed == 0:
            failed = 1  # crashed or sanitizer abort: count the binary itself
        if passed + failed == 0:
            failed = 1  # a binary that ran no test is a failure, not a pass
        tally.add(f"{name} ({time.monotonic() - start:.1f}s)", passed, failed, skipped, out[-6000:])


def run_module(tally, name, module, timeout=900):
    """One unittest module in its own interpreter, counted into tally."""
    start = time.monotonic()
    # Each file in its own interpreter: a hung or crashing file cannot
    # take the others with it, and module state never leaks across.
    cmd = [sys.executable, "-m", "unittest", "-v", module]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                              errors="replace", timeout=timeout,
                              env=dict(os.environ, PYTHONUNBUFFERED="1"))
        out, rc = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = f"timed out after {e.timeout}s\n{e.stdout or ''}{e.stderr or ''}", -1
    ran = re.search(r"^Ran (\d+) tests?", out, re.M)
    total = int(ran.group(1)) if ran else 0
    fails = re.search(r"^FAILED \(([^)]*)\)", out, re.M)
    failed = skipped = 0
    if fails:
        for part in fails.group(1).split(","):
            k, _, v = part.strip().partition("=")
            if k in ("failures", "errors"):
                failed += int(v)
            elif k == "skipped":
                skipped += int(v)
    else:
        m = re.search(r"^OK \(skipped=(\d+)\)", out, re.M)
        skipped = int(m.group(1)) if m else 0
    if rc != 0 and failed == 0:
        failed = 1
    if total == 0 and failed == 0:
        failed = 1  # a file that ran nothing is a failure
    passed = max(total - failed - skipped, 0)
    tally.add(f"{name} ({time.monotonic() - start:.1f}s)", passed, failed, skipped, out[-8000:])


def run_integ(build, tally, pattern):
    os.environ["LIVESTATUS_BUILD"] = build
    # tests/integ: the parts together; tests/security: hostile input and neighbours
    files = [(suite, path) for suite in ("integ", "security")
             for path in sorted(glob.glob(os.path.join(ROOT, "tests", suite, "test_*.py")))]
    for suite, path in files:
        mod = os.path.splitext(os.path.basename(path))[0]
        name = f"{build}: {suite} {mod}"
        if pattern and not re.search(pattern, name):
            continue
        run_module(tally, name, f"tests.{suite}.{mod}")


def run_openclaw(build, tally, pattern):
    """Real OpenClaw (tests/openclaw), once, with the first build: it installs Node and
    OpenClaw into a cache folder when missing and fails (never skips) when it cannot."""
    os.environ["LIVESTATUS_BUILD"] = build
    name = f"{build}: openclaw test_openclaw"
    if pattern and not re.search(pattern, name):
        return
    run_module(tally, name, "tests.openclaw.test_openclaw", timeout=1200)


def run_plugin(tally, pattern):
    if not os.path.exists(os.path.join(ROOT, "plugin", "package.json")):
        return
    name = "plugin: webapp"
    if pattern and not re.search(pattern, name):
        return
    start = time.monotonic()
    proc = subprocess.run(["make", "--no-print-directory", "-C", "plugin", "test"], cwd=ROOT,
                          capture_output=True, text=True, errors="replace", timeout=900)
    out = proc.stdout + proc.stderr
    m = re.search(r"Tests\s+(?:(\d+) failed \| )?(\d+) passed", out)
    failed = int(m.group(1) or 0) if m else 0
    passed = int(m.group(2)) if m else 0
    if proc.returncode != 0 and failed == 0:
        failed = 1
    if passed + failed == 0:
        failed = 1
    tally.add(f"{name} ({time.monotonic() - start:.1f}s)", passed, failed, 0, out[-6000:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--asan-build")
    ap.add_argument("-k", dest="pattern", help="only tests whose name matches this regex")
    ap.add_argument("--no-plugin", action="store_true")
    ap.add_argument("--openclaw", action="store_true",
                    help="also run tests/openclaw (real OpenClaw) once, with the first build")
    ap.add_argument("--openclaw-only", action="store_true",
                    help="run only tests/openclaw (make test-openclaw)")
    args = ap.parse_args()
    os.chdir(ROOT)
    tally = Tally()
    builds = [args.build] + ([args.asan_build] if args.asan_build else [])
    if args.openclaw_only:
        run_openclaw(args.build, tally, args.pattern)
    else:
        for build in builds:
            run_units(build, tally, args.pattern)
            run_integ(build, tally, args.pattern)
        if args.openclaw:
            run_openclaw(args.build, tally, args.pattern)
        if not args.no_plugin:
            run_plugin(tally, args.pattern)
    for name, detail in tally.failures:
        print(f"\n===== {name} =====\n{detail}")
    print()
    skipped = f", {tally.skipped} skipped" if tally.skipped else ""
    print(f"{tally.passed} passed, {tally.failed} failed{skipped}")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
