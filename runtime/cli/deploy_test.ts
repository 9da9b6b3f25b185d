import assert from "node:assert/strict";
import { UsageError } from "./command.ts";
import { buildFolder } from "./build.ts";
import { DEPLOY_FLAGS, deployCommand, type FolderBuilder, planDeploy } from "./deploy.ts";
import {
  duplicateKeys,
  MANIFEST_SETTINGS,
  ManifestSchema,
  readManifest,
} from "../builder/manifest.ts";
import {
  ACCESS_MODES,
  COLD_START_MODES,
  defaultSettings,
  INT_SETTINGS,
  SIDECAR_MODES,
} from "../settings/settings.ts";
import { settingsShape } from "../settings/settings_schema.ts";
import { DeployFormSchema } from "../admin/deploy_form.ts";

/** A function folder holding only a sure.json (text as given, or none). */
async function withFolder(
  manifest: string | undefined,
  fn: (dir: string) => Promise<void>,
  folderName = "my-fn",
): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "sure-deploy-" });
  const dir = `${tmp}/${folderName}`;
  await Deno.mkdir(dir);
  if (manifest !== undefined) await Deno.writeTextFile(`${dir}/sure.json`, manifest);
  try {
    await fn(dir);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/** The builder without the compiler: the manifest as `sure build` reads it; counts its calls. */
function fakeBuilder(): FolderBuilder & { calls: number } {
  const build = async (dir: string) => {
    build.calls++;
    const manifest = await readManifest(dir, dir.slice(dir.lastIndexOf("/") + 1));
    return { image: `${dir}/build/${manifest.name}.sure`, manifest };
  };
  build.calls = 0;
  return build;
}

/** A value for every setting that is not its default, derived from the settings module. */
function nonDefaultSettings(): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  const ints: [string, { min: number; max: number; def: number }][] = Object.entries(INT_SETTINGS);
  for (const [key, s] of ints) out[key] = s.def === s.max ? s.min : s.max;
  out.coldStart = COLD_START_MODES.find((m) => m !== defaultSettings().coldStart)!;
  out.sidecar = SIDECAR_MODES.find((m) => m !== defaultSettings().sidecar)!;
  out.access = ACCESS_MODES.find((m) => m !== defaultSettings().access)!;
  return out;
}

Deno.test("deploy: every setting a manifest may hold has a flag", () => {
  const settings = Object.keys(settingsShape(false)).sort();
  assert.deepEqual([...MANIFEST_SETTINGS].sort(), settings);
  assert.deepEqual(DEPLOY_FLAGS.map(([, field]) => field).sort(), settings);
  assert.deepEqual(
    Object.keys(ManifestSchema.parse({})).sort(),
    settings,
    "the manifest schema has a setting the settings module lacks",
  );
});

Deno.test("deploy: every setting in sure.json reaches the deploy form", async () => {
  const settings = nonDefaultSettings();
  // Every key of the settings module is set (and differs from its default).
  assert.deepEqual(Object.keys(settings).sort(), [...MANIFEST_SETTINGS].sort());
  const defaults = defaultSettings() as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(settings)) assert.notEqual(v, defaults[k], k);
  await withFolder(JSON.stringify({ name: "full", ...settings }), async (dir) => {
    const plan = await planDeploy(dir, {}, fakeBuilder());
    assert.equal(plan.image, `${dir}/build/full.sure`);
    const expected: Record<string, string> = { name: "full" };
    for (const [k, v] of Object.entries(settings)) expected[k] = String(v);
    assert.deepEqual(plan.fields, expected);
    // And the node reads them back as the manifest said.
    assert.deepEqual(DeployFormSchema.parse(plan.fields), { name: "full", ...settings });
  });
});

Deno.test("deploy: a folder's name comes from --name, else sure.json, else the folder", async () => {
  await withFolder(undefined, async (dir) => {
    const plan = await planDeploy(dir, {}, fakeBuilder());
    assert.equal(plan.image, `${dir}/build/my-fn.sure`);
    const expected: Record<string, string> = { name: "my-fn" };
    for (const [k, v] of Object.entries(defaultSettings())) expected[k] = String(v);
    assert.deepEqual(plan.fields, expected);
  });
  await withFolder(JSON.stringify({ name: "named" }), async (dir) => {
    assert.equal((await planDeploy(dir, {}, fakeBuilder())).fields.name, "named");
    const plan = await planDeploy(dir, { name: "other" }, fakeBuilder());
    assert.equal(plan.fields.name, "other");
    assert.equal(plan.image, `${dir}/build/named.sure`);
    await assert.rejects(planDeploy(dir, { name: "" }, fakeBuilder()), /--name must not be empty/);
  });
});

