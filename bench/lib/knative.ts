// Baseline A, the Knative model, as a running system: every function its own
// process behind its own proxy sidecar process, a broker chaining them over
// HTTP (bench/baselines/knative.ts). Used by chain_bench and sidecar_bench.
import { freePort, spawn, stop, waitReady } from "./proc.ts";

export interface KnativeSystem {
  url: string;
  /** Every process: functions, sidecars, broker. */
  pids: number[];
  /** Only the proxy sidecars. */
  sidecarPids: number[];
  close(): Promise<void>;
}

export async function startKnative(steps: string[]): Promise<KnativeSystem> {
  const script = new URL("../baselines/knative.ts", import.meta.url).pathname;
  const procs: Deno.ChildProcess[] = [];
  const sidecarPids: number[] = [];
  const sidecars: string[] = [];
  for (const op of steps) {
    const fnPort = freePort();
    procs.push(spawn(["run", "-A", "--quiet", script, "fn", String(fnPort), op]));
    await waitReady(`http://127.0.0.1:${fnPort}/`);
    const scPort = freePort();
    const sc = spawn([
      "run",
      "-A",
      "--quiet",
      script,
      "sidecar",
      String(scPort),
      `http://127.0.0.1:${fnPort}/`,
    ]);
    procs.push(sc);
    sidecarPids.push(sc.pid);
    await waitReady(`http://127.0.0.1:${scPort}/`);
    sidecars.push(`http://127.0.0.1:${scPort}/`);
  }
  const port = freePort();
  procs.push(spawn(["run", "-A", "--quiet", script, "broker", String(port), sidecars.join(",")]));
  await waitReady(`http://127.0.0.1:${port}/`);
  return {
    url: `http://127.0.0.1:${port}/`,
    pids: procs.map((p) => p.pid),
    sidecarPids,
    close: async () => {
      for (const p of procs) await stop(p);
    },
  };
}
