/**
 * `sure build`: turns a function folder (C sources + optional sure.json)
 * into a sure image, a static ELF linking the function with the guest
 * library OS (libsg) by libsure/guest/sure.ld.
 */
import { BuildError } from "./errors.ts";
import { type FunctionManifest, readManifest } from "./manifest.ts";
import {
  compiler,
  ensureGuestLibrary,
  errorLines,
  functionCflags,
  guestPaths,
  run,
  withGuestLock,
} from "./toolchain.ts";
import { explainUnsupported } from "./unsupported.ts";

export { BuildError } from "./errors.ts";
export type { FunctionManifest } from "./manifest.ts";

export interface BuildOptions {
  /** Where to write the image (default `<dir>/build/<name>.sure`). */
  out?: string;
  /** The libsure directory (default: the repo's, next to runtime/). */
  libsureDir?: string;
  /** The function's name when sure.json has none (`sure deploy --name`): the folder's otherwise. */
  name?: string;
}

export interface BuildResult {
  name: string;
  /** Absolute path of the .sure image. */
  image: string;
  manifest: FunctionManifest;
}

const DEFAULT_LIBSURE = new URL("../../libsure", import.meta.url).pathname;

/** Link flags: static, at fixed addresses, pages per segment (see sure.ld). */
function linkArgs(script: string, lib: string, objs: string[], out: string): string[] {
  return [
    "-static",
    "-nostdlib",
    "-no-pie",
    `-Wl,-T,${script}`,
    "-Wl,-u,_start",
    "-Wl,--build-id=none",
    "-Wl,-z,noexecstack",
    "-Wl,-z,max-page-size=4096",
    ...objs,
    lib,
    "-lgcc",
    "-o",
    out,
  ];
}

function absolute(path: string): string {
  const p = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  // Normalise "." and ".." so that paths in results and messages are clean.
  const parts: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") parts.pop();
    else parts.push(seg);
  }
  return `/${parts.join("/")}`;
}

async function cSources(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".c")) names.push(e.name);
  }
  return names.sort();
}

/** Builds the function in dir; throws BuildError with the diagnostics. */
export async function buildFunction(dir: string, opts: BuildOptions = {}): Promise<BuildResult> {
  const src = absolute(dir);
  try {
    if (!(await Deno.stat(src)).isDirectory) throw new BuildError(`${src} is not a directory`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new BuildError(`${src} does not exist`);
    throw e;
  }
  const manifest = await readManifest(src, opts.name ?? src.slice(src.lastIndexOf("/") + 1));
  const sources = await cSources(src);
  if (sources.length === 0) throw new BuildError(`no C sources (*.c) in ${src}`);

  const libsure = absolute(opts.libsureDir ?? DEFAULT_LIBSURE);
  await ensureGuestLibrary(libsure);
  const cflags = await functionCflags(libsure);
  const out = absolute(opts.out ?? `${src}/build/${manifest.name}.sure`);
  const tmp = await Deno.makeTempDir({ prefix: "sure-build-" });
  try {
    const objs = await compileAll(src, sources, cflags, tmp);
    await link(libsure, objs, out, tmp);
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  return { name: manifest.name, image: out, manifest };
}

/**
 * The message part of a tool's output: what libsg leaves out on purpose is
 * said in words first (fopen, fork, socket, ...), then the error lines.
 */
function diagnostics(output: string): string {
  return [...explainUnsupported(output), errorLines(output)].join("\n");
}

/** Compiles every source (all of them, so that all errors show at once). */
async function compileAll(
  dir: string,
  sources: string[],
  cflags: string[],
  tmp: string,
): Promise<string[]> {
  const objs: string[] = [];
  let failed = "";
  for (const [i, name] of sources.entries()) {
    const obj = `${tmp}/${i}-${name.slice(0, -2)}.o`;
    // Run in the folder with bare file names: diagnostics read "echo.c:3:5".
    const r = await run(
      compiler(),
      [...cflags, "-fdiagnostics-color=never", "-c", name, "-o", obj],
      dir,
    );
    if (!r.ok) failed += r.stderr || `${name}: the compiler failed without a message\n`;
    objs.push(obj);
  }
  if (failed) {
    throw new BuildError(`compiling ${dir} failed:\n${diagnostics(failed)}`, failed);
  }
  return objs;
}

/** Links into a temporary file, then renames: readers never see half an image. */
async function link(libsure: string, objs: string[], out: string, tmp: string): Promise<void> {
  const { lib, script } = guestPaths(libsure);
  const staged = `${tmp}/image.sure`;
  const r = await withGuestLock(
    libsure,
    false,
    () => run(compiler(), linkArgs(script, lib, objs, staged)),
  );
  if (!r.ok) throw new BuildError(`linking ${out} failed:\n${diagnostics(r.stderr)}`, r.stderr);
  await Deno.mkdir(out.slice(0, out.lastIndexOf("/")) || "/", { recursive: true });
  const final = `${out}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  // The temp dir may be on another filesystem: copy next to out, then rename.
  await Deno.copyFile(staged, final);
  try {
    await Deno.rename(final, out);
  } catch (e) {
    await Deno.remove(final).catch(() => {});
    throw e;
  }
}
