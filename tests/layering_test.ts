/**
 * The seams that keep the code layered, checked on the code itself:
 * - libsure: the instance code and the vCPU loop never name chains (a chain
 *   attaches its hooks through struct sure_attach_ops), checked both on the
 *   includes and on the symbols the compiled objects call;
 * - no include cycle among libsure's headers and sources, and no call cycle
 *   among the compiled files of the host library or of the guest library
 *   (each file calls only files below it: the HTTP server's and the data
 *   plane's layers are listed in http_internal.h and dp_internal.h);
 * - no import cycle among the TypeScript modules (main.ts, runtime/, ffi/),
 *   and the lower layers (store, chain spec, VM hosting) never import upper ones;
 * - main.ts loads the node only when a node starts and zod only when a
 *   command validates, and zod schemas are made with @hono/zod-openapi's z
 *   wherever they are made.
 */
import assert from "node:assert/strict";
import { ROOT } from "./helpers.ts";

/** Edges of a graph of files, and the first cycle found in it (or null). */
function findCycle(edges: Map<string, string[]>): string[] | null {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    if (state.get(n) === "done") return null;
    if (state.get(n) === "open") return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, "open");
    stack.push(n);
    for (const m of edges.get(n) ?? []) {
      const c = visit(m);
      if (c) return c;
    }
    stack.pop();
    state.set(n, "done");
    return null;
  };
  for (const n of edges.keys()) {
    const c = visit(n);
    if (c) return c;
  }
  return null;
}

