"""A real livestatus stack for integration tests: the responder behind nginx.

Python 3 standard library only.  Every integration test uses this module,
so its interface below is kept stable; add to it, do not change it.

    from tests.integ.harness import Stack, Resp, wait_for

    with Stack(env=None, nchan=True, start=True) as s:
        r = s.request("POST", "/api/v1/sessions", {"session_key": "k"})
        assert r.status == 201, r

Stack(env=None, nchan=True, start=True, rate="10000r/s", threads=None,
      workers=1, connections=4096)
    Makes a temp dir and, unless start=False (then call s.start()), starts
    $LIVESTATUS_BUILD/livestatus-fcgi (LIVESTATUS_BUILD defaults to
    "build", relative to the repository root) on a unix socket in it and
    nginx (nginx/test.conf.in, nginx/livestatus.conf) on a free loopback
    port, and waits (polling, with a deadline) until both answer.
    env: extra environment for the responder; a value of None removes a
    variable.  nchan=False runs nginx without the nchan module (the
    polling-fallback setup); then PUBLISH_URL is not set.  rate: the
    limit_req rate of the generated http-level snippet.  threads:
    --threads for the responder (default: its own default).  workers:
    nginx worker_processes.  connections: its worker_connections.

Attributes
    url     "http://127.0.0.1:<port>"
    api     url + "/plugins/com.openclaw.livestatus"
    db      the SQLite file (LIVESTATUS_DB), in tmp
    revision_dir  the revision link's folder (REVISION_DIR, set for the
            responder as deployed, so nginx's cache of reads is on; give
            it to a watcher that writes the same store)
    tmp     the temp dir; logs are <tmp>/<name>.log (responder.log,
            nginx.log, nginx-error.log, nginx-access.log)
    secret  "test-secret" (PLUGIN_SECRET)
    env     the responder's environment (a dict)
    sock    the responder's socket path
    port    nginx's port
    publish_url  the nchan publisher URL, or None without nchan
    procs   {name: Popen} of everything started

Methods
    request(method, path, body=None, headers=None, auth="secret", raw=None,
            timeout=10) -> Resp
        path is relative to api ("/api/v1/sessions").  body: dict or list
        (sent as JSON), str or bytes (sent as is); with a body, the
        Content-Type is application/json unless headers say otherwise.
        auth: "secret" sends "Authorization: Bearer test-secret", None
        sends none, any other string is sent as the bearer token.  raw:
        bytes of a whole HTTP request, written as is to nginx's port
        (for what http.client refuses to send); path, body, headers and
        auth are then ignored.
    Resp(status, headers, body, json)
        headers: dict with lower-case names; body: bytes (also as
        body_bytes); json: the parsed body, or None when it is not JSON.
    fcgi(params, body=b"", timeout=10) -> Resp
        one FastCGI request straight to the responder's socket, no nginx.
    fcgi_client() -> FcgiClient
        a FastCGI connection driven step by step (begin, send_stdin,
        end_stdin, response) for requests left in flight on purpose.
    stream(auth="secret") -> Stream
        an EventSource subscription to /api/v1/stream (nchan): .status,
        .head (response header text), .next_json(timeout=10) -> the next
        change notice as a dict, .close().
    start_process(name, argv, env=None) -> subprocess.Popen
        starts another program under this stack's teardown, stdout and
        stderr to <tmp>/<name>.log (the sanitizer options of the build are
        added to env).
    stop_process(name, sig=SIGTERM, timeout=5) -> returncode
    restart_responder()
    log(name) -> str       the text of <tmp>/<name>.log so far
    responder_answers(route, status=200) -> int
        how many answers of route (a template: "/api/v1/sessions/{id}")
        with status the responder itself gave (its metrics): what nginx
        answered from its cache of reads is not counted.
    wait_for(fn, timeout=30, what=None)  polls fn until it returns a true
        value (which it returns), else raises AssertionError.
    wait_equal(fn, expected, timeout=30, what=None)  polls fn until it
        returns expected (which it returns); at the deadline fails showing
        the last value beside the expected one.
    stop()
        SIGTERM to everything (SIGKILL after 5 s), then raises
        AssertionError if any log holds a sanitizer report
        ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer") or
        nginx wrote [alert] or [emerg].  The temp dir is removed on
        success unless KEEP_TMP=1; on failure it is kept and named.

Module helpers (also stable)
    wait_for, wait_equal as the methods above (module functions)
    build_dir()          the build folder ($LIVESTATUS_BUILD, absolute)
    sanitizer_env(env)   adds the sanitizer options below to a dict
    free_port()          a loopback TCP port no other test or kernel choice takes
    FcgiClient(address)  raw FastCGI client (unix path or (host, port))
    PREFIX, SECRET, ROOT the plugin prefix, "test-secret", the repository

Under an ASan build (LIVESTATUS_BUILD contains "asan") children get
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 and
UBSAN_OPTIONS=print_stacktrace=1.
"""

