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

from tests.integ.harness import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("LIVESTATUS_BUILD", "build")
PROGRAMS = ("livestatus-watcher", "livestatus-fcgi", "live-status")
SCRIPTS = ("livestatus-check",)  # installed from scripts/
CHECK = os.path.join(ROOT, "scripts", "livestatus-check")
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
    files |= {f"{p}/bin/{b}" for b in SCRIPTS if os.path.exists(os.path.join(ROOT, "scripts", b))}
    for u in glob.glob(os.path.join(ROOT, "deploy", "*.service")) + \
            glob.glob(os.path.join(ROOT, "deploy", "*.socket")):
        files.add(f"{p}/lib/systemd/system/{os.path.basename(u)}")
    for t in glob.glob(os.path.join(ROOT, "deploy", "tmpfiles.d", "*.conf")):
        files.add(f"{p}/lib/tmpfiles.d/{os.path.basename(t)}")
    for n in glob.glob(os.path.join(ROOT, "nginx", "livestatus*.conf")):
        files.add(f"{p}/share/livestatus/nginx/{os.path.basename(n)}")
    for e in glob.glob(os.path.join(ROOT, "deploy", "*.env.example")):
        files.add(f"{p}/share/livestatus/{os.path.basename(e)}")
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
        for b in PROGRAMS + SCRIPTS:
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
        for script in (os.path.join(ROOT, "install.sh"), CHECK):
            proc = subprocess.run(["sh", "-n", script], capture_output=True, text=True)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            if shutil.which("shellcheck"):
                proc = subprocess.run(["shellcheck", "-s", "sh", script], capture_output=True,
                                      text=True)
                self.assertEqual(proc.returncode, 0, proc.stdout)

    def dry(self, *args):
        tmp = tempfile.mkdtemp(prefix="ls-dry-")
        self.addCleanup(shutil.rmtree, tmp, True)
        before = (os.path.exists("/etc/livestatus"), self.head_state())
        proc = self.run_script("--dry-run", "--no-deps", "--prefix", os.path.join(tmp, "prefix"),
                               "--openclaw-dir", os.path.join(tmp, "openclaw"), *args,
                               env={"OPENCLAW_STATE_DIR": ""})
        self.assertEqual((os.path.exists("/etc/livestatus"), self.head_state()), before)
        return proc

    def test_role_all_is_the_default(self):
        proc = self.dry()
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("livestatus.env.example", proc.stdout)
        self.assertNotIn("gateway-keys", proc.stdout)
        self.assertIn("Next steps on this host (role all)", proc.stdout)
        self.assertIn("check: not run (--dry-run)", proc.stdout)

    def test_dry_run_central_adds_a_gateway_without_watcher(self):
        proc = self.dry("--role", "central", "--add-gateway", "gw1")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        out = proc.stdout
        self.assertIn("central.env.example", out)
        self.assertIn("gateway-keys", out)
        if not os.path.exists("/etc/livestatus/gateway-keys"):
            self.assertIn("+ create /etc/livestatus/gateway-keys (mode 0640", out)
            self.assertIn('+ append "gw1 <new key>" to /etc/livestatus/gateway-keys', out)
            self.assertIn("PLUGIN_SECRET=<the new key>", out)
            self.assertIn("GATEWAY_NAME=gw1", out)
        self.assertNotIn("livestatus-watcher.service", out)
        self.assertNotIn("openclaw-hook", out)
        self.assertNotRegex(out, r"[0-9a-f]{32,}")  # no key made under --dry-run
        self.assertIn("Next steps on this host (role central)", out)

    def test_dry_run_gateway_writes_plugin_url_and_no_nginx(self):
        url = "https://chat.example.com/plugins/com.openclaw.livestatus"
        key = "k" * 24
        proc = self.dry("--role", "gateway", "--central-url", url, "--key", key,
                        "--gateway-name", "gw1")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        out = proc.stdout
        self.assertIn(f"PLUGIN_URL={url}", out)
        self.assertIn("GATEWAY_NAME=gw1", out)
        self.assertNotIn(key, out)  # the key is never printed
        self.assertNotIn("/etc/nginx", out)
        self.assertNotIn("livestatus-fcgi.socket", out)
        self.assertNotIn("gateway-keys", out)
        self.assertIn("role gateway: no nginx snippet and no responder", out)
        self.assertIn("Next steps on this host (role gateway)", out)

    def test_gateway_needs_central_url_and_key(self):
        proc = self.run_script("--dry-run", "--role", "gateway", "--key", "k" * 24)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("--role gateway needs --central-url URL", proc.stderr)
        proc = self.run_script("--dry-run", "--role", "gateway", "--central-url",
                               "https://c.example.com/plugins/com.openclaw.livestatus")
        self.assertEqual(proc.returncode, 2)
        self.assertIn("--role gateway needs --key KEY", proc.stderr)
        proc = self.run_script("--dry-run", "--role", "gateway", "--central-url",
                               "https://c.example.com/x", "--key", "short")
        self.assertEqual(proc.returncode, 2)
        self.assertIn("at least 16 characters", proc.stderr)
        proc = self.run_script("--dry-run", "--role", "hub")
        self.assertEqual(proc.returncode, 2)
        self.assertIn("--role must be all, central or gateway", proc.stderr)
        proc = self.run_script("--dry-run", "--role", "central", "--key", "k" * 24)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("--key is for --role gateway", proc.stderr)


