/** `sure logs <function> [-f]`: a function's own log lines (sure_log), optionally followed. */
import { type Command, intFlag } from "./command.ts";
import { NODE_OPTION, nodeUrl, request } from "./client.ts";
import type { FunctionLogLine } from "../logs/hub.ts";

export const logsCommand: Command = {
  name: "logs",
  summary: "Print a function's own log lines (what it passed to sure_log); -f follows them.",
  usage: "logs <function> [-f] [--tail N] [--json] [--node URL]",
  options: {
    follow: { type: "boolean", short: "f", help: "keep printing new lines until interrupted" },
    tail: { type: "string", arg: "N", help: "lines of backlog first, 0..1000 (default 100)" },
    json: { type: "boolean", help: "print the raw JSON lines" },
    ...NODE_OPTION,
  },
  positionals: [1, 1],
  async run(values, [name]) {
    const tail = intFlag("tail", values.tail);
    const q = new URLSearchParams();
    if (tail !== undefined) q.set("tail", String(tail));
    if (values.follow) q.set("follow", "1");
    const ctl = new AbortController();
    const stop = () => ctl.abort();
    if (values.follow) Deno.addSignalListener("SIGINT", stop);
    try {
      const res = await request(
        nodeUrl(values.node),
        `/admin/functions/${encodeURIComponent(name)}/logs?${q}`,
        { signal: ctl.signal },
      );
      const dec = new TextDecoder();
      let pending = "";
      const print = (text: string) => {
        if (!text) return;
        if (values.json) return console.log(text);
        const l = JSON.parse(text) as FunctionLogLine;
        const from = l.chain ? `${l.chain}/${l.instance}` : String(l.instance ?? "");
        console.log(`${l.ts} [${from}] ${l.line}`);
      };
      try {
        for await (const chunk of res.body!) {
          pending += dec.decode(chunk, { stream: true });
          let nl;
          while ((nl = pending.indexOf("\n")) >= 0) {
            print(pending.slice(0, nl));
            pending = pending.slice(nl + 1);
          }
        }
      } catch (e) {
        if (!ctl.signal.aborted) throw e;
      }
      print(pending);
      return 0;
    } finally {
      if (values.follow) Deno.removeSignalListener("SIGINT", stop);
    }
  },
};
