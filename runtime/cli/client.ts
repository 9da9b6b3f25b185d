/**
 * The CLI's HTTP client for a node's admin API and gateway. Errors come back
 * as the node's JSON error body; connection failures say which URL failed.
 */
import { CommandError, type FlagValue, type OptionDoc } from "./command.ts";

export const NODE_OPTION: Record<string, OptionDoc> = {
  node: {
    type: "string",
    arg: "URL",
    help: "node to talk to (env SURE_NODE; default http://127.0.0.1:$SURE_PORT or :8080)",
  },
};

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
  try {
    res = await fetch(base + path, init);
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
