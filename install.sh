#!/bin/sh
# install.sh: installs livestatus on an OpenClaw host (Debian 12) in one step.
#
# Installs the Debian packages it builds and runs with, builds, runs
# `make install`, creates the service user and the database folder, writes
# the env file once (with a fresh PLUGIN_SECRET), puts the nginx snippet
# where nginx can include it, deploys the OpenClaw gateway hook and enables
# the systemd units.  Every step looks before it acts, so running it again
# changes only what is missing; --dry-run prints each action and changes
# nothing.
set -eu

usage() {
	cat <<'EOF'
usage: install.sh [--dry-run] [--prefix DIR] [--openclaw-dir DIR]
                  [--no-deps] [--no-enable] [--with-hook] [-h|--help]

Installs livestatus on this host: Debian packages, build, make install,
the service user and /var/lib/livestatus, /etc/livestatus/livestatus.env
(kept when present), the nginx snippet, the OpenClaw gateway hook and the
systemd units.  Safe to run again.

  --dry-run           print every action, change nothing
  --prefix DIR        install prefix (default /usr/local)
  --openclaw-dir DIR  OpenClaw state folder that holds hooks/ (default
                      $OPENCLAW_STATE_DIR, else ~/.openclaw of the user
                      who ran sudo, else of the current user)
  --no-deps           do not install Debian packages
  --no-enable         do not enable or start the systemd units
  --with-hook         deploy the gateway hook even when systemd runs the
                      watcher (by default the hook is deployed only where
                      the units are not enabled: both would start one)
  -h, --help          show this help
EOF
}

dry=0
prefix=/usr/local
openclaw_dir=${OPENCLAW_STATE_DIR:-}
deps=1
enable=1
with_hook=0
while [ $# -gt 0 ]; do
	case "$1" in
	--dry-run) dry=1 ;;
	--prefix) [ $# -ge 2 ] || { usage >&2; exit 2; }; prefix=$2; shift ;;
	--prefix=*) prefix=${1#*=} ;;
	--openclaw-dir) [ $# -ge 2 ] || { usage >&2; exit 2; }; openclaw_dir=$2; shift ;;
	--openclaw-dir=*) openclaw_dir=${1#*=} ;;
	--no-deps) deps=0 ;;
	--no-enable) enable=0 ;;
	--with-hook) with_hook=1 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "install.sh: unknown option: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

src=$(cd "$(dirname "$0")" && pwd)
user=livestatus
dbdir=/var/lib/livestatus
etcdir=/etc/livestatus
envfile=$etcdir/livestatus.env
pkgdata=$prefix/share/livestatus
units="livestatus-fcgi.socket livestatus-watcher.service"

# OpenClaw's state folder: that of the user who ran sudo, not root's.
if [ -z "$openclaw_dir" ]; then
	home=$HOME
	if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
		home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
	fi
	openclaw_dir=$home/.openclaw
fi

# Whether the units are enabled here; else the gateway hook starts the watcher.
use_systemd=0
if [ "$enable" = 1 ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	use_systemd=1
fi

# Packages to build and run with; nginx itself is the operator's (it
# fronts Mattermost already), nchan is added when nginx is there.
pkgs="gcc make pkg-config libfcgi-dev libcurl4-openssl-dev libjson-c-dev
libsqlite3-dev libzstd-dev sqlite3 ca-certificates"

say() { printf '%s\n' "$*"; }
note() { printf 'install.sh: %s\n' "$*"; }

# Runs a command, or only shows it under --dry-run.
run() {
	line="+"
	for a in "$@"; do
		case "$a" in
		'' | *[!A-Za-z0-9_./:=@%+,-]*)
			line="$line '$(printf '%s' "$a" | sed "s/'/'\\\\''/g")'" ;;
		*) line="$line $a" ;;
		esac
	done
	say "$line"
	[ "$dry" = 1 ] || "$@"
}

if [ "$dry" = 0 ] && [ "$(id -u)" -ne 0 ]; then
	echo "install.sh: must run as root (try: sudo $0)" >&2
	exit 1
