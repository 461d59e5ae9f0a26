#!/bin/sh
# make bench: runs every benchmark part present (tests/bench/bench_*.sh), one
# after another on the same machine, prints their reports and ends with one
# table of their figures (tests/bench/figures.py), also written to
# build/bench/figures.md and, with BENCH_WRITE_DOCS=1, into docs/benchmarks.md.
# BENCH_ONLY="api watcher" runs only those parts.  Benchmarks measure; they
# never fail the build on a number.
set -u
cd "$(dirname "$0")/../.."
logs=build/bench/logs
mkdir -p "$logs"
rm -f "$logs"/*.log
status=0
for b in tests/bench/bench_*.sh; do
	[ -f "$b" ] || continue
	name=$(basename "$b" .sh)
	case " ${BENCH_ONLY:-${name#bench_}} " in
	*" ${name#bench_} "*) ;;
	*) continue ;;
	esac
	echo "=== $name"
	# the part's status, not tee's
	{ sh "$b" 2>&1; echo $? >"$logs/$name.rc"; } | tee "$logs/$name.log"
	rc=$(cat "$logs/$name.rc")
	[ "$rc" = 0 ] || { echo "benchmark $b failed (exit $rc)"; status=1; }
	echo
done
echo "=== figures"
write=
[ "${BENCH_WRITE_DOCS:-0}" = 1 ] && write="--write docs/benchmarks.md"
# shellcheck disable=SC2086
python3 tests/bench/figures.py table "$logs"/*.log --out build/bench/figures.md $write ||
	status=1
exit $status
