#!/bin/sh
# bench_ocdb: the watcher over an OpenClaw 2026.8+ agent database.  Events per
# second from a 200 000-event database (half of them zstd rows) into boxes,
# next to a program that only selects and decodes the same rows (the
# ceiling), and append-to-API latency (p50, p99) through the database path.
# Prints figures; never fails on a number.  BENCH_EVENTS (200000) and
# BENCH_APPENDS (1000) scale it.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${LIVESTATUS_BUILD:-build}
[ -x "$BUILD/livestatus-watcher" ] || { echo "build $BUILD/livestatus-watcher first (make)"; exit 1; }
mkdir -p "$BUILD/bench"
# shellcheck disable=SC2046
${CC:-cc} -O2 -Wall -o "$BUILD/bench/ocdb_ceiling" tests/bench/ocdb_ceiling.c \
	$(pkg-config --cflags --libs sqlite3 libzstd json-c)
exec python3 tests/bench/bench_ocdb.py --build "$BUILD"
