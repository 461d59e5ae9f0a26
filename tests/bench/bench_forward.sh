#!/bin/sh
# bench_forward: a gateway's watcher forwarding to a central API on loopback:
# requests/s and bytes per box change at the latency benchmark's pace with 100
# active boxes, append -> central API p50/p99, and how long a gateway takes to
# drain a backlog of an hour of 20 busy sessions.  Prints figures; never fails
# on a number.  BENCH_FORWARD_S (20) and BENCH_APPENDS (200) scale it.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${LIVESTATUS_BUILD:-build}
[ -x "$BUILD/livestatus-watcher" ] || { echo "build $BUILD/livestatus-watcher first (make)"; exit 1; }
exec python3 tests/bench/bench_forward.py --build "$BUILD"
