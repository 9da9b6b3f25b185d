#!/usr/bin/env bash
# Runs the sure CLI from a checkout, from any directory.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "$root/node_modules/.bin/deno" run -A --quiet "$root/main.ts" "$@"
