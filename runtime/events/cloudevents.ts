/**
 * CloudEvents 1.0 over HTTP, without I/O: reading an event from a request in
 * any of the three content modes (binary, structured, batch), writing one in
 * binary mode (the form functions see) and in structured or batch form (what
 * JSON clients see), and reading a function's binary-mode answer back as an
 * event. Every event is held the same way, whatever mode it came in: its
 * context attributes as strings and its data as bytes, so nothing is lost
 * between modes (JSON data is kept as its text, binary data as its bytes).
 *
 * A malformed event is a ValidationError (400) naming the attribute; in a
 * batch, the index comes first ("2.type").
 */
import { ValidationError } from "../errors.ts";

export const SPEC_VERSION = "1.0";
export const STRUCTURED = "application/cloudevents+json";
export const BATCH = "application/cloudevents-batch+json";

/** One event: attribute name -> value (as its canonical string), and data bytes. */
export interface CloudEvent {
  attributes: Record<string, string>;
  data?: Uint8Array;
}

export type ContentMode = "binary" | "structured" | "batch";

const REQUIRED = ["specversion", "id", "source", "type"] as const;
/** The spec's rule: a-z and 0-9 only; 20 characters is a SHOULD, so longer names pass. */
const ATTRIBUTE_NAME = /^[a-z0-9]+$/;
/** RFC 3339 date-time (the `time` attribute). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

const enc = new TextEncoder();
const dec = new TextDecoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The mode a request's Content-Type and headers put it in, or null if it is no event. */
export function contentMode(headers: Headers): ContentMode | null {
  const type = mediaType(headers.get("content-type"));
  if (type === STRUCTURED) return "structured";
  if (type === BATCH) return "batch";
  return headers.has("ce-specversion") ? "binary" : null;
}

/** "Application/JSON; charset=utf-8" -> "application/json". */
export function mediaType(contentType: string | null): string {
  return (contentType ?? "").split(";")[0].trim().toLowerCase();
}

/** True for JSON media types: application/json and any +json. */
export function isJsonType(type: string | undefined): boolean {
  const t = mediaType(type ?? null);
  return t === "application/json" || t.endsWith("+json") || t === "text/json";
}

// ---- validation -------------------------------------------------------------

/** Checks an event's attributes; `at` prefixes the field named in an error (batch index). */
export function validate(ev: CloudEvent, at = ""): CloudEvent {
  const a = ev.attributes;
  for (const name of REQUIRED) {
    if (a[name] === undefined) throw new ValidationError(at + name, "is required");
    if (a[name] === "") throw new ValidationError(at + name, "must not be empty");
  }
  if (a.specversion !== SPEC_VERSION) {
    throw new ValidationError(
      at + "specversion",
      `must be "${SPEC_VERSION}", got ${JSON.stringify(a.specversion)}`,
    );
  }
  for (const name of Object.keys(a)) {
    if (!ATTRIBUTE_NAME.test(name)) {
      throw new ValidationError(at + name, "attribute names are a-z and 0-9 only");
    }
    if (name === "data") throw new ValidationError(at + name, "is reserved for the event's data");
  }
  if (a.time !== undefined && !(RFC3339.test(a.time) && !isNaN(Date.parse(a.time)))) {
    throw new ValidationError(at + "time", "must be an RFC 3339 timestamp");
  }
  for (const name of ["datacontenttype", "subject", "dataschema"]) {
    if (a[name] === "") throw new ValidationError(at + name, "must not be empty when present");
  }
  if (a.dataschema !== undefined && !URL.canParse(a.dataschema)) {
    throw new ValidationError(at + "dataschema", "must be an absolute URI");
  }
  return ev;
}

// ---- binary mode --------------------------------------------------------------

/** The event of a binary-mode message (a request, or a function's answer): ce-* headers and body. */
export function fromBinary(headers: Headers, body: Uint8Array, at = ""): CloudEvent {
  const attributes: Record<string, string> = {};
  for (const [name, value] of headers) {
    if (!name.startsWith("ce-")) continue;
    // Senders should percent-encode; one that sent a bare "%" meant it literally.
    attributes[name.slice(3)] = percentDecode(value);
  }
  const type = headers.get("content-type");
  if (type !== null) attributes.datacontenttype = type;
  return validate(body.byteLength > 0 ? { attributes, data: body } : { attributes }, at);
}

function percentDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * Header values are percent-encoded where the spec asks for it: '%', '"',
 * and anything outside printable ASCII (so a header carries any string).
 */
