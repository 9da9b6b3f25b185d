/**
 * One node per data directory. Two nodes on one data dir would each keep
 * their own idea of what is deployed (one lists a function the other answers
 * 404 for), so a node takes an exclusive lock on `<dataDir>/node.lock` before
 * it opens anything else and holds it until it stops; the file says who holds
 * it (PID, address), so the second node can name the first. The kernel drops
 * the lock when the process dies, however it dies.
 */
export const LOCK_FILE = "node.lock";

export class DataDirInUseError extends Error {}

export interface LockHolder {
  pid: number;
  /** Where it listens, once it does ("" before). */
  listen: string;
  startedAt: string;
}

export interface DataDirLock {
  /** Records where the node listens, for a node that finds the lock taken. */
  listening(listen: string): Promise<void>;
  release(): void;
}

/** What the file says of its holder; a holder may be rewriting it: read again a few times. */
async function describeHolder(path: string): Promise<string> {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const h = JSON.parse(await Deno.readTextFile(path)) as LockHolder;
      const where = h.listen ? ` listening on ${h.listen}` : " (still starting)";
      return `the node with PID ${h.pid}${where}, started ${h.startedAt}`;
    } catch {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  return "another node (it has not said which)";
}

export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = `${dataDir.replace(/\/+$/, "")}/${LOCK_FILE}`;
  const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  if (!(await file.tryLock(true))) {
    file.close();
    const who = await describeHolder(path);
    throw new DataDirInUseError(
      `the data directory ${dataDir} is in use by ${who}: stop it, or give this node another ` +
        "--data-dir (SURE_DATA_DIR)",
    );
  }
  const holder: LockHolder = { pid: Deno.pid, listen: "", startedAt: new Date().toISOString() };
  // One write at offset 0 of a fixed-size record (JSON padded with spaces):
  // the file is never empty or half old, whenever another node reads it.
  const write = async () => {
    const json = JSON.stringify(holder);
    const bytes = new TextEncoder().encode(json.padEnd(Math.max(512, json.length + 1), " "));
    await file.seek(0, Deno.SeekMode.Start);
    await file.write(bytes);
  };
  await write();
  let released = false;
  return {
    async listening(listen: string) {
      holder.listen = listen;
      if (!released) await write();
    },
    release() {
      if (released) return;
      released = true;
      try {
        file.unlockSync();
      } finally {
        file.close();
      }
    },
  };
}

/**
 * Fails at once, naming the port and how to pick another, when the port
 * cannot be bound: before the node restores anything.
 */
export function checkPortFree(hostname: string, port: number, what = "--port or SURE_PORT") {
  if (port === 0) return; // any free port
  try {
    Deno.listen({ hostname, port }).close();
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new PortInUseError(
        `port ${port} on ${hostname} is already in use: stop what listens there, or choose ` +
          `another port with ${what}`,
      );
    }
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new PortInUseError(
        `port ${port} on ${hostname} needs privileges this process lacks: choose a port above ` +
          `1023 with ${what}`,
      );
    }
    throw e;
  }
}

export class PortInUseError extends Error {}
