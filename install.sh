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
usage: install.sh [--role all|central|gateway] [--dry-run] [--prefix DIR]
                  [--openclaw-dir DIR] [--no-deps] [--no-enable]
                  [--with-hook] [--no-check] [--add-gateway NAME]
                  [--central-url URL --key KEY [--gateway-name NAME]
                  [--ca-file FILE]] [-h|--help]

Installs livestatus on this host: Debian packages, build, make install,
the service user and /var/lib/livestatus, /etc/livestatus/livestatus.env
(kept when present), the nginx snippet, the OpenClaw gateway hook and the
systemd units.  Safe to run again.  Ends with the next steps and
livestatus-check.

  --role ROLE         all (default): watcher, responder and nginx snippet
                      on one host (OpenClaw beside Mattermost);
                      central: responder, nginx snippet and units on the
                      Mattermost host, no watcher, /etc/livestatus/
                      gateway-keys for the gateways;
                      gateway: the watcher alone on an OpenClaw host,
                      forwarding to a central (needs --central-url, --key)
  --add-gateway NAME  central/all: add a gateway with a fresh key to the
                      keys file and print the lines for its env (repeatable)
  --central-url URL   gateway: the central's base, e.g.
                      https://chat.example.com/plugins/com.openclaw.livestatus
  --key KEY           gateway: this gateway's key (from --add-gateway)
  --gateway-name NAME gateway: its name at the central (default: host name)
  --ca-file FILE      gateway: CA certificate of the central (private CA)
  --no-check          do not run livestatus-check at the end
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
role=all
add_gateways=""
central_url=""
gw_key=""
gw_name=""
ca_file=""
check=1
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
	--no-check) check=0 ;;
	--role) [ $# -ge 2 ] || { usage >&2; exit 2; }; role=$2; shift ;;
	--role=*) role=${1#*=} ;;
	--add-gateway) [ $# -ge 2 ] || { usage >&2; exit 2; }; add_gateways="$add_gateways $2"; shift ;;
	--add-gateway=*) add_gateways="$add_gateways ${1#*=}" ;;
	--central-url) [ $# -ge 2 ] || { usage >&2; exit 2; }; central_url=$2; shift ;;
	--central-url=*) central_url=${1#*=} ;;
	--key) [ $# -ge 2 ] || { usage >&2; exit 2; }; gw_key=$2; shift ;;
	--key=*) gw_key=${1#*=} ;;
	--gateway-name) [ $# -ge 2 ] || { usage >&2; exit 2; }; gw_name=$2; shift ;;
	--gateway-name=*) gw_name=${1#*=} ;;
	--ca-file) [ $# -ge 2 ] || { usage >&2; exit 2; }; ca_file=$2; shift ;;
	--ca-file=*) ca_file=${1#*=} ;;
	-h|--help) usage; exit 0 ;;
	*) echo "install.sh: unknown option: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

die() { echo "install.sh: $*" >&2; exit 2; }
case "$role" in
all | central | gateway) ;;
*) die "--role must be all, central or gateway (not \"$role\")" ;;
esac
if [ "$role" = gateway ]; then
	[ -n "$central_url" ] || die "--role gateway needs --central-url URL: the central's base, e.g. https://chat.example.com/plugins/com.openclaw.livestatus"
	[ -n "$gw_key" ] || die "--role gateway needs --key KEY: this gateway's key (on the central: install.sh --role central --add-gateway NAME prints it)"
	case "$central_url" in
	http://* | https://*) ;;
	*) die "--central-url must start with https:// (or http://): $central_url" ;;
	esac
	[ "${#gw_key}" -ge 16 ] || die "--key must be at least 16 characters"
	case "$gw_key$gw_name" in
	*[[:space:]\|\\\&]*) die "--key and --gateway-name may not hold spaces, '|', '&' or '\\'" ;;
	esac
	[ -z "$add_gateways" ] || die "--add-gateway is for the central (--role central or all)"
	central_url=${central_url%/}
else
	for o in "$central_url:--central-url" "$gw_key:--key" "$gw_name:--gateway-name" "$ca_file:--ca-file"; do
		[ -z "${o%:*}" ] || die "${o##*:} is for --role gateway"
	done
fi
for g in $add_gateways; do
	case "$g" in
	*[!A-Za-z0-9_.-]* | '') die "--add-gateway: a name of letters, digits, '.', '_' and '-': $g" ;;
	esac
done

src=$(cd "$(dirname "$0")" && pwd)
user=livestatus
dbdir=/var/lib/livestatus
etcdir=/etc/livestatus
envfile=$etcdir/livestatus.env
pkgdata=$prefix/share/livestatus
keysfile=$etcdir/gateway-keys
case "$role" in
all) units="livestatus-fcgi.socket livestatus-watcher.service"; template=livestatus.env.example ;;
central) units="livestatus-fcgi.socket"; template=central.env.example ;;
gateway) units="livestatus-watcher.service"; template=gateway.env.example ;;
esac
note_role() { note "role $role: $*"; }

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
	if [ "$role" != gateway ] && command -v nginx >/dev/null 2>&1; then
		pkgs="$pkgs libnginx-mod-nchan"
	fi
	pkgs="$pkgs curl"
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
if [ "$role" != central ] && [ -d "$openclaw_dir" ]; then
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

