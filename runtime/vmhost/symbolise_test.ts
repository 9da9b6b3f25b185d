/**
 * The host-side symboliser on a real image built by `sure build` (no VM
 * needed): addr2line's function, file and line, the .symtab fallback's
 * symbol + offset, and the fallback parser against bytes that are not a
 * sane ELF (truncated, mutated, random): null or an answer, never a throw.
 */
import assert from "node:assert/strict";
import { buildImage, ROOT } from "../../tests/helpers.ts";
import { symbolAt } from "./elf_symbols.ts";
import { parseAddr2line, symbolise } from "./symbolise.ts";

const crashy = () => buildImage("tests/fixtures/functions/crashy");

/** A function's address, from the image's own symbol table. */
function addressOf(img: Uint8Array, name: string): bigint {
  // The first address the fallback names with offset 0 (.text starts at 0x400000).
  for (let a = 0x400000n; a < 0x500000n; a += 1n) {
    const hit = symbolAt(img, a);
    if (hit?.name === name && hit.offset === 0) return a;
  }
  throw new Error(`${name} not found`);
}

async function hasAddr2line(): Promise<boolean> {
  try {
    return (await new Deno.Command("addr2line", { args: ["--version"], stdout: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

Deno.test("symbolise: addr2line names the function, file and line of an address", async () => {
  if (!(await hasAddr2line())) return; // the fallback test below still runs
  const img = await crashy();
  const at = addressOf(img, "parse_header");
  const src = await Deno.readTextFile(`${ROOT}/tests/fixtures/functions/crashy/header.c`);
  const fnLine = src.split("\n").findIndex((l) => l.includes("int parse_header(")) + 1;
  const loc = await symbolise(img, at);
  assert.ok(loc);
  assert.equal(loc.function, "parse_header");
  assert.equal(loc.file, "header.c"); // the name only: host directories stay on the host
  assert.ok(loc.line! >= fnLine && loc.line! <= fnLine + 6, `line ${loc.line}`);
  assert.equal(loc.address, "0x" + at.toString(16));
  // The same answer again comes from the cache (same promise).
  assert.equal(symbolise(img, at), symbolise(img, at));
});

Deno.test("symbolise: without addr2line, .symtab gives symbol + offset", async () => {
  const img = await crashy();
  const at = addressOf(img, "parse_header");
  assert.deepEqual(await symbolise(img, at + 7n, { addr2line: null }), {
    function: "parse_header",
    offset: 7,
    address: "0x" + (at + 7n).toString(16),
  });
  // A tool that is not there: the fallback answers too.
  const loc = await symbolise(img, at + 7n, { addr2line: "/nonexistent/addr2line" });
  assert.equal(loc?.function, "parse_header");
  // Outside any symbol: nothing.
  assert.equal(await symbolise(img, 0x10n, { addr2line: null }), null);
});

Deno.test("parseAddr2line: innermost inline frame, discriminators, unknowns", () => {
  assert.deepEqual(
    parseAddr2line("inner\n/src/a.c:12 (discriminator 3)\nouter\n/src/b.c:40\n", "0x1"),
    { function: "inner", file: "a.c", line: 12, address: "0x1" },
  );
  assert.deepEqual(parseAddr2line("f\n??:0\n", "0x1"), { function: "f", address: "0x1" });
  assert.equal(parseAddr2line("??\n??:0\n", "0x1"), null);
  assert.equal(parseAddr2line("", "0x1"), null);
  const dirty = parseAddr2line("f\u001b[31m\n/x/e\u0007vil.c:3\n", "0x1");
  assert.deepEqual(dirty, { function: "f?[31m", file: "e?vil.c", line: 3, address: "0x1" });
});

Deno.test("symbolAt: hostile bytes give null or an answer, never a throw", async () => {
  const img = await crashy();
  const at = addressOf(img, "parse_header") + 3n;
  // Every truncation (the section headers are at the end: most lose the table).
  for (let n = 0; n < img.byteLength; n += 97) symbolAt(img.subarray(0, n), at);
  // Random byte flips, concentrated on the headers and tables.
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let round = 0; round < 2000; round++) {
    const m = img.slice();
    for (let k = 0; k < 8; k++) {
      const pos = rand() < 0.5 ? Math.floor(rand() * 64) : m.byteLength - 1 -
        Math.floor(rand() * Math.min(m.byteLength, 8192));
      m[pos] = Math.floor(rand() * 256);
    }
    const hit = symbolAt(m, at);
    if (hit) {
      assert.match(hit.name, /^[\x21-\x7e]{0,200}$/);
      assert.ok(hit.offset >= 0);
    }
  }
  for (let round = 0; round < 200; round++) {
    const junk = new Uint8Array(64 + Math.floor(rand() * 4096)).map(() => rand() * 256);
    junk.set([0x7f, 0x45, 0x4c, 0x46, 2, 1]);
    symbolAt(junk, at);
  }
  assert.equal(symbolAt(new Uint8Array(0), at), null);
});
