#!/usr/bin/env bash
# Builds the release tarball release/verstak-sync-server-<platform>-<arch>-VERSION.tar.gz and
# release/SHA256SUMS. The tarball holds the built app, production node_modules with the native
# modules (better-sqlite3, argon2) compiled for this machine's Node ABI, the launcher
# bin/verstak-sync-server, install.sh, uninstall.sh, the systemd unit and the README: unpacked
# on a machine with the same Node.js major version, `sudo ./install.sh` installs and starts it.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: release.sh VERSION [--out DIR] [--skip-build] [--json]
  VERSION       must equal package.json's version (bump that first)
  --out DIR     where the tarball and SHA256SUMS go (default: release/)
  --skip-build  package the existing build/ instead of running `npm run build`
  --json        print {"tarball", "sha256", "bytes", "prune_seconds", "seconds"} on stdout
EOF
}
die() {
  printf 'release.sh: %s\n' "$*" >&2
  exit 1
}
step() { printf '==> %s\n' "$*" >&2; }

cd "$(dirname "$0")/.."
version=""
out=release
build=yes
json=no
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --skip-build) build=no; shift ;;
    --json) json=yes; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; die "unknown option '$1'" ;;
    *) [ -z "$version" ] || die "one VERSION only"; version=$1; shift ;;
  esac
done
[ -n "$version" ] || { usage >&2; die "VERSION is missing"; }
package_version=$(node -p "require('./package.json').version")
[ "$version" = "$package_version" ] ||
  die "VERSION $version differs from package.json's $package_version: set the version in package.json first, so the server reports the version it is released as"
[ -d node_modules/better-sqlite3 ] || die "node_modules is missing: run 'npm ci' first"

started=$(date +%s.%N)
if [ "$build" = yes ]; then
  step "npm run build"
  npm run --silent build >&2
fi
[ -f build/bin/verstak-sync-server ] || die "build/ is incomplete: run 'npm run build' (or leave out --skip-build)"

platform=$(node -p 'process.platform + "-" + process.arch')
name=verstak-sync-server-$version
tarball=verstak-sync-server-$platform-$version.tar.gz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage=$work/$name
step "staging $name"
mkdir -p "$stage/bin"
cp -R build "$stage/build"
# The app is the bundle (build/app) with its views, static files and build-info.json; the
# compiled sources that tests and benches import (build/src, build/scripts) and the test
# fixtures the test suite compiles into build/ are not part of it.
rm -rf "$stage/build/test" "$stage/build/src" "$stage/build/scripts"
cp package.json package-lock.json README.md "$stage/"
cp scripts/install.sh scripts/uninstall.sh scripts/verstak-server.service "$stage/"
cp scripts/launcher.sh "$stage/bin/verstak-sync-server"
chmod 0755 "$stage/bin/verstak-sync-server" "$stage/install.sh" "$stage/uninstall.sh"

# The built node_modules, pruned, rather than `npm ci --omit=dev`: the native modules are
# reused as compiled instead of being rebuilt from source (README, Deployment).
step "copying node_modules and pruning development modules"
prune_started=$(date +%s.%N)
cp -R node_modules "$stage/node_modules"
(cd "$stage" && npm prune --omit=dev --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null) ||
  die "npm prune --omit=dev failed in $stage"
prune_seconds=$(node -p "($(date +%s.%N) - $prune_started).toFixed(1)")
# Object files of the native build (about 20 MB) are not loaded; the .node files are.
release_dir=$stage/node_modules/better-sqlite3/build/Release
rm -rf "$release_dir/obj" "$release_dir/obj.target" "$release_dir/.deps" \
  "$release_dir/sqlite3.a" "$release_dir/test_extension.node"
# install.sh copies these modules as they are (no npm needed on the target).
node -p 'JSON.stringify({ node: process.version, abi: process.versions.modules, platform: process.platform, arch: process.arch })' \
  >"$stage/.production-modules"
(cd "$stage" && node -e '
  const Database = require("better-sqlite3");
  new Database(":memory:").close();
  require("argon2");') || die "the staged native modules do not load"

mkdir -p "$out"
out=$(cd "$out" && pwd)
step "writing $out/$tarball"
tar -C "$work" --owner=0 --group=0 --numeric-owner --sort=name -czf "$out/$tarball.tmp" "$name"
mv "$out/$tarball.tmp" "$out/$tarball"
(cd "$out" && sha256sum -- *.tar.gz >SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)
sha=$(sha256sum "$out/$tarball" | cut -d' ' -f1)
bytes=$(stat -c %s "$out/$tarball")
seconds=$(node -p "($(date +%s.%N) - $started).toFixed(1)")
step "done in ${seconds} s (prune ${prune_seconds} s): $out/$tarball, $((bytes / 1024 / 1024)) MiB, sha256 $sha"
if [ "$json" = yes ]; then
  printf '{"tarball":"%s","sha256":"%s","bytes":%s,"prune_seconds":%s,"seconds":%s}\n' \
    "$out/$tarball" "$sha" "$bytes" "$prune_seconds" "$seconds"
fi
