// Baseline B of bench/chain_bench.ts, the ceiling: the three functions as plain
// in-process calls inside one Deno.serve handler.
import { apply } from "./ops.ts";

const port = Number(Deno.args[0]);
Deno.serve({ port, hostname: "127.0.0.1", onListen: () => console.log("ready") }, async (req) => {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(await req.arrayBuffer());
  } catch {
    return new Response(null, { status: 499 }); // wrk hung up at the end of a run
  }
  const body = apply("echo", apply("reverse", apply("upper", bytes)));
  return new Response(body, { headers: { "content-type": "application/octet-stream" } });
});
