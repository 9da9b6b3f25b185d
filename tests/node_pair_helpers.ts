/**
 * Two nodes in two network namespaces, for the tests of chains across nodes:
 * each namespace is joined to the test's own by a veth pair (netns_helpers.ts),
 * which routes between them and is the client. Node i listens on
 * `<net i>.2`; with the af_xdp backend its Z-stack owns `<net i>.3` on the
 * veth end, and clients and hops speak to that. The nodes know each other
 * as peers a and b and share a hop key.
 */
import { DENO, registerNodeToken, ROOT } from "./helpers.ts";
import type { VethNamespace } from "./netns_helpers.ts";

export type Backend = "sockets" | "af_xdp";

export interface PairNode {
  url: string;
  child: Deno.ChildProcess;
  /** Everything the node printed so far. */
  lines: () => string;
}

export interface NodePair {
  nets: VethNamespace[];
  /** Node i's namespace. */
  ns: string[];
  /** Where node i's kernel sockets listen. */
  addr: string[];
  /** Node i's Z-stack address (af_xdp). */
  stack: string[];
  port: number;
  /** The hop key both nodes are given (SURE_PEER_KEY). */
  hopKey: string;
}

/** Namespaces sure-<tag>a and sure-<tag>b on 10.<octet>.1.0/24 and 10.<octet>.2.0/24. */
export function nodePair(tag: string, octet: number): NodePair {
  const nets = [0, 1].map((i) => ({
    ns: `sure-${tag}${i === 0 ? "a" : "b"}`,
    here: `s${tag}${i}0`,
    there: `s${tag}${i}1`,
    net: `10.${octet}.${i + 1}`,
  }));
  return {
    nets,
    ns: nets.map((n) => n.ns),
    addr: nets.map((n) => `${n.net}.2`),
    stack: nets.map((n) => `${n.net}.3`),
    port: 8080,
    hopKey: Array.from(crypto.getRandomValues(new Uint8Array(32)))
      .map((b) => b.toString(16).padStart(2, "0")).join(""),
  };
}

/** `sure serve` inside namespace i, as node a or b, knowing the other one; env added to the node's. */
export async function startPairNode(
  pair: NodePair,
  i: number,
  dataDir: string,
  backend: Backend,
  env: Record<string, string> = {},
): Promise<PairNode> {
  const me = i === 0 ? "a" : "b", other = i === 0 ? "b" : "a";
  const served = backend === "af_xdp" ? pair.stack : pair.addr;
  const net = pair.nets[i];
  const child = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      pair.ns[i],
      DENO,
      "run",
      "-A",
      `${ROOT}/main.ts`,
      "serve",
      "--host",
      pair.addr[i],
      // Beyond loopback: the admin API in clear text is the tests' choice (the token still holds).
      "--insecure",
      "--port",
      String(pair.port),
      "--data-dir",
      dataDir,
      "--node-name",
      me,
      "--peer",
      `${other}=${served[1 - i]}:${pair.port}`,
      "--dataplane",
      backend,
      ...(backend === "af_xdp"
        ? ["--iface", net.there, "--addr", `${pair.stack[i]}/24`, "--gateway", `${net.net}.1`]
        : []),
    ],
    env: { SURE_PEER_KEY: pair.hopKey, ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  (async () => {
    for await (const c of child.stdout.pipeThrough(new TextDecoderStream())) text += c;
  })();
  (async () => {
    for await (const c of child.stderr.pipeThrough(new TextDecoderStream())) text += c;
  })();
  const url = `http://${served[i]}:${pair.port}`;
  for (const end = Date.now() + 120_000; Date.now() < end;) {
    if (/sure node listening/.test(text)) {
      registerNodeToken(url, (await Deno.readTextFile(`${dataDir}/admin.token`)).trim());
      return { url, child, lines: () => text };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGKILL");
  throw new Error(`node ${me} did not start: ${text}`);
}

/** Deploys image as function name on node; the status and body, for the caller to check. */
export async function deployOn(
  node: PairNode,
  name: string,
  image: Uint8Array<ArrayBuffer>,
): Promise<{ status: number; text: string }> {
  const form = new FormData();
  form.append("name", name);
  form.append("image", new File([image], `${name}.sure`));
  const res = await fetch(`${node.url}/admin/functions`, { method: "POST", body: form });
  return { status: res.status, text: await res.text() };
}

/** The first number re captures in node's /metrics (NaN if none). */
export async function metricOf(node: PairNode, re: RegExp): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  return Number(re.exec(text)?.[1] ?? NaN);
}