class HealthStub:
    """A watcher's health port: GET /health answers 200."""

    def __init__(self):
        import http.server
        import threading

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                code = 200 if self.path == "/health" else 404
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status":"ok"}\n')

            def log_message(self, *a):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class CheckCommandTest(unittest.TestCase):
    """scripts/livestatus-check on a gateway, against a real central."""

    KEY = "gw1-key-0123456789abcdef"

    def setUp(self):
        if not shutil.which("curl"):
            self.skipTest("curl is not installed")
        self.tmp = tempfile.mkdtemp(prefix="ls-check-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.health = HealthStub()
        self.addCleanup(self.health.close)

    def central(self):
        from tests.integ.harness import PREFIX, Stack
        keys = os.path.join(self.tmp, "gateway-keys")
        with open(keys, "w") as f:
            f.write(f"# test\ngw1 {self.KEY}\n")
        stack = Stack(env={"GATEWAY_KEYS_FILE": keys})
        self.addCleanup(stack.stop)
        return stack.url + PREFIX

    def check(self, url, key, port=None):
        env = os.path.join(self.tmp, "gateway.env")
        with open(env, "w") as f:
            f.write(f"PLUGIN_URL={url}\nPLUGIN_SECRET={key}\nGATEWAY_NAME=gw1\n"
                    f"HEALTH_PORT={port or self.health.port}\n")
        return subprocess.run(["sh", CHECK, "--env", env, "--timeout", "5"], capture_output=True,
                              text=True, timeout=60)

    def test_right_key_passes_wrong_key_is_refused(self):
        url = self.central()
        proc = self.check(url, self.KEY)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertNotIn("MISSING", proc.stdout)
        self.assertIn("central accepts the key of gateway gw1", proc.stdout)
        self.assertIn("all checks passed (gateway)", proc.stdout)

        proc = self.check(url, "not-the-key-0123456789")
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertRegex(proc.stdout, r"MISSING: key refused.* — fix: add it to GATEWAY_KEYS_FILE on "
                                      r"the central")
        self.assertNotIn("not-the-key", proc.stdout)  # the key is never printed

    def test_closed_port_is_unreachable_and_no_watcher_is_missing(self):
        port = free_port()  # nothing listens there
        url = f"http://127.0.0.1:{port}/plugins/com.openclaw.livestatus"
        proc = self.check(url, self.KEY, port=port)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn(f"MISSING: central unreachable at {url} — fix:", proc.stdout)
        self.assertIn("MISSING: local watcher health", proc.stdout)

    def test_missing_env_file_and_usage(self):
        proc = subprocess.run(["sh", CHECK, "--env", os.path.join(self.tmp, "none")],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("MISSING: readable env file", proc.stdout)
        proc = subprocess.run(["sh", CHECK, "--bogus"], capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 2)

    def test_central_without_mattermost_says_what_is_missing(self):
        env = os.path.join(self.tmp, "central.env")
        with open(env, "w") as f:
            f.write("READ_AUTH=mattermost\nPLUGIN_SECRET=abc\n")
        proc = subprocess.run(["sh", CHECK, "--env", env], capture_output=True, text=True,
                              timeout=30)
        self.assertEqual(proc.returncode, 1, proc.stdout)
        self.assertIn("MISSING: MM_URL and MM_TOKEN", proc.stdout)


if __name__ == "__main__":
    unittest.main()
