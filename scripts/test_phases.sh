#!/usr/bin/env bash
# The phases of scripts/test.sh, each printing TAP-like lines; the last line
# is "phase counts: PASSED FAILED SKIPPED" for all the phases asked for. It
# runs wherever scripts/test.sh puts it: on this machine, or for the phases
# that run VMs (c, deno) inside the nested-KVM guest (scripts/nested-kvm/).
#
#   scripts/test_phases.sh PHASE... [-- DENO-TEST-ARGS...]
#   PHASE: c (libsure's C tests), fuzz (libFuzzer targets), checks (deno fmt
#          --check, deno lint), deno (Deno tests), keys (the protection-key
#          tests, where guests have keys), service (sure under systemd as
#          PID 1)
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -z "${SURE_REQUIRE_KVM:-}" ] && [ -c "${SURE_KVM_DEVICE:-/dev/kvm}" ]; then
  export SURE_REQUIRE_KVM=1
fi
phases=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do phases+=("$1"); shift; done
[ "${1:-}" = -- ] && shift

passed=0 failed=0 skipped=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
DENO=node_modules/.bin/deno

# One C test binary: its TAP lines counted.
c_test() {
  local t=$1 rc s p f
  timeout 300 "$t" 2>&1 | tee "$out/c.log"
  rc=${PIPESTATUS[0]}
  s=$(grep -cE '^ok [0-9]+ - .* # SKIP' "$out/c.log" || true)
  p=$(grep -c '^ok ' "$out/c.log" || true)
  p=$((p - s))
  f=$(grep -c '^not ok ' "$out/c.log" || true)
  # A binary that crashed before its summary, or failed without saying
  # which test did, counts as one more failure.
  if ! grep -q '^# passed' "$out/c.log" || { [ "$rc" != 0 ] && [ "$f" = 0 ]; }; then
    echo "not ok - $t exited with $rc"
    f=$((f + 1))
  fi
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

phase_c() {
  echo "== C tests (libsure)"
  if make -s -C libsure tests >"$out/make.log" 2>&1; then
    for t in libsure/build/tests/test_*; do
      [ -x "$t" ] || continue
      c_test "$t"
    done
  else
    cat "$out/make.log"
    echo "not ok - building the C tests"
    failed=$((failed + 1))
  fi
}

phase_fuzz() {
  echo "== fuzz targets (libFuzzer)"
  fuzz_src=(libsure/tests/fuzz_*.c)
  fuzz_n=${#fuzz_src[@]}
  # The fuzz runs share about 75 s: 10..20 s each.
  fuzz_secs=${SURE_FUZZ_SECONDS:-$((75 / fuzz_n))}
  if [ -z "${SURE_FUZZ_SECONDS:-}" ]; then
    ((fuzz_secs > 20)) && fuzz_secs=20
    ((fuzz_secs < 10)) && fuzz_secs=10
  fi
  # Does clang link a libFuzzer + ASan + UBSan program here?
  fuzz_ready() {
    command -v clang >/dev/null 2>&1 &&
      printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n; }\n' |
      clang -fsanitize=fuzzer,address,undefined -x c - -o "$out/fuzz-probe" >/dev/null 2>&1
  }
  skip_fuzz() {
    for src in "${fuzz_src[@]}"; do echo "ok - $(basename "$src" .c) # SKIP $1"; done
    skipped=$((skipped + fuzz_n))
  }
  if [ "$fuzz_secs" = 0 ]; then
    skip_fuzz "SURE_FUZZ_SECONDS=0"
  elif ! fuzz_ready; then
    skip_fuzz "no clang with libFuzzer (scripts/setup.sh installs it when run as root)"
  else
    # Relinked every time (the objects are kept), so that a target whose build
    # fails cannot run as an old binary; -k: it fails alone.
    for src in "${fuzz_src[@]}"; do rm -f "libsure/build/fuzz/$(basename "$src" .c)"; done
    make -s -k -j"$(nproc)" -C libsure fuzz >"$out/fuzz-make.log" 2>&1 || cat "$out/fuzz-make.log"
    for src in "${fuzz_src[@]}"; do
      bin=libsure/build/fuzz/$(basename "$src" .c)
      if [ ! -x "$bin" ]; then
        echo "not ok - $(basename "$bin") did not build"
        failed=$((failed + 1))
      elif libsure/tests/fuzz_run.sh "$bin" "$fuzz_secs"; then
        passed=$((passed + 1))
      else
        failed=$((failed + 1))
      fi
    done
  fi
}

phase_checks() {
  echo "== deno fmt --check / deno lint / deno check"
  # Type checking is a check of its own (here, once), so that the Deno tests
  # run unchecked: type checking under the nested guest's emulation is slow.
  for check in "fmt --check" "lint" "check main.ts runtime ffi tests bench"; do
    # shellcheck disable=SC2086
    if $DENO $check >"$out/check.log" 2>&1; then
      echo "ok - deno ${check%% *}"
      passed=$((passed + 1))
    else
      tail -n 30 "$out/check.log"
      echo "not ok - deno ${check%% *}"
      failed=$((failed + 1))
    fi
  done
}

phase_deno() {
  echo "== Deno tests"
  deno_tests "$@"
  # The same HTTP suites again, with the Hono app serving everything
  # (--dataplane hono; the default is libsure's data plane in front); only
  # for a whole run, not for a chosen file.
  if [ $# -eq 0 ]; then
    echo "== Deno tests through the Hono gateway (SURE_DATAPLANE=hono)"
    SURE_DATAPLANE=hono deno_tests tests/http_contract_test.ts tests/crash_report_test.ts \
      tests/behaviour_test.ts tests/chain_test.ts
    echo "== Deno tests with kernel sockets on io_uring (SURE_DATAPLANE_IO=io_uring)"
    SURE_DATAPLANE_IO=io_uring deno_tests tests/http_contract_test.ts tests/dataplane_test.ts
  fi
}

# The tests whose assertions differ where guests have protection keys, for a
# machine whose own guests have none (scripts/test.sh runs this phase in the
# nested-KVM guest, whose emulated CPU has PKU): the gates' keys against a
# hostile function (test_gate.c), and through the node a function writing
# its sidecar page, a step touching its chain's table, rings and node pages,
# and a key per request. Guests without keys here fail the phase: it would
# test nothing new.
phase_keys() {
  echo "== protection keys: the tests again where guests have them"
  c_test libsure/build/tests/test_gate
  if grep -q '^# guests have protection keys: yes' "$out/c.log"; then
    echo "ok - guests have protection keys here"
    passed=$((passed + 1))
  else
    echo "not ok - guests have no protection keys here: nothing to test"
    failed=$((failed + 1))
  fi
  deno_tests tests/host_limits_test.ts tests/chain_forgery_test.ts tests/request_isolation_test.ts
}

# sure as a systemd service: needs systemd as PID 1 (scripts/test.sh boots
# the nested guest with it); elsewhere its test is ignored (skipped).
phase_service() {
  echo "== sure as a systemd service"
  deno_tests tests/service/systemd_service.ts
}

deno_tests() {
  $DENO test -A --no-check "$@" 2>&1 | tee "$out/deno.log"
  deno_rc=${PIPESTATUS[0]}
  # Deno's summary: "ok | 12 passed (3 steps) | 0 failed | 2 ignored (1ms)".
  summary=$(sed 's/\x1b\[[0-9;]*m//g' "$out/deno.log" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -n 1)
  if [ -n "$summary" ]; then
    p=$(sed -E 's/.*\| ([0-9]+) passed.*/\1/' <<<"$summary")
    f=$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$summary")
    i=$(grep -oE '[0-9]+ ignored' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + i))
    # Deno tests are ignored only where KVM (or the library) is missing.
    if [ "${SURE_REQUIRE_KVM:-}" = 1 ] && [ "$i" != 0 ]; then
      echo "not ok - $i Deno tests ignored, but SURE_REQUIRE_KVM=1"
      failed=$((failed + i)) skipped=$((skipped - i))
    fi
    # A non-zero exit with no failed test (e.g. a leak detected) still fails.
    if [ "$deno_rc" != 0 ] && [ "$f" = 0 ]; then failed=$((failed + 1)); fi
  else
    echo "not ok - deno test printed no summary (exit $deno_rc)"
    failed=$((failed + 1))
  fi
}

for p in "${phases[@]}"; do
  "phase_$p" "$@"
done
echo "phase counts: $passed $failed $skipped"
