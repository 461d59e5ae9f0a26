#!/bin/sh
# make demo: runs scripts/demo.py, which builds the webapp's demo page (its log in the
# run folder), starts the stack and plays the sample session.  Under make, DEMO_PARENT
# is make's pid: the demo then also stops when make goes away.
set -u
cd "$(dirname "$0")/.."
case "$(cat "/proc/$PPID/comm" 2>/dev/null)" in
make | gmake) DEMO_PARENT=$PPID && export DEMO_PARENT ;;
esac
exec python3 scripts/demo.py
