// A DataplaneLink serving one function that libsure's data plane answers in
// C on every request: no instance, none may start, no queue (503
// overloaded), each reported as a DONE event. What measures or tests the
// control plane's reading of events without a VM uses it
// (bench/dataplane_events_bench.ts, tests/dataplane_events_test.ts).
import { DataplaneLink } from "../../runtime/dataplane/link.ts";
import { nullLogger } from "../../runtime/log.ts";
import type { InstanceGroup } from "../../runtime/scheduler/group.ts";
import type { Deployment } from "../../runtime/store/store.ts";

export function linkAnsweredInC(
  name: string,
  opts: { port: number; eventLingerMs: number },
): DataplaneLink {
  const link = new DataplaneLink({
    host: "127.0.0.1",
    port: opts.port,
    upstream: `/tmp/sure-none-${name}-${opts.port}.sock`,
    logger: nullLogger,
    token: "0".repeat(32),
    eventLingerMs: opts.eventLingerMs,
  });
  // Only what publish() reads of a deployment.
  const dep = {
    name,
    maxBody: 1024,
    timeout: 1000,
    deadline: 0,
    maxInstances: 1,
    targetConcurrency: 1,
    concurrencyLimit: 0,
    access: "public",
  } as unknown as Deployment;
  link.lendingFor({ name } as InstanceGroup).publish(dep, 1024, 0, false);
  return link;
}