import fcntl
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import termios
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PREFIX = "/plugins/com.openclaw.livestatus"
SECRET = "test-secret"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
NCHAN_MODULE = "/usr/lib/nginx/modules/ngx_nchan_module.so"
SANITIZER_PATTERNS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")
NGINX_BAD = re.compile(r"\[(alert|emerg)\]")


def build_dir():
    """The build folder the tests run ($LIVESTATUS_BUILD, default build)."""
    b = os.environ.get("LIVESTATUS_BUILD", "build")
    return b if os.path.isabs(b) else os.path.join(ROOT, b)


def sanitizer_env(env):
    """Adds the sanitizer options of an ASan build to env (a dict)."""
    if "asan" in build_dir():
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    return env


# The default deadline of the waits.  Generous on purpose: the suite also runs
# the ASan build (2-4x slower) on loaded machines, and a deadline is not a
# timed assertion -- a passing wait returns as soon as its condition holds.
DEADLINE = 30


def wait_for(fn, timeout=DEADLINE, what=None, interval=0.02):
    """Polls fn until it returns a true value and returns that value."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last_exc = e
        if time.monotonic() > deadline:
            msg = f"timed out after {timeout}s waiting for {what or fn}"
            if last_exc is not None:
                msg += f" (last error: {last_exc!r})"
            raise AssertionError(msg)
        time.sleep(interval)


def wait_equal(fn, expected, timeout=DEADLINE, what=None, interval=0.02):
    """Polls fn until it returns expected and returns that value; at the
    deadline fails with the last value (or error) beside the expected one.
    Use it instead of a wait on one condition followed by an assertion on
    another that the program makes true a moment later."""
    last = [None]

    def check():
        last[0] = fn()
        return last[0] == expected
    try:
        wait_for(check, timeout, what, interval)
    except AssertionError as e:
        raise AssertionError(f"{e}: {last[0]!r} != {expected!r}") from None
    return last[0]


def unsent(sock):
    """Bytes sock has sent that its peer has not read yet. For a unix socket
    the count drops to 0 only once the peer accepted the connection and read
    all of it: a way to wait for a responder to take a request that does not
    race with other connections opening and closing."""
    out = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4)
    return struct.unpack("i", out)[0]


_PORT_DIR = os.path.join(tempfile.gettempdir(), "livestatus-test-ports")
_ports_held = []  # flocked files, one per port this process took


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return max(2048, min(int(f.read().split()[0]), 65536))
    except (OSError, ValueError, IndexError):
        return 32768


def free_port():
    """A loopback TCP port nothing else takes while this process lives.

    Probing with a bind to port 0 and closing races every other test: the
    kernel may hand the same port to anyone (a bind to port 0, an outgoing
    connection) before the caller binds it.  So the port comes from below
    ip_local_port_range, which the kernel never hands out by itself, and
    test processes running at once share them through a flock per port
    (held until this process exits).  Nothing listens there until the
    caller binds it: also a port that is sure to refuse connections."""
    import fcntl
    import random
    os.makedirs(_PORT_DIR, mode=0o1777, exist_ok=True)
    high = _ephemeral_low()
    low = max(1024, high - 12000)
    start = random.randrange(low, high)
    for i in range(high - low):
        port = low + (start - low + i) % (high - low)
        fh = open(os.path.join(_PORT_DIR, str(port)), "a")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", port))
        except OSError:
            fh.close()  # in use by something outside the tests
            continue
        _ports_held.append(fh)
        return port
    raise AssertionError("no free loopback port below %d" % high)


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except (ValueError, UnicodeDecodeError):
            self.json = None

    @property
    def body_bytes(self):
        return self.body

    def __repr__(self):
        text = self.body[:300].decode("utf-8", "replace")
        return f"Resp({self.status}, {self.headers.get('content-type')!r}, {text!r})"


def parse_http_response(data):
    """A Resp from the raw bytes of one HTTP/1.x response."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        out, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            out, rest = out + rest[:size], rest[size + 2:]
        body = out
    elif "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return Resp(status, headers, body)


