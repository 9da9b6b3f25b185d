#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time and prints one TAP line:
#   ok - fuzz_x: N runs in S s (E exec/s)     or     not ok - fuzz_x (...)
# Used by `make fuzz-smoke` and scripts/test.sh. The run happens in
# <binary>.out/ next to the binary, which keeps the log and, after a
# finding, the crashing input (crash-*, leak-*, timeout-*) to replay with
#   <binary> <binary>.out/crash-...
# Exit status: the fuzzer's (0: nothing found).
#   usage: fuzz_run.sh BINARY SECONDS
set -uo pipefail
bin=$(realpath "$1")
secs=$2
name=$(basename "$bin")
dir="$bin.out"
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir" || exit 1
# -timeout: no single input of these targets may take seconds (none waits).
# halt_on_error: UBSan findings stop the run like ASan's do.
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  timeout -k 10 $((secs + 120)) "$bin" -max_total_time="$secs" -timeout=10 \
  -print_final_stats=1 -artifact_prefix="$dir/" >"$dir/log" 2>&1
rc=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -n 1)
if [ "$rc" = 0 ]; then
  echo "ok - $name: ${runs:-?} runs in ${secs} s (${eps:-?} exec/s)"
else
  tail -n 60 "$dir/log"
  echo "not ok - $name (exit $rc; log and input in $dir)"
fi
exit "$rc"
