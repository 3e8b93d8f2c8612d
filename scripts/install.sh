#!/bin/bash
# Install pps-archive as a service on a Debian 12 machine. Run as root from the source tree:
#
#     ./scripts/install.sh                 # the machine itself
#     ./scripts/install.sh --root DIR      # into DIR as if it were / (a test, an image): accounts go
#                                          # into DIR/etc/passwd and DIR/etc/group, nothing is started
#
# Safe to run again (an upgrade: the code and the virtualenv are replaced, the data, the
# configuration and the accounts are kept). What it does, step by step, is in docs/operations.md
# ("Install as a service"); after it: 'pps-archive init', the scanner's Samba password, and
# 'systemctl enable --now' (the docs list them).
set -euo pipefail

ROOT=""
SKIP_PACKAGES=0
while [ $# -gt 0 ]; do
	case "$1" in
		--root) ROOT=$(realpath -m "$2"); shift 2 ;;
		--skip-packages) SKIP_PACKAGES=1; shift ;;
		-h|--help) sed -n '2,12p' "$0"; exit 0 ;;
		*) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
if [ "$(id -u)" != 0 ]; then
	echo "install.sh: run it as root (on Debian: 'su -' first, or sudo if it is installed)" >&2
	exit 1
fi

SRC=$(cd "$(dirname "$0")/.." && pwd)
APP=/opt/pps-archive              # the code and its virtualenv (read-only for the service)
DATA=/var/lib/pps-archive         # the data directory (0700, the service's user)
DROP=/srv/pps-scans               # the scanner share: the drop folder of scanner profile "office"
ETC=/etc/pps-archive              # root's: the optional environment file for the units
SERVICE_USER=pps-archive
SCANNER_USER=pps-scanner
say() { echo "install.sh: $*"; }

# 1. Debian packages (make first: it knows the list)
if [ "$SKIP_PACKAGES" = 0 ]; then
	if ! command -v make >/dev/null || ! dpkg-query -W -f='${Status}' python3-venv 2>/dev/null | grep -q "ok installed"; then
		say "installing make and python3-venv"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends make python3 python3-venv
	fi
	make -s -C "$SRC" deps
fi

# 2. accounts: the service's user (and group) and the scanner's, neither with a login shell
prefix=()
if [ -n "$ROOT" ]; then
	prefix=(--prefix "$ROOT")
	mkdir -p "$ROOT/etc"
	for f in passwd group shadow gshadow; do
		[ -e "$ROOT/etc/$f" ] || { say "no $ROOT/etc/$f: give --root a tree with the base accounts"; exit 1; }
	done
fi
has_user() { if [ -n "$ROOT" ]; then grep -q "^$1:" "$ROOT/etc/passwd"; else getent passwd "$1" >/dev/null; fi; }
ids() { if [ -n "$ROOT" ]; then awk -F: -v u="$1" '$1 == u { print $3 ":" $4 }' "$ROOT/etc/passwd"; else echo "$(id -u "$1"):$(id -g "$1")"; fi; }
if ! has_user "$SERVICE_USER"; then
	say "adding the system user $SERVICE_USER"
	useradd "${prefix[@]}" --system --user-group --home-dir "$DATA" --no-create-home --shell /usr/sbin/nologin \
		--comment "pps-archive service" "$SERVICE_USER"
fi
if ! has_user "$SCANNER_USER"; then
	say "adding the system user $SCANNER_USER (the scanner's SMB login)"
	useradd "${prefix[@]}" --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin \
		--comment "office scanner (SMB only)" "$SCANNER_USER"
