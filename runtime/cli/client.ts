/**
 * The CLI's HTTP client for a node's admin API and gateway. Errors come back
 * as the node's JSON error body; connection failures say which URL failed.
 */
import { CommandError, type FlagValue, type OptionDoc } from "./command.ts";
import { findClientToken } from "../auth/token.ts";

export const NODE_OPTION: Record<string, OptionDoc> = {
  node: {
    type: "string",
    arg: "URL",
    help: "node to talk to (env SURE_NODE; default http://127.0.0.1:$SURE_PORT or :8080)",
  },
  token: {
    type: "string",
    arg: "TOKEN",
    help: "the node's admin token (env SURE_TOKEN; default: $SURE_DATA_DIR/admin.token, " +
      "else ./.sure/admin.token)",
  },
  ca: {
    type: "string",
    arg: "FILE",
    help:
      "PEM certificate to trust for an https:// node (env SURE_CA), e.g. its own self-signed one",
  },
};

/** What every request of this CLI run carries: the token, and the client for https. */
let auth: { token: string | null; client?: Deno.HttpClient } | undefined;

/** Reads --token/--ca (or their env and defaults) once per run. */
export function useNodeFlags(values: Record<string, FlagValue>): void {
  const token = findClientToken(typeof values.token === "string" ? values.token : undefined);
  const ca = (typeof values.ca === "string" && values.ca) || Deno.env.get("SURE_CA") || "";
  let client: Deno.HttpClient | undefined;
  if (ca) {
    let pem: string;
    try {
      pem = Deno.readTextFileSync(ca);
    } catch (e) {
      throw new CommandError(`cannot read the certificate ${ca}: ${(e as Error).message}`);
    }
    client = Deno.createHttpClient({ caCerts: [pem] });
  }
  auth = { token, client };
}

export function nodeUrl(flag: FlagValue): string {
  if (typeof flag === "string" && flag) return flag.replace(/\/+$/, "");
  const env = Deno.env.get("SURE_NODE");
  if (env) return env.replace(/\/+$/, "");
  return `http://127.0.0.1:${Deno.env.get("SURE_PORT") || "8080"}`;
}

/** Thrown for a non-2xx answer; body is the node's JSON error (or raw text). */
export class HttpFailure extends Error {
  constructor(readonly status: number, readonly body: string) {
    super(`HTTP ${status}`);
  }
}

export async function request(base: string, path: string, init?: RequestInit): Promise<Response> {
  let res: Response;
  auth ??= { token: findClientToken() };
  const headers = new Headers(init?.headers);
  if (auth.token && !headers.has("authorization")) {
    headers.set("authorization", `Bearer ${auth.token}`);
  }
  try {
    res = await fetch(base + path, {
      ...init,
      headers,
      ...(auth.client ? { client: auth.client } : {}),
    });
  } catch (e) {
    throw new CommandError(`cannot reach the node at ${base}: ${(e as Error).message}`);
  }
  if (!res.ok) throw new HttpFailure(res.status, await res.text());
  return res;
}

export async function requestJson<T>(base: string, path: string, init?: RequestInit): Promise<T> {
  const res = await request(base, path, init);
  return await res.json() as T;
}

/** Rows as aligned columns (the first row is the header). */
export function printTable(rows: string[][]): void {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
}
