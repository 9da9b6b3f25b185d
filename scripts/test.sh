#!/usr/bin/env bash
# Runs every test of the project and ends with one line "N passed, N failed"
# (", N skipped" when some were skipped):
#   1. C unit tests of libsure (each test binary prints TAP-like ok / not ok lines)
#   2. deno fmt --check and deno lint (one check each)
#   3. Deno tests (unit and real-KVM integration)
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
DENO=node_modules/.bin/deno

echo "== C tests (libsure)"
if make -s -C libsure tests >"$out/make.log" 2>&1; then
  for t in libsure/build/tests/test_*; do
    [ -x "$t" ] || continue
    timeout 300 "$t" 2>&1 | tee "$out/c.log"
    p=$(grep -c '^ok ' "$out/c.log" || true)
    f=$(grep -c '^not ok ' "$out/c.log" || true)
    # A binary that crashed before printing its summary counts as a failure.
    grep -q '^# passed' "$out/c.log" || f=$((f + 1))
    passed=$((passed + p)) failed=$((failed + f))
  done
else
  cat "$out/make.log"
  echo "not ok - building the C tests"
  failed=$((failed + 1))
fi

echo "== deno fmt --check / deno lint"
for check in "fmt --check" "lint"; do
  # shellcheck disable=SC2086
  if $DENO $check >"$out/check.log" 2>&1; then
    echo "ok - deno $check"
    passed=$((passed + 1))
  else
    tail -n 30 "$out/check.log"
    echo "not ok - deno $check"
    failed=$((failed + 1))
  fi
done

echo "== Deno tests"
$DENO test -A --no-check=remote "$@" 2>&1 | tee "$out/deno.log"
deno_rc=${PIPESTATUS[0]}
# Deno's summary: "ok | 12 passed (3 steps) | 0 failed | 2 ignored (1ms)".
summary=$(sed 's/\x1b\[[0-9;]*m//g' "$out/deno.log" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -n 1)
if [ -n "$summary" ]; then
  p=$(sed -E 's/.*\| ([0-9]+) passed.*/\1/' <<<"$summary")
  f=$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$summary")
  i=$(grep -oE '[0-9]+ ignored' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + i))
  # A non-zero exit with no failed test (e.g. a leak detected) still fails.
  if [ "$deno_rc" != 0 ] && [ "$f" = 0 ]; then failed=$((failed + 1)); fi
else
  echo "not ok - deno test printed no summary (exit $deno_rc)"
  failed=$((failed + 1))
fi

if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
[ "$failed" = 0 ]
