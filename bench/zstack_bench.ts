// The Z-stack (libsure's TCP/IP on AF_XDP, --dataplane af_xdp) against the
// kernel's TCP (--dataplane sockets), on the same wire and in the same server:
// libsure/tests/tool_http_echo in a network namespace listens on the kernel's
// address of its veth end (10.78.0.1) and, through the Z-stack, on an address
// of its own on the same interface (10.78.0.2); wrk runs in a second namespace
// at the other end of the veth pair and alternates between the two addresses,
// so both paths cross the same veth and hit the same HTTP server and echo.
// Needs root (namespaces, XDP); says so and exits 0 otherwise.
//   deno run -A bench/zstack_bench.ts [seconds] [native|generic]
// The XDP mode is the port's own choice unless given (on veth with
// multi-buffer AF_XDP it is generic: see src/zs_port.c), so that runs in each
// mode can be compared.
// Per row: requests/s, p50, p99 and the server's CPU per request (all its
// threads), wrk's, and the machine's irq+softirq time per request: the
// kernel's TCP does its receive work there, the Z-stack on the server's
// thread. veth gives AF_XDP copy mode only: each frame is copied once by the
// kernel each way, which a NIC with zero-copy AF_XDP would not do.
import { fmt, sh, stop } from "./lib/proc.ts";
import {
  type Case,
  measure,
  measureAll,
  printSamples,
  run,
  type Sample,
  serverPid,
  sizeName,
  warnOnErrors,
} from "./lib/server_cpu.ts";

const root = new URL("../", import.meta.url).pathname;
const toolBin = `${root}libsure/build/tests/tool_http_echo`;
const seconds = Number(Deno.args[0] ?? "5");
const xdpMode = Deno.args[1];
if (!(seconds > 0) || (xdpMode !== undefined && xdpMode !== "native" && xdpMode !== "generic")) {
  console.error("usage: zstack_bench.ts [seconds] [native|generic]");
  Deno.exit(2);
}
const ROUNDS = 2;
const NS_SERVER = "sure-zb-s", NS_CLIENT = "sure-zb-c";
const PORT = 8080;
const cases: Case[] = [
  { conns: 1, bodyBytes: 64 },
  { conns: 32, bodyBytes: 64 },
  { conns: 32, bodyBytes: 4 << 10 },
  { conns: 8, bodyBytes: 64 << 10 },
];

if (Deno.uid() !== 0) {
  console.log("zstack_bench: needs root (network namespaces, XDP): not measured");
  Deno.exit(0);
}

async function clean(): Promise<void> {
  await sh(["ip", "netns", "del", NS_SERVER], false);
  await sh(["ip", "netns", "del", NS_CLIENT], false);
}

await run("make", ["-s", "-C", "libsure", "tools"]);
await clean();
await sh(["ip", "netns", "add", NS_SERVER]);
await sh(["ip", "netns", "add", NS_CLIENT]);
const inNs = (ns: string, args: string[]) => sh(["ip", "netns", "exec", ns, ...args]);
await inNs(NS_SERVER, ["ip", "link", "add", "zb0", "type", "veth", "peer", "name", "zb1"]);
await inNs(NS_SERVER, ["ip", "link", "set", "zb1", "netns", NS_CLIENT]);
await inNs(NS_SERVER, ["ip", "addr", "add", "10.78.0.1/24", "dev", "zb0"]);
await inNs(NS_SERVER, ["ip", "link", "set", "zb0", "up"]);
await inNs(NS_SERVER, ["ip", "link", "set", "lo", "up"]);
await inNs(NS_CLIENT, ["ip", "addr", "add", "10.78.0.10/24", "dev", "zb1"]);
await inNs(NS_CLIENT, ["ip", "link", "set", "zb1", "up"]);
await inNs(NS_CLIENT, ["ip", "link", "set", "lo", "up"]);

const server = new Deno.Command("ip", {
  args: [
    "netns",
    "exec",
    NS_SERVER,
    toolBin,
    String(PORT),
    "10.78.0.1",
    "zb0",
    "10.78.0.2",
    ...(xdpMode ? [xdpMode] : []),
  ],
  stdout: "piped",
  stderr: "inherit",
}).spawn();
try {
  const reader = server.stdout.getReader();
  const first = await reader.read();
  reader.releaseLock();
  if (!new TextDecoder().decode(first.value).includes("ready")) {
    throw new Error("tool_http_echo did not start");
  }
  const pid = serverPid(server.pid, "tool_http_echo");
  const paths = [
    { name: "kernel TCP (sockets)", url: `http://10.78.0.1:${PORT}/invoke/echo`, pid },
    { name: "Z-stack (af_xdp)", url: `http://10.78.0.2:${PORT}/invoke/echo`, pid },
  ];
  // Both answer from the client's namespace (curl there: this process is not).
  for (const p of paths) {
    await inNs(NS_CLIENT, ["curl", "-sf", "-o", "/dev/null", "--data", "hello", p.url]);
  }
  for (const p of paths) {
    await measure(p.url, pid, { conns: 32, bodyBytes: 64 }, 2, NS_CLIENT); // warm-up
  }
  const results = await measureAll(paths, cases, ROUNDS, seconds, NS_CLIENT);
  console.log(
    `HTTP echo over veth, one libsure server: kernel TCP vs the Z-stack (AF_XDP copy mode, ` +
      `XDP ${xdpMode ?? "mode of the port's choice"}), ` +
      `wrk -t1 -d${seconds}s in another namespace, median of ${ROUNDS} rounds alternating; ` +
      `${navigator.hardwareConcurrency} cores shared with wrk`,
  );
  printSamples("path", paths, cases, results);
  console.log(
    "ratios Z-stack/kernel (throughput: >1 is the Z-stack faster; cpu+irq/req: <1 is it cheaper)",
  );
  cases.forEach((c, ci) => {
    const [k, z] = results[ci];
    const cost = (s: Sample) => s.cpuUsPerReq + s.irqUsPerReq;
    console.log(
      `c=${String(c.conns).padEnd(3)} body ${sizeName(c.bodyBytes).padEnd(7)} throughput ${
        fmt(z.requestsPerSec / k.requestsPerSec)
      }x  cpu+irq/req ${fmt(cost(z) / cost(k))}x  p50 ${fmt(z.p50Ms / k.p50Ms)}x  p99 ${
        fmt(z.p99Ms / k.p99Ms)
      }x`,
    );
  });
  warnOnErrors(results);
} finally {
  await stop(server);
  await clean();
}
