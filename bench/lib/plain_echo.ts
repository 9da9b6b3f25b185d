// Baseline for bench/invoke_echo_bench.ts: a plain Deno.serve handler doing
// the same work as the echo function, in-process (no VM, no FFI).
const port = Number(Deno.args[0] ?? "0");
Deno.serve({ port, hostname: "127.0.0.1", onListen: () => console.log("ready") }, async (req) => {
  const body = new Uint8Array(await req.arrayBuffer());
  return new Response(body, { headers: { "content-type": "application/octet-stream" } });
});
