#!/usr/bin/env bash
# Installs whatever heyo-effect needs and is missing: pnpm, the Debian packages heyod needs (when
# running as root), and the workspace dependencies (better-sqlite3 builds from source here).
# Idempotent and quiet when everything is already there; the first step of `npm run demo`/`npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v pnpm >/dev/null 2>&1; then
  echo "setup: installing pnpm 10"
  npm install -g pnpm@10 >/dev/null
fi

# command:package pairs heyod needs on the host (reference/runtime.md).
needs=(bwrap:bubblewrap mkfs.btrfs:btrfs-progs nsenter:util-linux unshare:util-linux ip:iproute2 losetup:mount nc:netcat-openbsd)
missing=()
for pair in "${needs[@]}"; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: heyod needs these Debian packages, install them as root: apt-get install -y ${missing[*]}" >&2
  fi
fi

if [ ! -f node_modules/.modules.yaml ] || [ pnpm-lock.yaml -nt node_modules/.modules.yaml ] \
  || ! (cd packages/server && node -e "require('better-sqlite3')") 2>/dev/null; then
  echo "setup: installing dependencies (the first time builds better-sqlite3, about 90 s)"
  pnpm install --frozen-lockfile --reporter=silent
fi
