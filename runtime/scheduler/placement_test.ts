import assert from "node:assert/strict";
import { dataplaneCpus, parseCpuList, vcpuCpus, vcpuNice } from "./placement.ts";

Deno.test("vCPU placement: CPU lists, and auto keeps the first allowed CPU for the event loop", () => {
  assert.deepEqual(parseCpuList("1-3,6"), [1, 2, 3, 6]);
  assert.deepEqual(parseCpuList(" 5 "), [5]);
  assert.equal(parseCpuList("auto"), "auto");
  for (const bad of ["", "a", "3-1", "1,,2", "-1"]) {
    assert.throws(() => parseCpuList(bad), RangeError);
  }
  assert.deepEqual(vcpuCpus("auto", [0, 1]), [1]);
  assert.deepEqual(vcpuCpus("auto", [2, 3, 4]), [3, 4]);
  assert.deepEqual(vcpuCpus("auto", [0]), [], "one CPU: anywhere");
  assert.deepEqual(vcpuCpus("auto", null), []);
  assert.deepEqual(vcpuCpus("all", [0, 1]), []);
  assert.deepEqual(vcpuCpus([1, 2], [0, 1, 2]), [1, 2]);
});

Deno.test("placement: the data-plane thread takes the CPUs the vCPU threads leave", () => {
  assert.deepEqual(dataplaneCpus("auto", [0, 1]), [0]);
  assert.deepEqual(dataplaneCpus("auto", [2, 3, 4]), [2]);
  assert.deepEqual(dataplaneCpus("auto", [0]), []);
  assert.deepEqual(dataplaneCpus("all", [0, 1]), []);
  assert.deepEqual(dataplaneCpus([1, 2], [0, 1, 2, 3]), [0, 3]);
  assert.deepEqual(dataplaneCpus([0, 1], [0, 1]), []);
  assert.deepEqual(dataplaneCpus("auto", null), []);
});

Deno.test("placement: plain instances' vCPU threads weigh more only on CPUs of their own", () => {
  assert.equal(vcpuNice("auto", [0, 1]), -10);
  assert.equal(vcpuNice([1, 2], [0, 1, 2, 3]), -10);
  assert.equal(vcpuNice("auto", [0]), 0, "one CPU: shared with everything");
  assert.equal(vcpuNice("all", [0, 1]), 0);
  assert.equal(vcpuNice([0, 1], [0, 1]), 0, "every CPU: the node's own threads are there too");
  assert.equal(vcpuNice("auto", null), 0);
});
