#!/usr/bin/env bash
# Runs every test of the project and ends with one line "N passed, N failed"
# (", N skipped" when some were skipped):
#   1. C unit tests of libsure: each test binary prints TAP lines, "ok",
#      "not ok", or "ok N - name # SKIP reason" for a test that cannot run
#      here (libsure/tests/check.h); a skipped test counts as skipped, never
#      as passed
#   2. every libFuzzer target (libsure/tests/fuzz_*.c) for a few seconds each
#      (SURE_FUZZ_SECONDS, default: 75 s shared out, 10..20 s per target), one
#      check per target; without clang and its fuzzer runtime (scripts/setup.sh
#      installs them as root) they count as skipped
#   3. deno fmt --check, deno lint and deno check (one check each)
#   4. Deno tests (unit and real-KVM integration, type-checked by 3); ignored
#      ones count as skipped
#   5. where this machine's guests have no protection keys, the tests of
#      the keys (test_phases.sh keys) in a nested-KVM guest whose emulated
#      CPU has them; only for a whole run
#   6. sure as a systemd service (tests/service/): needs systemd as PID 1;
#      where this machine is not booted with it, a nested-KVM guest that is
#      runs it (run.sh --systemd); only for a whole run, not for chosen tests
#
# Where the phases that run VMs (1 and 4) run:
#   - on this machine when it has /dev/kvm (or $SURE_KVM_DEVICE); then nothing
#     may skip: SURE_REQUIRE_KVM=1 is the default and every skip is a failure;
#   - else inside a nested-KVM guest (scripts/nested-kvm/: QEMU emulates a CPU
#     with SVM, a Debian kernel runs KVM on it) when it can be set up here (as
#     root; SURE_NESTED_KVM=0 turns it off), again with SURE_REQUIRE_KVM=1;
#   - else here, and the tests that need VMs say SKIP and count as skipped.
# The phases themselves are in scripts/test_phases.sh.
#
# Extra arguments are passed to `deno test` (e.g. a file or --filter).
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0 failed=0 skipped=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

if ! bash scripts/setup.sh; then
  echo "setup failed"
  echo "0 passed, 1 failed"
  exit 1
fi

# Runs phases (here, or through a runner such as the nested guest) and adds
# their "phase counts" line; a run that printed none failed as a whole.
run_phases() {
  "$@" 2>&1 | tee "$out/phases.log"
  local rc=${PIPESTATUS[0]} counts
  counts=$(grep -E '^phase counts: [0-9]+ [0-9]+ [0-9]+$' "$out/phases.log" | tail -n 1)
  if [ -z "$counts" ]; then
    echo "not ok - $* ended (exit $rc) before counting its tests"
    failed=$((failed + 1))
    return
  fi
  read -r _ _ p f s <<<"$counts"
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

kvm_here() { [ -c "${SURE_KVM_DEVICE:-/dev/kvm}" ]; }

systemd_here() { [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; }

if kvm_here || [ "${SURE_NESTED_KVM:-1}" = 0 ]; then
  run_phases bash scripts/test_phases.sh c fuzz checks deno -- "$@"
  # Guests here have no protection keys (a CPU without PKU, or PVM): the
  # tests of the keys themselves run where the emulated CPU has them.
  if [ $# -eq 0 ] && kvm_here && ! grep -qw pku /proc/cpuinfo &&
    [ "${SURE_NESTED_KVM:-1}" != 0 ] && bash scripts/nested-kvm/setup.sh; then
    echo "== no protection keys for guests here: their tests run in a nested-KVM guest that has them"
    SURE_REQUIRE_KVM=1 run_phases scripts/nested-kvm/run.sh "$PWD" bash scripts/test_phases.sh keys
  fi
  if [ $# -eq 0 ]; then
    if systemd_here; then
      run_phases bash scripts/test_phases.sh service
    elif [ "${SURE_NESTED_KVM:-1}" != 0 ] && bash scripts/nested-kvm/setup.sh; then
      echo "== no systemd as PID 1 here: the service test runs in a nested-KVM guest that boots it"
      SURE_REQUIRE_KVM=1 run_phases scripts/nested-kvm/run.sh --systemd "$PWD" \
        bash scripts/test_phases.sh service
    else
      SURE_REQUIRE_KVM=0 run_phases bash scripts/test_phases.sh service
    fi
  fi
elif bash scripts/nested-kvm/setup.sh; then
  echo "== no /dev/kvm here: the tests that run VMs run in a nested-KVM guest (scripts/nested-kvm/)"
  run_phases bash scripts/test_phases.sh fuzz checks
  # Built here: compiling under the guest's emulated CPU is slow.
  make -s -C libsure tests >/dev/null 2>&1
  # Up to 75 minutes (about 45 here): CI's limit is 90 for everything.
  SURE_REQUIRE_KVM=1 SURE_NESTED_TIMEOUT=${SURE_NESTED_TIMEOUT:-4500} \
    run_phases scripts/nested-kvm/run.sh "$PWD" bash scripts/test_phases.sh c deno -- "$@"
  if [ $# -eq 0 ]; then
    echo "== sure as a systemd service: in a nested-KVM guest that boots systemd as PID 1"
    SURE_REQUIRE_KVM=1 run_phases scripts/nested-kvm/run.sh --systemd "$PWD" \
      bash scripts/test_phases.sh service
  fi
else
  echo "== no /dev/kvm and no nested-KVM guest here: the tests that run VMs skip"
  run_phases bash scripts/test_phases.sh c fuzz checks deno -- "$@"
  [ $# -eq 0 ] && SURE_REQUIRE_KVM=0 run_phases bash scripts/test_phases.sh service
fi

if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
[ "$failed" = 0 ]
