// The three functions of the chain benchmark, as plain TypeScript: the same
// work as functions/upper, functions/reverse and functions/echo.

export type Op = "upper" | "reverse" | "echo";

export function apply(op: Op, b: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  switch (op) {
    case "upper":
      return b.map((c) => (c >= 97 && c <= 122 ? c - 32 : c));
    case "reverse":
      return b.slice().reverse();
    case "echo":
      return b;
  }
}
