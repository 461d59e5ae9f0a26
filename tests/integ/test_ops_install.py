"""make install / make uninstall into a DESTDIR, and install.sh --dry-run.

The expected file list is written out here from the tree (programs, units
of deploy/, the nginx snippet, the env example, the hook folder, the man
pages), so the test catches a file installed twice, one left out, or one
that uninstall leaves behind.
"""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("LIVESTATUS_BUILD", "build")
PROGRAMS = ("livestatus-watcher", "livestatus-fcgi", "live-status")
MAN_PAGES = ("man1/live-status.1", "man7/livestatus.7", "man8/livestatus-fcgi.8",
             "man8/livestatus-watcher.8")


def make_cmd():
    """make with the top Makefile once it includes mk/install.mk, else alone."""
    with open(os.path.join(ROOT, "Makefile")) as f:
        included = "mk/install.mk" in f.read()
    cmd = ["make", "--no-print-directory", "-f", "Makefile" if included else "mk/install.mk",
           f"BUILD={BUILD}"]
    if included and os.path.normpath(BUILD).endswith("asan"):
        cmd.append("SAN=1")  # `install: all` must not rebuild asan objects plainly
    return cmd


def expected_files(prefix):
    p = prefix.lstrip("/")
    files = {f"{p}/bin/{b}" for b in PROGRAMS}
    for u in glob.glob(os.path.join(ROOT, "deploy", "*.service")) + \
            glob.glob(os.path.join(ROOT, "deploy", "*.socket")):
        files.add(f"{p}/lib/systemd/system/{os.path.basename(u)}")
    for n in glob.glob(os.path.join(ROOT, "nginx", "livestatus*.conf")):
        files.add(f"{p}/share/livestatus/nginx/{os.path.basename(n)}")
    if os.path.exists(os.path.join(ROOT, "deploy", "livestatus.env.example")):
        files.add(f"{p}/share/livestatus/livestatus.env.example")
    hook = os.path.join(ROOT, "deploy", "openclaw-hook")
    for dirpath, _, names in os.walk(hook):
        for n in names:
            if n.startswith(".") or n.endswith("~"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, n), hook)
            files.add(f"{p}/share/livestatus/openclaw-hook/{rel}")
    for m in MAN_PAGES:
        files.add(f"{p}/share/man/{m}")
    return files


def tree(root):
    files, dirs = set(), set()
    for dirpath, dnames, names in os.walk(root):
        for d in dnames:
            dirs.add(os.path.relpath(os.path.join(dirpath, d), root))
        for n in names:
            files.add(os.path.relpath(os.path.join(dirpath, n), root))
    return files, dirs


class InstallTest(unittest.TestCase):
    def setUp(self):
        for b in PROGRAMS:
            if not os.access(os.path.join(ROOT, BUILD, b), os.X_OK):
                self.skipTest(f"{BUILD}/{b} is not built")
        self.dest = tempfile.mkdtemp(prefix="ls-install-")
        self.addCleanup(shutil.rmtree, self.dest, True)

    def make(self, *args):
        proc = subprocess.run(make_cmd() + list(args), cwd=ROOT, capture_output=True, text=True,
                              timeout=600)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        return proc.stdout

    def check_install(self, prefix):
        self.make("install", f"DESTDIR={self.dest}", f"PREFIX={prefix}")
        files, _ = tree(self.dest)
        want = expected_files(prefix)
        self.assertEqual(sorted(files - want), [], "installed but not expected")
        self.assertEqual(sorted(want - files), [], "expected but not installed")
        for b in PROGRAMS:
            path = os.path.join(self.dest, prefix.lstrip("/"), "bin", b)
            self.assertTrue(os.access(path, os.X_OK), path)
            mode = os.stat(path).st_mode & 0o777
            self.assertEqual(mode, 0o755, path)
        for f in files:
            if "/bin/" not in f:
                mode = os.stat(os.path.join(self.dest, f)).st_mode & 0o777
                self.assertEqual(mode, 0o644, f)
        # The units start the programs where this prefix put them.
        for u in glob.glob(os.path.join(self.dest, prefix.lstrip("/"), "lib/systemd/system/*")):
            with open(u) as fh:
                text = fh.read()
            for line in text.splitlines():
                if line.startswith("ExecStart") and "livestatus" in line:
                    self.assertIn(f"{prefix}/bin/", line, u)
        # The list `make install-list` prints is the same set.
        listed = {l.lstrip("/") for l in self.make("install-list", f"PREFIX={prefix}").split()}
        self.assertEqual(listed, want)

    def check_uninstall(self, prefix):
        self.make("uninstall", f"DESTDIR={self.dest}", f"PREFIX={prefix}")
        files, dirs = tree(self.dest)
        self.assertEqual(sorted(files), [], "files left by uninstall")
        self.assertEqual(sorted(d for d in dirs if "livestatus" in d or "openclaw" in d), [],
                         "folders of livestatus left by uninstall")

    def test_install_and_uninstall_default_prefix(self):
        self.check_install("/usr/local")
        self.check_uninstall("/usr/local")

    def test_install_twice_then_uninstall_with_prefix_usr(self):
        self.check_install("/usr")
        self.check_install("/usr")  # idempotent: same files, nothing extra
        self.check_uninstall("/usr")
        # A second uninstall finds nothing to do and still succeeds.
        self.check_uninstall("/usr")

    def test_uninstall_keeps_files_that_are_not_ours(self):
        self.check_install("/usr/local")
        other = os.path.join(self.dest, "usr/local/bin/someone-else")
        with open(other, "w") as f:
            f.write("#!/bin/sh\n")
        self.make("uninstall", f"DESTDIR={self.dest}", "PREFIX=/usr/local")
        files, _ = tree(self.dest)
        self.assertEqual(files, {"usr/local/bin/someone-else"})


