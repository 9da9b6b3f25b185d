/**
 * The function builder (runtime/builder/) and the guest library OS it links
 * in (libsure/guest/): images come out with the layout the VMM and the image
 * checker expect, build failures are typed and point at the source line,
 * the libc subset matches glibc on the host, and — with KVM — the examples
 * and fixtures behave inside real micro-VMs.
 */
import assert from "node:assert/strict";
import { BuildError, buildFunction } from "../runtime/builder/compile.ts";
import { explainUnsupported, unsupportedReason } from "../runtime/builder/unsupported.ts";
import { checkImage, Instance, SureFaultError, SureTimeoutError } from "../ffi/mod.ts";
import { hasKvm, hasLibsure, ROOT } from "./helpers.ts";
import { defaultSettings } from "../runtime/settings/settings.ts";

// ---- ELF, read the way `readelf -lW` shows it --------------------------------

const PT_LOAD = 1;
const PT_NOTE = 4;
const PF_X = 1;
const PF_W = 2;
const PAGE = 0x1000n;
const IMAGE_BASE = 0x400000n; // SURE_IMAGE_BASE
/** SURE_ABI_VERSION, read from the header the guest library is built with. */
const ABI_VERSION = Number(
  /#define SURE_ABI_VERSION (\d+)u/.exec(
    await Deno.readTextFile(`${ROOT}/libsure/abi/sure_abi.h`),
  )![1],
);

interface Segment {
  type: number;
  flags: number;
  offset: bigint;
  vaddr: bigint;
  filesz: bigint;
  memsz: bigint;
}

interface Elf {
  type: number;
  machine: number;
  entry: bigint;
  segments: Segment[];
}

function parseElf(img: Uint8Array): Elf {
  const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  assert.deepEqual([...img.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], "ELF magic");
  assert.equal(img[4], 2, "ELFCLASS64");
  assert.equal(img[5], 1, "little endian");
  const phoff = Number(dv.getBigUint64(0x20, true));
  const phentsize = dv.getUint16(0x36, true);
  const phnum = dv.getUint16(0x38, true);
  assert.equal(phentsize, 56);
  assert.ok(phoff + phnum * phentsize <= img.byteLength, "program headers inside the file");
  const segments: Segment[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    segments.push({
      type: dv.getUint32(o, true),
      flags: dv.getUint32(o + 4, true),
      offset: dv.getBigUint64(o + 8, true),
      vaddr: dv.getBigUint64(o + 0x10, true),
      filesz: dv.getBigUint64(o + 0x20, true),
      memsz: dv.getBigUint64(o + 0x28, true),
    });
  }
  return {
    type: dv.getUint16(0x10, true),
    machine: dv.getUint16(0x12, true),
    entry: dv.getBigUint64(0x18, true),
    segments,
  };
}

/** The name, type and descriptor words of every note in a PT_NOTE segment. */
function notes(img: Uint8Array, seg: Segment) {
  const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  const out: { name: string; type: number; desc: number[] }[] = [];
  const align4 = (n: number) => (n + 3) & ~3;
  let o = Number(seg.offset);
  const end = o + Number(seg.filesz);
  while (o + 12 <= end) {
    const namesz = dv.getUint32(o, true);
    const descsz = dv.getUint32(o + 4, true);
    const type = dv.getUint32(o + 8, true);
    const name = new TextDecoder().decode(img.subarray(o + 12, o + 12 + namesz)).replace(
      /\0+$/,
      "",
    );
    const d = o + 12 + align4(namesz);
    const desc: number[] = [];
    for (let i = 0; i + 4 <= descsz; i += 4) desc.push(dv.getUint32(d + i, true));
    out.push({ name, type, desc });
    o = d + align4(descsz);
  }
  return out;
}

