/** `sure serve`'s flags for peers and the af_xdp data plane (no node needed). */
import assert from "node:assert/strict";
import { parseAfXdp, parsePeers } from "./serve.ts";

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
