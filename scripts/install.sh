#!/usr/bin/env bash
# Installs (or upgrades in place) Verstak Sync Server as a systemd service:
#   /opt/verstak-sync-server/                  the app: build/, production node_modules/, package.json
#   /usr/local/bin/verstak-sync-server         symlink to the app's bin/verstak-sync-server
#   /var/lib/verstak-sync-server/              data directory (0750, owned by the service user)
#   /etc/verstak-server/env                    VERSTAK_PORT and other VERSTAK_* settings
#   /etc/verstak-server/secret.key             SMTP password key, root-only, a systemd credential
#   /etc/systemd/system/verstak-server.service the hardened unit
# Run it from a checkout after `npm ci && npm run build`, or from an unpacked release tarball.
# Re-running it upgrades: the new app is staged beside the old one and renamed into place while
# the service is stopped; data, env file and key are kept.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: install.sh [--bin DIR] [--port PORT] [--user NAME] [--admin-user NAME --admin-pass-file FILE]
                  [--root DIR --no-start] [--no-start]
  --bin DIR              app to install: a directory with build/ and package.json (default: the
                         release this script came in, or the checkout's build output)
  --port PORT            VERSTAK_PORT in /etc/verstak-server/env (default 47732; an upgrade keeps
                         the current value unless --port is given)
  --user NAME            system user the service runs as (default verstak, or the installed unit's)
  --admin-user NAME      create or update this admin of the web console (needs --admin-pass-file)
  --admin-pass-file FILE the admin's password (read once; not stored)
  --no-start             do not enable, stop or start the service (no systemctl at all)
  --root DIR             install into DIR instead of / (a staging tree for tests or images; needs
                         --no-start; never creates a user, never touches the real /etc)
EOF
}

die() {
  printf 'install.sh: %s\n' "$*" >&2
  exit 1
}
step() { printf '==> %s\n' "$*" >&2; }

script_dir=$(cd "$(dirname "$0")" && pwd)
bin_dir=""
port=""
user=""
admin_user=""
admin_pass_file=""
start=yes
root=""

while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin_dir=${2:?--bin needs a directory}; shift 2 ;;
    --port) port=${2:?--port needs a number}; shift 2 ;;
    --user) user=${2:?--user needs a name}; shift 2 ;;
    --admin-user) admin_user=${2:?--admin-user needs a name}; shift 2 ;;
    --admin-pass-file) admin_pass_file=${2:?--admin-pass-file needs a file}; shift 2 ;;
    --no-start) start=no; shift ;;
    --root) root=${2:?--root needs a directory}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done

# --- checks: everything that can fail is checked before anything is changed -----------------