/** What the image checker and the VMM's loader rely on. */
function assertSureLayout(img: Uint8Array) {
  const elf = parseElf(img);
  assert.equal(elf.type, 2, "ET_EXEC");
  assert.equal(elf.machine, 62, "EM_X86_64");
  const loads = elf.segments.filter((s) => s.type === PT_LOAD);
  assert.ok(loads.length >= 3, "text, rodata and data loads");
  for (const s of loads) {
    const where = `segment at 0x${s.vaddr.toString(16)}`;
    assert.equal(s.vaddr % PAGE, 0n, `${where}: page aligned`);
    assert.equal(s.offset % PAGE, 0n, `${where}: file offset page aligned`);
    assert.ok(s.vaddr >= IMAGE_BASE, `${where}: not below SURE_IMAGE_BASE`);
    assert.ok(s.filesz <= s.memsz, `${where}: filesz <= memsz`);
    assert.ok(s.offset + s.filesz <= BigInt(img.byteLength), `${where}: inside the file`);
    assert.ok(!((s.flags & PF_W) && (s.flags & PF_X)), `${where}: W^X`);
  }
  // No two loads share a page: each gets its own page permissions.
  const sorted = [...loads].sort((a, b) => (a.vaddr < b.vaddr ? -1 : 1));
  for (let i = 1; i < sorted.length; i++) {
    const prevEnd = (sorted[i - 1].vaddr + sorted[i - 1].memsz + PAGE - 1n) / PAGE * PAGE;
    assert.ok(prevEnd <= sorted[i].vaddr, "segments on separate pages");
  }
  const code = loads.find((s) => elf.entry >= s.vaddr && elf.entry < s.vaddr + s.memsz);
  assert.ok(code, "entry inside a PT_LOAD");
  assert.equal(code.flags, 5, "entry in the R-X segment");
  const note = elf.segments.find((s) => s.type === PT_NOTE);
  assert.ok(note, "PT_NOTE present");
  assert.deepEqual(notes(img, note).filter((n) => n.name === "sure"), [
    { name: "sure", type: 1, desc: [ABI_VERSION] },
  ]);
  const rodata = loads.find((s) =>
    note.vaddr >= s.vaddr && note.vaddr + note.memsz <= s.vaddr + s.memsz
  );
  assert.ok(rodata, "the note is inside a PT_LOAD");
  assert.equal(rodata.flags, 4, "the note is in the read-only segment");
}

// ---- helpers ------------------------------------------------------------------

/** A temporary function folder holding files; removed afterwards. */
async function withFunction(
  files: Record<string, string>,
  fn: (dir: string) => Promise<void>,
  folder = "fn",
) {
  const root = await Deno.makeTempDir({ prefix: "sure-build-test-" });
  const dir = `${root}/${folder}`;
  try {
    await Deno.mkdir(dir);
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    await fn(dir);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

const ECHO_C = `#include <sure.h>
int handle(sure_req *req) { return sure_write(req, req->body, req->len); }
`;

async function buildError(p: Promise<unknown>): Promise<BuildError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof BuildError, `expected a BuildError, got ${e}`);
    return e;
  }
  assert.fail("the build succeeded");
}

// ---- the builder --------------------------------------------------------------

Deno.test("build: echo becomes an image with the sure layout", async () => {
  const built = await buildFunction(`${ROOT}/functions/echo`);
  assert.equal(built.name, "echo");
  assert.equal(built.image, `${ROOT}/functions/echo/build/echo.sure`);
  assert.deepEqual(built.manifest, { ...defaultSettings(), name: "echo", env: {} });
  assertSureLayout(await Deno.readFile(built.image));
});

Deno.test("build: every example and fixture builds into a valid image", async () => {
  for (const parent of ["functions", "tests/fixtures/functions"]) {
    for await (const e of Deno.readDir(`${ROOT}/${parent}`)) {
      if (!e.isDirectory) continue;
      const built = await buildFunction(`${ROOT}/${parent}/${e.name}`);
      assert.equal(built.name, e.name);
      const img = await Deno.readFile(built.image);
      assertSureLayout(img);
      if (hasLibsure) assert.equal(checkImage(img, built.manifest.memory), null, e.name);
    }
  }
});

