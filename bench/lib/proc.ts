// Starting and stopping the servers a benchmark compares.

const root = new URL("../../", import.meta.url).pathname;
export const deno = `${root}node_modules/.bin/deno`;
export const mainTs = `${root}main.ts`;

export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Polls url until it answers 2xx, at most timeoutMs. */
export async function waitReady(url: string, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      const r = await fetch(url, { method: "POST", body: "ping" });
      await r.body?.cancel();
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not become ready in ${timeoutMs} ms`);
}

export function spawn(args: string[], env: Record<string, string> = {}): Deno.ChildProcess {
  return new Deno.Command(deno, {
    args,
    // A node under load must not spend its time printing one log line per request.
    env: { SURE_REQUEST_LOG: "0", ...env },
    cwd: root,
    stdout: "null",
    stderr: "inherit",
  }).spawn();
}

export async function stop(p: Deno.ChildProcess): Promise<void> {
  try {
    p.kill("SIGTERM");
  } catch {
    // already gone
  }
  await p.status;
}

export function fmt(n: number, digits = 2): string {
  return n.toFixed(digits);
}

/** Runs a command (ip, ...); throws with its stderr if check and it fails. */
export async function sh(args: string[], check = true): Promise<void> {
  const out = await new Deno.Command(args[0], { args: args.slice(1), stderr: "piped" }).output();
  if (check && !out.success) {
    throw new Error(`${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}
