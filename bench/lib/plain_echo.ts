// Baseline for bench/invoke_echo_bench.ts and bench/http_server_bench.ts: a
// plain Deno.serve handler doing the same work as the echo function,
// in-process (no VM, no FFI).
const port = Number(Deno.args[0] ?? "0");
Deno.serve({ port, hostname: "127.0.0.1", onListen: () => console.log("ready") }, async (req) => {
  let body: Uint8Array<ArrayBuffer>;
  try {
    body = new Uint8Array(await req.arrayBuffer());
  } catch {
    // The client went away in the middle of the body (wrk stops its
    // connections when its time is up): nobody reads this answer, and a
    // stack trace per abandoned request would bury the benchmark's output.
    return new Response(null, { status: 499 });
  }
  return new Response(body, { headers: { "content-type": "application/octet-stream" } });
});
