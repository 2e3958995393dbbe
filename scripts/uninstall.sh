#!/usr/bin/env bash
# Removes what scripts/install.sh installed: stops and removes the unit, the app and the
# launcher. The data directory, /etc/verstak-server (env file and secret key) and the service
# user stay unless --purge is given.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: uninstall.sh [--purge] [--root DIR]
  --purge     also delete the data directory /var/lib/verstak-sync-server (every account, vault
              and blob), /etc/verstak-server (env file and secret key) and the service user
  --root DIR  uninstall from a staging tree made with install.sh --root (no systemctl)
EOF
}

die() {
  printf 'uninstall.sh: %s\n' "$*" >&2
  exit 1
}
step() { printf '==> %s\n' "$*" >&2; }

purge=no
root=""
while [ $# -gt 0 ]; do
  case "$1" in
    --purge) purge=yes; shift ;;
    --root) root=${2:?--root needs a directory}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done
if [ -n "$root" ]; then
  case "$root" in /*) ;; *) die "--root $root: give an absolute path" ;; esac
  root=$(cd "$root" 2>/dev/null && pwd) || die "--root: directory does not exist"
  [ "$root" != / ] || die "--root /: leave --root out to uninstall from the running system"
elif [ "$(id -u)" != 0 ]; then
  die "run as root"
fi

APP=/opt/verstak-sync-server
DATA=/var/lib/verstak-sync-server
ETC=/etc/verstak-server
UNIT=/etc/systemd/system/verstak-server.service
LINK=/usr/local/bin/verstak-sync-server
unit_name=$(basename "$UNIT")

user=""
[ -f "$root$UNIT" ] && user=$(sed -n 's/^User=//p' "$root$UNIT" | head -n 1)

if [ -z "$root" ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  if systemctl list-unit-files "$unit_name" >/dev/null 2>&1; then
    step "stopping and disabling $unit_name"
    systemctl disable --now --quiet "$unit_name" 2>/dev/null || true
  fi
fi
if [ -f "$root$UNIT" ]; then
  step "removing $root$UNIT"
  rm -f "$root$UNIT"
  if [ -z "$root" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
fi

# Only our own link: a launcher someone else put there stays.
if [ -L "$root$LINK" ] && [ "$(readlink "$root$LINK")" = "../../..$APP/bin/verstak-sync-server" ]; then
  rm -f "$root$LINK"
fi
step "removing $root$APP"
rm -rf "$root$APP" "$root$APP".new.* "$root$APP".old.*

if [ "$purge" = yes ]; then
  step "purging $root$DATA and $root$ETC"
  rm -rf "$root$DATA" "$root$ETC"
  if [ -z "$root" ] && [ -n "$user" ] && getent passwd "$user" >/dev/null; then
    step "removing system user $user"
    userdel "$user" || printf 'uninstall.sh: warning: userdel %s failed; remove the user yourself\n' "$user" >&2
  fi
else
  step "kept $root$DATA and $root$ETC (--purge deletes them)"
fi
