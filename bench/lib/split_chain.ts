// The chain the split-chain benchmarks run: upper -> reverse -> echo, with
// reverse on node b ("across") and all three on node a ("local").
import { buildFunction } from "../../runtime/builder/compile.ts";
import { authFor, deploy } from "./node.ts";

const root = new URL("../../", import.meta.url).pathname;

/** The three functions' images, built from functions/. */
export async function splitImages(): Promise<Record<string, Uint8Array<ArrayBuffer>>> {
  return Object.fromEntries(
    await Promise.all(
      ["upper", "reverse", "echo"].map(async (f) =>
        [f, await Deno.readFile((await buildFunction(`${root}functions/${f}`)).image)] as const
      ),
    ),
  );
}

async function chain(url: string, spec: unknown): Promise<void> {
  const r = await fetch(`${url}/admin/chains`, {
    method: "POST",
    headers: { "content-type": "application/json", ...authFor(url) },
    body: JSON.stringify(spec),
  });
  if (r.status !== 201) throw new Error(`chain: ${r.status} ${await r.text()}`);
}

/**
 * Deploys the functions (all on a, reverse on b) and applies "across" on
 * both nodes (b first: a's hops find it there) and "local" on a.
 */
export async function applySplitChains(
  a: string,
  b: string,
  images: Record<string, Uint8Array<ArrayBuffer>>,
): Promise<void> {
  for (const f of ["upper", "reverse", "echo"]) await deploy(a, f, images[f]);
  await deploy(b, "reverse", images.reverse);
  const across = {
    name: "across",
    steps: [
      { function: "upper", node: "a" },
      { function: "reverse", node: "b" },
      { function: "echo", node: "a" },
    ],
  };
  await chain(b, across);
  await chain(a, across);
  await chain(a, { name: "local", steps: ["upper", "reverse", "echo"] });
}