fi
svc=$(ids "$SERVICE_USER")
svc_uid=${svc%%:*}
svc_gid=${svc##*:}

# 3. the code and a virtualenv of its own (not editable: the source tree may go away)
say "installing the code in $APP"
# built in place (a virtualenv's scripts name its own path); nothing in $APP but code
rm -rf "$ROOT$APP"
mkdir -p "$ROOT$APP"
tar -C "$SRC" --exclude=./.venv --exclude=./.git --exclude='*/__pycache__' --exclude=./.pytest_cache \
	--exclude=./demo-output -cf - . | tar -C "$ROOT$APP" -xf -
python3 -m venv "$ROOT$APP/.venv"
"$ROOT$APP/.venv/bin/python" -m pip install --quiet --upgrade pip
"$ROOT$APP/.venv/bin/python" -m pip install --quiet "$ROOT$APP"
chown -R 0:0 "$ROOT$APP"
chmod -R go-w "$ROOT$APP"

# 4. the data directory, the drop folder and the configuration
install -d -m 0700 -o "$svc_uid" -g "$svc_gid" "$ROOT$DATA"
install -d -m 2770 -o 0 -g "$svc_gid" "$ROOT$DROP"     # the scanner writes through Samba's force group
install -d -m 0750 -o 0 -g "$svc_gid" "$ROOT$ETC"
if [ ! -e "$ROOT$ETC/environment" ]; then
	install -m 0640 -o 0 -g "$svc_gid" /dev/null "$ROOT$ETC/environment"
	cat > "$ROOT$ETC/environment" <<-'EOF'
	# Read by the pps-archive units and by /usr/local/bin/pps-archive (KEY=value lines).
	# For PostgreSQL instead of SQLite in the data directory:
	#PPS_ARCHIVE_DATABASE_URL=postgresql+psycopg://pps:PASSWORD@db.example/pps
	EOF
fi
if [ ! -e "$ROOT$DATA/config.toml" ]; then
	# root's, readable by the service: the service cannot change its own configuration
	install -m 0640 -o 0 -g "$svc_gid" /dev/null "$ROOT$DATA/config.toml"
	cat > "$ROOT$DATA/config.toml" <<-EOF
	# pps-archive configuration (every key and its default: $APP/config/default.toml)
	[scanners.office]
	folder = "$DROP"
	EOF
fi

# 5. the command for staff and scripts: the data directory and the environment file preset
install -d -m 0755 "$ROOT/usr/local/bin"
cat > "$ROOT/usr/local/bin/pps-archive.new" <<-EOF
#!/bin/sh
# pps-archive as installed by scripts/install.sh: run it as the service's user,
# e.g. 'runuser -u $SERVICE_USER -- pps-archive status'
export PPS_ARCHIVE_HOME="\${PPS_ARCHIVE_HOME:-$DATA}"
if [ -r $ETC/environment ]; then set -a; . $ETC/environment; set +a; fi
exec $APP/.venv/bin/pps-archive "\$@"
EOF
chmod 0755 "$ROOT/usr/local/bin/pps-archive.new"
mv "$ROOT/usr/local/bin/pps-archive.new" "$ROOT/usr/local/bin/pps-archive"

# 6. the systemd units and the Samba share
install -d -m 0755 "$ROOT/etc/systemd/system" "$ROOT/etc/samba"
install -m 0644 "$SRC/config/systemd/pps-archive.service" "$SRC/config/systemd/pps-archive-web.service" \
	"$ROOT/etc/systemd/system/"
install -m 0644 "$SRC/config/samba/pps-scans.conf" "$ROOT/etc/samba/pps-scans.conf"
[ -e "$ROOT/etc/samba/smb.conf" ] || printf '[global]\n' > "$ROOT/etc/samba/smb.conf"
if ! grep -q '^include = /etc/samba/pps-scans.conf' "$ROOT/etc/samba/smb.conf"; then
	printf '\n# the scanner share for pps-archive (scripts/install.sh)\ninclude = /etc/samba/pps-scans.conf\n' \
		>> "$ROOT/etc/samba/smb.conf"
fi

if [ -z "$ROOT" ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	systemctl reload-or-restart smbd || true
fi
say "done. Next, as root: see docs/operations.md ('Install as a service'): pps-archive init, smbpasswd -a $SCANNER_USER, systemctl enable --now"
