#!/bin/sh
# bench_api.sh: GET /api/v1/sessions through nginx and livestatus-fcgi,
# against nginx serving the same bytes as a static file and against a
# hello-world libfcgi responder serving the same bytes through the same
# nginx location.
#
#   sh tests/bench/bench_api.sh          (make bench runs it)
#
# Starts the test stack (tests/integ/harness.py: nginx from
# nginx/test.conf.in and nginx/livestatus.conf, the responder on a unix
# socket, a fresh SQLite file), fills it with 20 active boxes of 15 lines
# each and writes the list's exact bytes to the static location
# /bench/sessions.json.  Then, per round, wrk runs on
#   static     the static file, from the same nginx, as Debian's nginx
#              serves files;
#   static+ofc the same file with the open_file_cache settings of the API's
#              location (a stricter peer for the cached route);
#   hello      tests/bench/hello_fcgi.c (compiled here with cc -lfcgi:
#              N threads of FCGX_Accept_r/FCGX_PutStr/FCGX_Finish_r)
#              answering the same bytes, started on the responder's socket
#              in place of livestatus-fcgi, so nginx, its location and its
#              fastcgi settings are the same;
#   responder  livestatus-fcgi's real route, every request answered by the
#              responder (started without REVISION_DIR: nginx keeps nothing);
#   cached     the same route as deployed (REVISION_DIR set, the cache of
#              reads of nginx/livestatus.conf on): the secret's reads are
#              answered from nginx's cache until the store changes;
# and the same for an 11-byte answer (GET /api/v1/auth, never cached), for
# scale.
# Each measurement follows a 1 s warm-up.  It prints requests/s, p99, the
# ratios to static and to hello-world (the range over the rounds when there
# is more than one), and the responder's resident memory under load.  Same
# wrk settings, same headers, same bytes for all three.  It measures; it
# never fails on a number.
#
# Settings: BENCH_DURATION (10s), BENCH_CONNECTIONS (32), BENCH_THREADS
# (wrk threads, 2), BENCH_ROUNDS (1), BENCH_NGINX_WORKERS (auto, as in
# Debian's nginx.conf), BENCH_RESPONDER_THREADS (responder and hello-world
# threads; default: the responder's own default for it, 16 for hello-world),
# LIVESTATUS_BUILD (build).
set -eu
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null 2>&1 || { echo "bench_api: wrk is not installed (apt-get install wrk)"; exit 1; }
B="${LIVESTATUS_BUILD:-build}"
[ -x "$B/livestatus-fcgi" ] || {
	echo "bench_api: $B/livestatus-fcgi is missing: run make first"; exit 1; }
mkdir -p "$B/bench"
cc -O2 -Wall -Wextra -o "$B/bench/hello_fcgi" tests/bench/hello_fcgi.c -lfcgi -lpthread
HELLO="$B/bench/hello_fcgi" exec python3 - "$@" <<'PY'
import os, re, socket, subprocess, sys, threading, urllib.request
sys.path.insert(0, os.getcwd())
sys.path.insert(0, os.path.join(os.getcwd(), "tests", "bench"))
from tests.integ.harness import SECRET, Stack, wait_for
from figures import figure
from procmem import status_kb

duration = os.environ.get("BENCH_DURATION", "10s")
conns = os.environ.get("BENCH_CONNECTIONS", "32")
wthreads = os.environ.get("BENCH_THREADS", "2")
workers = os.environ.get("BENCH_NGINX_WORKERS", "auto")
threads = os.environ.get("BENCH_RESPONDER_THREADS")
rounds = int(os.environ.get("BENCH_ROUNDS", "1"))
hello_bin = os.path.abspath(os.environ["HELLO"])
hello_threads = threads or "16"