fi
[ "$dry" = 1 ] && note "dry run: nothing is changed"

# 1. Debian packages.
if [ "$deps" = 1 ]; then
	command -v nginx >/dev/null 2>&1 && pkgs="$pkgs libnginx-mod-nchan"
	missing=""
	for p in $pkgs; do
		case "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" in
		*"install ok installed"*) ;;
		*) missing="$missing $p" ;;
		esac
	done
	if [ -n "$missing" ]; then
		run env DEBIAN_FRONTEND=noninteractive apt-get update -qq
		# shellcheck disable=SC2086
		run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $missing
	else
		note "packages: all present"
	fi
fi

# 2. Build and install the files.
run make -C "$src" -j2 all
run make -C "$src" -f mk/install.mk install PREFIX="$prefix"

# 3. Service user and database folder.
if getent passwd "$user" >/dev/null 2>&1; then
	note "user $user: exists"
else
	run useradd --system --user-group --home-dir "$dbdir" --no-create-home \
		--shell /usr/sbin/nologin --comment "livestatus daemons" "$user"
fi
if [ -d "$dbdir" ]; then
	note "$dbdir: exists"
else
	# setgid and group-writable: the watcher (the OpenClaw user, group
	# $user) and the responder ($user) both write the database and its WAL.
	run install -d -o "$user" -g "$user" -m 2770 "$dbdir"
fi

# The watcher reads OpenClaw's folder as $user: join the folder's group.
if [ -d "$openclaw_dir" ]; then
	group=$(stat -c %G "$openclaw_dir")
	if [ "$group" = root ] || [ "$group" = UNKNOWN ]; then
		:
	elif id -nG "$user" 2>/dev/null | tr ' ' '\n' | grep -qx "$group"; then
		note "user $user: already in group $group"
	else
		run usermod -a -G "$group" "$user"
	fi
	if [ "$dry" = 0 ] && command -v runuser >/dev/null 2>&1 &&
		! runuser -u "$user" -- test -r "$openclaw_dir/agents" 2>/dev/null; then
		note "the $user user cannot read $openclaw_dir/agents: allow its group, e.g. chmod g+rx $(dirname "$openclaw_dir") $openclaw_dir $openclaw_dir/agents (and g+r below)"
	fi
fi

# 4. The env file, written once: the operator's edits are never replaced.
if [ -e "$envfile" ]; then
	note "$envfile: kept as it is"
else
	run install -d -m 0755 "$etcdir"
	secret=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
	say "+ write $envfile from $pkgdata/livestatus.env.example (mode 0640, new PLUGIN_SECRET, TRANSCRIPT_DIR=$openclaw_dir/agents when it exists)"
	if [ "$dry" = 0 ]; then
		umask 077
		sed "s|^PLUGIN_SECRET=.*|PLUGIN_SECRET=$secret|" \
			"$pkgdata/livestatus.env.example" >"$envfile.tmp"
		grep -q '^PLUGIN_SECRET=' "$envfile.tmp" ||
			printf 'PLUGIN_SECRET=%s\n' "$secret" >>"$envfile.tmp"
		# The watcher runs as a service user: tell it where OpenClaw is.
		if [ -d "$openclaw_dir/agents" ] && ! grep -q '^TRANSCRIPT_DIR=' "$envfile.tmp"; then
			printf '\n# OpenClaw agents followed by livestatus-watcher\nTRANSCRIPT_DIR=%s\n' \
				"$openclaw_dir/agents" >>"$envfile.tmp"
		fi
		chown "root:$user" "$envfile.tmp"
		chmod 0640 "$envfile.tmp"
		mv "$envfile.tmp" "$envfile"
		umask 022
	fi
fi

# 5. The nginx parts: the http-level zone goes to conf.d (Debian's nginx.conf
# includes it inside http {}), the server-level snippet to snippets/ for the
# Mattermost site to include.  Files already there are the operator's.
if [ ! -d /etc/nginx ]; then
	note "nginx: not installed; its snippets are in $pkgdata/nginx/"
