#!/bin/sh
# deps.sh: installs the Debian 12 packages livestatus builds and tests with.
# Quiet and quick when everything is there; needs root (or sudo) otherwise.
set -eu

pkgs="gcc make pkg-config libfcgi-dev libcurl4-openssl-dev libjson-c-dev
libsqlite3-dev libzstd-dev libcmocka-dev sqlite3 zstd nginx libnginx-mod-nchan
inotify-tools curl wrk mandoc procps chromium clang-format cppcheck openssl systemd libseccomp-dev"

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
