#!/bin/sh
# bench_openclaw: real OpenClaw (gateway mode) -> watcher -> API latencies: run
# start -> box and reply -> line, p50/p99 over BENCH_OPENCLAW_RUNS runs (20) of
# four replies each, beside OpenClaw's own draft preview pace (one edit a
# second).  Prints figures; never fails on a number.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${LIVESTATUS_BUILD:-build}
[ -x "$BUILD/livestatus-watcher" ] || { echo "build $BUILD/livestatus-watcher first (make)"; exit 1; }
LIVESTATUS_BUILD=$BUILD exec python3 tests/bench/bench_openclaw.py
