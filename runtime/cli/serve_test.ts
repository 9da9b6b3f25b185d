/** `sure serve`'s flags and their variables (node_settings.ts; no node needed). */
import assert from "node:assert/strict";
import {
  looseKeyFiles,
  noEnv,
  parseAfXdp,
  parseFleet,
  parseHopKey,
  parseNodeSettings,
  parsePeers,
  withEnv,
} from "./node_settings.ts";
import { allowedCpus } from "../scheduler/placement.ts";

Deno.test("serve: --iface and --addr A.B.C.D[/LEN] for af_xdp, with clear errors", () => {
  assert.deepEqual(parseAfXdp({ iface: "veth0", addr: "10.0.0.3" }), {
    iface: "veth0",
    addr: "10.0.0.3",
    prefix: 24,
  });
  assert.deepEqual(parseAfXdp({ iface: "eth1", addr: "192.168.7.9/16", gateway: "192.168.0.1" }), {
    iface: "eth1",
    addr: "192.168.7.9",
    prefix: 16,
    gateway: "192.168.0.1",
  });
  assert.throws(() => parseAfXdp({ addr: "10.0.0.3" }), /needs --iface/);
  assert.throws(() => parseAfXdp({ iface: "veth0" }), /needs --addr/);
  assert.throws(
    () => parseAfXdp({ iface: "an-interface-name-too-long", addr: "10.0.0.3" }),
    /--iface/,
  );
  for (
    const bad of [
      "10.0.0",
      "10.0.0.256",
      "0.0.0.0",
      "10.0.0.3/33",
      "10.0.0.3/0",
      "10.0.0.3/x",
      "::1",
    ]
  ) {
    assert.throws(() => parseAfXdp({ iface: "veth0", addr: bad }), /--addr/, bad);
  }
  assert.throws(
    () => parseAfXdp({ iface: "veth0", addr: "10.0.0.3", gateway: "gw" }),
    /--gateway gw/,
  );
});

Deno.test("serve: --peer NAME=A.B.C.D:PORT, each once", () => {
  assert.deepEqual(parsePeers(["b=10.0.0.2:8080", " c=10.0.0.3:9 "]), {
    b: "10.0.0.2:8080",
    c: "10.0.0.3:9",
  });
  for (
    const bad of ["b=10.0.0.2", "b=host:80", "B=10.0.0.2:80", "b=10.0.0.2:0", "b=1.2.3.999:80"]
  ) {
    assert.throws(() => parsePeers([bad]), /--peer/, bad);
  }
  assert.throws(() => parsePeers(["b=10.0.0.2:1", "b=10.0.0.3:1"]), /given twice/);
});

