#!/bin/sh
# bench_growth: reads and write -> read through nginx and the responder over a store
# of BENCH_GROWTH_ACTIVE (1000) active boxes, then the same after
# BENCH_GROWTH_FINISHED (1 000 000) finished ones were added; p50/p99 and the ratio.
# Prints figures; never fails on a number.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${LIVESTATUS_BUILD:-build}
[ -x "$BUILD/livestatus-fcgi" ] || { echo "build $BUILD/livestatus-fcgi first (make)"; exit 1; }
LIVESTATUS_BUILD=$BUILD exec python3 tests/bench/bench_growth.py
