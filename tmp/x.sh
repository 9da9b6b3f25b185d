cd "$1"; shift; bash scripts/test_phases.sh deno -- "$@"