Deno.test("serve: --fleet and its flags, with clear errors", async () => {
  assert.equal(await parseFleet({}, "a"), undefined);
  const f = await parseFleet(
    { fleet: "nats://10.0.0.1:4222,nats://10.0.0.2:4222", labels: "site=north,tier=edge" },
    "a",
  );
  assert.equal(f?.servers, "nats://10.0.0.1:4222,nats://10.0.0.2:4222");
  assert.deepEqual(f?.labels, { site: "north", tier: "edge" });
  assert.equal(f?.replicas, 1);
  assert.equal(f?.key, undefined);
  await assert.rejects(parseFleet({ fleet: "nats://h:4222" }, undefined), /needs --node-name/);
  await assert.rejects(parseFleet({ fleet: "h" }, "a"), /expected nats:\/\/HOST:PORT/);
  await assert.rejects(parseFleet({ fleet: "h:1", labels: "site" }, "a"), /--labels: .*key=value/);
  await assert.rejects(parseFleet({ fleet: "h:1", labels: "Bad Key=1" }, "a"), /--labels/);
  await assert.rejects(parseFleet({ fleet: "h:1", "fleet-replicas": "9" }, "a"), /1\.\.5/);
  await assert.rejects(parseFleet({ labels: "a=b" }, "a"), /--labels goes with --fleet/);
  assert.equal((await parseFleet({ fleet: "h:1", "fleet-domain": "hub" }, "a"))?.domain, "hub");
  await assert.rejects(parseFleet({ fleet: "h:1", "fleet-domain": "a.b" }, "a"), /--fleet-domain/);
  await assert.rejects(parseFleet({ "fleet-domain": "hub" }, "a"), /goes with --fleet/);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/key`, "not a key\n");
    await assert.rejects(
      parseFleet({ fleet: "h:1", "fleet-key-file": `${dir}/key` }, "a"),
      /--fleet-key-file .*64 hex digits/,
    );
    await Deno.writeTextFile(`${dir}/key`, "ab".repeat(32) + "\n");
    assert.ok((await parseFleet({ fleet: "h:1", "fleet-key-file": `${dir}/key` }, "a"))?.key);
    await assert.rejects(
      parseFleet({ fleet: "h:1", "fleet-key-file": `${dir}/none` }, "a"),
      /--fleet-key-file .*none/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve: the hop key from --peer-key-file, SURE_PEER_KEY or the fleet's key", async () => {
  const hex = "0123456789abcdef".repeat(4);
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/hop.key`;
    await Deno.writeTextFile(file, `${hex}\n`);
    const fromFile = await parseHopKey({ "peer-key-file": file }, false);
    assert.deepEqual(Array.from(fromFile!.slice(0, 4)), [0x01, 0x23, 0x45, 0x67]);
    assert.equal(fromFile!.byteLength, 32);
    await Deno.writeTextFile(file, "not hex");
    await assert.rejects(
      parseHopKey({ "peer-key-file": file }, false),
      /--peer-key-file .*64 hex digits/,
    );
    await assert.rejects(
      parseHopKey({ "peer-key-file": `${dir}/missing` }, false),
      /--peer-key-file .*missing/,
    );
    // None given: hops go on addresses alone (undefined), unless the node is in
    // a fleet with a key, whose hop key is derived from it: not the key itself,
    // the same on every node, and another for another fleet key.
    assert.equal(await parseHopKey({}, false), undefined);
    await Deno.writeTextFile(file, hex);
    assert.equal(await parseHopKey({ "fleet-key-file": file }, false), undefined);
    const fleet = await parseHopKey({ "fleet-key-file": file }, true);
    assert.equal(fleet!.byteLength, 32);
    assert.notDeepEqual(fleet, fromFile);
    assert.deepEqual(await parseHopKey({ "fleet-key-file": file }, true), fleet);
    await Deno.writeTextFile(file, "f".repeat(64));
    assert.notDeepEqual(await parseHopKey({ "fleet-key-file": file }, true), fleet);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve: a flag not given is its variable's; a given flag wins; keys come from theirs", async () => {
  const vars: Record<string, string> = {
    SURE_PORT: "9001",
    SURE_PEERS: "b=10.0.0.2:8080, c=10.0.0.3:9",
    SURE_INSECURE: "1",
    SURE_NODE_NAME: "a",
    SURE_PEER_KEY: "ab".repeat(32),
    SURE_VCPU_CPUS: "1",
  };
  const env = (name: string) => vars[name];
  const merged = withEnv({ port: "9002" }, env);
  assert.equal(merged.port, "9002");
  assert.deepEqual(merged.peer, ["b=10.0.0.2:8080", "c=10.0.0.3:9"]);
  assert.equal(merged.insecure, true);
  // The key file's variable holds the key, not a path: it is no flag's value.
  assert.equal(merged["peer-key-file"], undefined);
  const s = await parseNodeSettings(merged, env);
  assert.equal(s.port, 9002);
  assert.deepEqual(s.placement, { self: "a", peers: { b: "10.0.0.2:8080", c: "10.0.0.3:9" } });
  assert.equal(s.insecure, true);
  assert.equal(s.hopKey?.[0], 0xab);
  assert.deepEqual(s.scheduler?.vcpuPlacement, [1]);
  assert.deepEqual(withEnv({ peer: ["d=10.0.0.4:1"] }, env).peer, ["d=10.0.0.4:1"]);
  // Without the environment (install checks its flags so), none of it is seen.
  const bare = await parseNodeSettings(withEnv({}, noEnv), noEnv);
  assert.deepEqual(bare.placement, { peers: {} });
  assert.equal(bare.hopKey, undefined);
  assert.equal(bare.port, 8080);
  // A bad variable is named as its flag, like the flag itself would be.
  for (
    const [name, value, why] of [
      ["SURE_PORT", "x", /--port must be a whole number/],
      ["SURE_DATAPLANE", "carrier-pigeon", /--dataplane must be/],
      ["SURE_PEERS", "b=host:80", /--peer b=host:80/],
      ["SURE_PEER_KEY", "zz", /SURE_PEER_KEY: .*64 hex digits/],
      ["SURE_LABELS", "a=b", /--labels goes with --fleet/],
      ["SURE_GATEWAY", "10.0.0.1", /--gateway goes with --dataplane af_xdp/],
    ] as const
  ) {
    const one = (n: string) => n === name ? value : undefined;
    await assert.rejects(parseNodeSettings(withEnv({}, one), one), why, name);
  }
});

Deno.test("serve: a key file others can read is named, with its mode", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const hop = `${dir}/hop.key`, fleet = `${dir}/fleet.key`;
    await Deno.writeTextFile(hop, "ab".repeat(32), { mode: 0o600 });
    await Deno.chmod(hop, 0o600);
    await Deno.writeTextFile(fleet, "cd".repeat(32));
    await Deno.chmod(fleet, 0o640);
    assert.deepEqual(await looseKeyFiles({ "peer-key-file": hop }), []);
    assert.deepEqual(await looseKeyFiles({ "peer-key-file": hop, "fleet-key-file": fleet }), [
      `--fleet-key-file ${fleet} (mode 0640)`,
    ]);
    await Deno.chmod(hop, 0o604);
    assert.equal((await looseKeyFiles({ "peer-key-file": hop })).length, 1);
    assert.equal((await looseKeyFiles({ "tls-key": fleet })).length, 1);
    // Not a key (a certificate is public), or no file at all (the parser says so).
    assert.deepEqual(await looseKeyFiles({ "tls-cert": fleet, "peer-key-file": `${dir}/no` }), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve: an empty --data-dir is refused, not taken for the root", async () => {
  for (const dir of ["", "  "]) {
    await assert.rejects(
      parseNodeSettings({ "data-dir": dir }, noEnv),
      /--data-dir: give a directory/,
    );
  }
  assert.equal((await parseNodeSettings({ "data-dir": "/tmp/x" }, noEnv)).dataDir, "/tmp/x");
});

Deno.test({
  name: "serve: --vcpu-cpus names only CPUs the node may run on",
  // Without /proc's CPU list there is nothing to check against: skipped, not passed.
  ignore: allowedCpus() === null,
  fn: async () => {
    const allowed = allowedCpus()!;
    const beyond = Math.max(...allowed) + 1;
    await assert.rejects(
      parseNodeSettings({ "vcpu-cpus": `${allowed[0]},${beyond}` }, noEnv),
      new RegExp(`--vcpu-cpus: CPU ${beyond} is not one this node may run on`),
    );
    const ok = await parseNodeSettings({ "vcpu-cpus": String(allowed[0]) }, noEnv);
    assert.deepEqual(ok.scheduler?.vcpuPlacement, [allowed[0]]);
  },
});
