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

/** Writes JSON lines to the console. */
export const consoleLogger: Logger = (level, msg, fields) => {
  if (level === "debug" && !debugEnabled()) return;
  const rec: LogRecord = { ts: new Date().toISOString(), level, ...fields, msg };
  const line = JSON.stringify(rec);
  if (level === "warn" || level === "error") console.error(line);
  else console.log(line);
};

/** Keeps records in memory (tests). */
export function memoryLogger(): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const logger: Logger = (level, msg, fields) => {
    records.push({ ts: new Date().toISOString(), level, ...fields, msg });
  };
  return { logger, records };
}

/** Drops everything. */
export const nullLogger: Logger = () => {};