Deno.test("deploy: flags override sure.json, one by one", async () => {
  const manifest = { name: "f", timeout: 1000, maxBody: 65536, coldStart: "boot" };
  await withFolder(JSON.stringify(manifest), async (dir) => {
    const plan = await planDeploy(
      dir,
      { timeout: "2000", "cold-start": "clone", "rate-limit": "7" },
      fakeBuilder(),
    );
    assert.equal(plan.fields.timeout, "2000");
    assert.equal(plan.fields.maxBody, "65536");
    assert.equal(plan.fields.coldStart, "clone");
    assert.equal(plan.fields.rateLimit, "7");
    assert.equal(plan.fields.memory, "16");
  });
});

Deno.test("deploy: an image needs --name and sends only the flags, as before", async () => {
  const build = fakeBuilder();
  await assert.rejects(planDeploy("/nonexistent/x.sure", {}, build), /--name is required/);
  await assert.rejects(
    planDeploy("/nonexistent/x.sure", { name: "" }, build),
    UsageError,
  );
  // The name is asked for before the flags are checked (as it always was).
  await assert.rejects(
    planDeploy("/nonexistent/x.sure", { memory: "lots" }, build),
    /--name is required/,
  );
  const plan = await planDeploy(
    "x.sure",
    { name: "echo", memory: "32", "max-body": "10", sidecar: "off", node: "http://n" },
    build,
  );
  assert.deepEqual(plan, {
    image: "x.sure",
    fields: { name: "echo", memory: "32", maxBody: "10", sidecar: "off" },
    env: {},
    secrets: {},
  });
  await assert.rejects(
    planDeploy("x.sure", { name: "echo", timeout: "1.5" }, build),
    /--timeout must be a whole number/,
  );
  assert.equal(build.calls, 0);
});

Deno.test("deploy: bad flags and bad manifests stop a folder before anything is sent", async () => {
  await withFolder(JSON.stringify({ timeout: 1000 }), async (dir) => {
    const build = fakeBuilder();
    await assert.rejects(planDeploy(dir, { memory: "lots" }, build), /--memory must be/);
    assert.equal(build.calls, 0, "a bad flag must fail before the build");
  });
  const bad: [string, RegExp][] = [
    [JSON.stringify({ memroy: 32 }), /sure\.json: memroy: unknown field \(known: name, memory,/],
    [JSON.stringify({ timeout: 0 }), /sure\.json: timeout: must be at least 1/],
    [JSON.stringify({ sidecar: "maybe" }), /sure\.json: sidecar: must be one of on, off/],
    ['{"timeout": 1000, "timeout": 2000}', /sure\.json: timeout: given more than once/],
    ["[1]", /sure\.json: /],
    ["{", /sure\.json: not valid JSON/],
  ];
  for (const [text, re] of bad) {
    // The real builder: it reads the manifest before it compiles anything.
    await withFolder(text, async (dir) => {
      await assert.rejects(planDeploy(dir, {}, (d) => buildFolder(d)), re, text);
    });
  }
});

Deno.test("deploy: --name names a folder whose own name is no function name", async () => {
  await withFolder(undefined, async (dir) => {
    await Deno.writeTextFile(
      `${dir}/f.c`,
      "#include <sure.h>\nint handle(sure_req *r) { (void)r; return 0; }\n",
    );
    const real: FolderBuilder = (d, n) => buildFolder(d, undefined, n);
    await assert.rejects(
      planDeploy(dir, {}, real),
      /"My_Func" is not a valid function name.*--name/,
    );
    const plan = await planDeploy(dir, { name: "my-func" }, real);
    assert.equal(plan.fields.name, "my-func");
    assert.match(plan.image, /\/build\/my-func\.sure$/);
  }, "My_Func");
});

Deno.test("duplicateKeys finds repeated top-level keys only", () => {
  assert.deepEqual(duplicateKeys('{"a": 1, "b": 2}'), []);
  assert.deepEqual(duplicateKeys('{"a": 1, "a" : 2, "b": {"c": 1, "c": 2}}'), ["a"]);
  assert.deepEqual(duplicateKeys('{"a": "x\\"a", "s": ["a", "a"], "\\u0061": 3}'), ["a"]);
  assert.deepEqual(duplicateKeys("[1, 2]"), []);
});

Deno.test("deploy: a folder is built and its form posted (a stub node, no KVM)", async () => {
  const got: { fields: Record<string, string>; image?: File }[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    const form = await req.formData();
    const fields: Record<string, string> = {};
    let image: File | undefined;
    for (const [k, v] of form.entries()) {
      if (typeof v === "string") fields[k] = v;
      else image = v;
    }
    got.push({ fields, image });
    return Response.json({ name: fields.name });
  });
  const log = console.log;
  try {
    await withFolder(JSON.stringify({ timeout: 1000, maxBody: 65536 }), async (dir) => {
      await Deno.copyFile(new URL("../../functions/echo/echo.c", import.meta.url), `${dir}/echo.c`);
      console.log = () => {};
      const node = `http://127.0.0.1:${server.addr.port}`;
      assert.equal(await deployCommand.run({ node, "min": "1" }, [dir]), 0);
      console.log = log;
      assert.equal(got.length, 1);
      const { fields, image } = got[0];
      assert.deepEqual(fields, {
        ...Object.fromEntries(Object.entries(defaultSettings()).map(([k, v]) => [k, String(v)])),
        name: "cfg-fn",
        timeout: "1000",
        maxBody: "65536",
        minInstances: "1",
      });
      assert.equal(image?.name, "cfg-fn.sure");
      const built = await Deno.readFile(`${dir}/build/cfg-fn.sure`);
      assert.deepEqual(new Uint8Array(await image!.arrayBuffer()), built);
    }, "cfg-fn");
  } finally {
    console.log = log;
    await server.shutdown();
  }
});

