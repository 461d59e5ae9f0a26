#!/bin/sh
# bench_watcher: the watcher's replay rate against a json-c parse-only ceiling,
# append-to-API latency, and peak RSS with 100 active boxes.  Prints figures;
# never fails on a number.  BENCH_LINES (200000) and BENCH_APPENDS (1000) scale it.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${LIVESTATUS_BUILD:-build}
[ -x "$BUILD/livestatus-watcher" ] || { echo "build $BUILD/livestatus-watcher first (make)"; exit 1; }
mkdir -p "$BUILD/bench"
# shellcheck disable=SC2046
${CC:-cc} -O2 -o "$BUILD/bench/json_ceiling" tests/bench/json_ceiling.c \
	$(pkg-config --cflags --libs json-c)
exec python3 tests/bench/bench_watcher.py --build "$BUILD"
