// What giving a function the whole HTTP request costs the node per request:
// building the request head (runtime/gateway/invoke.ts requestHead) and
// writing it into the head block (ffi/http_head.ts), with the 3 headers curl
// sends and with 20 more, next to the baseline every gateway pays anyway:
// reading the same headers out of Deno's Request. In-process, no VM.
//   deno run -A bench/http_head_bench.ts [iterations]
import { requestHead } from "../runtime/gateway/invoke.ts";
import { writeRequestHead } from "../ffi/http_head.ts";
import { LIMITS } from "../ffi/abi.ts";
import { fmt } from "./lib/proc.ts";

const iterations = Number(Deno.args[0] ?? "200000");
const blk = new Uint8Array(LIMITS.reqHeadCap);

function request(extra: number): Request {
  const headers = new Headers({ "user-agent": "curl/8.5.0", accept: "*/*", host: "node:8080" });
  for (let i = 0; i < extra; i++) headers.set(`x-bench-header-${i}`, `value-${i}-`.repeat(4));
  return new Request("http://node:8080/invoke/api/users/7?limit=3", { method: "POST", headers });
}

/** ns per call of fn, best of 5 runs. */
function time(fn: () => void): number {
  let best = Infinity;
  for (let run = 0; run < 5; run++) {
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) fn();
    best = Math.min(best, (performance.now() - t0) * 1e6 / iterations);
  }
  return best;
}

const rows: [string, number, number][] = [];
for (const extra of [0, 20]) {
  const req = request(extra);
  let sink = 0;
  const base = time(() => {
    req.headers.forEach((v, k) => sink += k.length + v.length);
  });
  const head = time(() => {
    const h = requestHead(req, "9f3c2a4e-7d1b-4c8e-a5f6-0b2d4e6f8a1c");
    sink += writeRequestHead(blk, LIMITS.reqHeadCap, h);
  });
  if (sink < 0) console.log(sink);
  rows.push([`${3 + extra} headers`, head, base]);
}
console.log(`request head per request, best of 5 x ${iterations}`);
for (const [name, head, base] of rows) {
  console.log(
    `${name.padEnd(12)} head ${fmt(head / 1000, 2)} us   baseline (read the headers) ${
      fmt(base / 1000, 2)
    } us   ratio ${fmt(head / base)}x`,
  );
}
console.log(`20 headers more cost ${fmt((rows[1][1] - rows[0][1]) / 1000, 2)} us per request`);
