/**
 * The smallest Prometheus text exposition (format 0.0.4) the node needs:
 * counters and histograms with labels, kept in memory, rendered on scrape,
 * plus families computed at scrape time (gauges read from the scheduler,
 * counters read from the sidecar pages).
 */

export type Labels = Record<string, string>;

export interface Sample {
  labels: Labels;
  value: number;
  /** Histograms: the series' name suffix (_bucket, _sum, _count). */
  suffix?: string;
}

export interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  samples: Sample[];
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function num(v: number): string {
  if (v === Infinity) return "+Inf";
  if (Number.isNaN(v)) return "NaN";
  return String(v);
}

export function render(families: Family[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${f.help.replace(/\n/g, " ")}`);
    out.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      out.push(`${f.name}${s.suffix ?? ""}${labelText(s.labels)} ${num(s.value)}`);
    }
  }
  return out.join("\n") + "\n";
}

/** Key of a label set: its values, in the order the caller always gives them (hot path). */
function key(labels: Labels): string {
  let k = "";
  for (const v of Object.values(labels)) k += v + "\u0000";
  return k;
}

/** One series of a counter: what a hot path keeps to count without a lookup. */
export interface CounterSeries {
  readonly labels: Labels;
  value: number;
}

export class Counter {
  #series = new Map<string, CounterSeries>();
  constructor(readonly name: string, readonly help: string) {}

  inc(labels: Labels, by = 1): void {
    this.series(labels).value += by;
  }

  /** The series of these labels (created at 0): it counts as `value` goes up. */
  series(labels: Labels): CounterSeries {
    const k = key(labels);
    let s = this.#series.get(k);
    if (!s) {
      s = { labels, value: 0 };
      this.#series.set(k, s);
    }
    return s;
  }

  family(): Family {
    return {
      name: this.name,
      help: this.help,
      type: "counter",
      samples: [...this.#series.values()].map((s) => ({ labels: s.labels, value: s.value })),
    };
  }
}

/**
 * One series of a histogram. An observation adds to one bucket (the first
 * bound it is within, or the last slot past them all); the cumulative counts
 * Prometheus wants are summed on scrape, not on every observation.
 */
export class HistogramSeries {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly labels: Labels, readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(v: number): void {
    let i = 0;
    while (i < this.bounds.length && v > this.bounds[i]) i++;
    this.counts[i]++;
    this.sum += v;
    this.count++;
  }

  /**
   * count observations at once: their sum, and their counts by this
   * series' buckets (one more than the bounds). Counts in other buckets, or
   * none, are taken as count observations of their mean.
   */
  add(count: number, sum: number, buckets?: readonly number[]): void {
    if (buckets && buckets.length === this.counts.length) {
      for (let i = 0; i < buckets.length; i++) this.counts[i] += buckets[i];
      this.sum += sum;
      this.count += count;
      return;
    }
    for (let k = 0; k < count; k++) this.observe(sum / count);
  }

  /** Observations at or below each bound. */
  cumulative(): number[] {
    let run = 0;
    return this.bounds.map((_, i) => (run += this.counts[i]));
  }
}

export class Histogram {
  #series = new Map<string, HistogramSeries>();
  constructor(readonly name: string, readonly help: string, readonly bounds: number[]) {}

  observe(labels: Labels, v: number): void {
    this.series(labels).observe(v);
  }

  /** The series of these labels (created empty). */
  series(labels: Labels): HistogramSeries {
    const k = key(labels);
    let s = this.#series.get(k);
    if (!s) {
      s = new HistogramSeries(labels, this.bounds);
      this.#series.set(k, s);
    }
    return s;
  }

  family(): Family {
    const samples: Sample[] = [];
    for (const s of this.#series.values()) {
      histogramSamples(samples, s.labels, this.bounds, s.cumulative(), s.sum, s.count);
    }
    return { name: this.name, help: this.help, type: "histogram", samples };
  }
}

/** The _bucket/_sum/_count samples of one histogram series (counts cumulative). */
export function histogramSamples(
  out: Sample[],
  labels: Labels,
  bounds: readonly number[],
  cumulative: number[],
  sum: number,
  count: number,
): void {
  bounds.forEach((b, i) =>
    out.push({ labels: { ...labels, le: num(b) }, value: cumulative[i], suffix: "_bucket" })
  );
  out.push({ labels: { ...labels, le: "+Inf" }, value: count, suffix: "_bucket" });
  out.push({ labels, value: sum, suffix: "_sum" });
  out.push({ labels, value: count, suffix: "_count" });
}
