/**
 * The C library a function expects, in real micro-VMs (the clib fixture):
 * math.h against JavaScript's Math, strtod against parseFloat (both
 * correctly rounded), strtok, printf's floating-point conversions, and the
 * clock and random numbers of clones: a clone made well after its template
 * tells the current time, and clones of one template draw different numbers.
 */
import assert from "node:assert/strict";
import { Instance, Template } from "../ffi/mod.ts";
import { buildImage, hasKvm } from "./helpers.ts";

const OPTS = { memMib: 16, ioCap: 1 << 16, initTimeoutMs: 5000 };
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const image = () => buildImage("tests/fixtures/functions/clib");

async function ask(inst: Instance, body: string): Promise<string> {
  const r = await inst.invoke(enc(body), 5000);
  assert.equal(r.status, 200, body);
  return dec(r.body);
}

/** "time" answers: seconds of time(), CLOCK_REALTIME, gettimeofday, init's time. */
function parseTime(text: string) {
  const [now, rt, tv, iso, init, timegm] = text.trim().split(" ");
  return {
    now: Number(now),
    realtime: Number(rt),
    timeofday: Number(tv),
    iso,
    init: Number(init),
    timegm: Number(timegm),
  };
}

Deno.test({
  name: "clib: math.h, strtod, strtok and printf in a guest",
  ignore: !hasKvm,
  async fn() {
    const inst = await Instance.create(await image(), OPTS);
    try {
      const lines = (await ask(inst, "math")).trim().split("\n");
      const got = new Map(lines.map((l) => l.split(" ") as [string, string]));
      const want: Record<string, number> = {
        sqrt2: Math.SQRT2,
        pow: Math.pow(2.5, 3.7),
        exp: Math.E,
        log: Math.LN10,
        log10: 3,
        log2: 10,
        sin: Math.sin(1),
        cos: Math.cos(1),
        tan: Math.tan(0.5),
        atan2: 3 * Math.PI / 4,
        asin: Math.PI / 6,
        acos: 2 * Math.PI / 3,
        atan: Math.atan(3),
        sinh: Math.sinh(1.5),
        cosh: Math.cosh(1.5),
        tanh: Math.tanh(0.3),
        floor: -3,
        ceil: -2,
        round: 3,
        trunc: -2,
        fabs: 3.25,
        fmod: 1.5,
        hypot: 5,
        cbrt: 3,
        sinbig: -0.8522008497671888, // sin(1e22), exactly reduced
        expm1: 1.00000000005e-10,
        sqrtf: Math.fround(Math.SQRT2),
        pi: Math.PI,
      };
      for (const [name, w] of Object.entries(want)) {
        const v = Number(got.get(name));
        // Within 2 ulp (JavaScript's own functions are not all correctly rounded).
        assert.ok(Math.abs(v - w) <= 2 * Number.EPSILON * Math.abs(w), `${name}: ${v} vs ${w}`);
      }
      assert.equal(got.get("log10"), "3");
      assert.equal(got.get("hypot"), "5");
      assert.equal(lines.at(-1), "nan 1 inf 1 signbit 1 sqrtneg 1");

      for (
        const s of [
          "0.1",
          "3.141592653589793238462643383279",
          "1e-310",
          "2.2250738585072011e-308",
          "9007199254740993",
          "-1.5e300",
          "123456789012345678901234567890e-40",
        ]
      ) {
        const [v, used] = (await ask(inst, `strtod:${s}`)).split(" ");
        assert.equal(Number(v), parseFloat(s), s); // %.17g reads back exactly
        assert.equal(Number(used), s.length, s);
      }
      assert.equal(await ask(inst, "strtod:  12.5e2xyz"), "1250 8");
      assert.equal(await ask(inst, "strtod:-inf"), "-inf 4");
      assert.equal(await ask(inst, "strtok:a, b;;c  d,"), "a|b|c|d");
      assert.equal(
        await ask(inst, "printf"),
        "3.142|1.234568e+04|1e-05|   -2.50|0.2   |2|100000|0x1p+0",
      );
    } finally {
      await inst.destroy();
    }
  },
});

Deno.test({
  name:
    "clib: time() and clock_gettime tell the host's time in a boot and in a late clone; clones' rand() differ",
  ignore: !hasKvm,
  async fn() {
    const boot = await Instance.create(await image(), OPTS);
    try {
      const t = parseTime(await ask(boot, "time"));
      const host = Date.now() / 1000;
      assert.ok(Math.abs(t.now - host) < 5, `boot time ${t.now} vs host ${host}`);
      assert.ok(Math.abs(t.realtime - host) < 5 && Math.abs(t.timeofday - host) < 5);
      assert.equal(t.timegm, t.now);
      assert.equal(t.iso, new Date(t.now * 1000).toISOString().replace(/\.\d+Z$/, "Z"));
    } finally {
      await boot.destroy();
    }

    const template = await Template.create(await image(), OPTS);
    try {
      // Well after the template's init: its clock must not be frozen there.
      const wait = 3;
      await new Promise((r) => setTimeout(r, wait * 1000));
      const a = await template.clone(5000);
      const b = await template.clone(5000);
      try {
        const ta = parseTime(await ask(a, "time"));
        const host = Date.now() / 1000;
        assert.ok(Math.abs(ta.realtime - host) < 2.5, `clone realtime ${ta.realtime} vs ${host}`);
        assert.ok(Math.abs(ta.now - host) < 3, `clone time() ${ta.now} vs ${host}`);
        assert.ok(ta.now >= ta.init + wait - 1, `clone ${ta.now}, template init ${ta.init}`);
        // The clock moves on within a clone.
        await new Promise((r) => setTimeout(r, 1100));
        const later = parseTime(await ask(a, "time"));
        assert.ok(later.realtime > ta.realtime + 1 && later.realtime < ta.realtime + 10);

        const ra = (await ask(a, "rand")).split(" ");
        const rb = (await ask(b, "rand")).split(" ");
        // Same state at init (one template), different numbers after it.
        assert.equal(ra[3], rb[3]);
        assert.notDeepEqual(ra.slice(0, 3), rb.slice(0, 3));
        for (const v of [...ra, ...rb]) assert.ok(Number(v) >= 0 && Number(v) <= 2147483647);
      } finally {
        await a.destroy();
        await b.destroy();
      }
    } finally {
      await template.destroy();
    }
  },
});
