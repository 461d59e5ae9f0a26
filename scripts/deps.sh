#!/bin/sh
# deps.sh: installs the Debian 12 packages livestatus needs.  Quiet and quick when
# everything is there; needs root (or sudo) otherwise.
#   sh scripts/deps.sh demo   what building and `make demo` need: the compiler, the
#                             libraries, nginx with nchan, node and npm for the page
#   sh scripts/deps.sh test   that, and what the tests add (the browser, cmocka, the
#                             linters, wrk, ...); also what it does with no argument
set -eu

demo="gcc make pkg-config libfcgi-dev libcurl4-openssl-dev libjson-c-dev
libsqlite3-dev libzstd-dev nginx libnginx-mod-nchan sqlite3 curl"
test="libcmocka-dev zstd inotify-tools wrk mandoc procps chromium clang-format cppcheck
openssl systemd libseccomp-dev"

case "${1:-test}" in
demo) pkgs=$demo ;;
test) pkgs="$demo $test" ;;
*) echo "usage: sh scripts/deps.sh [demo|test]" >&2 && exit 2 ;;
esac

missing=""
for p in $pkgs; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
# The webapp needs node and npm; Debian's (18 and 9) are enough, and a
# newer node already on the machine is kept.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

[ -z "$missing" ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
