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
exec "${node:-node}" "$app/build/bin/verstak-sync-server" "$@"