Deno.test("build: a syntax error throws BuildError naming the file and line", async () => {
  const bad = `#include <sure.h>

int handle(sure_req *req)
{
	return sure_write(req, req->body req->len);
}
`;
  await withFunction({
    "ok.c": "int helper(void);\nint helper(void) { return 1; }\n",
    "bad.c": bad,
  }, async (dir) => {
    const err = await buildError(buildFunction(dir));
    assert.match(err.message, /bad\.c:5:\d+: error/);
    assert.match(err.output, /bad\.c:5:\d+: error/);
    assert.doesNotMatch(err.message, /ok\.c/);
    await assert.rejects(Deno.stat(`${dir}/build/fn.sure`), Deno.errors.NotFound);
  });
});

Deno.test("build: warnings are errors, a missing handle is a link error", async () => {
  await withFunction({
    "w.c": "#include <sure.h>\nint handle(sure_req *req) { int x; return 0; }\n",
  }, async (dir) => {
    const err = await buildError(buildFunction(dir));
    assert.match(err.message, /w\.c:2:\d+: error: unused variable/);
  });
  await withFunction(
    { "nohandle.c": "int helper(void);\nint helper(void) { return 1; }\n" },
    async (dir) => {
      const err = await buildError(buildFunction(dir));
      assert.match(err.message, /linking .* failed/);
      assert.match(err.message, /undefined reference to `handle'/);
    },
  );
});

Deno.test("build: a function sees the SDK and the guest ABI, never the host API or libsg's own headers", async () => {
  // The guest-visible ABI is there (a hostile fixture forges descriptors with it).
  await withFunction({
    "abi.c": "#include <sure.h>\n#include <sure_abi.h>\n" +
      "int handle(sure_req *req) { return req->len > SURE_PAGE_SIZE; }\n",
  }, async (dir) => {
    await buildFunction(dir);
  });
  for (const header of ["libsure.h", "sg.h", "instance.h"]) {
    await withFunction({
      "host.c":
        `#include <sure.h>\n#include <${header}>\nint handle(sure_req *req) { return 0; }\n`,
    }, async (dir) => {
      const err = await buildError(buildFunction(dir));
      assert.match(err.message, new RegExp(`${header.replace(".", "\\.")}: No such file`));
    });
  }
});

Deno.test("build: the standard C headers are libsg's, never the host's", async () => {
  await withFunction({
    "std.c": "#include <assert.h>\n#include <ctype.h>\n#include <errno.h>\n" +
      "#include <limits.h>\n#include <stdarg.h>\n#include <stdbool.h>\n#include <stddef.h>\n" +
      "#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n" +
      "#include <math.h>\n#include <time.h>\n#include <sys/time.h>\n#include <sys/types.h>\n" +
      "#include <inttypes.h>\n#include <strings.h>\n#include <float.h>\n#include <sure.h>\n" +
      "int handle(sure_req *req) {\n" +
      '  char b[32]; bool ok = sprintf(b, "%d", INT_MAX) == 10; assert(ok);\n' +
      '  printf("%s %d\\n", b, errno); fprintf(stderr, "e\\n"); puts(strdup("x"));\n' +
      "  struct timeval tv; gettimeofday(&tv, NULL); ssize_t z = (ssize_t)time(NULL);\n" +
      '  printf("%" PRId64 " %.3f %g %d\\n", (int64_t)z, sqrt(DBL_EPSILON), strtod("1e3", NULL),\n' +
      '         strcasecmp("A", "a"));\n' +
      "  return sure_write(req, b, strlen(b)) + abs(atoi(b)) * 0 + isdigit(b[0]) * 0;\n}\n",
  }, async (dir) => {
    await buildFunction(dir);
  });
  // No host header is on the path (-nostdinc): unistd.h does not exist.
  await withFunction({
    "u.c": "#include <unistd.h>\n#include <sure.h>\nint handle(sure_req *req) { return 0; }\n",
  }, async (dir) => {
    assert.match((await buildError(buildFunction(dir))).message, /unistd\.h: No such file/);
  });
});

