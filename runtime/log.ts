/**
 * Structured logging: one JSON object per line on stdout (info) or stderr
 * (warn, error), so that the node's output can be read by people and tools.
 */
export type Level = "debug" | "info" | "warn" | "error";

export interface LogRecord {
  ts: string;
  level: Level;
  msg: string;
  [key: string]: unknown;
}

export type Logger = (level: Level, msg: string, fields?: Record<string, unknown>) => void;

let debug: boolean | undefined;
function debugEnabled(): boolean {
  if (debug === undefined) {
    try {
      debug = Deno.env.get("SURE_LOG_LEVEL") === "debug";
    } catch {
      debug = false;
    }
  }
  return debug;
}

/**
 * The time now as an ISO string, made at most once per millisecond: a batch
 * of request-log lines is written within one, and toISOString() costs about
 * as much as the rest of a line.
 */
let isoMs = -1;
let isoText = "";
function nowIso(): string {
  const ms = Date.now();
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = new Date(ms).toISOString();
  }
  return isoText;
}

/** Lines held by logBatch() for stdout and stderr, or null: written at once. */
let held: { out: string[]; err: string[] } | null = null;
const encoder = new TextEncoder();

function writeLines(to: typeof Deno.stdout, lines: string[]): void {
  const bytes = encoder.encode(lines.join("\n") + "\n");
  try {
    for (let off = 0; off < bytes.length;) off += to.writeSync(bytes.subarray(off));
  } catch {
    // A closed stdout or stderr (the reader went away) loses the lines, not the node.
  }
}

/**
 * Runs fn with consoleLogger's lines held, then writes them with one write
 * per stream: a batch of events (a line per request in the request log)
 * costs one syscall, not one per line. Order is kept within each stream.
 */
export function logBatch<T>(fn: () => T): T {
  if (held) return fn();
  const mine = held = { out: [], err: [] };
  try {
    return fn();
  } finally {
    held = null;
    if (mine.out.length) writeLines(Deno.stdout, mine.out);
    if (mine.err.length) writeLines(Deno.stderr, mine.err);
  }
}

/** Writes JSON lines to the console (stdout: debug, info; stderr: warn, error). */
export const consoleLogger: Logger = (level, msg, fields) => {
  if (level === "debug" && !debugEnabled()) return;
  const rec: LogRecord = { ts: nowIso(), level, ...fields, msg };
  const line = JSON.stringify(rec);
  const err = level === "warn" || level === "error";
  if (held) (err ? held.err : held.out).push(line);
  else if (err) console.error(line);
  else console.log(line);
};

/** Keeps records in memory (tests). */
export function memoryLogger(): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const logger: Logger = (level, msg, fields) => {
    records.push({ ts: nowIso(), level, ...fields, msg });
  };
  return { logger, records };
}

/** Drops everything. */
export const nullLogger: Logger = () => {};
