/**
 * Where in the function's source a fault happened: the faulting instruction
 * address (RIP) turned into function, file and line, on the host, from the
 * image's own symbols and debug info. `sure build` compiles with -g and
 * never strips, so `.symtab` and `.debug_*` are sections of the image file
 * that no PT_LOAD segment covers: libsure copies only the segments into the
 * VM, so the debug info never reaches guest memory, while the one
 * content-addressed image file keeps code and its symbols together (a
 * deploy, a redeploy or a chain step cannot pair an image with the wrong
 * side file).
 *
 * binutils' addr2line does the DWARF work where it exists (it ships with
 * gcc, so every node that builds has it); otherwise, or when it finds
 * nothing, `.symtab` still gives symbol + offset (elf_symbols.ts). Faults
 * are rare and this runs after the instance died, never on a request that
 * succeeds; results are cached per image and address, so a crash loop
 * costs one lookup.
 */
import type { FaultLocation } from "../errors.ts";
import { symbolAt } from "./elf_symbols.ts";

/** A code location as it appears in error bodies and log lines. */
export type CodeLocation = FaultLocation;

export interface SymboliseOptions {
  /** The addr2line to run; null: use only the .symtab fallback. Default "addr2line". */
  addr2line?: string | null;
  /** Longest wait for addr2line (ms). */
  timeoutMs?: number;
}

const cache = new WeakMap<Uint8Array, Map<string, Promise<CodeLocation | null>>>();
/** Entries per image: a guest cannot make the cache grow without bound. */
const PER_IMAGE = 64;
/**
 * addr2line runs one at a time; past this many waiting, a lookup takes the
 * in-process fallback instead, so a function that faults at ever new
 * addresses cannot queue up processes (or its 502s behind them).
 */
const MAX_WAITING = 4;
let waiting = 0;
let last: Promise<unknown> = Promise.resolve();

function oneAtATime<T>(fn: () => Promise<T>): Promise<T> | null {
  if (waiting >= MAX_WAITING) return null;
  waiting++;
  const run = last.then(fn).finally(() => waiting--);
  last = run.catch(() => {});
  return run;
}

/** The location of addr in image, or null if nothing is known about it. */
export function symbolise(
  image: Uint8Array,
  addr: bigint,
  opts: SymboliseOptions = {},
): Promise<CodeLocation | null> {
  let forImage = cache.get(image);
  if (!forImage) cache.set(image, forImage = new Map());
  const key = `${opts.addr2line === undefined ? "addr2line" : opts.addr2line}:${addr}`;
  let p = forImage.get(key);
  if (!p) {
    p = lookup(image, addr, opts).catch(() => null);
    if (forImage.size >= PER_IMAGE) forImage.delete(forImage.keys().next().value!);
    forImage.set(key, p);
  }
  return p;
}

async function lookup(
  image: Uint8Array,
  addr: bigint,
  opts: SymboliseOptions,
): Promise<CodeLocation | null> {
  const address = "0x" + addr.toString(16);
  const tool = opts.addr2line === undefined ? "addr2line" : opts.addr2line;
  const found = tool
    ? await (oneAtATime(() => viaAddr2line(tool, image, address, opts.timeoutMs ?? 5000)) ?? null)
    : null;
  if (found?.file) return found;
  const sym = symbolAt(image, addr);
  if (sym) return { function: sym.name, offset: sym.offset, address };
  return found;
}

/** Printable ASCII only, bounded: these strings come out of an untrusted file. */
function clean(s: string, max = 200): string {
  return s.replace(/[^\x20-\x7e]/g, "?").slice(0, max);
}

/**
 * Parses `addr2line -f -i` output: pairs of lines, function then
 * "file:line" (with " (discriminator n)" sometimes), innermost inline first.
 */
export function parseAddr2line(out: string, address: string): CodeLocation | null {
  const lines = out.split("\n");
  const fn = lines[0]?.trim();
  const where = lines[1]?.trim();
  if (!fn || !where) return null;
  const m = /^(.*):(\d+|\?)(?: \(discriminator \d+\))?$/.exec(where);
  const loc: CodeLocation = { function: fn === "??" ? "??" : clean(fn), address };
  if (m && m[1] !== "??" && m[2] !== "?" && Number(m[2]) > 0) {
    loc.file = clean(m[1].slice(m[1].lastIndexOf("/") + 1));
    loc.line = Number(m[2]);
  }
  if (loc.function === "??" && !loc.file) return null;
  return loc;
}

async function viaAddr2line(
  tool: string,
  image: Uint8Array,
  address: string,
  timeoutMs: number,
): Promise<CodeLocation | null> {
  // addr2line reads a file (it seeks): the image goes to a private temp file.
  const file = await Deno.makeTempFile({ prefix: "sure-sym-", suffix: ".sure" });
  try {
    await Deno.writeFile(file, image);
    const child = new Deno.Command(tool, {
      args: ["-f", "-i", "-e", file, address],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
      env: { LC_ALL: "C" },
    }).spawn();
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* it ended meanwhile */ }
    }, timeoutMs);
    try {
      const out = await child.output();
      if (!out.success) return null;
      return parseAddr2line(new TextDecoder().decode(out.stdout), address);
    } finally {
      clearTimeout(timer);
    }
  } catch {
    return null; // no addr2line here: the .symtab fallback answers
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}
