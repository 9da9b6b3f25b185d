/**
 * `sure instances <fn>`: a function's live instances and scaling state.
 * `sure scale <fn> [N] [--min N] [--max N] [--target N] [--idle-timeout MS]`:
 * scale to N instances now and/or change the scaling settings.
 */
import { type Command, intFlag, type OptionDoc, UsageError } from "./command.ts";
import { NODE_OPTION, nodeUrl, printTable, requestJson } from "./client.ts";
import type { GroupStatus } from "../scheduler/status.ts";

export const SCALING_OPTIONS: Record<string, OptionDoc> = {
  min: { type: "string", arg: "N", help: "instances kept while idle, 0..1000 (default 0)" },
  max: { type: "string", arg: "N", help: "most instances at once, 1..1000 (default 10)" },
  target: {
    type: "string",
    arg: "N",
    help: "in-flight requests per instance before scaling up (default 1)",
  },
  "idle-timeout": {
    type: "string",
    arg: "MS",
    help: "idle time before an instance stops (default 60000)",
  },
  "concurrency-limit": {
    type: "string",
    arg: "N",
    help: "requests in flight per instance before 429 (default 0: none)",
  },
  "rate-limit": {
    type: "string",
    arg: "N",
    help: "requests/s each instance admits before 429 (default 0: none)",
  },
  "rate-burst": { type: "string", arg: "N", help: "requests admitted at once (default 10)" },
  deadline: {
    type: "string",
    arg: "MS",
    help: "wait before running after which a request is 504 (default 0: none)",
  },
};

/** CLI flag -> settings field, for the scaling options above. */
export const SCALING_FLAGS: [string, string][] = [
  ["min", "minInstances"],
  ["max", "maxInstances"],
  ["target", "targetConcurrency"],
  ["idle-timeout", "idleTimeout"],
  ["concurrency-limit", "concurrencyLimit"],
  ["rate-limit", "rateLimit"],
  ["rate-burst", "rateBurst"],
  ["deadline", "deadline"],
];

function printStatus(s: GroupStatus): void {
  console.log(
    `${s.function}: ${s.instances.length} instance(s), ${s.starting} starting, ` +
      `${s.queued} queued; min ${s.minInstances} max ${s.maxInstances} ` +
      `target ${s.targetConcurrency} idle-timeout ${s.idleTimeout}ms, cold start ${s.coldStart}`,
  );
  console.log(
    `peak ${s.peakInstances}, cold starts ${s.coldStarts}, requests ${s.requests}` +
      (s.template
        ? `; template ${(s.template.residentBytes / 1024).toFixed(0)} KiB, ` +
          `${s.template.clones} clone(s)`
        : ""),
  );
  if (s.instances.length === 0) return;
  const rows = [["ID", "STATE", "AGE", "IDLE", "REQUESTS", "START"]];
  for (const i of s.instances) {
    rows.push([
      String(i.id),
      i.state,
      `${(i.ageMs / 1000).toFixed(1)}s`,
      `${(i.idleMs / 1000).toFixed(1)}s`,
      String(i.requests),
      `${i.start} ${i.startMs.toFixed(2)}ms`,
    ]);
  }
  printTable(rows);
}

export const instancesCommand: Command = {
  name: "instances",
  summary: "Show a function's live instances (state, age, requests) and scaling settings.",
  usage: "instances <function> [--json] [--node URL]",
  options: { json: { type: "boolean", help: "print the raw JSON" }, ...NODE_OPTION },
  positionals: [1, 1],
  async run(values, [name]) {
    const s = await requestJson<GroupStatus>(
      nodeUrl(values.node),
      `/admin/functions/${encodeURIComponent(name)}/instances`,
    );
    if (values.json) console.log(JSON.stringify(s, null, 2));
    else printStatus(s);
    return 0;
  },
};

export const scaleCommand: Command = {
  name: "scale",
  summary: "Scale a function to N instances now, and/or change its scaling and sidecar limits.",
  usage: "scale <function> [N] [--min N] [--max N] [--target N] [--idle-timeout MS] " +
    "[--concurrency-limit N] [--rate-limit N] [--rate-burst N] [--deadline MS]",
  details: "Settings are applied first, then the instance count. Instances above --min are\n" +
    "still stopped after the idle timeout.",
  options: {
    ...SCALING_OPTIONS,
    json: { type: "boolean", help: "print the raw JSON" },
    ...NODE_OPTION,
  },
  positionals: [1, 2],
  async run(values, [name, count]) {
    const base = nodeUrl(values.node);
    const fn = encodeURIComponent(name);
    const patch: Record<string, number> = {};
    for (const [flag, field] of SCALING_FLAGS) {
      const v = intFlag(flag, values[flag]);
      if (v !== undefined) patch[field] = v;
    }
    // N is an argument, not a flag: named as the usage line names it.
    if (count !== undefined && !/^\d+$/.test(count)) {
      throw new UsageError(`scale: N must be a whole number, got ${JSON.stringify(count)}`);
    }
    const n = count === undefined ? undefined : Number(count);
    if (n === undefined && Object.keys(patch).length === 0) {
      throw new UsageError(
        "scale: give N or at least one setting (--min, --max, --rate-limit, ...)",
      );
    }
    const json = (body: unknown) => ({
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (Object.keys(patch).length > 0) {
      await requestJson(base, `/admin/functions/${fn}`, { ...json(patch), method: "PATCH" });
    }
    const s = n === undefined
      ? await requestJson<GroupStatus>(base, `/admin/functions/${fn}/instances`)
      : await requestJson<GroupStatus>(
        base,
        `/admin/functions/${fn}/scale`,
        json({ instances: n }),
      );
    if (values.json) console.log(JSON.stringify(s, null, 2));
    else printStatus(s);
    return 0;
  },
};
