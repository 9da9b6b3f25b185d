/**
 * Which way the node's modules may import each other (type-only imports
 * included): the store, the chain spec and VM hosting sit below the HTTP
 * layer and the chains. Walks the static and dynamic imports of local files
 * from main.ts with a regex (`deno info --json main.ts` gives the same
 * graph). tests/layering_test.ts checks that there is no cycle at all.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const IMPORT =
  /(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?["'](\.{1,2}\/[^"']+)["']|import\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g;

/** Local file -> the local files it imports. */
function importGraph(entry: URL): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const visit = (url: URL) => {
    if (graph.has(url.href)) return;
    const deps: string[] = [];
    graph.set(url.href, deps);
    for (const m of Deno.readTextFileSync(url).matchAll(IMPORT)) {
      const dep = new URL(m[1] ?? m[2], url);
      deps.push(dep.href);
      visit(dep);
    }
  };
  visit(entry);
  return graph;
}

const short = (href: string) => href.slice(ROOT.href.length);

Deno.test("imports: lower layers do not import upper ones", () => {
  const graph = importGraph(new URL("main.ts", ROOT));
  assert.ok(graph.size > 30, `walked only ${graph.size} files`);
  const forbidden: [RegExp, RegExp, string][] = [
    [/^runtime\/store\//, /^runtime\/chains\//, "the store knows functions only"],
    [/^runtime\/chains\/spec\.ts$/, /^runtime\/(admin|gateway)\//, "a chain spec is not HTTP"],
    [/^runtime\/(scheduler|vmhost)\//, /^runtime\/(admin|gateway|chains)\//, "VM hosting is below"],
  ];
  for (const [from, deps] of graph) {
    for (const dep of deps) {
      for (const [a, b, why] of forbidden) {
        if (a.test(short(from)) && b.test(short(dep))) {
          assert.fail(`${short(from)} imports ${short(dep)}: ${why}`);
        }
      }
    }
  }
});