if [ -n "$root" ]; then
  case "$root" in /*) ;; *) die "--root $root: give an absolute path" ;; esac
  root=$(cd "$root" 2>/dev/null && pwd) || die "--root: directory does not exist"
  [ "$root" != / ] || die "--root /: leave --root out to install into the running system"
  [ "$start" = no ] || die "--root installs a staging tree; add --no-start"
fi
if [ -n "$port" ]; then
  [[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] ||
    die "--port $port: expected a port number from 1 to 65535"
fi
if [ -n "$user" ]; then
  [[ "$user" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || die "--user $user: not a valid system user name"
fi
if [ -n "$admin_user" ] || [ -n "$admin_pass_file" ]; then
  [ -n "$admin_user" ] && [ -n "$admin_pass_file" ] ||
    die "--admin-user and --admin-pass-file go together"
  [ -r "$admin_pass_file" ] || die "--admin-pass-file $admin_pass_file: cannot read it"
fi
is_root=no
[ "$(id -u)" = 0 ] && is_root=yes
[ -n "$root" ] || [ "$is_root" = yes ] || die "run as root (or with --root DIR for a staging tree)"

# The app: --bin, else the release this script sits in, else the checkout it belongs to.
if [ -z "$bin_dir" ]; then
  if [ -f "$script_dir/build/bin/verstak-sync-server" ]; then
    bin_dir=$script_dir
  else
    bin_dir=$(dirname "$script_dir")
  fi
fi
bin_dir=$(cd "$bin_dir" 2>/dev/null && pwd) || die "--bin: directory does not exist"
[ -f "$bin_dir/build/bin/verstak-sync-server" ] ||
  die "$bin_dir/build/bin/verstak-sync-server is missing: run 'npm ci && npm run build' first (or pass --bin)"
[ -f "$bin_dir/package.json" ] || die "$bin_dir/package.json is missing (is --bin the app directory?)"
[ -d "$bin_dir/node_modules/better-sqlite3" ] ||
  die "$bin_dir/node_modules is missing or incomplete: run 'npm ci' there first"
launcher_src="$script_dir/launcher.sh"
[ -f "$launcher_src" ] || launcher_src="$bin_dir/bin/verstak-sync-server"
[ -f "$launcher_src" ] || die "no launcher next to $0 (launcher.sh) or in $bin_dir/bin"
unit_src="$script_dir/verstak-server.service"
[ -f "$unit_src" ] || die "$unit_src is missing"
production_modules=no
[ -f "$bin_dir/.production-modules" ] && production_modules=yes
if [ "$production_modules" = no ]; then
  command -v npm >/dev/null || die "npm is needed to drop the development modules of $bin_dir"
fi

node=$(command -v node) || die "node is not on PATH: install Node.js 20 (>= 20.19) or 22+"
node=$(readlink -f "$node")
"$node" -e '
  const [maj, min] = process.versions.node.split(".").map(Number);
  process.exit((maj === 20 && min >= 19) || maj >= 22 ? 0 : 1);' ||
  die "$node is Node.js $("$node" -v); the server needs 20 (>= 20.19) or 22+"
case "$node" in
  /home/* | /root/* | /run/user/*)
    printf 'install.sh: warning: %s is under a home directory, which the unit hides (ProtectHome=yes); install Node.js system-wide\n' "$node" >&2 ;;
esac
if [ "$start" = yes ]; then
  command -v systemctl >/dev/null && [ -d /run/systemd/system ] ||
    die "systemd is not running here: use --no-start and start the server yourself"
fi

APP=/opt/verstak-sync-server
DATA=/var/lib/verstak-sync-server
ETC=/etc/verstak-server
UNIT=/etc/systemd/system/verstak-server.service
LINK=/usr/local/bin/verstak-sync-server

# An upgrade keeps the user the installed unit runs as.
if [ -z "$user" ] && [ -f "$root$UNIT" ]; then
  user=$(sed -n 's/^User=//p' "$root$UNIT" | head -n 1)
fi
user=${user:-verstak}

# --- the service user --------------------------------------------------------------------
# In the running system: a system user without login shell or home. Under --root the tree's
# etc/passwd is only read, never written: useradd --prefix would allocate an id against the
# tree's files that may clash with the host's, and a half-edited passwd/shadow pair is worse
# than none. So under --root the data directory is chowned only when the tree already names
# the user; otherwise the intended owner is recorded in etc/verstak-server/owner.pending.
owner_uid=""
owner_gid=""
if [ -z "$root" ]; then
  if ! getent passwd "$user" >/dev/null; then
    step "creating system user $user"
    group_opt=(--user-group)
    getent group "$user" >/dev/null && group_opt=(--gid "$user")
    useradd --system "${group_opt[@]}" --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin --comment 'Verstak Sync Server' "$user"
  fi
  owner_uid=$(id -u "$user")
  owner_gid=$(id -g "$user")
elif [ -f "$root/etc/passwd" ]; then
  entry=$(awk -F: -v u="$user" '$1 == u { print $3 ":" $4; exit }' "$root/etc/passwd")
  if [ -n "$entry" ]; then
    owner_uid=${entry%%:*}
    owner_gid=${entry##*:}
  fi
fi
[ "$is_root" = yes ] || { owner_uid=""; owner_gid=""; }
group=$user
if [ -n "$owner_gid" ]; then
  if [ -z "$root" ]; then
    group=$(getent group "$owner_gid" | cut -d: -f1)
  elif [ -f "$root/etc/group" ]; then
    group=$(awk -F: -v g="$owner_gid" '$3 == g { print $1; exit }' "$root/etc/group")
  fi
  group=${group:-$user}
fi

# --- stage the new app beside the old one -----------------------------------------------
mkdir -p "$root/opt" "$root/usr/local/bin" "$root/etc/systemd/system" "$root/var/lib"
staging="$root$APP.new.$$"
cleanup() { rm -rf "$staging"; }
trap cleanup EXIT
step "staging the app in $staging"
mkdir -m 0755 "$staging" "$staging/bin"
cp -R "$bin_dir/build" "$staging/build"
# The app is the bundle (build/app) with its views, static files and build-info.json; the
# compiled sources that tests and benches import (build/src, build/scripts) and the test
# fixtures the test suite compiles into build/ are not part of it.
rm -rf "$staging/build/test" "$staging/build/src" "$staging/build/scripts"
cp "$bin_dir/package.json" "$staging/"
[ -f "$bin_dir/package-lock.json" ] && cp "$bin_dir/package-lock.json" "$staging/"
[ -f "$bin_dir/README.md" ] && cp "$bin_dir/README.md" "$staging/"
# Copying the built node_modules and pruning reuses the compiled native modules
# (better-sqlite3, argon2) instead of rebuilding them as `npm ci --omit=dev` would.
cp -R "$bin_dir/node_modules" "$staging/node_modules"
if [ "$production_modules" = yes ]; then
  cp "$bin_dir/.production-modules" "$staging/"
else
  step "dropping development modules (npm prune --omit=dev)"
  (cd "$staging" && npm prune --omit=dev --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null) ||
    die "npm prune --omit=dev failed in $staging"
fi
cp "$launcher_src" "$staging/bin/verstak-sync-server"
chmod 0755 "$staging/bin/verstak-sync-server"
printf '%s\n' "$node" >"$staging/node-path"
# Root owns the code; the service user only reads it.
if [ "$is_root" = yes ]; then chown -R 0:0 "$staging"; fi
chmod -R u+rwX,go+rX,go-w "$staging"
# Native modules built for another Node ABI fail here, before anything is replaced.
(cd "$staging" && "$node" -e '
  const Database = require("better-sqlite3");
  new Database(":memory:").close();
  require("argon2");') ||
  die "the native modules in $bin_dir do not load with $node ($("$node" -v)); rebuild them there with 'npm rebuild better-sqlite3 argon2'"

# --- stop, swap, start -----------------------------------------------------------------
unit_name=$(basename "$UNIT")
was_active=no
if [ "$start" = yes ] && systemctl is-active --quiet "$unit_name"; then
  was_active=yes
  step "stopping $unit_name"
  systemctl stop "$unit_name"
fi

if [ -e "$root$APP" ]; then
  step "replacing $root$APP"
  old="$root$APP.old.$$"
  mv "$root$APP" "$old"
  if ! mv "$staging" "$root$APP"; then
    mv "$old" "$root$APP"
    die "could not move the new app into $root$APP; the old one is back in place"
  fi
  rm -rf "$old"
else
  step "installing $root$APP"
  mv "$staging" "$root$APP"
fi
trap - EXIT
# Relative, so the link also resolves inside a --root tree.
ln -sfn "../../..$APP/bin/verstak-sync-server" "$root$LINK"

step "data directory $root$DATA"
mkdir -p "$root$DATA"
chmod 0750 "$root$DATA"

mkdir -p "$root$ETC"
chmod 0755 "$root$ETC"
env_file="$root$ETC/env"
if [ ! -f "$env_file" ]; then
  step "writing $env_file"
  cat >"$env_file" <<EOF
# Environment of verstak-server.service (see README, Configuration). Not a place for
# passwords: the server reads those only from files and systemd credentials.
VERSTAK_PORT=${port:-47732}
EOF
  chmod 0644 "$env_file"
elif [ -n "$port" ]; then
  step "setting VERSTAK_PORT=$port in $env_file"
  if grep -q '^VERSTAK_PORT=' "$env_file"; then
    sed -i "s/^VERSTAK_PORT=.*/VERSTAK_PORT=$port/" "$env_file"
  else
    printf 'VERSTAK_PORT=%s\n' "$port" >>"$env_file"
  fi
