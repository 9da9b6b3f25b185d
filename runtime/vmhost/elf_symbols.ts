/**
 * The fallback symboliser: the function symbol (name + offset) that holds
 * an address, read from an image's ELF `.symtab`. Used where binutils'
 * addr2line is missing or says nothing. The image is untrusted bytes
 * (anyone who may deploy wrote it): every offset, size and count is checked
 * against the buffer before it is read, and bad input gives null, never a
 * throw and never a read outside the bytes.
 */

export interface SymbolHit {
  /** The symbol's name (printable ASCII, at most NAME_MAX characters). */
  name: string;
  /** Bytes from the symbol's start to the address. */
  offset: number;
}

const SHT_SYMTAB = 2;
const STT_NOTYPE = 0;
const STT_FUNC = 2;
const SHN_UNDEF = 0;
const SHN_LORESERVE = 0xff00;
const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
/** Longest name reported; a longer one is cut (it is only for reading). */
const NAME_MAX = 200;

/** The bytes [off, off + len) are inside buf (no overflow: plain numbers < 2^53). */
function inside(buf: Uint8Array, off: bigint, len: bigint): boolean {
  return off >= 0n && len >= 0n && off + len <= BigInt(buf.byteLength);
}

/** The NUL-terminated name at off in the string table [base, base + size). */
function nameAt(buf: Uint8Array, base: number, size: number, off: number): string | null {
  if (off >= size) return null;
  let s = "";
  for (let i = base + off; i < base + size && s.length < NAME_MAX; i++) {
    const b = buf[i];
    if (b === 0) return s;
    s += b >= 0x21 && b < 0x7f ? String.fromCharCode(b) : "?";
  }
  return s;
}

/**
 * The function symbol containing addr (st_value <= addr < st_value +
 * st_size), else the closest defined function or untyped (assembly) label
 * at or below it; null if there is none or the bytes are not a 64-bit
 * little-endian ELF with a symbol table.
 */
export function symbolAt(image: Uint8Array, addr: bigint): SymbolHit | null {
  if (image.byteLength < EHDR_SIZE) return null;
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (v.getUint32(0, false) !== 0x7f454c46 || image[4] !== 2 || image[5] !== 1) return null;
  const shoff = v.getBigUint64(0x28, true);
  const shentsize = v.getUint16(0x3a, true);
  const shnum = v.getUint16(0x3c, true);
  if (shentsize < SHDR_SIZE || !inside(image, shoff, BigInt(shentsize) * BigInt(shnum))) {
    return null;
  }
  const section = (i: number) => {
    const at = Number(shoff) + i * shentsize;
    return {
      type: v.getUint32(at + 4, true),
      offset: v.getBigUint64(at + 0x18, true),
      size: v.getBigUint64(at + 0x20, true),
      link: v.getUint32(at + 0x28, true),
      entsize: v.getBigUint64(at + 0x38, true),
    };
  };
  let best: { value: bigint; size: bigint; name: string } | null = null;
  for (let i = 0; i < shnum; i++) {
    const sh = section(i);
    if (sh.type !== SHT_SYMTAB || sh.entsize < BigInt(SYM_SIZE) || sh.link >= shnum) continue;
    if (!inside(image, sh.offset, sh.size)) continue;
    const str = section(sh.link);
    if (!inside(image, str.offset, str.size)) continue;
    const count = Number(sh.size / sh.entsize);
    for (let k = 0; k < count; k++) {
      const at = Number(sh.offset + BigInt(k) * sh.entsize);
      const type = image[at + 4] & 0xf;
      const shndx = v.getUint16(at + 6, true);
      if (type !== STT_FUNC && type !== STT_NOTYPE) continue;
      if (shndx === SHN_UNDEF || shndx >= SHN_LORESERVE) continue; // undefined, absolute, common
      const value = v.getBigUint64(at + 8, true);
      const size = v.getBigUint64(at + 16, true);
      if (value > addr) continue;
      const contains = addr < value + size;
      // A containing function beats a mere label before the address; among
      // equals, the closest start wins.
      const bestContains = best !== null && addr < best.value + best.size;
      if (best && (bestContains && !contains)) continue;
      if (best && bestContains === contains && value <= best.value) continue;
      if (!contains && type === STT_FUNC && size > 0n) continue; // ends before addr
      const name = nameAt(image, Number(str.offset), Number(str.size), v.getUint32(at, true));
      if (!name) continue;
      best = { value, size, name };
    }
  }
  return best ? { name: best.name, offset: Number(addr - best.value) } : null;
}