# 4. The env file, written once: the operator's edits are never replaced
# (a gateway's forwarding settings excepted: --central-url and --key are
# written into it each time they are given).
# set_var FILE NAME VALUE: NAME=VALUE in FILE, in place of an earlier
# (or commented-out) assignment, else at the end.
set_var() {
	if grep -q "^$2=" "$1"; then
		sed -i "s|^$2=.*|$2=$3|" "$1"
	elif grep -q "^#[[:space:]]*$2=" "$1"; then
		sed -i "0,/^#[[:space:]]*$2=.*/s||$2=$3|" "$1"
	else
		printf '%s=%s\n' "$2" "$3" >>"$1"
	fi
}
if [ "$role" = gateway ]; then
	[ -n "$gw_name" ] || gw_name=$(hostname 2>/dev/null || uname -n)
	gwvars="PLUGIN_URL=$central_url PLUGIN_SECRET=<the --key> GATEWAY_NAME=$gw_name"
	[ -z "$ca_file" ] || gwvars="$gwvars CA_FILE=$ca_file"
fi
if [ -e "$envfile" ]; then
	if [ "$role" = gateway ]; then
		say "+ set in $envfile: $gwvars"
		if [ "$dry" = 0 ]; then
			set_var "$envfile" PLUGIN_URL "$central_url"
			set_var "$envfile" PLUGIN_SECRET "$gw_key"
			set_var "$envfile" GATEWAY_NAME "$gw_name"
			[ -z "$ca_file" ] || set_var "$envfile" CA_FILE "$ca_file"
		fi
	else
		note "$envfile: kept as it is"
	fi
else
	run install -d -m 0755 "$etcdir"
	if [ "$role" = gateway ]; then
		say "+ write $envfile from $pkgdata/$template (mode 0640, $gwvars)"
	elif [ "$role" = central ]; then
		say "+ write $envfile from $pkgdata/$template (mode 0640, new PLUGIN_SECRET)"
	else
		say "+ write $envfile from $pkgdata/$template (mode 0640, new PLUGIN_SECRET, TRANSCRIPT_DIR=$openclaw_dir/agents when it exists)"
	fi
	if [ "$dry" = 0 ]; then
		umask 077
		cp "$pkgdata/$template" "$envfile.tmp"
		if [ "$role" = gateway ]; then
			set_var "$envfile.tmp" PLUGIN_URL "$central_url"
			set_var "$envfile.tmp" PLUGIN_SECRET "$gw_key"
			set_var "$envfile.tmp" GATEWAY_NAME "$gw_name"
			[ -z "$ca_file" ] || set_var "$envfile.tmp" CA_FILE "$ca_file"
		else
			secret=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
			set_var "$envfile.tmp" PLUGIN_SECRET "$secret"
		fi
		# The watcher runs as a service user: tell it where OpenClaw is.
		if [ "$role" != central ] && [ -d "$openclaw_dir/agents" ] &&
			! grep -q '^TRANSCRIPT_DIR=' "$envfile.tmp"; then
			printf '\n# OpenClaw agents followed by livestatus-watcher\nTRANSCRIPT_DIR=%s\n' \
				"$openclaw_dir/agents" >>"$envfile.tmp"
		fi
		chown "root:$user" "$envfile.tmp"
		chmod 0640 "$envfile.tmp"
		mv "$envfile.tmp" "$envfile"
		umask 022
	fi
fi

# 4b. The gateways' keys (central): "NAME KEY" a line, read by the
# responder (group $user); a new key is printed once, kept nowhere else.
if [ "$role" = central ] || [ -n "$add_gateways" ]; then
	if [ -e "$keysfile" ]; then
		note "$keysfile: exists"
	else
		say "+ create $keysfile (mode 0640, root:$user): the gateways' keys, one \"NAME KEY\" a line"
		if [ "$dry" = 0 ]; then
			install -d -m 0755 "$etcdir"
			printf '# livestatus gateways: "NAME KEY" a line (key >= 16 characters).\n# Add one with: install.sh --role central --add-gateway NAME\n' >"$keysfile"
			chown "root:$user" "$keysfile"
			chmod 0640 "$keysfile"
		fi
	fi
	base=
	[ -r "$envfile" ] && base=$(sed -n 's/^MM_URL=//p' "$envfile" | tail -n 1)
	base=${base%/}
	case "$base" in
	http://?* | https://?*) base=$base/plugins/com.openclaw.livestatus ;;
	*) base=https://chat.example.com/plugins/com.openclaw.livestatus ;;
	esac
	for g in $add_gateways; do
		if [ -r "$keysfile" ] && grep -q "^${g}[[:space:]]" "$keysfile"; then
			note "gateway $g: already has a key in $keysfile (delete its line to make a new one)"
			continue
		fi
		if [ "$dry" = 1 ]; then
			say "+ append \"$g <new key>\" to $keysfile"
			key='<the new key>'
		else
			key=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
			printf '%s %s\n' "$g" "$key" >>"$keysfile"
			say "+ appended gateway $g to $keysfile"
		fi
		cat <<EOF