def wrk(url, headers, d=None):
    argv = ["wrk", "-t", wthreads, "-c", conns, "-d", d or duration, "--latency"]
    for h in headers:
        argv += ["-H", h]
    out = subprocess.run(argv + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errs = re.search(r"Socket errors:.*", out)
    return rps, p99, (int(non2xx.group(1)) if non2xx else 0) + (1 if errs else 0)


def connects(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.connect(path)
    return True


responder_env = {"LOG_LEVEL": "warn"}
if os.environ.get("BENCH_RESPONDER_ARENAS"):  # glibc's MALLOC_ARENA_MAX, over the built-in 2
    responder_env["MALLOC_ARENA_MAX"] = os.environ["BENCH_RESPONDER_ARENAS"]
with Stack(rate="100000000r/s", workers=workers, threads=threads and int(threads),
           env=responder_env) as s:
    for i in range(20):
        lines = [f"exec: grep -rn 'pattern {j}' src/module_{i}/ --include=*.c [OK]"
                 if j % 3 else f"Reading the notes of step {j} for box {i}." for j in range(15)]
        r = s.request("POST", "/api/v1/sessions", {
            "id": f"bench-{i:02d}", "session_key": f"agent:main:mattermost:channel:ch{i:02d}",
            "channel_id": f"ch{i:02d}xxxxxxxxxxxxxxxxxxxxx", "label": f"session {i}",
            "lines": lines})
        assert r.status == 201, r
    auth = ["Authorization: Bearer " + SECRET]
    cases = []  # (name, api path, static file name, bytes)
    for name, path, fn in (("list", "/api/v1/sessions", "sessions.json"),
                           ("tiny", "/api/v1/auth", "auth.json")):
        body = s.request("GET", path).body
        with open(os.path.join(s.tmp, "bench", fn), "wb") as f:
            f.write(body)
        with urllib.request.urlopen(s.url + "/bench/" + fn) as f:
            assert f.read() == body, "the static file differs from the API answer"
        cases.append((name, path, fn, body))

    link = os.path.join(s.revision_dir, "current")

    def no_link():
        # without the link nginx keeps nothing (nginx/livestatus.conf)
        if os.path.lexists(link):
            os.unlink(link)

    def use_responder(cached):
        if s.procs.get("hello") is not None:
            s.stop_process("hello")
            s.procs.pop("hello")
        running = s.procs["responder"].poll() is None
        if running and ("REVISION_DIR" in s.env) == cached:
            return
        if running:
            s.stop_process("responder")
        if cached:
            s.env["REVISION_DIR"] = s.revision_dir
        else:
            s.env.pop("REVISION_DIR", None)
            no_link()
        s.restart_responder()
        if cached:
            wait_for(lambda: os.path.lexists(link), what="the revision link")

    def use_hello(fn):
        s.stop_process("responder")
        no_link()
        if s.procs.get("hello") is not None:
            s.stop_process("hello")
        s.start_process("hello", [hello_bin, s.sock, hello_threads,
                                  os.path.join(s.tmp, "bench", fn)])
        wait_for(lambda: connects(s.sock), what="hello_fcgi's socket")

    res = {}  # (case, kind) -> [(rps, p99, bad)]
    # /api/v1/auth is never kept by nginx: no "cached" row for it
    KINDS = {"list": ("static", "static_ofc", "hello", "responder", "cached"),
             "tiny": ("static", "hello", "responder")}
    idle_rss = peak_rss = files_rss = 0
    for _ in range(rounds):
        for name, path, fn, body in cases:
            url = {"static": s.url + "/bench/" + fn, "static_ofc": s.url + "/bench-ofc/" + fn,
                   "hello": s.api + path,
                   "responder": s.api + path, "cached": s.api + path}
            for kind in KINDS[name]:
                if kind == "hello":
                    use_hello(fn)
                else:
                    use_responder(kind == "cached")
                if not kind.startswith("static"):
                    got = s.request("GET", path)
                    assert got.status == 200 and got.body == body, (kind, got)
                wrk(url[kind], auth, "1s")  # warm-up, not counted
                sampling = kind in ("responder", "cached") and name == "list"
                samples = []
                stop = threading.Event()
                if sampling:
                    pid = s.procs["responder"].pid
                    idle_rss = max(idle_rss, status_kb(pid))
                    files_rss = max(files_rss, status_kb(pid, "RssFile"))

                    def sample():
                        while not stop.wait(0.25):
                            samples.append(status_kb(pid))
                    t = threading.Thread(target=sample)
                    t.start()
                res.setdefault((name, kind), []).append(wrk(url[kind], auth))
                if sampling:
                    stop.set()
                    t.join()
                    peak_rss = max([peak_rss] + samples)
    use_responder(True)


def rng(xs, fmt):
    """min-max over the rounds, with the median when there are 3 or more."""
    lo, hi = fmt.format(min(xs)), fmt.format(max(xs))
    if lo == hi:
        return lo
    out = lo + "-" + hi
    if len(xs) >= 3:
        out += " (median " + fmt.format(sorted(xs)[len(xs) // 2]) + ")"
    return out


print(f"wrk -t{wthreads} -c{conns} -d{duration}, {rounds} round(s); nginx workers {workers}; "
      f"responder threads {threads or 'default'}, malloc arenas "
      f"{os.environ.get('BENCH_RESPONDER_ARENAS') or '2 (built in)'}, "
      f"hello-world threads {hello_threads}; "
      f"{os.cpu_count()} CPUs")
for name, path, fn, body in cases:
    print(f"GET {path}" + (" (20 active boxes x 15 lines)" if name == "list" else "")
          + f": {len(body)} bytes")
    st = [r[0] for r in res[(name, "static")]]
    hl = [r[0] for r in res[(name, "hello")]]
    for kind, label in (("static", "static file (nginx)"),
                        ("static_ofc", "static, open_file_cache"),
                        ("hello", "hello-world libfcgi"),
                        ("responder", "livestatus-fcgi"),
                        ("cached", "nginx cache (as deployed)")):
        if (name, kind) not in res:
            continue
        rs = res[(name, kind)]
        rps = [r[0] for r in rs]
        line = (f"  {label:26}: {rng(rps, '{:.0f}'):>13} req/s   "
                f"p99 {rng([r[1] for r in rs], '{:.2f}')} ms")
        if kind != "static":
            line += f"   {rng([a / b for a, b in zip(rps, st)], '{:.2f}')} of static"
        if kind in ("responder", "cached"):
            line += f", {rng([a / b for a, b in zip(rps, hl)], '{:.2f}')} of hello-world"
        if kind == "cached":
            so = [r[0] for r in res[(name, "static_ofc")]]
            line += f", {rng([a / b for a, b in zip(rps, so)], '{:.2f}')} of static+ofc"
        bad = sum(r[2] for r in rs)
        print(line + (f"   ({bad} non-2xx or socket errors)" if bad else ""))
print(f"responder RSS: {idle_rss / 1024:.1f} MiB idle, "
      f"{peak_rss / 1024:.1f} MiB peak under load (the list route); "
      f"the binary and shared libraries: {files_rss / 1024:.1f} MiB of it")


def median(xs):
    return sorted(xs)[len(xs) // 2]


for name, path, fn, body in cases:
    st, hl, rs = (median([r[0] for r in res[(name, k)]]) for k in ("static", "hello", "responder"))
    what = f"`GET {path}`" + (", 20 boxes x 15 lines" if name == "list" else "") \
        + f" ({len(body)} bytes)"
    peer = f"static nginx {st:.0f} req/s; hello-world libfcgi {hl:.0f} ({hl / st:.2f})"
    if name == "list":
        ca = median([r[0] for r in res[(name, "cached")]])
        so = median([r[0] for r in res[(name, "static_ofc")]])
        peer += f"; static with open_file_cache {so:.0f} (cached route {ca / so:.2f} of it)"
        figure(what + ", as deployed (nginx's cache of reads)",
               f"{ca:.0f} req/s (every read by the responder: {rs:.0f}, {rs / st:.2f})",
               "sh tests/bench/bench_api.sh", peer=peer, ratio=ca / st,
               goal=">= 0.60 of static", holds=ca / st >= 0.6)
    else:
        figure(what, f"{rs:.0f} req/s through nginx + responder", "sh tests/bench/bench_api.sh",
               peer=peer, ratio=rs / st)
figure("responder RSS, 20 boxes, under load", f"{peak_rss / 1024:.1f} MiB "
       f"({idle_rss / 1024:.1f} idle; binary and shared libraries {files_rss / 1024:.1f})", "sh tests/bench/bench_api.sh",
       goal="< 8 MiB", holds=peak_rss / 1024 < 8)
PY
