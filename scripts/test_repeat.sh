#!/bin/sh
# test_repeat.sh: runs the whole suite N times in a row, optionally while
# other processes keep every core busy, to show that no test fails by chance.
#
#   make test-repeat N=5 [LOAD=1]      (LOAD=1 is the default; LOAD=0 for an idle machine)
#
# The programs (plain and ASan/UBSan) are built once by make before this
# runs.  The load is one busy loop per core, killed when this script ends;
# each loop is bounded by the whole run's length.  Prints one line per run
# (its summary and how long it took) and exits 1 when any run failed.
set -u
cd "$(dirname "$0")/.."
n=${N:-5}
load=${LOAD:-1}
case $n in '' | *[!0-9]*) echo "test-repeat: N must be a number (got '$n')" >&2; exit 2 ;; esac
[ "$n" -ge 1 ] || { echo "test-repeat: N must be at least 1" >&2; exit 2; }

logdir=$(mktemp -d "${TMPDIR:-/tmp}/livestatus-repeat.XXXXXX")
pids=""
stop_load() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	pids=""
}
trap 'stop_load' EXIT
trap 'stop_load; exit 130' INT TERM

if [ "$load" = 1 ]; then
	cores=$(nproc 2>/dev/null || echo 2)
	i=0
	while [ "$i" -lt "$cores" ]; do
		# one core's worth of work; ends by itself after 6 hours at most
		timeout 21600 sh -c 'while :; do :; done' &
		pids="$pids $!"
		i=$((i + 1))
	done
	echo "test-repeat: $cores busy loops running beside the suite"
fi

failed=0
run=1
while [ "$run" -le "$n" ]; do
	start=$(date +%s)
	log="$logdir/run$run.log"
	python3 tests/run.py --build build --asan-build build/asan >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	echo "run $run/$n: ${summary:-no summary (exit $rc)} in ${secs}s (log: $log)"
	if [ "$rc" -ne 0 ]; then
		failed=$((failed + 1))
		grep -E '^FAIL' "$log" | sed 's/^/    /'
	fi
	run=$((run + 1))
done
echo "test-repeat: $((n - failed)) of $n runs green"
[ "$failed" -eq 0 ]