function encodeHeader(value: string): string {
  return value.replace(/[^\x20-\x7e]|[%"]/gu, (ch) => encodeURIComponent(ch));
}

/** The binary-mode form of an event: ce-* headers (+ content-type) and the data as body. */
export function toBinary(ev: CloudEvent): { headers: Headers; body: Uint8Array } {
  const headers = new Headers();
  for (const [name, value] of Object.entries(ev.attributes)) {
    if (name === "datacontenttype") headers.set("content-type", value);
    else headers.set(`ce-${name}`, encodeHeader(value));
  }
  return { headers, body: ev.data ?? new Uint8Array(0) };
}

/** A function's answer as an event, if it answered in binary mode (a ce-specversion header). */
export async function fromBinaryResponse(res: Response): Promise<CloudEvent | null> {
  if (!res.headers.has("ce-specversion")) return null;
  return fromBinary(res.headers, new Uint8Array(await res.arrayBuffer()));
}

// ---- structured and batch mode ------------------------------------------------

/** One event of structured mode from its parsed JSON. */
export function fromStructured(json: unknown, at = ""): CloudEvent {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ValidationError(at ? at.slice(0, -1) : "body", "a structured event is a JSON object");
  }
  const attributes: Record<string, string> = {};
  let data: Uint8Array | undefined;
  const o = json as Record<string, unknown>;
  for (const [name, value] of Object.entries(o)) {
    if (name === "data" || name === "data_base64" || value === null) continue;
    if (typeof value === "string") attributes[name] = value;
    else if (typeof value === "boolean") attributes[name] = String(value);
    else if (typeof value === "number" && Number.isInteger(value)) attributes[name] = String(value);
    else {
      throw new ValidationError(at + name, "must be a string, an integer or a boolean");
    }
  }
  if ("data" in o && "data_base64" in o) {
    throw new ValidationError(at + "data_base64", "an event has data or data_base64, not both");
  }
  if (typeof o.data_base64 === "string") {
    try {
      data = Uint8Array.from(atob(o.data_base64), (c) => c.charCodeAt(0));
    } catch {
      throw new ValidationError(at + "data_base64", "is not valid base64");
    }
  } else if (o.data_base64 !== undefined && o.data_base64 !== null) {
    throw new ValidationError(at + "data_base64", "must be a base64 string");
  } else if (o.data !== undefined && o.data !== null) {
    const type = attributes.datacontenttype;
    // A string under a non-JSON media type is the data itself (text); anything else is JSON.
    if (typeof o.data === "string" && type !== undefined && !isJsonType(type)) {
      data = enc.encode(o.data);
    } else {
      data = enc.encode(JSON.stringify(o.data));
      attributes.datacontenttype ??= "application/json";
    }
  }
  return validate(data ? { attributes, data } : { attributes }, at);
}

/** The events of a request body in structured (one) or batch (an array) mode. */
export function fromJsonBody(mode: "structured" | "batch", body: Uint8Array): CloudEvent[] {
  let json: unknown;
  try {
    json = JSON.parse(dec.decode(body));
  } catch {
    throw new ValidationError("body", `is not valid JSON (${mode} mode)`);
  }
  if (mode === "structured") return [fromStructured(json)];
  if (!Array.isArray(json)) throw new ValidationError("body", "a batch is a JSON array of events");
  return json.map((e, i) => fromStructured(e, `${i}.`));
}

/** The events a request carries in any mode; null if it is not a CloudEvents request. */
export function fromRequestParts(headers: Headers, body: Uint8Array): CloudEvent[] | null {
  const mode = contentMode(headers);
  if (mode === null) return null;
  return mode === "binary" ? [fromBinary(headers, body)] : fromJsonBody(mode, body);
}

/** The JSON object of structured mode: data as JSON, text, or base64 as fits its bytes. */
export function toStructured(ev: CloudEvent): Record<string, unknown> {
  const out: Record<string, unknown> = { ...ev.attributes };
  if (!ev.data) return out;
  const type = ev.attributes.datacontenttype;
  const text = utf8(ev.data);
  if (text !== null && (type === undefined || isJsonType(type))) {
    try {
      out.data = JSON.parse(text);
      return out;
    } catch {
      // not JSON after all: as text below
    }
  }
  if (text !== null && type !== undefined && !isJsonType(type) && isTextType(type)) {
    out.data = text;
  } else {
    out.data_base64 = base64(ev.data);
  }
  return out;
}

/** The body of a structured-mode message. */
export function renderStructured(ev: CloudEvent): string {
  return JSON.stringify(toStructured(ev));
}

/** The body of a batch-mode message. */
export function renderBatch(events: CloudEvent[]): string {
  return JSON.stringify(events.map(toStructured));
}

function isTextType(type: string): boolean {
  const t = mediaType(type);
  return t.startsWith("text/") || t === "application/xml" || t.endsWith("+xml");
}

function utf8(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}