Deno.test("deploy: env from sure.json, --env over it by name, --secret from a file", async () => {
  const manifest = { name: "f", env: { A: "file", B: "kept" } };
  await withFolder(JSON.stringify(manifest), async (dir) => {
    const secretFile = `${dir}/token`;
    await Deno.writeTextFile(secretFile, "s3cr3t\n");
    const plan = await planDeploy(
      dir,
      { env: ["A=flag", "C=x=y"], secret: [`TOKEN=@${secretFile}`] },
      fakeBuilder(),
    );
    assert.deepEqual(plan.env, { A: "flag", B: "kept", C: "x=y" });
    assert.deepEqual(plan.secrets, { TOKEN: "s3cr3t\n" }, "the file's contents, exactly");
    // Standard input through the reader, once.
    const fromStdin = await planDeploy(
      dir,
      { secret: ["T=@-"] },
      fakeBuilder(),
      (src) => Promise.resolve(new TextEncoder().encode(src === "-" ? "piped" : "")),
    );
    assert.deepEqual(fromStdin.secrets, { T: "piped" });
    await assert.rejects(
      planDeploy(
        dir,
        { secret: ["T=@-", "U=@-"] },
        fakeBuilder(),
        () => Promise.resolve(new TextEncoder().encode("v")),
      ),
      /only one secret may read @-/,
    );
  });
});

Deno.test("deploy: bad --env, --secret and sure.json env stop before anything is sent", async () => {
  const build = fakeBuilder();
  const bad: [Record<string, string | string[]>, RegExp][] = [
    [{ name: "f", env: ["1A=x"] }, /--env "1A": the name must match/],
    [{ name: "f", env: ["NOEQ"] }, /expected NAME=VALUE/],
    [{ name: "f", env: ["A=1", "A=2"] }, /"A" given more than once/],
    [{ name: "f", secret: ["TOKEN=plain-s3cr3t"] }, /expected NAME=@FILE/],
    [{ name: "f", secret: ["TOKEN=@/nonexistent/file"] }, /cannot read \/nonexistent\/file/],
    [{ name: "f", env: ["T=1"], secret: ["T=@-"] }, /both an environment value and a secret/],
  ];
  for (const [values, re] of bad) {
    const e = await planDeploy(
      "x.sure",
      values,
      build,
      (src) =>
        src.startsWith("/nonexistent")
          ? Promise.reject(new Error("No such file"))
          : Promise.resolve(new TextEncoder().encode("v")),
    )
      .then(() => assert.fail("accepted"), (e) => e as Error);
    assert.match(e.message, re);
    assert.ok(!e.message.includes("plain-s3cr3t"), e.message);
  }
  await withFolder(JSON.stringify({ env: { "bad-name": "v" } }), async (dir) => {
    await assert.rejects(planDeploy(dir, {}, fakeBuilder()), /env/);
  });
  await withFolder(JSON.stringify({ env: { A: 1 } }), async (dir) => {
    await assert.rejects(planDeploy(dir, {}, fakeBuilder()), /env\.A/);
  });
  await withFolder(JSON.stringify({ env: { A: "x".repeat(40000) } }), async (dir) => {
    await assert.rejects(planDeploy(dir, {}, fakeBuilder()), /env: .*bytes/);
  });
  assert.equal(build.calls, 0);
});

Deno.test("deploy: a path that is not there is named, before any flag", async () => {
  for (const values of [{}, { name: "f" }, { memory: "lots" }]) {
    await assert.rejects(
      deployCommand.run(values, ["/nonexistent/x.sure"]),
      /deploy: \/nonexistent\/x.sure: no such file or folder/,
    );
  }
});
