/**
 * Content-addressed function images: <dir>/<sha256>.sure.
 *
 * A file appears under its final name only complete (written to a temporary
 * name in the same directory, then renamed), so a crash never leaves a
 * truncated image that a restart would try to run.
 */

const DIGEST_RE = /^[0-9a-f]{64}$/;

/** Hex SHA-256 of bytes. */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class ImageStore {
  constructor(readonly dir: string) {}

  /** Creates the directory and removes temporaries left by a crash. */
  async init(): Promise<void> {
    await Deno.mkdir(this.dir, { recursive: true });
    for await (const e of Deno.readDir(this.dir)) {
      if (e.isFile && e.name.startsWith(".tmp-")) {
        await Deno.remove(`${this.dir}/${e.name}`).catch(() => {});
      }
    }
  }

  path(digest: string): string {
    // The digest ends up in a path: only ever accept what sha256() produces.
    if (!DIGEST_RE.test(digest)) throw new Error(`bad image digest ${JSON.stringify(digest)}`);
    return `${this.dir}/${digest}.sure`;
  }

  /** Stores bytes (if not there yet) and returns their digest. */
  async put(bytes: Uint8Array): Promise<string> {
    const digest = await sha256(bytes);
    const final = this.path(digest);
    try {
      const st = await Deno.stat(final);
      if (st.isFile && st.size === bytes.byteLength) return digest;
    } catch {
      // not there yet
    }
    const tmp = `${this.dir}/.tmp-${digest}-${crypto.randomUUID()}`;
    try {
      await Deno.writeFile(tmp, bytes, { mode: 0o644 });
      // fsync so that the rename never publishes a file whose data is not on disk.
      const f = await Deno.open(tmp, { read: true });
      try {
        await f.sync();
      } finally {
        f.close();
      }
      await Deno.rename(tmp, final);
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      throw e;
    }
    return digest;
  }

  read(digest: string): Promise<Uint8Array> {
    return Deno.readFile(this.path(digest));
  }

  async remove(digest: string): Promise<void> {
    try {
      await Deno.remove(this.path(digest));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }

  /** Digests of every stored image. */
  async list(): Promise<string[]> {
    const out: string[] = [];
    for await (const e of Deno.readDir(this.dir)) {
      const m = /^([0-9a-f]{64})\.sure$/.exec(e.name);
      if (e.isFile && m) out.push(m[1]);
    }
    return out.sort();
  }
}
