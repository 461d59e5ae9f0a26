#!/bin/sh
# make demo: builds the webapp's demo page when node is there, then runs the stack.
set -u
cd "$(dirname "$0")/.."
if command -v npm >/dev/null 2>&1; then
	make --no-print-directory -C plugin build >/tmp/livestatus-demo-webapp.log 2>&1 ||
		echo "demo: the webapp did not build (see /tmp/livestatus-demo-webapp.log); API only"
fi
exec python3 scripts/demo.py
