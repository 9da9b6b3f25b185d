/**
 * The C toolchain behind `sure build`: running the compiler and make, the
 * guest library (libsg.a), and the flags. The guest flags live in ONE place,
 * libsure/Makefile; the builder asks it (`make print-guest-cflags`).
 */
import { BuildError } from "./errors.ts";

/** The C compiler: $CC as for the Makefile, else cc. */
export function compiler(): string {
  return Deno.env.get("CC") || "cc";
}

export interface RunResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

/** Runs a tool to completion, collecting its output. */
export async function run(cmd: string, args: string[], cwd?: string): Promise<RunResult> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, {
      args,
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      // Plain English diagnostics without colour codes: they end up in messages.
      env: { LC_ALL: "C", GCC_COLORS: "" },
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new BuildError(
        `${cmd} not found: building a function needs a C toolchain; install gcc, make and ` +
          "binutils (Debian: apt-get install gcc make binutils)",
      );
    }
    throw e;
  }
  const dec = new TextDecoder();
  return { ok: out.success, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Paths of the guest library inside a libsure directory. */
export function guestPaths(libsureDir: string) {
  return {
    lib: `${libsureDir}/build/guest/libsg.a`,
    script: `${libsureDir}/guest/sure.ld`,
    lock: `${libsureDir}/build/.guest.lock`,
  };
}

/**
 * Runs fn while holding a lock on the guest library: exclusive while make
 * may rewrite libsg.a, shared while a link reads it. flock(2) locks belong to
 * the open file, so this also orders builds within one process.
 */
export async function withGuestLock<T>(
  libsureDir: string,
  exclusive: boolean,
  fn: () => Promise<T>,
): Promise<T> {
  const { lock } = guestPaths(libsureDir);
  await Deno.mkdir(lock.slice(0, lock.lastIndexOf("/")), { recursive: true });
  const file = await Deno.open(lock, { create: true, write: true });
  try {
    await file.lock(exclusive);
    return await fn();
  } finally {
    file.close(); // releases the lock too
  }
}

/** Brings libsg.a up to date (make is a no-op when it is). */
export async function ensureGuestLibrary(libsureDir: string): Promise<void> {
  await withGuestLock(libsureDir, true, async () => {
    const r = await run("make", ["-s", "-C", libsureDir, "guest"]);
    if (!r.ok) {
      throw new BuildError(
        `building the guest library in ${libsureDir} failed`,
        `${r.stdout}${r.stderr}`,
      );
    }
  });
}

const cflagsCache = new Map<string, Promise<string[]>>();

/** The compiler flags for function sources, from the Makefile. */
export function functionCflags(libsureDir: string): Promise<string[]> {
  let p = cflagsCache.get(libsureDir);
  if (!p) {
    p = (async () => {
      const r = await run("make", [
        "-s",
        "--no-print-directory",
        "-C",
        libsureDir,
        "print-guest-cflags",
      ]);
      const flags = r.stdout.trim().split(/\s+/).filter((f) => f.length > 0);
      if (!r.ok || flags.length === 0) {
        throw new BuildError(`cannot read the guest flags from ${libsureDir}/Makefile`, r.stderr);
      }
      return flags;
    })();
    // A failure is not cached: the next build asks again.
    p.catch(() => cflagsCache.delete(libsureDir));
    cflagsCache.set(libsureDir, p);
  }
  return p;
}

/** The diagnostics worth a message: error lines, else everything. */
export function errorLines(output: string): string {
  const lines = output.split("\n").filter((l) =>
    /\berror\b|undefined reference|multiple definition/i.test(l)
  );
  return (lines.length ? lines : output.split("\n").filter((l) => l.trim())).slice(0, 20).join(
    "\n",
  );
}