Deno.test("build: a libc function libsg leaves out is named, not a raw linker error", async () => {
  // Declared by hand: the linker finds no fopen.
  await withFunction({
    "f.c": "#include <sure.h>\nvoid *fopen(const char *p, const char *m);\n" +
      'int handle(sure_req *req) { return fopen("/etc/passwd", "r") != 0 || !req; }\n',
  }, async (dir) => {
    const err = await buildError(buildFunction(dir));
    assert.match(err.message, /linking .* failed/);
    assert.match(err.message, /^fopen is not available in a sure function \(.*file system/m);
    assert.match(err.output, /undefined reference to `fopen'/);
  });
  // Not declared by any header: the compiler stops, with the same words.
  await withFunction({
    "p.c": "#include <stdlib.h>\n#include <sure.h>\n" +
      "int handle(sure_req *req) { return fork() + socket(2, 1, 0) + !req; }\n",
  }, async (dir) => {
    const err = await buildError(buildFunction(dir));
    assert.match(err.message, /^fork is not available in a sure function/m);
    assert.match(err.message, /^socket is not available in a sure function/m);
  });
  // Other undefined symbols keep the linker's words.
  await withFunction({
    "g.c":
      "#include <sure.h>\nint mine(void);\nint handle(sure_req *req) { return mine() + !req; }\n",
  }, async (dir) => {
    const err = await buildError(buildFunction(dir));
    assert.match(err.message, /undefined reference to `mine'/);
    assert.doesNotMatch(err.message, /not available/);
  });
});

Deno.test("builder: the table of unsupported libc symbols", () => {
  assert.match(unsupportedReason("fork")!, /one process/);
  assert.equal(unsupportedReason("printf"), undefined);
  // What libsg now has is not in the table; near misses name the alternative.
  for (
    const have of ["sqrt", "pow", "strtod", "time", "clock_gettime", "strftime", "rand", "getenv"]
  ) {
    assert.equal(unsupportedReason(have), undefined, have);
  }
  assert.match(unsupportedReason("sqrtl")!, /double function/);
  assert.match(unsupportedReason("sscanf")!, /strtol, strtod/);
  assert.equal(unsupportedReason("handle"), undefined);
  const out = [
    "/usr/bin/ld: /tmp/x/0-f.o: in function `handle':",
    "f.c:3: undefined reference to `fopen'",
    "f.c:4: undefined reference to `fopen'",
    "f.c:5: undefined reference to `helper'",
    "g.c:2:10: error: implicit declaration of function 'socket' [-Werror=implicit-function-declaration]",
    "h.c:2:10: error: implicit declaration of function \u2018setenv\u2019",
  ].join("\n");
  assert.deepEqual(explainUnsupported(out).map((l) => l.split(" (")[0]), [
    "fopen is not available in a sure function",
    "socket is not available in a sure function",
    "setenv is not available in a sure function",
  ]);
  assert.deepEqual(explainUnsupported("all fine"), []);
});

Deno.test("build: thread-local storage does not link into a guest", async () => {
  await withFunction({
    "tls.c": "#include <sure.h>\nstatic __thread int n;\n" +
      'int handle(sure_req *req) { n++; return sure_printf(req, "%d", n) < 0; }\n',
  }, async (dir) => {
    await buildError(buildFunction(dir));
  });
});

Deno.test("build: the manifest is optional, checked, and names the function", async () => {
  await withFunction({ "f.c": ECHO_C }, async (dir) => {
    const built = await buildFunction(dir);
    assert.equal(built.name, "my-fn");
    assert.deepEqual(built.manifest, { ...defaultSettings(), name: "my-fn", env: {} });
    assert.deepEqual(defaultSettings(), {
      memory: 16,
      timeout: 5000,
      maxBody: 1048576,
      minInstances: 0,
      maxInstances: 10,
      targetConcurrency: 1,
      idleTimeout: 60000,
      concurrencyLimit: 0,
      rateLimit: 0,
      rateBurst: 10,
      deadline: 0,
      coldStart: "clone",
      sidecar: "on",
      access: "public",
    });
    assert.equal(built.image, `${dir}/build/my-fn.sure`);
  }, "my-fn");
  await withFunction({
    "f.c": ECHO_C,
    "sure.json": JSON.stringify({
      name: "renamed",
      memory: 64,
      timeout: 100,
      maxBody: 10,
      minInstances: 2,
      maxInstances: 3,
      idleTimeout: 500,
      coldStart: "boot",
      env: { GREETING: "hi" },
    }),
  }, async (dir) => {
    const out = `${dir}/elsewhere/x.sure`;
    const built = await buildFunction(dir, { out });
    assert.equal(built.name, "renamed");
    assert.deepEqual(built.manifest, {
      ...defaultSettings(),
      name: "renamed",
      memory: 64,
      timeout: 100,
      maxBody: 10,
      minInstances: 2,
      maxInstances: 3,
      idleTimeout: 500,
      coldStart: "boot",
      env: { GREETING: "hi" },
    });
    assert.equal(built.image, out);
    assertSureLayout(await Deno.readFile(out));
  });
  const bad: [string, RegExp][] = [
    ["{", /not valid JSON/],
    [JSON.stringify({ memory: 4 }), /memory: must be at least 8/],
    [JSON.stringify({ memory: 2048 }), /memory: must be at most 1024/],
    [JSON.stringify({ timeout: 1.5 }), /timeout: must be an integer/],
    [JSON.stringify({ maxBody: "big" }), /maxBody: must be a number/],
    [JSON.stringify({ name: "Bad_Name" }), /name: must start with a-z/],
    [JSON.stringify({ memroy: 32 }), /memroy/],
    [JSON.stringify({ minInstances: 5, maxInstances: 2 }), /minInstances: must not be larger/],
    [JSON.stringify({ coldStart: "warm" }), /coldStart: must be one of clone, boot/],
    [JSON.stringify({ idleTimeout: 1 }), /idleTimeout: must be at least 10/],
    [JSON.stringify({ env: { "A-B": "x" } }), /env/],
    [JSON.stringify({ env: { A: 1 } }), /env\.A/],
    [JSON.stringify({ env: ["A=1"] }), /env/],
  ];
  for (const [json, re] of bad) {
    await withFunction({ "f.c": ECHO_C, "sure.json": json }, async (dir) => {
      const err = await buildError(buildFunction(dir));
      assert.match(err.message, re, json);
      assert.match(err.message, /sure\.json/);
    });
  }
  await withFunction({ "f.c": ECHO_C }, async (dir) => {
    const err = await buildError(buildFunction(dir));
    assert.match(err.message, /"Upper" is not a valid function name.*--name/);
  }, "Upper");
  await withFunction({ "readme.txt": "no code" }, async (dir) => {
    assert.match((await buildError(buildFunction(dir))).message, /no C sources/);
  });
  assert.match((await buildError(buildFunction(`${ROOT}/no/such/dir`))).message, /does not exist/);
});

Deno.test("build: concurrent builds of one folder all succeed", async () => {
  const results = await Promise.all([1, 2, 3].map(() => buildFunction(`${ROOT}/functions/upper`)));
  for (const r of results) assertSureLayout(await Deno.readFile(r.image));
});

// ---- the guest libc, on the host ----------------------------------------------

/**
 * Compiles one of libsg's host-side tests (libsure/guest/tests/*.c: the
 * guest sources included under renamed symbols, glibc as the reference)
 * with ASan and UBSan, runs it and expects its "ok - <what>" line.
 */
async function runHostCTest(file: string, extra: string[], ok: RegExp) {
  const bin = await Deno.makeTempFile({ prefix: "sure-libc-test-" });
  try {
    const cc = Deno.env.get("CC") || "cc";
    const compile = await new Deno.Command(cc, {
      args: [
        "-O2",
        "-g",
        "-std=gnu11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-fno-builtin",
        "-fsanitize=address,undefined",
        "-fno-sanitize-recover=all",
        // -iquote: libsg's sources find sure.h and sg.h, while <stdio.h> and
        // the other standard headers stay glibc's (the reference).
        `-iquote${ROOT}/libsure/abi`,
        `-iquote${ROOT}/libsure/guest/include`,
        `-iquote${ROOT}/libsure/guest/src`,
        `${ROOT}/libsure/guest/tests/${file}`,
        ...extra,
        "-o",
        bin,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(compile.success, new TextDecoder().decode(compile.stderr));
    const run = await new Deno.Command(bin, { stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
    assert.ok(run.success, text);
    assert.match(text, ok);
  } finally {
    // A failed link leaves no binary: keep the compiler's message, not this.
    await Deno.remove(bin).catch(() => {});
  }
}

Deno.test("guest libc: formatting (integers and floating point), strtol, ctype, strings, strtok, strerror, rand, sorting, setjmp, the calendar and strftime, and the heap match glibc", async () => {
  await runHostCTest("libc_test.c", [
    // setjmp.S under other names (the test uses glibc's setjmp too).
    "-DSG_SETJMP=sg_setjmp",
    "-DSG_LONGJMP=sg_longjmp",
    `${ROOT}/libsure/guest/src/setjmp.S`,
  ], /^ok - libsg libc subset/m);
});

Deno.test("guest libc: math.h within a few ulp of glibc (specials bit for bit) and strtod correctly rounded", async () => {
  // -lm: glibc's libm is the reference.
  await runHostCTest("fp_test.c", ["-lm"], /^ok - libsg floating point/m);
});

// ---- the guest library in real micro-VMs --------------------------------------

async function start(dir: string, memMib = 16): Promise<Instance> {
  const built = await buildFunction(`${ROOT}/${dir}`);
  return await Instance.create(await Deno.readFile(built.image), {
    memMib,
    ioCap: 1 << 20,
    initTimeoutMs: 2000,
  });
}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function call(inst: Instance, body: string | Uint8Array, timeoutMs = 2000) {
  const r = await inst.invoke(typeof body === "string" ? enc(body) : body, timeoutMs);
  return { status: r.status, text: dec(r.body), body: r.body };
}

Deno.test({
  name: "guest: echo and upper answer in a micro-VM",
  ignore: !hasKvm,
  async fn() {
    const echo = await start("functions/echo");
    const upper = await start("functions/upper");
    try {
      assert.deepEqual(await call(echo, ""), { status: 200, text: "", body: new Uint8Array() });
      const bin = new Uint8Array(256).map((_, i) => i);
      assert.deepEqual((await call(echo, bin)).body, bin);
      const big = new Uint8Array(1 << 20).fill(0x61);
      assert.equal((await call(echo, big)).body.byteLength, 1 << 20);
      assert.equal((await call(upper, "Hello, World 42!")).text, "HELLO, WORLD 42!");
      for (let i = 0; i < 200; i++) assert.equal((await call(echo, `n${i}`)).text, `n${i}`);
      assert.equal(echo.requests, 203);
    } finally {
      await echo.destroy();
      await upper.destroy();
    }
  },
});

Deno.test({
  name: "guest: the library OS works inside a guest (init, heap, printf, state, limits)",
  ignore: !hasKvm,
  async fn() {
    const g = await start("tests/fixtures/functions/guestlib");
    try {
      assert.deepEqual(g.drainLog(), ["guestlib: init (ctor ran 1 time(s))"]);
      assert.equal((await call(g, "init")).text, "ctor=1 init=1");
      assert.equal((await call(g, "heap")).text, "heap ok");
      assert.equal((await call(g, "big:4")).text, "big ok");
      assert.equal((await call(g, "big:64")).text, "big null");
      assert.equal(
        (await call(g, "printf")).text,
        "-12|   ab|ff  |     007|z|123456|-9000000000|%",
      );
      assert.equal((await call(g, "tsc")).text, "tsc ok");
      assert.equal((await call(g, "fill:100")).text, String(Math.floor((1 << 20) / 100)));
      assert.equal((await call(g, "count")).text, "8");
      const unknown = await call(g, "what");
      assert.equal(unknown.status, 400);
    } finally {
      await g.destroy();
    }
  },
});

Deno.test({
  name: "guest: stdio goes to the log line by line; assert and exit stop the instance",
  ignore: !hasKvm,
  async fn() {
    const s = await start("tests/fixtures/functions/stdio");
    try {
      assert.deepEqual(s.drainLog(), ["stdio: init ran"]);
      assert.equal((await call(s, "print")).text, "ok");
      // The unfinished last line goes out at the end of the request.
      assert.deepEqual(s.drainLog(), [
        "hello 42",
        "puts line",
        "c",
        "to stderr x",
        "two",
        "lines",
        "no newline",
      ]);
      assert.equal((await call(s, "long")).text, "ok");
      assert.deepEqual(s.drainLog(), ["x".repeat(512), "x".repeat(88)]);
      assert.equal((await call(s, "sort:5,-3,9,1,0")).text, "-3,0,1,5,9");
      assert.equal((await call(s, "errno")).text, "ERANGE 1");
      assert.equal((await call(s, "jump")).text, "jumped 7");
      assert.equal((await call(s, "what")).status, 400);
      await assert.rejects(call(s, "assert"), SureFaultError);
      assert.equal(s.fault().kind, "guest_exit");
      assert.deepEqual(s.drainLog(), ["sure_abort: stdio.c:103: req->len == 0"]);
    } finally {
      await s.destroy();
    }
    const e = await start("tests/fixtures/functions/stdio");
    try {
      e.drainLog();
      await assert.rejects(call(e, "exit"), SureFaultError);
      assert.equal(e.fault().kind, "guest_exit");
      assert.deepEqual(e.drainLog(), ["exit(3) called"]);
    } finally {
      await e.destroy();
    }
  },
});

Deno.test({
  name: "guest: statuses, logs, the response cap and aborts",
  ignore: !hasKvm,
  async fn() {
    const f = await start("tests/fixtures/functions/faulty");
    const b = await start("tests/fixtures/functions/bigout");
    try {
      assert.deepEqual(await call(f, "status:404"), {
        status: 404,
        text: "status 404",
        body: enc("status 404"),
      });
      // Not an HTTP status: the library answers 500 and says why in the log.
      assert.equal((await call(f, "status:99")).status, 500);
      assert.equal((await call(f, "log:one\ntwo")).text, "ok");
      assert.deepEqual(f.drainLog(), [
        "sure_set_status(99): not an HTTP status, using 500",
        "one two",
      ]);
      assert.equal((await call(b, "10")).text, "x".repeat(10));
      assert.equal((await call(b, "5000000")).body.byteLength, 1 << 20);
      await assert.rejects(call(f, "abort"), SureFaultError);
      assert.equal(f.fault().kind, "guest_exit");
      assert.deepEqual(f.drainLog(), ["sure_abort: the request asked for it"]);
    } finally {
      await f.destroy();
      await b.destroy();
    }
  },
});

Deno.test({
  name: "guest: faults are CPU exceptions at the right place; a loop times out",
  ignore: !hasKvm,
  async fn() {
    const cases: [string, string, (f: { address: bigint }) => void][] = [
      ["null", "#PF", (f) => assert.equal(f.address, 0n)],
      ["ud2", "#UD", () => {}],
      ["stack", "#PF", () => {}],
      ["writecode", "#PF", (f) => assert.ok(f.address >= 0x400000n)],
      ["execdata", "#PF", (f) => assert.ok(f.address >= 0x400000n)],
    ];
    for (const [body, name, more] of cases) {
      const f = await start("tests/fixtures/functions/faulty");
      try {
        await assert.rejects(call(f, body), SureFaultError, body);
        const fault = f.fault();
        assert.equal(fault.kind, "exception", body);
        assert.equal(fault.name, name, body);
        more(fault);
      } finally {
        await f.destroy();
      }
    }
    const f = await start("tests/fixtures/functions/faulty");
    try {
      await assert.rejects(call(f, "loop", 200), SureTimeoutError);
    } finally {
      await f.destroy();
    }
    await assert.rejects(start("tests/fixtures/functions/initfault"), /init|exception|fault/i);
  },
});
