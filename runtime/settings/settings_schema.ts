/**
 * The settings (settings.ts) as zod fields: the deploy form of the admin API
 * (strings, coerced), sure.json manifests (JSON numbers, strict), the fleet's
 * records and PATCH /admin/functions/:name.
 */
import { z } from "@hono/zod-openapi";
import {
  ACCESS_MODES,
  COLD_START_MODES,
  INT_SETTINGS,
  type IntSetting,
  type IntSettingName,
  SCALING_FIELDS,
  SIDECAR_MODES,
} from "./settings.ts";

function intSchema(s: IntSetting, coerce: boolean): z.ZodNumber {
  // The range in the message: 1.5 and 1e308 (an integer, but not a safe one) alike.
  const whole = `must be an integer from ${s.min} to ${s.max}`;
  const base = coerce ? z.coerce.number({ error: whole }) : z.number({
    error: "must be a number",
  });
  return base
    .int({ error: whole })
    .min(s.min, { error: `must be at least ${s.min}` })
    .max(s.max, { error: `must be at most ${s.max}` }) as z.ZodNumber;
}

/** The settings as zod fields, each with its default. */
export function settingsShape(coerce: boolean) {
  const shape = {} as Record<IntSettingName, z.ZodDefault<z.ZodNumber>>;
  for (const [key, s] of Object.entries(INT_SETTINGS) as [IntSettingName, IntSetting][]) {
    shape[key] = intSchema(s, coerce).default(s.def)
      .describe(`${s.help} (${s.min}..${s.max}, default ${s.def})`);
  }
  return {
    ...shape,
    coldStart: z.enum(COLD_START_MODES, { error: `must be one of ${COLD_START_MODES.join(", ")}` })
      .default("clone")
      .describe("How new instances start: clone (of the template taken after init) or boot"),
    sidecar: z.enum(SIDECAR_MODES, { error: `must be one of ${SIDECAR_MODES.join(", ")}` })
      .default("on")
      .describe("The library sidecar in each instance: on (limits, accounting, tracing) or off"),
    access: z.enum(ACCESS_MODES, { error: `must be one of ${ACCESS_MODES.join(", ")}` })
      .default("public")
      .describe(
        "Who may invoke it: public (anyone who reaches the node) or private (only with the " +
          "node's admin token: Authorization: Bearer <token>)",
      ),
  };
}

/** The scaling fields, all optional and without defaults (for PATCH). */
export function scalingPatchShape() {
  const shape = {} as Record<typeof SCALING_FIELDS[number], z.ZodOptional<z.ZodNumber>>;
  for (const key of SCALING_FIELDS) {
    const s = INT_SETTINGS[key];
    shape[key] = intSchema(s, false).optional().describe(`${s.help} (${s.min}..${s.max})`);
  }
  return shape;
}
