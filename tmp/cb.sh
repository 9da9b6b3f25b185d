cd "$1"; node_modules/.bin/deno run -A bench/chain_bench.ts 1
