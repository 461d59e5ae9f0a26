#!/bin/sh
# Browser latency: an API write to its text in the page's DOM (p50/p99 over
# 200 appends, measured in the page), with nchan push and with polling, and
# how many authorized EventSource subscribers (BENCH_SUBSCRIBERS, 10000)
# nginx holds, with the responder's memory before and after.
set -eu
cd "$(dirname "$0")/../.."
make --no-print-directory -C plugin build >/dev/null
python3 tests/bench/bench_plugin.py
