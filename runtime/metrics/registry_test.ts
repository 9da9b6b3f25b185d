import assert from "node:assert/strict";
import { Counter, Histogram, render } from "./registry.ts";

Deno.test("metrics registry: counters and histograms render in the Prometheus text format", () => {
  const c = new Counter("x_total", "Things.\nCounted.");
  c.inc({ name: "a", code: "200" });
  c.inc({ name: "a", code: "200" }, 2);
  c.inc({ name: 'we"ird\\', code: "500" });
  const h = new Histogram("d_seconds", "Durations.", [0.1, 1]);
  h.observe({ name: "a" }, 0.05);
  h.observe({ name: "a" }, 0.5);
  h.observe({ name: "a" }, 5);
  const text = render([c.family(), h.family()]);
  assert.equal(
    text,
    [
      "# HELP x_total Things. Counted.",
      "# TYPE x_total counter",
      'x_total{name="a",code="200"} 3',
      'x_total{name="we\\"ird\\\\",code="500"} 1',
      "# HELP d_seconds Durations.",
      "# TYPE d_seconds histogram",
      'd_seconds_bucket{name="a",le="0.1"} 1',
      'd_seconds_bucket{name="a",le="1"} 2',
      'd_seconds_bucket{name="a",le="+Inf"} 3',
      'd_seconds_sum{name="a"} 5.55',
      'd_seconds_count{name="a"} 3',
      "",
    ].join("\n"),
  );
});

Deno.test("metrics registry: a value on a bound is within it; series handles count on the same series", () => {
  const h = new Histogram("d_seconds", "Durations.", [0.1, 1]);
  const s = h.series({ name: "a" });
  for (const v of [0.1, 1, 1.0000001, 0]) s.observe(v);
  h.observe({ name: "a" }, 0.5);
  assert.deepEqual(s.cumulative(), [2, 4]);
  assert.equal(s.count, 5);
  const c = new Counter("x_total", "Things.");
  c.series({ name: "a" }).value += 2;
  c.inc({ name: "a" });
  assert.deepEqual(c.family().samples, [{ labels: { name: "a" }, value: 3 }]);
});

Deno.test("metrics registry: many observations at once, by their buckets or by their mean", () => {
  const h = new Histogram("d_seconds", "Durations.", [0.1, 1]);
  const s = h.series({ name: "a" });
  s.add(6, 3.3, [1, 2, 3]);
  assert.deepEqual(s.cumulative(), [1, 3]);
  assert.equal(s.count, 6);
  assert.equal(s.sum, 3.3);
  // Buckets of other bounds are not mixed in: the mean (0.5) counts 4 times.
  s.add(4, 2, [4, 0]);
  assert.deepEqual(s.cumulative(), [1, 7]);
  assert.equal(s.count, 10);
  assert.equal(s.sum, 5.3);
});