fi

key_file="$root$ETC/secret.key"
if [ ! -f "$key_file" ]; then
  if [ -f "$root$DATA/secret.key" ]; then
    # A server that ran without the credential encrypted with its data-dir key: keep using it.
    step "moving the key of $root$DATA/secret.key to $key_file"
    install -m 0600 "$root$DATA/secret.key" "$key_file"
  else
    step "creating $key_file"
    (umask 077 && head -c 32 /dev/urandom >"$key_file")
  fi
fi
chmod 0600 "$key_file"
if [ "$is_root" = yes ]; then chown 0:0 "$key_file"; fi

step "writing $root$UNIT"
sed -e "s/@USER@/$user/g" -e "s/@GROUP@/$group/g" "$unit_src" >"$root$UNIT.tmp"
chmod 0644 "$root$UNIT.tmp"
mv "$root$UNIT.tmp" "$root$UNIT"

# The admin is created with the server's own CLI (serve --admin-user), started once on a
# loopback port the system picks and stopped when it listens. It also opens the data
# directory with the new app, which migrates it and rebuilds changed projections now rather
# than on the service's first start. A clean environment keeps the caller's VERSTAK_* out.
if [ -n "$admin_user" ]; then
  step "creating or updating admin $admin_user"
  log=$(mktemp)
  # umask 077: the database files it creates are 0600, as under the unit's UMask=0077.
  (umask 077 && exec env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/ VERSTAK_LOG_LEVEL=info \
    "$root$APP/bin/verstak-sync-server" serve --data "$root$DATA" --listen 127.0.0.1:0 \
    --admin-user "$admin_user" --admin-pass-file "$admin_pass_file" >"$log" 2>&1 </dev/null) &
  pid=$!
  listening=no
  for _ in $(seq 1 600); do
    if grep -q 'Server listening at' "$log"; then listening=yes; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -TERM "$pid" 2>/dev/null || true
  status=0
  wait "$pid" || status=$?
  if [ "$listening" != yes ] || [ "$status" != 0 ]; then
    tail -n 20 "$log" >&2
    rm -f "$log"
    die "creating the admin failed (exit $status; output above); the app is installed, the service is not started"
  fi
  rm -f "$log"
