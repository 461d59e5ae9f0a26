#!/bin/sh
# bench_api.sh: GET /api/v1/sessions through nginx and livestatus-fcgi,
# against nginx serving the same bytes as a static file.
#
#   sh tests/bench/bench_api.sh          (make bench runs it)
#
# Starts the test stack (tests/integ/harness.py: nginx from
# nginx/test.conf.in, the responder on a unix socket, a fresh SQLite file),
# fills it with 20 active boxes of 15 lines each, writes the list's exact
# bytes to the static location /bench/sessions.json, then runs wrk on both
# URLs in turn and prints requests/s, p99 latency, their ratio, and the
# responder's resident memory under load; then, for scale, the same ratio
# for a route with a tiny answer (GET /api/v1/auth).  It measures; it never fails on
# a number.  Settings: BENCH_DURATION (10s), BENCH_CONNECTIONS (32),
# BENCH_THREADS (wrk threads, 2), BENCH_NGINX_WORKERS (auto, as in
# Debian's nginx.conf),
# BENCH_RESPONDER_THREADS (16),
# LIVESTATUS_BUILD (build).
set -eu
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null 2>&1 || { echo "bench_api: wrk is not installed (apt-get install wrk)"; exit 1; }
[ -x "${LIVESTATUS_BUILD:-build}/livestatus-fcgi" ] || {
	echo "bench_api: ${LIVESTATUS_BUILD:-build}/livestatus-fcgi is missing: run make first"; exit 1; }
exec python3 - "$@" <<'PY'
import os, re, subprocess, sys, threading, urllib.request
sys.path.insert(0, os.getcwd())
from tests.integ.harness import PREFIX, SECRET, Stack

duration = os.environ.get("BENCH_DURATION", "10s")
conns = os.environ.get("BENCH_CONNECTIONS", "32")
wthreads = os.environ.get("BENCH_THREADS", "2")
workers = os.environ.get("BENCH_NGINX_WORKERS", "auto")
threads = int(os.environ.get("BENCH_RESPONDER_THREADS", "16"))


def wrk(url, headers):
    argv = ["wrk", "-t", wthreads, "-c", conns, "-d", duration, "--latency"]
    for h in headers:
        argv += ["-H", h]
    out = subprocess.run(argv + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, p99, int(non2xx.group(1)) if non2xx else 0


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


with Stack(rate="100000000r/s", workers=workers, threads=threads,
           env={"LOG_LEVEL": "warn"}) as s:
    for i in range(20):
        lines = [f"exec: grep -rn 'pattern {j}' src/module_{i}/ --include=*.c [OK]"
                 if j % 3 else f"Reading the notes of step {j} for box {i}." for j in range(15)]
        r = s.request("POST", "/api/v1/sessions", {
            "id": f"bench-{i:02d}", "session_key": f"agent:main:mattermost:channel:ch{i:02d}",
            "channel_id": f"ch{i:02d}xxxxxxxxxxxxxxxxxxxxx", "label": f"session {i}",
            "lines": lines})
        assert r.status == 201, r
    body = s.request("GET", "/api/v1/sessions").body
    with open(os.path.join(s.tmp, "bench", "sessions.json"), "wb") as f:
        f.write(body)
    static_url = s.url + "/bench/sessions.json"
    api_url = s.api + "/api/v1/sessions"
    auth = ["Authorization: Bearer " + SECRET]
    pid = s.procs["responder"].pid
    with urllib.request.urlopen(static_url) as f:
        assert f.read() == body, "the static file differs from the API answer"

    samples = []
    stop = threading.Event()

    def sample():
        while not stop.wait(0.25):
            samples.append(rss_kb(pid))

    idle_rss = rss_kb(pid)
    t = threading.Thread(target=sample)
    t.start()
    api_rps, api_p99, api_bad = wrk(api_url, auth)
    stop.set()
    t.join()
    st_rps, st_p99, st_bad = wrk(static_url, auth)
    # For scale: the same comparison for a body of a few bytes (what a
    # hello-world responder measures), GET /api/v1/auth against its bytes.
    tiny = s.request("GET", "/api/v1/auth").body
    with open(os.path.join(s.tmp, "bench", "auth.json"), "wb") as f:
        f.write(tiny)
    ref_api, _, _ = wrk(s.api + "/api/v1/auth", auth)
    ref_static, _, _ = wrk(s.url + "/bench/auth.json", auth)

print(f"GET /api/v1/sessions: 20 active boxes x 15 lines, {len(body)} bytes; "
      f"wrk -t{wthreads} -c{conns} -d{duration}; nginx workers {workers}; "
      f"responder threads {threads}; {os.cpu_count()} CPUs")
print(f"  responder via nginx : {api_rps:10.0f} req/s   p99 {api_p99:7.2f} ms"
      + (f"   ({api_bad} non-2xx)" if api_bad else ""))
print(f"  static file (nginx) : {st_rps:10.0f} req/s   p99 {st_p99:7.2f} ms"
      + (f"   ({st_bad} non-2xx)" if st_bad else ""))
print(f"  ratio responder/static: {api_rps / st_rps:.2f}")
print(f"  for scale, a {len(tiny)}-byte answer (GET /api/v1/auth): {ref_api:.0f} vs "
      f"{ref_static:.0f} req/s static, ratio {ref_api / ref_static:.2f}")
print(f"  responder RSS: {idle_rss / 1024:.1f} MiB idle, "
      f"{max(samples or [0]) / 1024:.1f} MiB peak under load")
PY
