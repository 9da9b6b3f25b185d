cd "$1"; node_modules/.bin/deno run -A bench/invoke_echo_bench.ts 2 16
