/**
 * The functions' own log lines (what their code passes to sure_log), kept
 * per function in a bounded ring for `GET /admin/functions/:name/logs` and
 * `sure logs`, and handed to followers as they arrive. The node's
 * structured log gets them too; this is the per-function view.
 */

export interface FunctionLogLine {
  ts: string;
  function: string;
  /** Instance id, "template" for init's lines, or the chain that ran it. */
  instance?: number | string;
  chain?: string;
  line: string;
}

type Listener = (l: FunctionLogLine) => void;

/** Lines kept per function. */
const KEEP = 1000;

export class LogHub {
  #lines = new Map<string, FunctionLogLine[]>();
  #listeners = new Map<string, Set<Listener>>();

  add(fn: string, line: string, from: { instance?: number | string; chain?: string } = {}): void {
    const rec: FunctionLogLine = { ts: new Date().toISOString(), function: fn, ...from, line };
    let ring = this.#lines.get(fn);
    if (!ring) this.#lines.set(fn, ring = []);
    ring.push(rec);
    if (ring.length > KEEP) ring.splice(0, ring.length - KEEP);
    for (const l of this.#listeners.get(fn) ?? []) l(rec);
  }

  /** The last n lines of fn, oldest first. */
  recent(fn: string, n = KEEP): FunctionLogLine[] {
    const ring = this.#lines.get(fn) ?? [];
    return ring.slice(Math.max(0, ring.length - n));
  }

  /** Calls l for every new line of fn until the returned function is called. */
  follow(fn: string, l: Listener): () => void {
    let set = this.#listeners.get(fn);
    if (!set) this.#listeners.set(fn, set = new Set());
    set.add(l);
    return () => {
      set!.delete(l);
      if (set!.size === 0) this.#listeners.delete(fn);
    };
  }

  /** Forgets a function's lines (it was deleted). Followers stay until they leave. */
  drop(fn: string): void {
    this.#lines.delete(fn);
  }
}
