/**
 * The CloudEvents codec against the spec's rules and against the
 * `cloudevents` npm SDK: what the SDK writes in binary and structured mode
 * reads as the same event here, and what is written here the SDK reads back.
 */
import assert from "node:assert/strict";
import { CloudEvent as SdkEvent, HTTP } from "cloudevents";
import { ValidationError } from "../errors.ts";
import {
  contentMode,
  fromBinary,
  fromBinaryResponse,
  fromJsonBody,
  fromRequestParts,
  renderBatch,
  renderStructured,
  toBinary,
  toStructured,
} from "./cloudevents.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function headersOf(h: Record<string, unknown>): Headers {
  const out = new Headers();
  for (const [k, v] of Object.entries(h)) out.set(k, String(v));
  return out;
}

function bodyOf(b: unknown): Uint8Array {
  if (typeof b === "string") return enc.encode(b);
  if (b instanceof Uint8Array) return b;
  return enc.encode(JSON.stringify(b));
}

function rejects(fn: () => unknown, field: string) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof ValidationError, String(e));
    assert.equal(e.field, field);
    assert.equal(e.status, 400);
    return true;
  });
}

const sdkEvent = () =>
  new SdkEvent({
    id: "e-1",
    source: "/sensors/7",
    type: "com.example.reading",
    subject: "temp",
    time: "2026-12-02T10:00:00.000Z",
    datacontenttype: "application/json",
    data: { celsius: 21.5, note: "héllo" },
    region: "eu1",
  });

Deno.test("cloudevents: the SDK's binary mode reads as the event, ce-* and content-type", () => {
  const msg = HTTP.binary(sdkEvent());
  const headers = headersOf(msg.headers);
  assert.equal(contentMode(headers), "binary");
  const [ev] = fromRequestParts(headers, bodyOf(msg.body))!;
  assert.equal(ev.attributes.id, "e-1");
  assert.equal(ev.attributes.source, "/sensors/7");
  assert.equal(ev.attributes.type, "com.example.reading");
  assert.equal(ev.attributes.region, "eu1");
  assert.equal(ev.attributes.datacontenttype, "application/json");
  assert.deepEqual(JSON.parse(dec.decode(ev.data)), { celsius: 21.5, note: "héllo" });
});

Deno.test("cloudevents: the SDK's structured mode reads as the same event", () => {
  const msg = HTTP.structured(sdkEvent());
  const headers = headersOf(msg.headers);
  assert.equal(contentMode(headers), "structured");
  const [ev] = fromRequestParts(headers, bodyOf(msg.body))!;
  const [bin] = fromRequestParts(
    headersOf(HTTP.binary(sdkEvent()).headers),
    bodyOf(HTTP.binary(sdkEvent()).body),
  )!;
  assert.deepEqual(
    { ...ev.attributes, data: JSON.parse(dec.decode(ev.data)) },
    { ...bin.attributes, data: JSON.parse(dec.decode(bin.data)) },
  );
});

Deno.test("cloudevents: binary form and structured form round-trip through the SDK", () => {
  const [ev] = fromJsonBody("structured", enc.encode(renderStructured(fromStructuredSdk())));
  const { headers, body } = toBinary(ev);
  const back = HTTP.toEvent({ headers: Object.fromEntries(headers), body: dec.decode(body) });
  const one = Array.isArray(back) ? back[0] : back;
  assert.equal(one.id, "e-1");
  assert.equal(one.type, "com.example.reading");
  assert.equal(one.region, "eu1");
  assert.deepEqual(one.data, { celsius: 21.5, note: "héllo" });
  const structured = HTTP.toEvent({
    headers: { "content-type": "application/cloudevents+json" },
    body: renderStructured(ev),
  });
  assert.equal((Array.isArray(structured) ? structured[0] : structured).subject, "temp");
});

function fromStructuredSdk() {
  return fromRequestParts(
    headersOf(HTTP.structured(sdkEvent()).headers),
    bodyOf(HTTP.structured(sdkEvent()).body),
  )![0];
}

Deno.test("cloudevents: data in structured mode: JSON, text, base64 and none", () => {
  const base = { specversion: "1.0", id: "1", source: "s", type: "t" };
  const [json] = fromJsonBody("structured", enc.encode(JSON.stringify({ ...base, data: [1, 2] })));
  assert.equal(json.attributes.datacontenttype, "application/json");
  assert.equal(dec.decode(json.data), "[1,2]");
  const [text] = fromJsonBody(
    "structured",
    enc.encode(JSON.stringify({ ...base, datacontenttype: "text/plain", data: "hi" })),
  );
  assert.equal(dec.decode(text.data), "hi");
  assert.equal(toStructured(text).data, "hi");
  const [bin] = fromJsonBody(
    "structured",
    enc.encode(JSON.stringify({ ...base, datacontenttype: "image/png", data_base64: "AP8=" })),
  );
  assert.deepEqual([...bin.data!], [0, 255]);
  assert.equal(toStructured(bin).data_base64, "AP8=");
  const [none] = fromJsonBody("structured", enc.encode(JSON.stringify(base)));
  assert.equal(none.data, undefined);
  assert.equal(toBinary(none).body.byteLength, 0);
});

