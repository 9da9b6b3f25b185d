/**
 * What a function sees of a request's URL: the path below /invoke/<name>
 * ("/" at least) and the query without its "?", raw, as they came on the
 * wire (percent-escapes as sent), as libsure's head block has them.
 */
export function rawTarget(url: string): { path: string; query: string } {
  const q = url.indexOf("?");
  const end = q < 0 ? url.length : q;
  // Past "scheme://authority", then past "/invoke/<name>", whatever escapes
  // the name was written with.
  const pathStart = url.indexOf("/", url.indexOf("//") + 2);
  const below = url.indexOf("/", pathStart + "/invoke/".length);
  return {
    path: below < 0 || below >= end ? "/" : url.slice(below, end),
    query: q < 0 ? "" : url.slice(q + 1),
  };
}
