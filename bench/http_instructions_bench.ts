// The instructions libsure's HTTP server spends in user space per request,
// counted by valgrind's callgrind: unlike a timing, the count is the same on
// every run of the same binary and input, whatever else the machine does, so
// a change of the server's own code shows up however noisy the machine is.
// The baseline, counted in the same run on the same client, is the floor: a
// bare epoll echo that only finds the head's end and its Content-Length
// (libsure/tests/tool_bare_echo.c). The kernel's part (TCP, syscalls) is not
// counted here; bench/http_server_bench.ts times the whole. The server reads
// its sockets with epoll here: under valgrind a thread waiting in
// io_uring_enter keeps every other thread of the process from running.
//   deno run -A bench/http_instructions_bench.ts [requests]
// Each server runs twice under callgrind, for R/5 and for R requests (64 B
// POSTs, 4 keep-alive connections, one request at a time each); the
// difference of the two totals over the difference of the requests is the
// count per request, without what starting and stopping cost.
import { run } from "./lib/server_cpu.ts";
import { fmt, freePort } from "./lib/proc.ts";

const root = new URL("../", import.meta.url).pathname;
const requests = Number(Deno.args[0] ?? "10000");
if (!Number.isInteger(requests) || requests < 100) {
  console.error("usage: http_instructions_bench.ts [requests >= 100]");
  Deno.exit(2);
}
try {
  await run("valgrind", ["--version"]);
} catch {
  console.log("http_instructions_bench: valgrind is not installed; nothing measured");
  Deno.exit(0);
}
await run("make", ["-s", "-C", "libsure", "tools"]);

const CONNS = 4;
const enc = new TextEncoder();
const REQ = enc.encode(
  "POST /invoke/echo HTTP/1.1\r\nHost: bench\r\nContent-Length: 64\r\n\r\n" + "x".repeat(64),
);

/** Reads one answer (head + content-length body) from conn; leftover bytes are returned. */
async function readAnswer(conn: Deno.Conn, have: Uint8Array): Promise<Uint8Array> {
  let buf = have;
  const chunk = new Uint8Array(65536);
  for (;;) {
    const text = new TextDecoder("latin1").decode(buf);
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) {
      const m = /content-length: (\d+)/i.exec(text.slice(0, end));
      if (!m) throw new Error(`answer without content-length: ${text.slice(0, 80)}`);
      const total = end + 4 + Number(m[1]);
      if (buf.length >= total) return buf.slice(total);
    }
    const n = await conn.read(chunk);
    if (n === null) throw new Error("the server closed the connection");
    const next = new Uint8Array(buf.length + n);
    next.set(buf);
    next.set(chunk.subarray(0, n), buf.length);
    buf = next;
  }
}

async function drive(port: number, n: number): Promise<void> {
  const each = Math.ceil(n / CONNS);
  await Promise.all(
    Array.from({ length: CONNS }, async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      let rest: Uint8Array = new Uint8Array(0);
      for (let i = 0; i < each; i++) {
        await conn.write(REQ);
        rest = await readAnswer(conn, rest);
      }
      conn.close();
    }),
  );
}

/** Total instructions of one callgrind run of the server for n requests. */
async function count(bin: string, env: Record<string, string>, n: number): Promise<number> {
  const port = freePort();
  const out = await Deno.makeTempFile({ prefix: "sure-callgrind-" });
  const p = new Deno.Command("valgrind", {
    args: ["--tool=callgrind", `--callgrind-out-file=${out}`, bin, String(port)],
    cwd: root,
    env,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    // The tools print "ready" once they listen.
    const reader = p.stdout.getReader();
    let seen = "";
    while (!seen.includes("ready")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${bin} exited before it was ready`);
      seen += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    p.stdout.cancel().catch(() => {});
    await drive(port, n);
  } finally {
    p.kill("SIGINT");
    await p.status;
  }
  const text = await Deno.readTextFile(out);
  await Deno.remove(out);
  const m = /^totals: (\d+)/m.exec(text) ?? /^summary: (\d+)/m.exec(text);
  if (!m) throw new Error(`no totals in the callgrind output of ${bin}`);
  return Number(m[1]);
}

const servers: { name: string; bin: string; env: Record<string, string> }[] = [
  {
    name: "libsure HTTP server (epoll)",
    bin: `${root}libsure/build/tests/tool_http_echo`,
    env: { SURE_HTTP_IO: "epoll" },
  },
  { name: "bare echo (floor)", bin: `${root}libsure/build/tests/tool_bare_echo`, env: {} },
];

const small = Math.floor(requests / 5);
const perReq: number[] = [];
console.log(
  `user-space instructions per request (callgrind), 64 B POST echo, ${CONNS} keep-alive ` +
    `connections, (Ir(${requests}) - Ir(${small})) / ${requests - small}`,
);
console.log(`${"server".padEnd(32)} ${"Ir/request".padStart(10)}`);
for (const s of servers) {
  const a = await count(s.bin, s.env, small);
  const b = await count(s.bin, s.env, requests);
  perReq.push((b - a) / (requests - small));
  console.log(`${s.name.padEnd(32)} ${fmt(perReq[perReq.length - 1], 0).padStart(10)}`);
}
console.log(`ratio libsure / floor: ${fmt(perReq[0] / perReq[1])}x`);
