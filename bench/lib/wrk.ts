// Runs wrk against a URL and parses throughput and latency percentiles.
// wrk comes from Debian (scripts/bench.sh installs it).

export interface WrkResult {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
}

export interface WrkOptions {
  url: string;
  body?: string;
  threads?: number;
  connections?: number;
  durationSec?: number;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Run wrk inside this network namespace (`ip netns exec`; root). */
  netns?: string;
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  switch (unit) {
    case "us":
      return n / 1000;
    case "ms":
      return n;
    case "s":
      return n * 1000;
    default:
      throw new Error(`wrk: unknown latency unit ${unit}`);
  }
}

export async function runWrk(opts: WrkOptions): Promise<WrkResult> {
  const script = await Deno.makeTempFile({ suffix: ".lua" });
  try {
    const body = JSON.stringify(opts.body ?? "");
    const extra = Object.entries(opts.headers ?? {})
      .map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}\n`).join("");
    await Deno.writeTextFile(
      script,
      `wrk.method = "POST"\nwrk.body = ${body}\nwrk.headers["Content-Type"] = "text/plain"\n` +
        extra,
    );
    const args = [
      `-t${opts.threads ?? 1}`,
      `-c${opts.connections ?? 16}`,
      `-d${opts.durationSec ?? 5}s`,
      "--latency",
      "-s",
      script,
      opts.url,
    ];
    const cmd = opts.netns ? "ip" : "wrk";
    if (opts.netns) args.unshift("netns", "exec", opts.netns, "wrk");
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(out.stdout);
    if (!out.success) {
      throw new Error(`wrk failed: ${new TextDecoder().decode(out.stderr)}\n${text}`);
    }
    const rps = text.match(/Requests\/sec:\s+([\d.]+)/);
    const p50 = text.match(/^\s+50%\s+([\d.]+)(us|ms|s)\s*$/m);
    const p99 = text.match(/^\s+99%\s+([\d.]+)(us|ms|s)\s*$/m);
    const total = text.match(/(\d+) requests in/);
    const non2xx = text.match(/Non-2xx or 3xx responses: (\d+)/);
    const sock = text.match(
      /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/,
    );
    if (!rps || !p50 || !p99 || !total) throw new Error(`cannot parse wrk output:\n${text}`);
    const sockErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
    return {
      requestsPerSec: Number(rps[1]),
      p50Ms: toMs(p50[1], p50[2]),
      p99Ms: toMs(p99[1], p99[2]),
      requests: Number(total[1]),
      errors: (non2xx ? Number(non2xx[1]) : 0) + sockErrors,
    };
  } finally {
    await Deno.remove(script);
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}
