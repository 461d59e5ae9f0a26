#!/usr/bin/env python3
"""Part of make bench: browser latency (push vs polling) and idle subscribers."""
import json
import os
import resource
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "bench"))
from tests.integ.harness import Stack  # noqa: E402
from figures import figure  # noqa: E402
from procmem import status_kb  # noqa: E402

CMD = "sh tests/bench/bench_plugin.sh"


def latency(nchan):
    with Stack(env={"READ_AUTH": "none"}, nchan=nchan) as s:
        env = dict(os.environ, LIVESTATUS_E2E_URL=s.url, PLUGIN_SECRET=s.secret,
                   E2E_STREAM="on" if nchan else "off", E2E_MODE="bench",
                   E2E_BENCH_N=os.environ.get("E2E_BENCH_N", "200"))
        out = subprocess.run(["node", "tests/e2e/run.mjs"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=600).stdout
        for line in reversed(out.splitlines()):
            if line.startswith("{"):
                return json.loads(line)
    return None


def nginx_workers_kb(master):
    """The summed VmRSS of nginx's worker processes (the master's children)."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid == master:
                total += status_kb(int(pid))
        except (OSError, ValueError, IndexError):
            pass
    return total


def raise_nofile(want):
    """Lets this process hold want sockets (root may raise the hard limit too)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, hard), max(want, hard)))
    except (ValueError, OSError):  # past the hard limit needs CAP_SYS_RESOURCE
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def subscribe(s, req):
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    c.sendall(req)
    head = c.recv(4096)
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        c.close()
        return None
    return c


def idle_subscribers(target):
    """Opens authorized EventSource subscribers (each one through the
    responder's /api/v1/auth) and reads the responder's memory before and
    after; the responder must stay flat while nginx holds them."""
    nofile = raise_nofile(target + 256)
    limit = min(target, nofile - 256)
    warm = min(100, limit)
    with Stack(connections=target + 512) as s:
        threads = s.env.get("FCGI_THREADS", "default")
        socks = []
        req = ("GET /plugins/com.openclaw.livestatus/api/v1/stream HTTP/1.1\r\n"
               "Host: 127.0.0.1\r\nAccept: text/event-stream\r\n"
               f"Authorization: Bearer {s.secret}\r\n\r\n").encode()
        responder = s.procs["responder"].pid
        nginx = s.procs["nginx"].pid
        refused = 0
        before = nginx_before = 0
        t0 = time.monotonic()
        try:
            while len(socks) < limit and time.monotonic() - t0 < 300:
                c = subscribe(s, req)
                if c is None:
                    refused += 1
                    if refused > 20:
                        break
                    time.sleep(0.05)  # the rate limit's burst refills
                    continue
                socks.append(c)
                if len(socks) == warm:
                    before = status_kb(responder)
                    nginx_before = nginx_workers_kb(nginx)
            open_s = time.monotonic() - t0
            held = len(socks)
            after = status_kb(responder)
            nginx_after = nginx_workers_kb(nginx)
            t1 = time.monotonic()
            r = s.request("GET", "/api/v1/health")
            health_ms = (time.monotonic() - t1) * 1000
        finally:
            for c in socks:
                c.close()
        return {"target": target, "held": held, "open_s": open_s, "status": r.status,
                "health_ms": health_ms, "threads": threads, "warm": warm,
                "rss_before": before / 1024, "rss_after": after / 1024,
                "nginx_before": nginx_before / 1024, "nginx_after": nginx_after / 1024,
                "nofile": nofile}


def main():
    got = {}
    for nchan in (True, False):
        r = latency(nchan)
        name = "push (nchan)" if nchan else "polling (2 s)"
        if r:
            got[nchan] = r
            print(f"browser {name}: write->DOM p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms "
                  f"over {r['measured']} appends ({r['missed']} missed)")
        else:
            print(f"browser {name}: no result")
    if True in got:
        push, poll = got[True], got.get(False)
        figure("API write -> browser DOM, nchan push",
               f"p50 {push['p50_ms']:.0f} ms, p99 {push['p99_ms']:.0f} ms", CMD,
               peer=f"polling every 2 s: p50 {poll['p50_ms']:.0f} ms" if poll else "",
               ratio=push["p50_ms"] / poll["p50_ms"] if poll and poll["p50_ms"] else None)
    n = int(os.environ.get("BENCH_SUBSCRIBERS", "10000"))
    r = idle_subscribers(n)
    grow = r["rss_after"] / r["rss_before"] if r["rss_before"] else 0
    print(f"stream subscribers held by nginx: {r['held']} of {n} (opened in {r['open_s']:.1f} s, "
          f"each authorized by the responder; open files allowed {r['nofile']}); health with all "
          f"of them open: {r['status']} in {r['health_ms']:.0f} ms; responder threads "
          f"{r['threads']}")
    print(f"responder RSS: {r['rss_before']:.1f} MiB with {r['warm']} subscribers, "
          f"{r['rss_after']:.1f} MiB with {r['held']} ({grow:.2f}x); nginx workers "
          f"{r['nginx_before']:.1f} -> {r['nginx_after']:.1f} MiB")
    figure(f"stream subscribers (EventSource, authorized), {n} opened",
           f"{r['held']} held by nginx; responder RSS {r['rss_after']:.1f} MiB "
           f"(nginx workers {r['nginx_after']:.1f} MiB); health {r['status']} in "
           f"{r['health_ms']:.0f} ms", CMD,
           peer=f"responder with {r['warm']} subscribers: {r['rss_before']:.1f} MiB",
           ratio=grow, goal=f"{n} held, responder RSS <= 1.1x",
           holds=r["held"] == n and grow <= 1.1)


if __name__ == "__main__":
    main()
