#!/usr/bin/env bash
# Runs every benchmark in bench/ (each prints its numbers, its baseline's and
# the ratio). Installs wrk from Debian when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
  echo "[bench] installing wrk" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
for b in bench/*_bench.ts; do
  echo "== $b"
  node_modules/.bin/deno run -A "$b"
done
