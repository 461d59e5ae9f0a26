"""livestatus-fcgi as a process: options, settings, sockets, stopping,
cleanup, health when things go wrong, and the systemd units.

Run from the repository root:  python3 -m unittest tests/integ/test_api_ops.py
"""

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import stat
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from tests.integ.harness import (ROOT, SECRET, FcgiClient, Stack, build_dir, free_port,
                                 sanitizer_env, unsent, wait_equal, wait_for)

BIN = os.path.join(build_dir(), "livestatus-fcgi")


def run(argv, env=None, timeout=10, **kw):
    e = sanitizer_env(dict(os.environ if env is None else env))
    return subprocess.run(argv, env=e, capture_output=True, text=True, timeout=timeout, **kw)


def health_params():
    return {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/v1/health",
            "HTTP_AUTHORIZATION": "Bearer " + SECRET}


class Scratch(unittest.TestCase):
    """A temp dir and processes started here, cleaned up after each test."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="livestatus-ops-")
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def env(self, **kw):
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
             "LIVESTATUS_DB": os.path.join(self.tmp, "t.db"), "PLUGIN_SECRET": SECRET}
        e.update(kw)
        return sanitizer_env(e)

    def spawn(self, argv, env=None, **kw):
        log = open(os.path.join(self.tmp, f"p{len(self.procs)}.log"), "wb")
        p = subprocess.Popen(argv, env=env or self.env(), stdout=log, stderr=subprocess.STDOUT,
                             **kw)
        log.close()
        self.procs.append(p)
        return p

    def logs(self):
        out = ""
        for fn in sorted(os.listdir(self.tmp)):
            if fn.endswith(".log"):
                with open(os.path.join(self.tmp, fn), errors="replace") as f:
                    out += f.read()
        return out

    # The bounds below say "stops on its own, not when a stuck client or the
    # 30 s FastCGI timeouts let it": generous, so a loaded machine passes.
    def assertCleanStop(self, p, sig=signal.SIGTERM, limit=15.0):
        t0 = time.monotonic()
        p.send_signal(sig)
        p.wait(20)
        elapsed = time.monotonic() - t0
        self.assertLess(elapsed, limit, f"took {elapsed:.2f}s to stop")
        self.assertEqual(p.returncode, 0, self.logs())
        for pat in ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer"):
            self.assertNotIn(pat, self.logs())


class TestCommandLine(Scratch):
    def test_help_and_version(self):
        r = run([BIN, "--help"])
        self.assertEqual(r.returncode, 0)
        for word in ("--listen", "--threads", "LIVESTATUS_DB", "PLUGIN_SECRET", "READ_AUTH",
                     "MAX_ACTIVE_SESSIONS", "MAX_STATUS_LINES", "STALE_AFTER_S",
                     "DELETE_AFTER_S", "LOG_LEVEL", "GATEWAY_KEYS_FILE", "GATEWAY_SILENT_S"):
            self.assertIn(word, r.stdout)
        r = run([BIN, "--version"])
        self.assertEqual(r.returncode, 0)
        with open(os.path.join(ROOT, "VERSION")) as f:
            self.assertEqual(r.stdout.strip(), "livestatus-fcgi " + f.read().strip())

    def test_bad_options(self):
        for argv in (["--nope"], ["--threads"], ["--threads", "0"], ["--threads", "x"],
                     ["--threads", "99999"], ["--listen"]):
            with self.subTest(argv=argv):
                r = run([BIN] + argv, env=self.env())
                self.assertNotEqual(r.returncode, 0)
                self.assertIn(argv[0], r.stderr)

    def test_bad_settings_name_the_variable(self):
        sock = os.path.join(self.tmp, "s.sock")
        for var, value in (("MAX_ACTIVE_SESSIONS", "lots"), ("MAX_ACTIVE_SESSIONS", "0"),
                           ("MAX_STATUS_LINES", "-1"), ("MAX_STATUS_LINES", "1.5"),
                           ("STALE_AFTER_S", "soon"), ("DELETE_AFTER_S", "0"),
                           ("CLEANUP_INTERVAL_S", "9999999"), ("READ_AUTH", "maybe"),
                           ("LOG_LEVEL", "loud"), ("PUBLISH_URL", "ftp://x/"),
                           ("GATEWAY_SILENT_S", "9"), ("GATEWAY_KEYS_FILE", "/nonexistent/k")):
            with self.subTest(var=var, value=value):
                r = run([BIN, "--listen", "unix:" + sock], env=self.env(**{var: value}))
                self.assertNotEqual(r.returncode, 0)
                self.assertIn(var, r.stderr)
                self.assertFalse(os.path.exists(sock))

    def test_unopenable_database(self):
        r = run([BIN, "--listen", "unix:" + os.path.join(self.tmp, "s.sock")],
                env=self.env(LIVESTATUS_DB="/nonexistent/dir/x.db"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("/nonexistent/dir/x.db", r.stderr)

    def test_no_listen_needs_a_socket(self):
        r = run([BIN], env=self.env(), stdin=subprocess.DEVNULL)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not a listening socket", r.stderr)


class TestListening(Scratch):
    def wait_socket(self, p, path):
        def ready():
            if p.poll() is not None:
                raise AssertionError("exited: " + self.logs())
            return os.path.exists(path)
        wait_for(ready, what="the socket")

    def test_unix_socket_mode_and_stale_file(self):
        path = os.path.join(self.tmp, "fcgi.sock")
        # A stale socket file (nobody listening) is replaced.
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(path)
        stale.close()
        p = self.spawn([BIN, "--listen", "unix:" + path, "--threads", "2"])
        wait_for(lambda: FcgiClient(path).close() is None, what="the responder")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o660)
        c = FcgiClient(path)
        c.begin(health_params())
        c.end_stdin()
        self.assertEqual(c.response().status, 200)
        # A live one is not taken over.
        r = run([BIN, "--listen", "unix:" + path], env=self.env())
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("another process", r.stderr)
        self.assertCleanStop(p)
        self.assertFalse(os.path.exists(path))

    def test_refuses_to_replace_a_file(self):
        path = os.path.join(self.tmp, "notasocket")
        with open(path, "w") as f:
            f.write("precious")
        r = run([BIN, "--listen", "unix:" + path], env=self.env())
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not a socket", r.stderr)
        with open(path) as f:
            self.assertEqual(f.read(), "precious")

    def test_tcp(self):
        port = free_port()
        p = self.spawn([BIN, "--listen", f"127.0.0.1:{port}", "--threads", "2"])

        def answer():
            if p.poll() is not None:
                raise AssertionError("exited: " + self.logs())
            c = FcgiClient(("127.0.0.1", port))
            c.begin(health_params())
            c.end_stdin()
            return c.response()
        r = wait_for(answer, what="the TCP responder")
        self.assertEqual(r.status, 200)
        self.assertCleanStop(p)

    def test_socket_on_fd0(self):
        path = os.path.join(self.tmp, "fd0.sock")
        ls = socket.socket(socket.AF_UNIX)
        ls.bind(path)
        ls.listen(16)
        p = self.spawn([BIN, "--threads", "2"], stdin=ls.fileno())
        ls.close()
        c = wait_for(lambda: p.poll() is None and FcgiClient(path), what="fd 0 responder")
        c.begin(health_params())
        c.end_stdin()
        self.assertEqual(c.response().status, 200)
        self.assertCleanStop(p)

    def test_systemd_socket_activation(self):
        path = os.path.join(self.tmp, "sd.sock")
        ls = socket.socket(socket.AF_UNIX)
        ls.bind(path)
        ls.listen(16)
        fd = ls.fileno()
        env = self.env(LISTEN_FDS="1")
        # LISTEN_PID must be the responder's own pid: set it after the fork.  The socket
        # becomes fd 3 (preexec_fn runs before close_fds, which keeps only pass_fds).
        p = self.spawn(["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$0" --threads 2', BIN], env=env,
                       stdin=subprocess.DEVNULL, pass_fds=(3,),
                       preexec_fn=(lambda: os.dup2(fd, 3)) if fd != 3 else None)
        ls.close()
        c = wait_for(lambda: p.poll() is None and FcgiClient(path), what="activated responder")
        c.begin(health_params())
        c.end_stdin()
        self.assertEqual(c.response().status, 200)
        self.assertCleanStop(p)


class TestStopping(unittest.TestCase):
    def test_only_the_main_thread_takes_the_stop_signals(self):
        # SIGTERM and SIGINT go to the main thread's sigwait(); a thread that does not
        # block them (one started before the mask was set) would take one and die with
        # the whole process, without the graceful stop.  The main thread, waiting in
        # sigwait(), shows them unblocked; every other thread must block both.
        term = 1 << (signal.SIGTERM - 1) | 1 << (signal.SIGINT - 1)
        with Stack(threads=3) as s:
            pid = s.procs["responder"].pid
            wait_for(lambda: s.request("GET", "/api/v1/sessions").status == 200)
            # The first worker may answer before the main thread made the others.
            wait_for(lambda: "livestatus-fcgi started" in s.log("responder"),
                     what="every worker thread to start")
            unblocked = []
            for tid in os.listdir("/proc/%d/task" % pid):
                with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                    blk = int(re.search(r"^SigBlk:\s*([0-9a-f]+)", f.read(), re.M).group(1), 16)
                if blk & term != term:
                    unblocked.append(tid)
            self.assertGreaterEqual(len(os.listdir("/proc/%d/task" % pid)), 5)
            self.assertEqual(unblocked, [str(pid)])

    def test_sigterm_answers_the_request_in_flight(self):
        # a grace long enough for a loaded machine to send the rest of the body
        with Stack(threads=2, env={"STOP_GRACE_MS": "20000"}) as s:
            p = s.procs["responder"]
            body = b'{"id":"inflight","session_key":"agent:main:x","lines":["during stop"]}'
            c = s.fcgi_client()
            c.begin({"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/sessions",
                     "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
                     "HTTP_AUTHORIZATION": "Bearer " + SECRET})
            c.send_stdin(body[:10])
            # The responder has accepted the connection and read what came.
            wait_for(lambda: unsent(c.sock) == 0, what="the responder to take the request")
            t0 = time.monotonic()
            p.send_signal(signal.SIGTERM)
            c.send_stdin(body[10:])
            c.end_stdin()
            r = c.response()
            self.assertEqual(r.status, 201, r)
            self.assertEqual(r.json["id"], "inflight")
            p.wait(20)
            self.assertLess(time.monotonic() - t0, 15.0)
            self.assertEqual(p.returncode, 0, s.log("responder"))
            self.assertIn("stopping", s.log("responder"))
            # What was answered is stored.
            con = sqlite3.connect(s.db)
            try:
                self.assertEqual(con.execute("SELECT count(*) FROM boxes WHERE id='inflight'")
                                 .fetchone()[0], 1)
            finally:
                con.close()
            self.assertFalse(os.path.exists(s.sock))

    def test_stuck_request_does_not_hold_the_stop(self):
        with Stack(threads=2) as s:
            p = s.procs["responder"]
            c = s.fcgi_client()
            c.begin({"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/sessions",
                     "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": "100",
                     "HTTP_AUTHORIZATION": "Bearer " + SECRET})
            c.send_stdin(b'{"session')  # and never the rest
            wait_for(lambda: unsent(c.sock) == 0, what="the responder to take the request")
            t0 = time.monotonic()
            p.send_signal(signal.SIGTERM)
            p.wait(20)
            self.assertLess(time.monotonic() - t0, 15.0)
            self.assertEqual(p.returncode, 0)
            c.close()

    def test_sigint_and_idle_stop_is_quick(self):
        with Stack() as s:
            p = s.procs["responder"]
            for _ in range(20):
                self.assertEqual(s.request("GET", "/api/v1/health").status, 200)
            t0 = time.monotonic()
            p.send_signal(signal.SIGINT)
            p.wait(20)
            self.assertLess(time.monotonic() - t0, 15.0)
            self.assertEqual(p.returncode, 0)

    def test_stop_under_load(self):
        with Stack() as s:
            p = s.procs["responder"]
            stop = threading.Event()
            bad = []

            def load():
                while not stop.is_set():
                    try:
                        r = s.request("POST", "/api/v1/sessions", {"session_key": "k",
                                                                   "status": "done"})
                    except OSError:
                        continue
                    if r.status not in (201, 502):  # 502: the responder is gone
                        bad.append(r)
            threads = [threading.Thread(target=load) for _ in range(4)]
            for t in threads:
                t.start()
            wait_for(lambda: s.request("GET", "/api/v1/health").json["sessions"]["total"] > 20)
            t0 = time.monotonic()
            p.send_signal(signal.SIGTERM)
            p.wait(20)
            elapsed = time.monotonic() - t0
            stop.set()
            for t in threads:
                t.join()
            self.assertLess(elapsed, 15.0)
            self.assertEqual(p.returncode, 0)
            self.assertEqual(bad, [])


def keep_conn_request(sock, params, request_id=1):
    """One request with FCGI_KEEP_CONN on an open socket; (status, body)."""
    def record(rtype, content):
        pad = (8 - len(content) % 8) % 8
        return struct.pack(">BBHHBx", 1, rtype, request_id, len(content), pad) + content + \
            b"\0" * pad
    data = b""
    for k, v in params.items():
        k, v = k.encode(), v.encode()
        data += bytes([len(k)]) + bytes([len(v)]) + k + v
    sock.sendall(record(1, struct.pack(">HB5x", 1, 1)) + record(4, data) + record(4, b"")
                 + record(5, b""))
    buf, out = b"", b""
    while True:
        while len(buf) < 8:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        _, rtype, _, clen, plen = struct.unpack(">BBHHBx", buf[:8])
        while len(buf) < 8 + clen + plen:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
        if rtype == 6:
            out += content
        elif rtype == 3:
            break
    head, _, body = out.partition(b"\r\n\r\n")
    return int(re.search(rb"Status: (\d+)", head).group(1)), body


class TestAcceptRole(unittest.TestCase):
    """One thread accepts at a time; whatever may wait hands the role on."""

    # A stalled connection that held the accept role would hold it for ever
    # (FastCGI's own timeouts are 30 s): answers within 10 s show it does not.
    def timed_get(self, s, n=5):
        t0 = time.monotonic()
        for _ in range(n):
            r = s.request("GET", "/api/v1/sessions", timeout=20)
            self.assertEqual(r.status, 200, r)
        return time.monotonic() - t0

    def test_a_stalled_connection_does_not_stall_the_others(self):
        with Stack(threads=2) as s:
            stalled = socket.socket(socket.AF_UNIX)
            stalled.connect(s.sock)
            stalled.sendall(b"\x01\x01")  # half a record header, then nothing
            # Unread bytes of a unix socket count in its sender's output queue:
            # an empty queue shows a responder thread took the connection and
            # read what was sent. (Counting the responder's connections raced
            # with nginx's own closing ones.)
            wait_for(lambda: unsent(stalled) == 0,
                     what="the responder to take the connection and read from it")
            self.assertLess(self.timed_get(s), 10.0 * 5)
            stalled.close()
            self.assertLess(self.timed_get(s), 10.0 * 5)

    def test_a_request_waiting_for_its_body_hands_the_role_on(self):
        with Stack(threads=2) as s:
            self.assertEqual(s.request("POST", "/api/v1/sessions",
                                       {"id": "a", "session_key": "k"}).status, 201)
            c = s.fcgi_client()
            body = b'{"id":"slow","session_key":"agent:main:x"}'
            c.begin({"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/sessions",
                     "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
                     "HTTP_AUTHORIZATION": "Bearer " + SECRET})
            c.send_stdin(body[:5])
            self.assertLess(self.timed_get(s), 10.0 * 5)
            c.send_stdin(body[5:])
            c.end_stdin()
            self.assertEqual(c.response().status, 201)
            self.assertEqual(s.request("GET", "/api/v1/sessions/slow").status, 200)

    def test_keep_conn_is_served_and_does_not_hold_the_role(self):
        with Stack(threads=2) as s:
            k = socket.socket(socket.AF_UNIX)
            k.settimeout(10)
            k.connect(s.sock)
            for i in range(3):
                status, body = keep_conn_request(k, health_params(), request_id=i + 1)
                self.assertEqual(status, 200, body)
                self.assertEqual(json.loads(body)["status"], "ok")
                # The connection stays open with its worker; others are served.
                self.assertLess(self.timed_get(s, 2), 10.0 * 2)
            k.close()
            self.assertLess(self.timed_get(s), 10.0 * 5)

    def test_many_clients_at_once(self):
        with Stack(threads=4) as s:
            for i in range(5):
                self.assertEqual(s.request("POST", "/api/v1/sessions",
                                           {"id": f"m{i}", "session_key": "k"}).status, 201)
            bad = []

            def client(n):
                for j in range(40):
                    if (n + j) % 10 == 0:
                        r = s.request("PUT", f"/api/v1/sessions/m{n % 5}",
                                      {"lines": [f"line {j}"]})
                    else:
                        r = s.request("GET", "/api/v1/sessions")
                    if r.status != 200:
                        bad.append(r)
            threads = [threading.Thread(target=client, args=(n,)) for n in range(12)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(bad, [])


class TestCleanup(unittest.TestCase):
    def test_stale_boxes_interrupted_then_deleted(self):
        # DELETE_AFTER_S well above the cleanup interval: the test must see both boxes
        # interrupted (the child may go stale one pass after its parent) before the
        # parent is deleted, however late it looks
        env = {"STALE_AFTER_S": "1", "DELETE_AFTER_S": "6", "CLEANUP_INTERVAL_S": "1"}
        with Stack(env=env) as s:
            st = s.stream()
            self.assertEqual(st.status, 200, st.head)
            r = s.request("POST", "/api/v1/sessions", {"id": "stale-p", "session_key": "k",
                                                       "channel_id": "cz"})
            self.assertEqual(r.status, 201)
            s.request("POST", "/api/v1/sessions", {"id": "stale-k", "session_key": "k2",
                                                   "parent_id": "stale-p", "channel_id": "cz"})

            def status():
                g = s.request("GET", "/api/v1/sessions/stale-p")
                return g.json["status"] if g.status == 200 else g.status

            def tree():
                g = s.request("GET", "/api/v1/sessions/stale-p")
                if g.status != 200:
                    return g.status
                return g.json["status"], [c["status"] for c in g.json["children"]]
            # the parent and its child interrupted (each by the pass that found it stale)
            wait_equal(tree, ("interrupted", ["interrupted"]), what="interruption")
            g = s.request("GET", "/api/v1/sessions/stale-p").json
            self.assertEqual(g["status"], "interrupted")
            self.assertIsInstance(g["end_time_ms"], int)
            self.assertEqual(g["children"][0]["status"], "interrupted")
            wait_for(lambda: status() == 404, what="deletion")
            self.assertEqual(s.request("GET", "/api/v1/sessions/stale-k").status, 404)
            # Two creates, two interruptions, one deletion (the child goes
            # with its parent). The parent may be found stale before the
            # child is made on a slow machine, so only the first and the
            # last notice have a fixed place.
            ids = [st.next_json(timeout=30)["id"] for _ in range(5)]
            self.assertEqual(sorted(ids), ["stale-k"] * 2 + ["stale-p"] * 3, ids)
            self.assertEqual((ids[0], ids[-1]), ("stale-p", "stale-p"), ids)
            st.close()
            # logged after the notices went out
            wait_for(lambda: "cleanup" in s.log("responder"), what="the cleanup logged")
            self.assertIn("cleanup", s.log("responder"))

    def test_fresh_boxes_stay(self):
        env = {"STALE_AFTER_S": "60", "DELETE_AFTER_S": "60", "CLEANUP_INTERVAL_S": "1"}
        with Stack(env=env) as s:
            fresh = s.request("POST", "/api/v1/sessions", {"id": "fresh", "session_key": "k"})
            done1 = s.request("POST", "/api/v1/sessions", {"id": "done1", "session_key": "k",
                                                           "status": "done"})
            self.assertEqual((fresh.status, done1.status), (201, 201))
            # Two cleanup passes later nothing changed.
            rev = s.request("GET", "/api/v1/sessions").headers["etag"]
            deadline = time.monotonic() + 2.5
            while time.monotonic() < deadline:
                r = s.request("GET", "/api/v1/sessions", headers={"If-None-Match": rev})
                self.assertEqual(r.status, 304)
                time.sleep(0.25)
            # That the passes did run (a loaded machine may not have run one in 2.5 s): two
            # boxes ended long ago, one after the other, each gone by the next pass; the
            # fresh boxes are still as they were made.
            for n in range(2):
                old = f"old{n}"
                self.assertEqual(s.request("POST", "/api/v1/sessions", {
                    "id": old, "session_key": "k", "status": "done"}).status, 201)
                self.assertEqual(s.request("PUT", f"/api/v1/sessions/{old}",
                                           {"end_time_ms": 1000}).status, 200)
                wait_for(lambda: s.request("GET", f"/api/v1/sessions/{old}").status == 404,
                         what=f"a cleanup pass (deleting {old})")
            for made in (fresh, done1):
                g = s.request("GET", "/api/v1/sessions/" + made.json["id"])
                self.assertEqual(g.status, 200, g)
                self.assertEqual((g.json["status"], g.json["revision"]),
                                 (made.json["status"], made.json["revision"]))


class TestHealthDegraded(unittest.TestCase):
    @staticmethod
    def serving(s):
        """Waits until the responder answers: its socket accepts connections
        before it has opened (and made) the database, which these tests then
        open themselves."""
        wait_for(lambda: s.request("GET", "/api/v1/health").status == 200,
                 what="the responder to answer")

    def put_heartbeat(self, db, last_ms, interval_ms=1000):
        con = sqlite3.connect(db)
        try:
            con.execute("INSERT OR REPLACE INTO watcher_heartbeat (id, pid, started_ms, "
                        "last_heartbeat_ms, interval_ms, breaker, stats) "
                        "VALUES (1, 4242, ?, ?, ?, 'closed', '{}')",
                        (last_ms - 1000, last_ms, interval_ms))
            con.commit()
        finally:
            con.close()

    def test_absurd_heartbeat_times(self):
        # The store is input too: times that overflow arithmetic (they did:
        # "signed integer overflow" and a 502 from the ASan build) are clamped.
        with Stack() as s:
            self.serving(s)
            for last, interval in ((-(1 << 62), 1 << 62), ((1 << 63) - 1, -(1 << 63)),
                                   (-(1 << 63) + 1000, (1 << 63) - 1)):
                self.put_heartbeat(s.db, last, interval)
                r = s.request("GET", "/api/v1/health")
                self.assertIn(r.status, (200, 503), r)  # whichever: an answer
                self.assertEqual(r.json["watcher"]["pid"], 4242, r)
                self.assertEqual(s.request("GET", "/api/v1/metrics").status, 200)
            self.assertIsNone(s.procs["responder"].poll())

    def test_watcher_heartbeat(self):
        with Stack() as s:
            self.serving(s)
            now = int(time.time() * 1000)
            self.put_heartbeat(s.db, now, 5000)
            r = s.request("GET", "/api/v1/health")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["watcher"], {"alive": True, "pid": 4242,
                                                 "last_heartbeat_ms": now, "breaker": "closed"})
            self.put_heartbeat(s.db, now - 20000, 5000)  # 4 intervals ago
            r = s.request("GET", "/api/v1/health")
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.json["status"], "degraded")
            self.assertFalse(r.json["watcher"]["alive"])
            self.assertTrue(r.json["db"]["ok"])

    def test_unreadable_database(self):
        with Stack() as s:
            self.assertEqual(s.request("POST", "/api/v1/sessions", {"session_key": "k"}).status,
                             201)
            for suffix in ("", "-wal", "-shm"):
                path = s.db + suffix
                if os.path.exists(path):
                    size = os.path.getsize(path)
                    with open(path, "r+b") as f:
                        f.write((b"\x00not a database\xff" * (size // 16 + 1))[:size])
            r = s.request("GET", "/api/v1/health")
            # A 502 was seen once in CI (ASan build) and never since: show why if it recurs.
            self.assertEqual(r.status, 503, (r, s.procs["responder"].poll(),
                                             s.log("responder")[-4000:],
                                             s.log("nginx-error")[-2000:]))
            self.assertEqual(r.json["status"], "degraded")
            self.assertFalse(r.json["db"]["ok"])
            r = s.request("GET", "/api/v1/sessions")
            self.assertEqual(r.status, 500, r)
            self.assertEqual(r.json, {"error": "internal error"})  # no internals
            r = s.request("POST", "/api/v1/sessions", {"session_key": "k"})
            self.assertEqual(r.json, {"error": "internal error"})

    def test_readers_do_not_wait_behind_writers_held_by_the_lock(self):
        """Writers waiting out the busy timeout on a lock another process holds
        keep their store handles meanwhile; reads have handles of their own."""
        with Stack() as s:
            self.serving(s)
            con = sqlite3.connect(s.db, isolation_level=None, timeout=1)
            done = []
            writers = [threading.Thread(target=lambda i=i: done.append(s.request(
                "POST", "/api/v1/sessions", {"session_key": "k%d" % i}, timeout=60).status))
                for i in range(8)]
            try:
                con.execute("BEGIN IMMEDIATE")  # the write lock, held
                for w in writers:
                    w.start()
                t0, reads = time.monotonic(), 0
                while time.monotonic() - t0 < 2 and reads < 400:  # bounded
                    r = s.request("GET", "/api/v1/health", timeout=60)
                    self.assertEqual(r.status, 200, r)
                    reads += 1
                # every writer still waits for the lock: no read waited for one
                self.assertEqual(done, [], "a read waited until writers gave up")
            finally:
                con.execute("ROLLBACK")
                con.close()
                for w in writers:
                    w.join()
            self.assertTrue(set(done) <= {201, 503} and len(done) == 8, done)

    def test_store_busy_is_503(self):
        with Stack() as s:
            self.serving(s)
            con = sqlite3.connect(s.db, isolation_level=None, timeout=1)
            try:
                con.execute("BEGIN IMMEDIATE")  # the write lock, held
                t0 = time.monotonic()
                r = s.request("POST", "/api/v1/sessions", {"session_key": "k"}, timeout=30)
                self.assertEqual(r.status, 503, r)
                self.assertEqual(r.json, {"error": "store busy, try again"})
                self.assertGreater(time.monotonic() - t0, 4)  # the busy timeout
                # Readers are not blocked by a writer (WAL).
                self.assertEqual(s.request("GET", "/api/v1/sessions").status, 200)
            finally:
                con.execute("ROLLBACK")
                con.close()
            self.assertEqual(s.request("POST", "/api/v1/sessions",
                                       {"session_key": "k"}).status, 201)


class TestSystemdUnits(unittest.TestCase):
    def test_systemd_analyze_verify(self):
        tool = shutil.which("systemd-analyze")
        if tool is None:
            self.skipTest("systemd-analyze is not installed: the units were NOT verified")
        tmp = tempfile.mkdtemp(prefix="livestatus-units-")
        try:
            for name in ("livestatus-fcgi.socket", "livestatus-fcgi.service"):
                with open(os.path.join(ROOT, "deploy", name)) as f:
                    text = f.read()
                # verify wants ExecStart= to exist: point it at this build.
                text = text.replace("/usr/local/bin/livestatus-fcgi", BIN)
                with open(os.path.join(tmp, name), "w") as f:
                    f.write(text)
            r = subprocess.run([tool, "verify", "livestatus-fcgi.socket",
                                "livestatus-fcgi.service"], cwd=tmp, capture_output=True,
                               text=True, timeout=60)
            out = (r.stdout + r.stderr).strip()
            self.assertEqual(r.returncode, 0, out)
            self.assertEqual(out, "", out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_units_say_what_the_issue_asks(self):
        with open(os.path.join(ROOT, "deploy", "livestatus-fcgi.socket")) as f:
            sock = f.read()
        with open(os.path.join(ROOT, "deploy", "livestatus-fcgi.service")) as f:
            svc = f.read()
        self.assertRegex(sock, r"(?m)^SocketMode=0660$")
        self.assertRegex(sock, r"(?m)^ListenStream=/run/livestatus/fcgi.sock$")
        for line in ("Restart=always", "NoNewPrivileges=yes", "ProtectSystem=strict",
                     "ReadWritePaths=/var/lib/livestatus"):
            self.assertRegex(svc, r"(?m)^" + re.escape(line) + "$")


if __name__ == "__main__":
    unittest.main()
