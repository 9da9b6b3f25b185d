/** Which limits a function's sidecars enforce, and where concurrencyLimit is enforced. */
import assert from "node:assert/strict";
import { defaultSettings } from "../settings/settings.ts";
import { sidecarLimits } from "./limits.ts";

Deno.test("sidecar limits: concurrencyLimit is the node queue's job for plain instances, the sidecar's in a chain", () => {
  const d = {
    ...defaultSettings(),
    concurrencyLimit: 3,
    maxInstances: 5,
    rateLimit: 100,
    rateBurst: 20,
    deadline: 50,
  };
  // Plain: the instance group admits concurrencyLimit x maxInstances (autoscale.ts admit).
  assert.deepEqual(sidecarLimits(d, false), {
    enabled: true,
    maxInFlight: 0,
    ratePerSec: 100,
    rateBurst: 20,
    deadlineMs: 50,
  });
  // A chain step has one instance: its sidecar admits concurrencyLimit, the per-step limit.
  assert.equal(sidecarLimits(d, true).maxInFlight, 3);
  assert.equal(sidecarLimits({ ...d, sidecar: "off" }, true).enabled, false);
});
