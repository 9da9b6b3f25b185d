#!/usr/bin/env bash
# Installs and builds everything sure needs on a fresh Debian machine:
# the C toolchain, npm packages (deno, hono, zod) and libsure (host library
# and guest library OS). Safe to run again: each step is skipped when done.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

need_apt=()
# clang builds libsure's XDP program (-target bpf); ip and ping are used by
# its AF_XDP port's test (libsure/tests/test_zs_port.c); openssl makes the
# certificate of the TLS admin listener's test (tests/auth_test.ts);
# systemd-analyze checks the unit `sure install` writes (tests/install_test.ts);
# nft makes the lossy link of tests/fleet_partition_test.ts (a fixed 30% pattern; netem is random and often missing).
for tool in gcc:gcc make:make ar:binutils readelf:binutils clang:clang ip:iproute2 \
  ping:iputils-ping openssl:openssl systemd-analyze:systemd nft:nftables; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need_apt+=("${tool##*:}")
done
[ -f /usr/include/linux/kvm.h ] || need_apt+=(linux-libc-dev)
# libbpf loads and attaches the Z-stack's XDP program (libsure/zstack.mk).
[ -f /usr/include/bpf/libbpf.h ] || need_apt+=(libbpf-dev)
if ((${#need_apt[@]})); then
  if [ "$(id -u)" != 0 ]; then
    log "missing Debian packages: ${need_apt[*]} (run as root or install them)"
    exit 1
  fi
  log "installing Debian packages: ${need_apt[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# nats-server (JetStream), for the tests of fleet mode (tests/fleet_test.ts):
# a node needs it only when it joins a fleet, so without root this is a warning.
if ! command -v nats-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    log "installing Debian package: nats-server"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null; } ||
      log "could not install nats-server: the fleet tests will skip"
  else
    log "nats-server is missing (run as root to install it): the fleet tests will skip"
  fi
fi

# clang and libFuzzer's runtime, for the fuzz targets npm test runs for a few
# seconds each (libsure/tests/fuzz_*.c). Best effort: without them those checks
# count as skipped, so a failure here is a warning.
fuzz_ok() {
  command -v clang >/dev/null 2>&1 || return 1
  local probe rc
  probe=$(mktemp)
  printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n; }\n' |
    clang -fsanitize=fuzzer,address,undefined -x c - -o "$probe" >/dev/null 2>&1
  rc=$?
  rm -f "$probe"
  return $rc
}
# Debian packages the runtime (libclang_rt.fuzzer) as libclang-rt-<N>-dev since
# LLVM 14 (clang only recommends it; older clang-<N> packages carry it).
apt_has() { [[ $(apt-cache policy "$1" 2>/dev/null) == *"Candidate: "[0-9]* ]]; }
if ! fuzz_ok; then
  if [ "$(id -u)" != 0 ]; then
    log "clang with libFuzzer is missing (run as root to install it): the fuzz checks will skip"
  else
    log "installing clang and libFuzzer"
    apt-get update -qq >/dev/null || true
    fuzz_pkgs=(clang)
    llvm=$(apt-cache depends clang 2>/dev/null |
      sed -n 's/.*Depends: clang-\([0-9][0-9]*\)$/\1/p' | head -n 1 || true)
    if [ -n "$llvm" ] && apt_has "libclang-rt-$llvm-dev"; then
      fuzz_pkgs+=("libclang-rt-$llvm-dev")
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${fuzz_pkgs[@]}" >/dev/null ||
      log "warning: could not install ${fuzz_pkgs[*]}"
    fuzz_ok || log "warning: clang cannot link libFuzzer programs: the fuzz checks will skip"
  fi
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