else
	for pair in livestatus-http.conf:conf.d livestatus.conf:snippets; do
		f=${pair%%:*}
		dir=/etc/nginx/${pair#*:}
		if [ ! -e "$src/nginx/$f" ]; then
			note "nginx: no $f in this tree, skipped"
		elif [ -e "$dir/$f" ]; then
			note "$dir/$f: kept as it is"
		else
			run install -D -m 0644 "$pkgdata/nginx/$f" "$dir/$f"
		fi
	done
	if ! grep -rqs 'snippets/livestatus.conf' /etc/nginx/sites-enabled /etc/nginx/conf.d; then
		note "add 'include snippets/livestatus.conf;' to the server {} of the Mattermost site, then: nginx -t && systemctl reload nginx"
	fi
fi

# 6. The OpenClaw gateway hook, which starts the watcher with the gateway.
hookname=$(sed -n 's/^name:[[:space:]]*["'\'']\{0,1\}\([A-Za-z0-9_.-]*\).*/\1/p' \
	"$src/deploy/openclaw-hook/HOOK.md" 2>/dev/null | head -n 1)
[ -n "$hookname" ] || hookname=livestatus-watcher
hookdest=$openclaw_dir/hooks/$hookname
if [ ! -d "$src/deploy/openclaw-hook" ]; then
	note "hook: no deploy/openclaw-hook in this tree, skipped"
elif [ "$use_systemd" = 1 ] && [ "$with_hook" = 0 ]; then
	note "hook: not deployed, systemd runs the watcher (--with-hook deploys it anyway; it is in $pkgdata/openclaw-hook)"
elif [ ! -d "$openclaw_dir" ]; then
	note "hook: $openclaw_dir does not exist (no OpenClaw here?); copy $pkgdata/openclaw-hook to <state dir>/hooks/$hookname later"
elif [ -d "$hookdest" ] && diff -r "$src/deploy/openclaw-hook" "$hookdest" >/dev/null 2>&1; then
	note "hook $hookdest: up to date"
else
	owner=$(stat -c %U:%G "$openclaw_dir")
	run install -d -m 0755 "$openclaw_dir/hooks"
	run rm -rf "$hookdest"
	run cp -R "$pkgdata/openclaw-hook" "$hookdest"
	run chown "$owner" "$openclaw_dir/hooks"
	run chown -R "$owner" "$hookdest"
fi

# 7. systemd units.
if [ "$enable" = 0 ]; then
	note "units: not enabled (--no-enable)"
elif [ "$use_systemd" = 0 ]; then
	note "units: systemd is not running here; start the programs another way (see livestatus(7))"
else
	# The unit reads OpenClaw's folder at a fixed path: point it here.  It
	# runs as the folder's owner, since OpenClaw 2026.8+ keeps sessions in
	# mode-0600 databases only their owner may open; group $user keeps the
	# store writable by the responder too.
	dropin=/etc/systemd/system/livestatus-watcher.service.d/openclaw.conf
	owner=openclaw
	[ -d "$openclaw_dir" ] && owner=$(stat -c %U "$openclaw_dir")
	want=$(printf '[Service]\nUser=%s\nGroup=%s\nReadOnlyPaths=\nReadOnlyPaths=-%s\n' \
		"$owner" "$user" "$openclaw_dir")
	if [ -e "$dropin" ] && [ "$(cat "$dropin")" = "$want" ]; then
		note "$dropin: up to date"
	else
		say "+ write $dropin (User=$owner Group=$user ReadOnlyPaths=-$openclaw_dir)"
		if [ "$dry" = 0 ]; then
			mkdir -p "$(dirname "$dropin")"
			printf '%s\n' "$want" >"$dropin"
		fi
	fi
	run systemctl daemon-reload
	# shellcheck disable=SC2086
	run systemctl enable --now $units
fi

note "done. Settings: $envfile; check: livestatus-watcher status; manual: man 7 livestatus"
