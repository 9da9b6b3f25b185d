#!/usr/bin/env bash
# Runs every benchmark (each prints its numbers, its baseline's, measured in
# the same run, and the ratio): first the C timings of the VMM
# (libsure/tests/bench_*.c: VM boot and clone, invoke round trips), then
# bench/*_bench.ts with Deno. Without KVM the C ones say so and exit 0.
# Installs wrk and valgrind from Debian when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# Benchmarks that run no VM: measured anywhere. http_server_bench.ts runs
# libsure/build/tests/tool_http_echo (built by `make bench`) under wrk;
# http_instructions_bench.ts counts its instructions under valgrind.
NO_VM_BENCHES="bench/http_head_bench.ts bench/dataplane_events_bench.ts bench/http_server_bench.ts bench/http_instructions_bench.ts bench/zstack_bench.ts bench/fleet_bench.ts"
missing=""
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
command -v valgrind >/dev/null 2>&1 || missing="$missing valgrind"
if [ -n "$missing" ]; then
  echo "[bench] installing$missing" >&2
  apt-get update -qq >/dev/null
  # shellcheck disable=SC2086 # one word per package
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
# The C benchmarks and the tools of the Deno ones; builds without KVM too.
make -s -C libsure bench
if [ ! -c "${SURE_KVM_DEVICE:-/dev/kvm}" ]; then
  # A nested guest would run them ~100x slower than hardware KVM: its numbers
  # would compare nothing, so nothing is measured rather than something wrong.
  echo "[bench] no /dev/kvm on this machine: the benchmarks of VMs need real KVM; only those without VMs run" >&2
  for b in libsure/build/tests/bench_confine libsure/build/tests/bench_chain_guard libsure/build/tests/bench_rx_placement; do
    echo "== $b"
    "$b"
  done
  for b in $NO_VM_BENCHES; do
    echo "== $b"
    node_modules/.bin/deno run -A "$b"
  done
  exit 0
fi
for b in libsure/build/tests/bench_*; do
  [ -x "$b" ] || continue
  echo "== $b"
  "$b"
done
for b in bench/*_bench.ts; do
  echo "== $b"
  node_modules/.bin/deno run -A "$b"
done
