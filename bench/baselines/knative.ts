// Baseline A of bench/chain_bench.ts, the Knative model: every function is its
// own process behind its own reverse-proxy sidecar process (like Knative's
// queue-proxy), and a broker process runs the sequence the way a Knative
// Sequence does: it calls step 1's sidecar, takes the answer, calls step 2's
// sidecar with it, and so on. 3 functions -> 7 processes.
//   deno run -A knative.ts fn <port> <upper|reverse|echo>
//   deno run -A knative.ts sidecar <port> <upstream url>
//   deno run -A knative.ts broker <port> <sidecar url>,<sidecar url>,...
import { apply, type Op } from "./ops.ts";

const [role, portArg, arg] = Deno.args;
const port = Number(portArg);
// wrk drops its connections when a run ends: a request cut off mid-body is
// answered 499 quietly instead of printing a stack trace per connection.
const serve = (h: (req: Request) => Promise<Response>) =>
  Deno.serve(
    { port, hostname: "127.0.0.1", onListen: () => console.log("ready") },
    (req) => h(req).catch(() => new Response(null, { status: 499 })),
  );
const octets = { "content-type": "application/octet-stream" };

if (role === "fn") {
  const op = arg as Op;
  serve(async (req) =>
    new Response(apply(op, new Uint8Array(await req.arrayBuffer())), { headers: octets })
  );
} else if (role === "sidecar") {
  // What a queue-proxy does per request: accept, forward, relay the answer.
  serve(async (req) => {
    const up = await fetch(arg, { method: "POST", body: await req.arrayBuffer(), headers: octets });
    return new Response(await up.arrayBuffer(), { status: up.status, headers: octets });
  });
} else if (role === "broker") {
  const hops = arg.split(",");
  serve(async (req) => {
    let body = await req.arrayBuffer();
    for (const hop of hops) {
      const r = await fetch(hop, { method: "POST", body, headers: octets });
      body = await r.arrayBuffer();
      if (!r.ok) return new Response(body, { status: r.status });
    }
    return new Response(body, { headers: octets });
  });
} else {
  console.error(`unknown role ${role}`);
  Deno.exit(2);
}
