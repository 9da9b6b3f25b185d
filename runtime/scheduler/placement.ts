/**
 * Where the VMs' vCPU threads run. The node's event loop is one thread, and
 * on a machine with few CPUs the guests (which spin for a moment before they
 * sleep) take its CPU away from it: measured on 2 CPUs, a 3-step chain went
 * from ~24-27k to ~29-33k requests/s with the vCPU threads kept off one CPU.
 * So by default ("auto") vCPU threads may use every CPU the node may use
 * except the first, leaving that one to the event loop; "all" lets them run
 * anywhere; a list ("1-3,6") names the CPUs. libsure's data-plane thread
 * (--dataplane sockets) takes the CPUs the vCPU threads leave: with "auto",
 * the event loop's, which no longer runs per request.
 */

export type VcpuPlacement = "auto" | "all" | number[];

/** Parses "auto", "all" or a CPU list like "1-3,6"; throws RangeError naming the problem. */
export function parseCpuList(text: string): VcpuPlacement {
  const t = text.trim();
  if (t === "auto" || t === "all") return t;
  const cpus = new Set<number>();
  for (const part of t.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new RangeError(`"${part}" is not a CPU number or range (like 1-3)`);
    const lo = Number(m[1]), hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi > 1023) throw new RangeError(`bad CPU range "${part}"`);
    for (let c = lo; c <= hi; c++) cpus.add(c);
  }
  return [...cpus].sort((a, b) => a - b);
}

/** The CPUs this process may run on (Cpus_allowed_list), or null if unknown. */
export function allowedCpus(): number[] | null {
  try {
    const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(Deno.readTextFileSync("/proc/self/status"));
    if (!m) return null;
    const list = parseCpuList(m[1]);
    return Array.isArray(list) ? list : null;
  } catch {
    return null;
  }
}

/** The CPUs to give the vCPU threads: [] = anywhere. */
export function vcpuCpus(p: VcpuPlacement, allowed = allowedCpus()): number[] {
  if (p === "all") return [];
  if (p !== "auto") return p;
  if (!allowed || allowed.length < 2) return [];
  return allowed.slice(1);
}

/** The CPUs for the data-plane thread: those the vCPU threads leave ([] = anywhere). */
export function dataplaneCpus(p: VcpuPlacement, allowed = allowedCpus()): number[] {
  const vcpus = vcpuCpus(p, allowed);
  if (vcpus.length === 0 || !allowed) return [];
  const left = allowed.filter((c) => !vcpus.includes(c));
  return left.length > 0 ? left : [];
}

/**
 * The nice value of plain instances' vCPU threads (libsure sure_vcpu_nice):
 * -10 when they run on CPUs of their own, apart from CPUs the node keeps,
 * else 0 (left as is). An instance polls for up to 50 us after each answer
 * (a sleep and wake-up is a ~65 us exit under PVM), and the kernel preempts
 * a running guest late, so a thread that lands on a vCPU CPU waits behind
 * it; with the heavier weight the kernel's balancing sees those CPUs busy and
 * puts other threads (a client on the same machine, the node's event loop)
 * on the CPUs the vCPUs leave. Chain steps keep the node's weight (theirs
 * poll 2 us and sleep often when they share a CPU; weighted, the chain was
 * slower). What was measured: docs/architecture.md, "Where threads run".
 */
export function vcpuNice(p: VcpuPlacement, allowed = allowedCpus()): number {
  return dataplaneCpus(p, allowed).length > 0 ? -10 : 0;
}
