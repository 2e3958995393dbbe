#!/bin/sh
# verstak-sync-server launcher: runs the server of the app directory it sits in (<app>/bin/..),
# wherever that was unpacked or installed, also when called through a symlink.
# The node binary: $VERSTAK_NODE, else the one install.sh recorded in <app>/node-path (systemd
# units get a short PATH), else node from PATH.
set -eu
self=$(readlink -f "$0")
app=$(dirname "$(dirname "$self")")
node=${VERSTAK_NODE:-}
if [ -z "$node" ] && [ -r "$app/node-path" ]; then
  node=$(cat "$app/node-path")
fi
# glibc gives threads that allocate (V8's compiler and GC helpers, the WAL checkpointer, the
# libuv pool) arenas of their own, each keeping the pages it touched; two arenas keep some
# 3–5 MiB of the server's RSS off, also after the idle trim (src/malloc-trim.ts; issue 9, small
# VPS). An operator's own value wins.
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
exec "${node:-node}" "$app/build/bin/verstak-sync-server" "$@"