class InstallScriptTest(unittest.TestCase):
    def run_script(self, *args, env=None):
        e = dict(os.environ)
        e.update(env or {})
        return subprocess.run(["sh", os.path.join(ROOT, "install.sh")] + list(args), cwd=ROOT,
                              capture_output=True, text=True, timeout=120, env=e)

    def test_help(self):
        proc = self.run_script("--help")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        for word in ("--dry-run", "--prefix", "--openclaw-dir", "--no-deps", "--no-enable",
                     "--with-hook"):
            self.assertIn(word, proc.stdout)
        proc = self.run_script("--bogus")
        self.assertEqual(proc.returncode, 2)
        self.assertIn("unknown option: --bogus", proc.stderr)

    def test_dry_run_prints_every_step_and_changes_nothing(self):
        tmp = tempfile.mkdtemp(prefix="ls-dry-")
        self.addCleanup(shutil.rmtree, tmp, True)
        state = os.path.join(tmp, "openclaw")
        os.makedirs(os.path.join(state, "hooks"))
        prefix = os.path.join(tmp, "prefix")

        def snapshot():
            try:
                user = pwd.getpwnam("livestatus") is not None
            except KeyError:
                user = False
            return (user, os.path.exists("/var/lib/livestatus"),
                    os.path.exists("/etc/livestatus"),
                    sorted(os.listdir(os.path.join(state, "hooks"))),
                    os.path.exists(prefix), self.head_state())

        before = snapshot()
        proc = self.run_script("--dry-run", "--prefix", prefix, "--openclaw-dir", state,
                               "--with-hook", env={"OPENCLAW_STATE_DIR": ""})
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        out = proc.stdout
        self.assertIn("dry run: nothing is changed", out)
        self.assertIn(f"+ make -C {ROOT} -j2 all", out)
        self.assertIn(f"install PREFIX={prefix}", out)
        if not before[0]:
            self.assertRegex(out, r"\+ useradd .*livestatus")
        if not before[1]:
            self.assertIn("/var/lib/livestatus", out)
        if os.path.isdir(os.path.join(ROOT, "deploy", "openclaw-hook")):
            self.assertIn(f"+ cp -R {prefix}/share/livestatus/openclaw-hook "
                          f"{state}/hooks/livestatus-watcher", out)
        self.assertEqual(snapshot(), before)
        # No secret is ever printed, even a generated one.
        self.assertNotRegex(out, r"PLUGIN_SECRET=[0-9a-f]{16,}")

    def head_state(self):
        """What a dry run must not touch in the tree: the build output."""
        exe = os.path.join(ROOT, BUILD, "live-status")
        return os.path.getmtime(exe) if os.path.exists(exe) else None

    def test_shell_is_posix(self):
        proc = subprocess.run(["sh", "-n", os.path.join(ROOT, "install.sh")], capture_output=True,
                              text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        if shutil.which("shellcheck"):
            proc = subprocess.run(["shellcheck", "-s", "sh", os.path.join(ROOT, "install.sh")],
                                  capture_output=True, text=True)
            self.assertEqual(proc.returncode, 0, proc.stdout)


if __name__ == "__main__":
    unittest.main()
