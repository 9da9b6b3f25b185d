/**
 * Network namespaces for the tests that need real links between nodes: each
 * namespace is joined to the test's own by a veth pair (`here` in this one,
 * `<net>.1/24`; `there` in the namespace, `<net>.2/24`, routed through here),
 * so this namespace is the client and the router, and taking `here` down or
 * adding a `tc` qdisc on it cuts or degrades that namespace alone.
 */

export interface VethNamespace {
  ns: string;
  here: string;
  there: string;
  /** The first three octets: "10.231.1". */
  net: string;
}

/** Runs a command; false (or, with check, an error naming it and its stderr) when it fails. */
export async function run(cmd: string[], check = true): Promise<boolean> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "null",
    stderr: "piped",
  }).output();
  if (check && !out.success) {
    throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return out.success;
}

/** Root with iproute2: network namespaces and veth pairs can be made here. */
export const hasNetns = Deno.uid() === 0 && await run(["ip", "-V"], false).catch(() => false);

export async function makeVethNamespaces(nets: VethNamespace[]): Promise<void> {
  await cleanVethNamespaces(nets);
  for (const { ns, here, there, net } of nets) {
    await run(["ip", "netns", "add", ns]);
    await run(["ip", "link", "add", here, "type", "veth", "peer", "name", there]);
    await run(["ip", "link", "set", there, "netns", ns]);
    await run(["ip", "addr", "add", `${net}.1/24`, "dev", here]);
    await run(["ip", "link", "set", here, "up"]);
    const inNs = (args: string[]) => run(["ip", "netns", "exec", ns, ...args]);
    await inNs(["ip", "link", "set", "lo", "up"]);
    await inNs(["ip", "addr", "add", `${net}.2/24`, "dev", there]);
    await inNs(["ip", "link", "set", there, "up"]);
    await inNs(["ip", "route", "add", "default", "via", `${net}.1`]);
  }
  await Deno.writeTextFile("/proc/sys/net/ipv4/ip_forward", "1");
}

export async function cleanVethNamespaces(nets: VethNamespace[]): Promise<void> {
  for (const { ns, here } of nets) {
    await run(["ip", "netns", "del", ns], false);
    await run(["ip", "link", "del", here], false);
  }
}
