/**
 * The request head block has two writers, this one (TypeScript, the gateway
 * today) and libsure's C writer (its own HTTP ingress): they must write the
 * same bytes, or a function would see a different request depending on the
 * way in. And a response block libsure refuses never reaches a caller.
 */
import assert from "node:assert/strict";
import { LIMITS, STRUCTS } from "./abi.ts";
import { libsure } from "./libsure.ts";
import {
  type RequestHead,
  requestHeadSize,
  takeResponseHead,
  writeRequestHead,
} from "./http_head.ts";

const enc = new TextEncoder();
const H = STRUCTS.sure_head, F = STRUCTS.sure_head_field;

/** The C writer's block for the same head (byte strings: latin1). */
function cBlock(head: RequestHead): Uint8Array {
  const sym = libsure();
  const blk = new Uint8Array(LIMITS.reqHeadCap);
  const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
  const m = bytes(head.method), p = bytes(head.path), q = bytes(head.query);
  assert.equal(
    sym.sure_http_head_init(
      blk,
      blk.byteLength,
      m,
      BigInt(m.length),
      p,
      BigInt(p.length),
      q,
      BigInt(q.length),
    ),
    0,
  );
  for (const [k, v] of head.headers) {
    const kb = bytes(k), vb = bytes(v);
    assert.equal(sym.sure_http_head_add(blk, kb, BigInt(kb.length), vb, BigInt(vb.length)), 0);
  }
  return blk;
}

/** What a reader can see of a block: the struct, the table and the strings. */
function used(blk: Uint8Array): Uint8Array {
  const v = new DataView(blk.buffer, blk.byteOffset);
  const n = v.getUint32(H.nfields, true), lo = v.getUint32(H.str_lo, true);
  return new Uint8Array([...blk.subarray(0, H.field + n * F.size), ...blk.subarray(lo)]);
}

Deno.test("http head: the TypeScript and C writers write the same bytes", () => {
  const heads: RequestHead[] = [
    { method: "GET", path: "/", query: "", headers: [] },
    { method: "PATCH", path: "/users/7", query: "a=1&b=%20", headers: [["Content-Type", "x/y"]] },
    {
      method: "BREW",
      path: "",
      query: "",
      headers: [["x-latin", "caf\u00e9"], ["x-empty", ""], ["accept", "*/*"]],
    },
  ];
  for (const head of heads) {
    const ts = new Uint8Array(LIMITS.reqHeadCap).fill(0xaa);
    writeRequestHead(ts, LIMITS.reqHeadCap, head);
    assert.deepEqual(used(ts), used(cBlock(head)), JSON.stringify(head));
    assert.ok(requestHeadSize({ ...head, headers: [...head.headers] }) <= LIMITS.reqHeadCap);
  }
});

Deno.test("http head: a head that does not fit is refused before anything is half written", () => {
  const blk = new Uint8Array(LIMITS.reqHeadCap);
  const big: RequestHead = {
    method: "GET",
    path: "/",
    query: "",
    headers: [["x", "v".repeat(LIMITS.reqHeadCap)]],
  };
  assert.throws(() => writeRequestHead(blk, LIMITS.reqHeadCap, big), /larger than/);
  // requestHeadSize agrees with the writer about what fits, byte for byte.
  const room = LIMITS.reqHeadCap - requestHeadSize({ ...big, headers: [["x", ""]] });
  const exact = { ...big, headers: [["x", "v".repeat(room)]] as [string, string][] };
  assert.equal(requestHeadSize(exact), LIMITS.reqHeadCap);
  writeRequestHead(blk, LIMITS.reqHeadCap, exact);
  const over = { ...big, headers: [["x", "v".repeat(room + 1)]] as [string, string][] };
  assert.throws(() => writeRequestHead(blk, LIMITS.reqHeadCap, over), /larger than/);
});

/** A response block as the guest library writes it. */
function responseBlock(fields: [string, string][]): Uint8Array {
  const blk = new Uint8Array(LIMITS.respHeadCap);
  const v = new DataView(blk.buffer);
  let lo = blk.byteLength;
  const put = (s: string, at: number) => {
    const b = enc.encode(s);
    lo -= b.length + 1;
    blk.set(b, lo);
    v.setUint32(at, lo, true);
    v.setUint32(at + 4, b.length, true);
  };
  fields.forEach(([k, val], i) => {
    put(k, H.field + i * F.size + F.name);
    put(val, H.field + i * F.size + F.value);
  });
  v.setUint32(H.magic, LIMITS.headMagic, true);
  v.setUint32(H.cap, blk.byteLength, true);
  v.setUint32(H.nfields, fields.length, true);
  v.setUint32(H.str_lo, lo, true);
  return blk;
}

Deno.test("http head: response headers are read from a checked copy; bad ones are named", () => {
  assert.deepEqual(takeResponseHead(new Uint8Array(LIMITS.respHeadCap)), { headers: [] });
  const ok = takeResponseHead(responseBlock([["Content-Type", "application/json"], ["x", "é"]]));
  assert.equal(ok.error, undefined);
  // UTF-8 bytes come back as latin1 chars: Headers puts the same bytes on the wire.
  assert.deepEqual(ok.headers, [["Content-Type", "application/json"], ["x", "\u00c3\u00a9"]]);
  const bad = takeResponseHead(responseBlock([["a", "1"], ["Transfer-Encoding", "chunked"]]));
  assert.deepEqual(bad.headers, []);
  assert.match(bad.error ?? "", /"Transfer-Encoding" is hop-by-hop or framing/);
});
