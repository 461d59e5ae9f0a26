#!/usr/bin/env python3
"""Part of make bench: browser latency (push vs polling) and idle subscribers."""
import json
import os
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "bench"))
from tests.integ.harness import Stack  # noqa: E402
from figures import figure  # noqa: E402

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


def idle_subscribers(target=2000):
    """Opens EventSource-style subscribers until nginx stops accepting them."""
    with Stack(env={"READ_AUTH": "none"}) as s:
        threads = s.env.get("FCGI_THREADS", "default")
        socks = []
        req = (f"GET /plugins/com.openclaw.livestatus/api/v1/stream HTTP/1.1\r\n"
               f"Host: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n").encode()
        try:
            for _ in range(target):
                c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
                c.sendall(req)
                head = c.recv(4096)
                if b" 200 " not in head.split(b"\r\n", 1)[0]:
                    c.close()
                    break
                socks.append(c)
            held = len(socks)
            # The responder still answers with every subscriber parked.
            t0 = time.monotonic()
            r = s.request("GET", "/api/v1/health")
            health_ms = (time.monotonic() - t0) * 1000
        finally:
            for c in socks:
                c.close()
        return held, r.status, health_ms, threads


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
    held, status, ms, threads = idle_subscribers()
    print(f"idle stream subscribers held by nginx: {held} (attempted 2000; worker_connections "
          f"bounds it), health with all of them open: {status} in {ms:.0f} ms; responder threads "
          f"unchanged ({threads})")
    figure("idle stream subscribers (EventSource)",
           f"{held} of 2000 held by nginx; health {status} in {ms:.0f} ms with all open", CMD)


if __name__ == "__main__":
    main()
