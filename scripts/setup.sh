#!/usr/bin/env bash
# Installs and builds everything sure needs on a fresh Debian machine:
# the C toolchain, npm packages (deno, hono, zod) and libsure (host library
# and guest library OS). Safe to run again: each step is skipped when done.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

need_apt=()
for tool in gcc:gcc make:make ar:binutils readelf:binutils; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need_apt+=("${tool##*:}")
done
[ -f /usr/include/linux/kvm.h ] || need_apt+=(linux-libc-dev)
if ((${#need_apt[@]})); then
  if [ "$(id -u)" != 0 ]; then
    log "missing Debian packages: ${need_apt[*]} (run as root or install them)"
    exit 1
  fi
  log "installing Debian packages: ${need_apt[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# npm packages: reinstall when the lockfile is newer than the install.
if [ ! -x node_modules/.bin/deno ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

log "building libsure"
make -s -C libsure host guest >&2

if [ ! -c "${SURE_KVM_DEVICE:-/dev/kvm}" ]; then
  log "warning: ${SURE_KVM_DEVICE:-/dev/kvm} is missing: functions cannot run on this machine"
fi
