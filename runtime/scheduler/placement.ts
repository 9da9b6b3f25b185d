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