Gateway $g: its key is shown this once.  On the gateway, put these lines
into $envfile:

    PLUGIN_URL=$base
    PLUGIN_SECRET=$key
    GATEWAY_NAME=$g

or run there: sudo ./install.sh --role gateway --central-url $base --key $key --gateway-name $g
(the responder reads $keysfile again when it changes)

EOF
	done
fi

# 5. The nginx parts: the http-level zone goes to conf.d (Debian's nginx.conf
# includes it inside http {}), the server-level snippet to snippets/ for the
# Mattermost site to include.  Files already there are the operator's.
if [ "$role" = gateway ]; then
	note_role "no nginx snippet and no responder (the central serves the API)"
elif [ ! -d /etc/nginx ]; then
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
if [ "$role" = central ]; then
	note_role "no watcher and no OpenClaw hook (the gateways run the watchers)"
elif [ ! -d "$src/deploy/openclaw-hook" ]; then
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
	note "units ($units): not enabled (--no-enable)"
elif [ "$use_systemd" = 0 ]; then
	note "units ($units): systemd is not running here; start the programs another way (see livestatus(7))"
else
	# The unit reads OpenClaw's folder at a fixed path: point it here.  It
	# runs as the folder's owner, since OpenClaw 2026.8+ keeps sessions in
	# mode-0600 databases only their owner may open; group $user keeps the
	# store writable by the responder too.
	dropin=/etc/systemd/system/livestatus-watcher.service.d/openclaw.conf
	[ "$role" = central ] && dropin=
	owner=openclaw
	[ -d "$openclaw_dir" ] && owner=$(stat -c %U "$openclaw_dir")
	want=$(printf '[Service]\nUser=%s\nGroup=%s\nReadOnlyPaths=\nReadOnlyPaths=-%s\n' \
		"$owner" "$user" "$openclaw_dir")
	if [ -z "$dropin" ]; then
		:
	elif [ -e "$dropin" ] && [ "$(cat "$dropin")" = "$want" ]; then
		note "$dropin: up to date"
	else
		say "+ write $dropin (User=$owner Group=$user ReadOnlyPaths=-$openclaw_dir)"
		if [ "$dry" = 0 ]; then
			mkdir -p "$(dirname "$dropin")"
			printf '%s\n' "$want" >"$dropin"
		fi
	fi
	run systemctl daemon-reload
	# /run/livestatus/revision now, as at every boot (the cache of reads)
	run systemd-tmpfiles --create "$prefix/lib/tmpfiles.d/livestatus.conf"
	# shellcheck disable=SC2086
	run systemctl enable --now $units
fi

# 8. What is left to do by hand, then the check.
say ""
note "done (role $role). Settings: $envfile; manual: man 7 livestatus; docs/deployments.md"
say "Next steps on this host (role $role):"
case "$role" in
all)
	say "  1. edit $envfile: READ_AUTH=mattermost, MM_URL, MM_TOKEN (a bot's token)"
	say "  2. include snippets/livestatus.conf in the Mattermost server {}: nginx -t && systemctl reload nginx"
	say "  3. upload the plugin (plugin/dist) in System Console > Plugins and enable it"
	say "  4. systemctl restart livestatus-fcgi.socket livestatus-watcher; livestatus-watcher status"
	;;
central)
	say "  1. edit $envfile: READ_AUTH=mattermost, MM_URL, MM_TOKEN (a bot's token)"
	say "  2. include snippets/livestatus.conf in the Mattermost server {}: nginx -t && systemctl reload nginx"
	say "  3. upload the plugin (plugin/dist) in System Console > Plugins and enable it"
	say "  4. per OpenClaw host: sudo ./install.sh --role central --add-gateway NAME here, then"
	say "     sudo ./install.sh --role gateway --central-url URL --key KEY --gateway-name NAME there"
	say "  5. systemctl restart livestatus-fcgi.socket; GET <MM_URL>/plugins/com.openclaw.livestatus/api/v1/health lists the gateways"
	;;
gateway)
	say "  1. optional: MM_URL and MM_TOKEN in $envfile to post boxes to Mattermost from here"
	say "  2. systemctl restart livestatus-watcher; livestatus-watcher status"
	say "  3. on the central, GET $central_url/api/v1/health lists gateway $gw_name"
	;;
esac
say "  then: $prefix/bin/livestatus-check --env $envfile"
if [ "$dry" = 1 ] || [ "$check" = 0 ]; then
	note "check: not run$([ "$dry" = 1 ] && echo " (--dry-run)" || echo " (--no-check)")"
else
	chk=$prefix/bin/livestatus-check
	[ -x "$chk" ] || chk=$src/scripts/livestatus-check
	say ""
	say "+ $chk --env $envfile"
	if "$chk" --env "$envfile"; then
		note "check: all passed"
	else
		note "check: fix the MISSING lines above, then run $prefix/bin/livestatus-check again"
	fi
fi