Deno.test("cloudevents: a batch is an array; errors name the index and the attribute", () => {
  const ok = { specversion: "1.0", id: "1", source: "s", type: "t" };
  const events = fromJsonBody("batch", enc.encode(JSON.stringify([ok, { ...ok, id: "2" }])));
  assert.deepEqual(events.map((e) => e.attributes.id), ["1", "2"]);
  assert.equal(JSON.parse(renderBatch(events)).length, 2);
  rejects(
    () => fromJsonBody("batch", enc.encode(JSON.stringify([ok, { ...ok, type: "" }]))),
    "1.type",
  );
  rejects(() => fromJsonBody("batch", enc.encode(JSON.stringify(ok))), "body");
  rejects(() => fromJsonBody("structured", enc.encode("{nope")), "body");
});

Deno.test("cloudevents: validation names the attribute at fault", () => {
  const ok = { specversion: "1.0", id: "1", source: "s", type: "t" };
  const s = (o: unknown) => () => fromJsonBody("structured", enc.encode(JSON.stringify(o)));
  rejects(s({ ...ok, id: undefined }), "id");
  rejects(s({ ...ok, source: "" }), "source");
  rejects(s({ ...ok, specversion: "0.3" }), "specversion");
  rejects(s({ ...ok, "Bad-Name": "x" }), "Bad-Name");
  rejects(s({ ...ok, time: "yesterday" }), "time");
  rejects(s({ ...ok, ext: { a: 1 } }), "ext");
  rejects(s({ ...ok, data: 1, data_base64: "AA==" }), "data_base64");
  rejects(s({ ...ok, data_base64: "%%%" }), "data_base64");
  rejects(s({ ...ok, dataschema: "not a uri" }), "dataschema");
  rejects(s([ok]), "body");
  const h = (o: Record<string, string>) => () => fromBinary(new Headers(o), new Uint8Array());
  rejects(h({ "ce-specversion": "1.0", "ce-id": "1", "ce-source": "s" }), "type");
  rejects(
    h({ "ce-specversion": "1.0", "ce-id": "1", "ce-source": "s", "ce-type": "t", "ce-x-y": "1" }),
    "x-y",
  );
  // Integers and booleans are attribute values too, as their strings.
  const [n] = fromJsonBody("structured", enc.encode(JSON.stringify({ ...ok, seq: 7, hot: true })));
  assert.equal(n.attributes.seq, "7");
  assert.equal(n.attributes.hot, "true");
});

Deno.test("cloudevents: header values are percent-encoded both ways", () => {
  const ev = {
    attributes: { specversion: "1.0", id: "1", source: "s", type: "t", subject: 'ä "50%"' },
  };
  const { headers } = toBinary(ev);
  assert.equal(headers.get("ce-subject"), "%C3%A4 %2250%25%22");
  assert.equal(fromBinary(headers, new Uint8Array()).attributes.subject, 'ä "50%"');
  // A bare "%" (not percent-encoded by its sender) is taken as it is.
  headers.set("ce-subject", "100%");
  assert.equal(fromBinary(headers, new Uint8Array()).attributes.subject, "100%");
  assert.equal(contentMode(new Headers({ "content-type": "text/plain" })), null);
  assert.equal(
    contentMode(new Headers({ "content-type": "application/cloudevents-batch+json; charset=x" })),
    "batch",
  );
});

Deno.test("cloudevents: a function's answer is an event only with ce-* headers", async () => {
  const plain = new Response("hi", { headers: { "content-type": "text/plain" } });
  assert.equal(await fromBinaryResponse(plain), null);
  const answer = new Response('{"ok":true}', {
    headers: {
      "ce-specversion": "1.0",
      "ce-id": "r-1",
      "ce-source": "/fn/echo",
      "ce-type": "com.example.done",
      "content-type": "application/json",
    },
  });
  const ev = await fromBinaryResponse(answer);
  assert.deepEqual(toStructured(ev!), {
    specversion: "1.0",
    id: "r-1",
    source: "/fn/echo",
    type: "com.example.done",
    datacontenttype: "application/json",
    data: { ok: true },
  });
});