# FastCGI record types and the responder role.
FCGI_BEGIN_REQUEST, FCGI_END_REQUEST, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT, FCGI_STDERR = (
    1, 3, 4, 5, 6, 7)


def _fcgi_len(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


class FcgiClient:
    """One FastCGI request to a responder, step by step (FcgiClient(path))."""

    def __init__(self, address, timeout=10):
        """address: a unix socket path, or a (host, port) tuple."""
        family = socket.AF_INET if isinstance(address, tuple) else socket.AF_UNIX
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(address)

    def _record(self, rtype, content):
        pad = (8 - len(content) % 8) % 8
        self.sock.sendall(struct.pack(">BBHHBx", 1, rtype, 1, len(content), pad)
                          + content + b"\0" * pad)

    def begin(self, params):
        self._record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", 1, 0))
        data = b""
        for k, v in params.items():
            k = k.encode() if isinstance(k, str) else k
            v = v.encode() if isinstance(v, str) else v
            data += _fcgi_len(len(k)) + _fcgi_len(len(v)) + k + v
        for i in range(0, len(data), 65535):
            self._record(FCGI_PARAMS, data[i:i + 65535])
        self._record(FCGI_PARAMS, b"")

    def send_stdin(self, data):
        for i in range(0, len(data), 65535):
            self._record(FCGI_STDIN, data[i:i + 65535])

    def end_stdin(self):
        self._record(FCGI_STDIN, b"")

    def response(self):
        """Reads until END_REQUEST; a Resp (status from the Status header)."""
        buf, out = b"", b""
        while True:
            while len(buf) < 8:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("responder closed before END_REQUEST")
                buf += chunk
            _, rtype, _, clen, plen = struct.unpack(">BBHHBx", buf[:8])
            while len(buf) < 8 + clen + plen:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("responder closed mid-record")
                buf += chunk
            content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
            if rtype == FCGI_STDOUT:
                out += content
            elif rtype == FCGI_END_REQUEST:
                break
        self.sock.close()
        head, _, body = out.partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        status = int(headers.get("status", "200").split()[0])
        return Resp(status, headers, body)

    def close(self):
        self.sock.close()


class Stream:
    """An EventSource (text/event-stream) subscription read off a raw socket."""

    def __init__(self, port, path, headers, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        hdrs = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: localhost\r\n"
                           f"Accept: text/event-stream\r\n{hdrs}\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            buf += chunk
        head, _, self.buf = buf.partition(b"\r\n\r\n")
        self.head = head.decode("latin-1")
        self.status = int(self.head.split()[1]) if self.head else 0
        if "transfer-encoding: chunked" in self.head.lower():
            raise AssertionError("chunked event streams are not supported here")

    def next_event(self, timeout=10):
        """The data of the next event that has some (bytes)."""
        self.sock.settimeout(timeout)
        while True:
            while b"\n\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("event stream closed")
                self.buf += chunk
            event, self.buf = self.buf.split(b"\n\n", 1)
            data = [line[5:].strip() for line in event.split(b"\n") if line.startswith(b"data:")]
            if data:
                return b"\n".join(data)

    def next_json(self, timeout=10):
        return json.loads(self.next_event(timeout))

    def close(self):
        self.sock.close()


def nofile_for(want):
    """want open files, or the hard limit nginx inherits from here if lower
    (past it even root needs CAP_SYS_RESOURCE, which a container may lack)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return want if hard == resource.RLIM_INFINITY else min(want, hard)


class Stack:
    def __init__(self, env=None, nchan=True, start=True, rate="10000r/s", threads=None,
                 workers=1, connections=4096):
        self.tmp = tempfile.mkdtemp(prefix="livestatus-test-")
        self.db = os.path.join(self.tmp, "livestatus.db")
        self.sock = os.path.join(self.tmp, "fcgi.sock")
        self.revision_dir = os.path.join(self.tmp, "revision")
        self.secret = SECRET
        self.nchan = nchan
        self.rate = rate
        self.threads = threads
        self.workers = workers
        self.connections = connections
        self.port = None
        self.url = None
        self.api = None
        self.publish_url = None
        self.procs = {}
        self._logs = {}
        self._stopped = False
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LIVESTATUS_DB": self.db,
            "PLUGIN_SECRET": self.secret,
            "READ_AUTH": "secret",
            "LOG_LEVEL": "info",
            "REVISION_DIR": self.revision_dir,
        }
        self._extra_env = dict(env or {})
        if start:
            try:
                self.start()
            except BaseException:
                self._teardown(check=False)
                raise

    # -- lifecycle -----------------------------------------------------

    def start(self):
        last = None
        for _ in range(3):  # a free port can be taken between probe and bind
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            self.api = self.url + PREFIX
            self.publish_url = self.url + "/_livestatus/publish" if self.nchan else None
            if self.publish_url:
                self.env["PUBLISH_URL"] = self.publish_url
            for k, v in self._extra_env.items():
                if v is None:
                    self.env.pop(k, None)
                else:
                    self.env[k] = str(v)
            self._write_nginx_conf()
            if "responder" not in self.procs:
                self._start_responder()
            try:
                self._start_nginx()
                return
            except AssertionError as e:
                last = e
                if "Address already in use" not in self.log("nginx-error") + self.log("nginx"):
                    raise
                self.procs.pop("nginx", None)
        raise last

    def _start_responder(self):
        argv = [os.path.join(build_dir(), "livestatus-fcgi"), "--listen", "unix:" + self.sock]
        if self.threads:
            argv += ["--threads", str(self.threads)]
        p = self.start_process("responder", argv, self.env)

        def ready():
            if p.poll() is not None:
                raise AssertionError(f"livestatus-fcgi exited with {p.returncode}:\n"
                                     + self.log("responder")[-3000:])
            if not os.path.exists(self.sock):
                return False
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
                c.connect(self.sock)
            return True

        self._wait_ready(ready, "the responder's socket")

    def restart_responder(self):
        self.stop_process("responder")
        self.procs.pop("responder", None)
        self._start_responder()

    def _write_nginx_conf(self):
        os.makedirs(os.path.join(self.tmp, "nginx-tmp"), exist_ok=True)
        os.makedirs(os.path.join(self.tmp, "bench"), exist_ok=True)
        with open(os.path.join(ROOT, "nginx", "livestatus.conf")) as f:
            site = f.read()
        if not self.nchan:
            site = re.sub(r"# nchan-begin.*?# nchan-end\n?", "", site, flags=re.S)
        site = site.replace("unix:/run/livestatus/fcgi.sock", "unix:" + self.sock)
        site = site.replace("/run/livestatus/revision", self.revision_dir)
        with open(os.path.join(ROOT, "nginx", "livestatus-http.conf")) as f:
            http_conf = re.sub(r"rate=\S+;", f"rate={self.rate};", f.read())
        http_conf = http_conf.replace("/run/livestatus-nginx-cache",
                                      os.path.join(self.tmp, "nginx-cache"))
        site_path = os.path.join(self.tmp, "livestatus.conf")
        http_path = os.path.join(self.tmp, "livestatus-http.conf")
        with open(site_path, "w") as f:
            f.write(site)
        with open(http_path, "w") as f:
            f.write(http_conf)
        with open(os.path.join(ROOT, "nginx", "test.conf.in")) as f:
            conf = f.read()
        lines = []
        for line in conf.splitlines(keepends=True):
            if line.startswith("@NCHAN@"):
                if not self.nchan:
                    continue
                line = line[len("@NCHAN@"):]
            if line.startswith("@MANYCONN@"):
                if self.connections <= 4096:
                    continue
                line = line[len("@MANYCONN@"):]
            lines.append(line)
        conf = "".join(lines)
        subst = {
            "@TMP@": self.tmp,
            "@PORT@": str(self.port),
            "@WORKERS@": str(self.workers),
            "@CONNECTIONS@": str(self.connections),
            "@NOFILE@": str(nofile_for(2 * self.connections + 64)),
            "@DEMO_ROOT@": os.path.join(ROOT, "plugin", "dist", "demo"),
            "@HTTP_CONF@": http_path,
            "@SITE_CONF@": site_path,
        }
        for k, v in subst.items():
            conf = conf.replace(k, v)
        self.nginx_conf = os.path.join(self.tmp, "nginx.conf")
        with open(self.nginx_conf, "w") as f:
            f.write(conf)

    def _start_nginx(self):
        p = self.start_process("nginx", [NGINX, "-p", self.tmp, "-c", self.nginx_conf,
                                         "-e", os.path.join(self.tmp, "nginx-error.log")])

        def ready():
            if p.poll() is not None:
                raise AssertionError(f"nginx exited with {p.returncode}:\n"
                                     + self.log("nginx")[-2000:]
                                     + self.log("nginx-error")[-2000:])
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True

        self._wait_ready(ready, "nginx")

    def _wait_ready(self, fn, what, timeout=30):
        def probe():
            try:
                return fn()
            except AssertionError:
                raise
            except OSError:
                return False
        deadline = time.monotonic() + timeout
        while True:
            if probe():
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.02)

    def start_process(self, name, argv, env=None):
        """Starts argv under this stack, output to <tmp>/<name>.log."""
        env = sanitizer_env(dict(env if env is not None else os.environ))
        path = os.path.join(self.tmp, name + ".log")
        log = open(path, "ab")
        self._logs[name] = path
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                             env=env, cwd=ROOT)
        log.close()
        self.procs[name] = p
        return p

    def stop_process(self, name, sig=signal.SIGTERM, timeout=5):
        p = self.procs.get(name)
        if p is None:
            return None
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def log(self, name):
        path = self._logs.get(name, os.path.join(self.tmp, name + ".log"))
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def problems(self):
        """Sanitizer reports and nginx alerts found in the logs so far."""
        found = []
        for fn in sorted(os.listdir(self.tmp)):
            if not fn.endswith(".log"):
                continue
            text = self.log(fn[:-4])
            for pat in SANITIZER_PATTERNS:
                if pat in text:
                    found.append(f"{fn}: {pat}")
            if fn.startswith("nginx"):
                for line in text.splitlines():
                    if NGINX_BAD.search(line):
                        found.append(f"{fn}: {line}")
        return found

    def _teardown(self, check=True):
        if self._stopped:
            return
        self._stopped = True
        for name in reversed(list(self.procs)):
            self.stop_process(name)
        problems = self.problems() if check else []
        if problems:
            raise AssertionError("problems in the logs (kept in %s):\n%s" % (
                self.tmp, "\n".join(problems)))
        if os.environ.get("KEEP_TMP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)

    def stop(self):
        self._teardown(check=True)

    def __enter__(self):
        return self

    def __exit__(self, etype, exc, tb):
        # On a test failure keep the logs, but never hide the failure.
        if etype is not None:
            try:
                self._teardown(check=True)
            except AssertionError as e:
                print(e)
            return False
        self.stop()
        return False

    # -- requests ------------------------------------------------------

    def wait_for(self, fn, timeout=DEADLINE, what=None):
        return wait_for(fn, timeout, what)

    def wait_equal(self, fn, expected, timeout=DEADLINE, what=None):
        return wait_equal(fn, expected, timeout, what)

    def responder_answers(self, route, status=200):
        from tests.integ import promparse
        r = self.request("GET", "/api/v1/metrics")
        assert r.status == 200, r
        fams = promparse.parse(r.body.decode())
        return promparse.value(fams, "livestatus_api_requests_total", route=route,
                               status=str(status)) or 0

    def auth_headers(self, auth="secret"):
        if auth is None:
            return {}
        token = self.secret if auth == "secret" else auth
        return {"Authorization": "Bearer " + token}

    def request(self, method, path, body=None, headers=None, auth="secret", raw=None,
                timeout=10):
        if raw is not None:
            return self.raw(raw, timeout)
        hdrs = dict(self.auth_headers(auth))
        data = None
        if body is not None:
            if isinstance(body, (dict, list)):
                data = json.dumps(body).encode()
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = bytes(body)
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, PREFIX + path, body=data, headers=hdrs)
            r = conn.getresponse()
            resp = Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()
        return resp

    def raw(self, data, timeout=10):
        """Writes raw request bytes to nginx; the parsed response."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as c:
            c.sendall(data)
            out = b""
            while True:
                try:
                    chunk = c.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                out += chunk
                if self._complete(out):
                    break
        return parse_http_response(out)

    @staticmethod
    def _complete(data):
        head, sep, body = data.partition(b"\r\n\r\n")
        if not sep:
            return False
        m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        if m:
            return len(body) >= int(m.group(1))
        if re.search(rb"(?im)^transfer-encoding:\s*chunked", head):
            return body.endswith(b"0\r\n\r\n")
        return False

    def stream(self, auth="secret", timeout=10):
        return Stream(self.port, PREFIX + "/api/v1/stream", self.auth_headers(auth), timeout)

    def fcgi_client(self, timeout=10):
        return FcgiClient(self.sock, timeout)

    def fcgi(self, params, body=b"", timeout=10):
        c = self.fcgi_client(timeout)
        try:
            c.begin(params)
            if body:
                c.send_stdin(body)
            c.end_stdin()
            return c.response()
        finally:
            c.close()
