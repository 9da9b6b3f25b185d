/**
 * C structs read by field name: the offsets and sizes come from ffi/abi.ts,
 * which libsure/tools/abi_gen.c generates from the C headers, so no offset
 * here is ever written by hand. One buffer holds `count` structs (an array
 * of completions, of records) and is reused across calls.
 */

/** A struct's layout as abi.ts gives it: its size and each field's offset. */
export type Layout = { readonly size: number } & { readonly [field: string]: number };

export class CStructs<L extends Layout> {
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly #v: DataView;

  constructor(readonly layout: L, readonly count = 1) {
    this.bytes = new Uint8Array(layout.size * count);
    this.#v = new DataView(this.bytes.buffer);
  }

  /** The size the C side checks the buffer against (BigInt for a size_t). */
  get size(): bigint {
    return BigInt(this.layout.size);
  }

  #at(field: keyof L & string, i: number, byte = 0): number {
    return i * this.layout.size + this.layout[field] + byte;
  }

  u8(field: keyof L & string, i = 0): number {
    return this.#v.getUint8(this.#at(field, i));
  }

  u16(field: keyof L & string, i = 0): number {
    return this.#v.getUint16(this.#at(field, i), true);
  }

  u32(field: keyof L & string, i = 0): number {
    return this.#v.getUint32(this.#at(field, i), true);
  }

  i32(field: keyof L & string, i = 0): number {
    return this.#v.getInt32(this.#at(field, i), true);
  }

  /**
   * A uint64 as a number: counters and sizes here stay far below 2^53. Read
   * as two halves, which allocates no BigInt (this runs per event).
   */
  u64(field: keyof L & string, i = 0): number {
    const o = this.#at(field, i);
    return this.#v.getUint32(o, true) + this.#v.getUint32(o + 4, true) * 0x1_0000_0000;
  }

  u64n(field: keyof L & string, i = 0): bigint {
    return this.#v.getBigUint64(this.#at(field, i), true);
  }

  /** n consecutive uint64 starting at field (a C array member). */
  u64s(field: keyof L & string, n: number, i = 0): number[] {
    const out = new Array<number>(n);
    for (let k = 0; k < n; k++) {
      out[k] = Number(this.#v.getBigUint64(this.#at(field, i, 8 * k), true));
    }
    return out;
  }

  /** n consecutive uint32 starting at field (a C array member). */
  u32s(field: keyof L & string, n: number, i = 0): number[] {
    const out = new Array<number>(n);
    for (let k = 0; k < n; k++) out[k] = this.#v.getUint32(this.#at(field, i, 4 * k), true);
    return out;
  }

  /** n bytes starting at field. */
  raw(field: keyof L & string, n: number, i = 0): Uint8Array {
    const o = this.#at(field, i);
    return this.bytes.subarray(o, o + n);
  }
}
