#!/bin/sh
# make bench: runs every benchmark part present (tests/bench/bench_*.sh), one
# after another on the same machine, and prints their figures.  Benchmarks
# measure; they never fail the build on a number.
set -u
cd "$(dirname "$0")/../.."
status=0
for b in tests/bench/bench_*.sh; do
	[ -f "$b" ] || continue
	echo "=== $(basename "$b" .sh)"
	sh "$b" || { echo "benchmark $b failed (exit $?)"; status=1; }
	echo
done
exit $status
