/**
 * A function's settings, defined once: their ranges and defaults are shared
 * by the deploy form of the admin API (strings, coerced), by sure.json
 * manifests (JSON numbers, strict) and by PATCH /admin/functions/:name.
 * This module imports nothing of the node, so the builder can use it, and no
 * zod, so the CLI can: the schemas made from it are in settings_schema.ts.
 */
import { LIMITS } from "../../ffi/abi.ts";

export interface IntSetting {
  min: number;
  max: number;
  def: number;
  help: string;
}

export const INT_SETTINGS = {
  memory: { min: LIMITS.memMinMib, max: LIMITS.memMaxMib, def: 16, help: "Guest memory in MiB" },
  timeout: { min: 1, max: 300000, def: 5000, help: "Per-request timeout in milliseconds" },
  maxBody: { min: 1, max: 16777216, def: 1048576, help: "Largest request body in bytes" },
  minInstances: {
    min: 0,
    max: 1000,
    def: 0,
    help: "Instances kept running while idle (0: the function scales to zero)",
  },
  maxInstances: { min: 1, max: 1000, def: 10, help: "Most instances at once" },
  targetConcurrency: {
    min: 1,
    max: 1000,
    def: 1,
    help:
      "In-flight requests per instance before another instance may start (if it would serve sooner)",
  },
  idleTimeout: {
    min: 10,
    max: 86400000,
    def: 60000,
    help: "Milliseconds an instance may stay idle before it is stopped (down to minInstances)",
  },
  concurrencyLimit: {
    min: 0,
    max: 100000,
    def: 0,
    // The whole function admits concurrencyLimit x maxInstances (runtime/scheduler/autoscale.ts).
    help: "Requests in flight (running + queued) per instance: beyond concurrencyLimit x " +
      "maxInstances for the function (a chain step: concurrencyLimit) the node answers 429; " +
      "0: no limit",
  },
  rateLimit: {
    min: 0,
    max: 1000000,
    def: 0,
    help: "Requests per second each instance admits (429 beyond, checked by the node before the " +
      "instance sees the request; a chain step's by its sidecar); 0: no limit",
  },
  rateBurst: { min: 1, max: 100000, def: 10, help: "Requests admitted at once above rateLimit" },
  deadline: {
    min: 0,
    max: 300000,
    def: 0,
    help: "Milliseconds a request may wait before it runs (else 504 without running); 0: none",
  },
} as const satisfies Record<string, IntSetting>;

export type IntSettingName = keyof typeof INT_SETTINGS;

/** How a new instance starts: a clone of the function's template, or a fresh boot. */
export const COLD_START_MODES = ["clone", "boot"] as const;
export type ColdStart = typeof COLD_START_MODES[number];

/** The library sidecar in each instance: on (limits, accounting, tracing) or off. */
export const SIDECAR_MODES = ["on", "off"] as const;
export type SidecarMode = typeof SIDECAR_MODES[number];

/** Who may invoke it: anyone who reaches the node, or only holders of the node's admin token. */
export const ACCESS_MODES = ["public", "private"] as const;
export type Access = typeof ACCESS_MODES[number];

/** The fields that change how a function scales and admits (PATCH-able without a redeploy). */
export const SCALING_FIELDS = [
  "minInstances",
  "maxInstances",
  "targetConcurrency",
  "idleTimeout",
  "concurrencyLimit",
  "rateLimit",
  "rateBurst",
  "deadline",
] as const;

/** min <= max, reported on minInstances. */
export function scaleRangeOk(s: { minInstances?: number; maxInstances?: number }): boolean {
  return s.minInstances === undefined || s.maxInstances === undefined ||
    s.minInstances <= s.maxInstances;
}
export const SCALE_RANGE_ISSUE = {
  path: ["minInstances"],
  error: "must not be larger than maxInstances",
};

/** Every setting's name: the fields of settings_schema.ts's shape (deploy_test checks). */
export const SETTING_NAMES: readonly (keyof FunctionSettings)[] = [
  ...Object.keys(INT_SETTINGS) as IntSettingName[],
  "coldStart",
  "sidecar",
  "access",
];

/** Every setting of a deployment, defaults applied. */
export interface FunctionSettings {
  memory: number;
  timeout: number;
  maxBody: number;
  minInstances: number;
  maxInstances: number;
  targetConcurrency: number;
  idleTimeout: number;
  concurrencyLimit: number;
  rateLimit: number;
  rateBurst: number;
  deadline: number;
  coldStart: ColdStart;
  sidecar: SidecarMode;
  access: Access;
}

/** Every setting at its default. */
export function defaultSettings(): FunctionSettings {
  return withDefaults({});
}

/** Settings of a record stored before a field existed: its default. */
export function withDefaults<T extends Partial<FunctionSettings>>(
  rec: T,
): T & FunctionSettings {
  const out = { ...rec } as T & FunctionSettings;
  for (const [key, s] of Object.entries(INT_SETTINGS) as [IntSettingName, IntSetting][]) {
    if (typeof out[key] !== "number") out[key] = s.def;
  }
  if (!COLD_START_MODES.includes(out.coldStart)) out.coldStart = "clone";
  if (!SIDECAR_MODES.includes(out.sidecar)) out.sidecar = "on";
  if (!ACCESS_MODES.includes(out.access)) out.access = "public";
  return out;
}