/** libsure/src's quoted includes that name a file of libsure/src (other dirs are ABI or API). */
function cIncludes(): Map<string, string[]> {
  const dir = `${ROOT}/libsure/src`;
  const files = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => /\.[ch]$/.test(n));
  const edges = new Map<string, string[]>();
  for (const f of files) {
    const text = Deno.readTextFileSync(`${dir}/${f}`);
    const inc = [...text.matchAll(/^#include "([^"]+)"/gm)].map((m) => m[1])
      .filter((h) => files.includes(h));
    edges.set(f, inc);
  }
  return edges;
}

function reaches(edges: Map<string, string[]>, from: string, to: string): boolean {
  const seen = new Set<string>();
  const todo = [from];
  while (todo.length) {
    const n = todo.pop()!;
    if (n === to) return true;
    if (seen.has(n)) continue;
    seen.add(n);
    todo.push(...(edges.get(n) ?? []));
  }
  return false;
}

const CORE = ["instance.c", "vcpu.c", "template.c", "layout.c", "instance.h", "layout.h"];

Deno.test("libsure: the instance code and the vCPU loop include nothing of chains", () => {
  const edges = cIncludes();
  for (const f of CORE) assert.ok(!reaches(edges, f, "chain.h"), `${f} reaches chain.h`);
  assert.equal(findCycle(edges), null);
});

Deno.test("libsure: the instance code and the vCPU loop call no chain function", async () => {
  for (const f of ["instance", "vcpu", "template", "layout"]) {
    const obj = `${ROOT}/libsure/build/host/${f}.c.o`;
    const out = await new Deno.Command("nm", { args: ["-u", obj] }).output();
    assert.equal(out.code, 0, `nm ${obj}: ${new TextDecoder().decode(out.stderr)}`);
    const chainCalls = new TextDecoder().decode(out.stdout).split("\n")
      .filter((l) => /\bsure_chain_/.test(l));
    assert.deepEqual(chainCalls, [], `${f}.c calls chain code`);
  }
});

/** Which object file calls which, from the symbols each defines and leaves undefined. */
async function objectCalls(dir: string): Promise<Map<string, string[]>> {
  const objs: string[] = [];
  for (const sub of ["", "fp/"]) {
    try {
      for (const e of Deno.readDirSync(`${dir}/${sub}`)) {
        if (e.isFile && e.name.endsWith(".o")) objs.push(sub + e.name);
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  const defined = new Map<string, string>();
  const wanted = new Map<string, string[]>();
  const outs = await Promise.all(
    objs.map((o) => new Deno.Command("nm", { args: [`${dir}/${o}`] }).output()),
  );
  for (const [k, o] of objs.entries()) {
    const out = outs[k];
    assert.equal(out.code, 0, `nm ${o}: ${new TextDecoder().decode(out.stderr)}`);
    const und: string[] = [];
    for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
      const f = line.trim().split(/\s+/);
      if (f.length === 3 && /^[TDBRW]$/.test(f[1]) && !defined.has(f[2])) defined.set(f[2], o);
      else if (f.length === 2 && /^[Uw]$/.test(f[0])) und.push(f[1]);
    }
    wanted.set(o, und);
  }
  const edges = new Map<string, string[]>();
  for (const [o, und] of wanted) {
    edges.set(
      o,
      [...new Set(und.map((s) => defined.get(s)).filter((d) => d && d !== o))] as string[],
    );
  }
  return edges;
}

Deno.test("libsure: no call cycle among the files of the host or the guest library", async () => {
  for (const dir of ["host", "guest"]) {
    const edges = await objectCalls(`${ROOT}/libsure/build/${dir}`);
    assert.ok(edges.size > 30, `only ${edges.size} objects in build/${dir}`);
    const cycle = findCycle(edges);
    assert.equal(cycle, null, `build/${dir}: ${cycle?.join(" -> ")}`);
  }
});

/** Static imports, re-exports (`import type` too: a type cycle is still a cycle) and dynamic imports. */
const IMPORT =
  /(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?["'](\.{1,2}\/[^"']+)["']|import\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g;

/** Relative imports of every TypeScript module outside tests, from main.ts down. */
function tsImports(): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  const todo = [`${ROOT}/main.ts`];
  while (todo.length) {
    const file = todo.pop()!;
    if (edges.has(file)) continue;
    const text = Deno.readTextFileSync(file);
    const specs = [...text.matchAll(IMPORT)]
      .map((m) => new URL(m[1] ?? m[2], `file://${file}`).pathname);
    edges.set(file, specs);
    todo.push(...specs);
  }
  return edges;
}

const short = (file: string) => file.slice(ROOT.length + 1);

Deno.test("TypeScript: no import cycle from main.ts down", () => {
  const edges = tsImports();
  assert.ok(edges.size > 50, `only ${edges.size} modules found`);
  const cycle = findCycle(edges);
  assert.equal(cycle?.map(short).join(" -> ") ?? null, null);
});

Deno.test("TypeScript: lower layers do not import upper ones", () => {
  const forbidden: [RegExp, RegExp, string][] = [
    [/^runtime\/store\//, /^runtime\/chains\//, "the store knows functions only"],
    [/^runtime\/chains\/spec\.ts$/, /^runtime\/(admin|gateway)\//, "a chain spec is not HTTP"],
    [/^runtime\/(scheduler|vmhost)\//, /^runtime\/(admin|gateway|chains)\//, "VM hosting is below"],
  ];
  for (const [from, deps] of tsImports()) {
    for (const dep of deps) {
      for (const [a, b, why] of forbidden) {
        if (a.test(short(from)) && b.test(short(dep))) {
          assert.fail(`${short(from)} imports ${short(dep)}: ${why}`);
        }
      }
    }
  }
});

/** Value imports only: what loading a module loads (`import type` is erased, `import()` deferred). */
const VALUE_IMPORT = /(?:import|export)\s+(?!type\s)(?:[^'";]*?\s+from\s+)?["']([^"']+)["']/g;

Deno.test("TypeScript: the CLI's client commands load without the node or zod", () => {
  // main.ts holds every command; `sure ls` or `sure invoke` should not pay for
  // Hono, NATS, libsure or zod (zod alone is ~7 s of a CLI call in the nested
  // guest, where page faults are emulated). serve.ts imports the node when it
  // starts one; a command that validates with a schema imports it when it runs.
  const loaded = new Set<string>();
  const packages = new Map<string, string>();
  const todo = [`${ROOT}/main.ts`];
  while (todo.length) {
    const file = todo.pop()!;
    if (loaded.has(file)) continue;
    loaded.add(file);
    for (const [, spec] of Deno.readTextFileSync(file).matchAll(VALUE_IMPORT)) {
      if (spec.startsWith(".")) todo.push(new URL(spec, `file://${file}`).pathname);
      else packages.set(spec, short(file));
    }
  }
  for (const heavy of ["runtime/node.ts", "runtime/app.ts", "ffi/libsure.ts"]) {
    assert.ok(!loaded.has(`${ROOT}/${heavy}`), `main.ts loads ${heavy} for every command`);
  }
  for (const [pkg, by] of packages) {
    assert.ok(!/^(?:npm:)?(?:zod|@hono\/zod-openapi)(?:[@/]|$)/.test(pkg), `${by} loads ${pkg}`);
  }
});

Deno.test("TypeScript: every zod schema is made with @hono/zod-openapi's z", () => {
  // zod 4 gives a schema its methods when it is made; .openapi() exists only on
  // schemas made after @hono/zod-openapi extended zod. Taking z from it makes
  // that order hold whichever module loads first (a CLI command before the node).
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory && !["node_modules", "tmp", "build", "dist"].includes(e.name)) walk(path);
      else if (e.isFile && e.name.endsWith(".ts")) {
        const text = Deno.readTextFileSync(path);
        if (
          /import\s+(?!type\s)[^;]*?from\s+["'](?:npm:)?zod(?:@[^/"']*)?(?:\/[^"']*)?["']/.test(
            text,
          )
        ) {
          offenders.push(short(path));
        }
      }
    }
  };
  for (const dir of ["runtime", "ffi", "tests", "bench", "functions", "chains"]) {
    try {
      walk(`${ROOT}/${dir}`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  assert.deepEqual(offenders, []);
});
