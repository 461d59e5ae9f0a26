#!/bin/sh
# Browser latency: an API write to its text in the page's DOM (p50/p99 over
# 200 appends, measured in the page), with nchan push and with polling, and
# how many idle EventSource subscribers nginx holds with the responder's
# thread count unchanged.
set -eu
cd "$(dirname "$0")/../.."
make --no-print-directory -C plugin build >/dev/null
python3 tests/bench/bench_plugin.py
