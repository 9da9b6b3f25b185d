/** What a function sees of a request: taken from the raw URL and headers, no VM. */
import assert from "node:assert/strict";
import { requestHead, responseHeaders } from "./invoke.ts";
import { HeadersTooLargeError } from "../errors.ts";

const ID = "0b5e1f0c-6f1e-4a8e-9d57-1c2b3a4d5e6f";

Deno.test("requestHead: the raw path below the name, the raw query, the node's request id", () => {
  const cases: [string, string, string][] = [
    ["http://h/invoke/api", "/", ""],
    ["http://h/invoke/api/", "/", ""],
    ["http://h/invoke/api?x=1", "/", "x=1"],
    ["http://h:8080/invoke/api/users/7", "/users/7", ""],
    ["http://h/invoke/api/a%20b/c?q=hello%20world+x&&f", "/a%20b/c", "q=hello%20world+x&&f"],
    ["http://h/invoke/%61pi/x?y=/z", "/x", "y=/z"],
    ["http://h/invoke/api?next=/invoke/api/x", "/", "next=/invoke/api/x"],
  ];
  for (const [url, path, query] of cases) {
    const h = requestHead(new Request(url, { headers: { "X-Request-Id": "theirs" } }), ID);
    assert.equal(h.path, path, url);
    assert.equal(h.query, query, url);
    assert.equal(h.method, "GET");
    const headers = [...h.headers];
    assert.deepEqual(headers.filter(([k]) => k === "x-request-id"), [["x-request-id", ID]]);
  }
});

Deno.test("requestHead: headers it is told to hide are not there, the others are, in order", () => {
  const req = new Request("http://h/invoke/p", {
    headers: { authorization: "Bearer node-token", "x-a": "1", "authorization-hint": "2" },
  });
  const names = [...requestHead(req, ID, ["authorization"]).headers].map(([k]) => k);
  assert.deepEqual(names, ["authorization-hint", "x-a", "x-request-id"]);
  assert.ok([...requestHead(req, ID).headers].some(([k]) => k === "authorization"));
});

Deno.test("requestHead: 431 when the head would not fit the function's block", () => {
  const headers = new Headers();
  for (let i = 0; i < 12; i++) headers.set(`x-${i}`, "v".repeat(1500));
  assert.throws(
    () => requestHead(new Request("http://h/invoke/a", { headers }), ID),
    HeadersTooLargeError,
  );
  const many = new Headers();
  for (let i = 0; i < 300; i++) many.set(`x-${i}`, "v");
  assert.throws(
    () => requestHead(new Request("http://h/invoke/a", { headers: many }), ID),
    /256 headers/,
  );
});

Deno.test("responseHeaders: repeated names kept, octet-stream unless the function set a type", () => {
  assert.deepEqual(responseHeaders(undefined), { "content-type": "application/octet-stream" });
  assert.deepEqual(
    responseHeaders([["Set-Cookie", "a=1"], ["set-cookie", "b=2"], ["Content-Type", "text/html"]]),
    { "set-cookie": ["a=1", "b=2"], "content-type": "text/html" },
  );
});
