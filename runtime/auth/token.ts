/**
 * The node's admin token: 32 random bytes (hex) made at first start in
 * `<dataDir>/admin.token`, a file only the node's user can read (0600). Every
 * admin call, and every invocation of a private function, must carry it as
 * `Authorization: Bearer <token>`. The CLI reads the same file when it runs on
 * the node (or SURE_TOKEN, or --token).
 */
export const TOKEN_FILE = "admin.token";
const TOKEN_PATTERN = /^[0-9a-f]{64}$/;

export class TokenFileError extends Error {}

export function tokenPath(dataDir: string): string {
  return `${dataDir.replace(/\/+$/, "")}/${TOKEN_FILE}`;
}

function newToken(): string {
  const b = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * The data dir's token, made (0600, never overwritten) if there is none. A
 * token file others can read is tightened to 0600 (warn says so); one that
 * does not hold a token is an error naming the file.
 */
export async function loadOrCreateToken(
  dataDir: string,
  warn: (msg: string) => void = () => {},
  configured?: string,
): Promise<string> {
  const path = tokenPath(dataDir);
  if (configured !== undefined) {
    // A token the operator chose (sure install --token, SURE_ADMIN_TOKEN): it
    // replaces the file's, so the CLI on this machine finds it there too.
    if (!TOKEN_PATTERN.test(configured)) {
      throw new TokenFileError(
        "the configured admin token (SURE_ADMIN_TOKEN) must be 64 hex digits",
      );
    }
    await Deno.writeTextFile(path, configured + "\n", { mode: 0o600 });
    await Deno.chmod(path, 0o600);
    return configured;
  }
  try {
    const f = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
    try {
      await f.write(new TextEncoder().encode(newToken() + "\n"));
    } finally {
      f.close();
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) {
      throw new TokenFileError(`cannot create the admin token ${path}: ${(e as Error).message}`);
    }
  }
  const st = await Deno.stat(path);
  if (!st.isFile) throw new TokenFileError(`the admin token ${path} is not a file`);
  if (st.mode !== null && (st.mode & 0o077) !== 0) {
    await Deno.chmod(path, 0o600);
    warn(`the admin token ${path} was readable by others: now 0600`);
  }
  const token = (await Deno.readTextFile(path)).trim();
  if (!TOKEN_PATTERN.test(token)) {
    throw new TokenFileError(
      `${path} does not hold an admin token (64 hex digits); remove it to make a new one`,
    );
  }
  return token;
}

/** The token a client should send: --token, SURE_TOKEN, else the data dir's file (or null). */
export function findClientToken(flag?: string): string | null {
  if (flag) return flag.trim();
  const env = Deno.env.get("SURE_TOKEN");
  if (env) return env.trim();
  const dir = Deno.env.get("SURE_DATA_DIR") || ".sure";
  try {
    const t = Deno.readTextFileSync(tokenPath(dir)).trim();
    return TOKEN_PATTERN.test(t) ? t : null;
  } catch {
    return null;
  }
}

/** `Authorization: Bearer <token>` with this token, compared in constant time. */
export function bearerMatches(header: string | null | undefined, token: string): boolean {
  if (!header) return false;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) return false;
  return sameSecret(m[1], token);
}

/** got === want, compared in time that does not depend on where they differ. */
export function sameSecret(got: string, want: string): boolean {
  const g = new TextEncoder().encode(got), w = new TextEncoder().encode(want);
  let diff = g.length ^ w.length;
  for (let i = 0; i < w.length; i++) diff |= (g[i] ?? 0) ^ w[i];
  return diff === 0;
}

/** An address only this machine reaches. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}
