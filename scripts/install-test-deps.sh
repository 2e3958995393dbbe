#!/usr/bin/env bash
# The system packages the test suite needs, from Debian's archive: strace (the fsync audit of
# RELIABILITY.md §0.1), openssl (the mailer's STARTTLS tests) and chromium (the browser
# tests: playwright-core drives Debian's build and never downloads one). Installs only what
# is missing; needs root or sudo then.
set -euo pipefail
missing=()
command -v strace >/dev/null || missing+=(strace)
command -v openssl >/dev/null || missing+=(openssl)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing ${missing[*]}" >&2
sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