fi

if [ -n "$owner_uid" ]; then
  chown -R "$owner_uid:$owner_gid" "$root$DATA"
  rm -f "$root$ETC/owner.pending"
elif [ -n "$root" ]; then
  printf '%s\n' "$user" >"$root$ETC/owner.pending"
  printf 'install.sh: note: user %s is not in %s/etc/passwd; %s stays owned by %s (recorded in %s)\n' \
    "$user" "$root" "$root$DATA" "$(id -un)" "$root$ETC/owner.pending" >&2
fi

if [ "$start" = yes ]; then
  systemctl daemon-reload
  systemctl enable --quiet "$unit_name"
  step "starting $unit_name"
  systemctl start "$unit_name"
  listen_port=$(sed -n 's/^VERSTAK_PORT=//p' "$env_file" | tail -n 1)
  if ! "$node" -e '
    const url = `http://127.0.0.1:${process.argv[1]}/livez`;
    const deadline = Date.now() + 60_000;
    const poll = () => fetch(url).then((r) => r.ok ? process.exit(0) : retry(), retry);
    const retry = () => Date.now() > deadline ? process.exit(1) : setTimeout(poll, 500);
    poll();' "${listen_port:-47732}"; then
    die "$unit_name did not answer on 127.0.0.1:${listen_port:-47732}/livez within 60 s: see 'journalctl -u $unit_name'"
  fi
  if [ "$was_active" = yes ]; then step "upgraded and restarted"; else step "started"; fi
fi

version=$("$node" -p "require('$root$APP/package.json').version")
step "installed verstak-sync-server $version in $root$APP (service user $user)"
