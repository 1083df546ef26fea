/**
 * The printf subset the kvmmmu TP_printk formats use (%u %d %x %llx %#llx %p %s), both ways: a
 * format split into literal text and conversions, a value as a conversion prints it, and the
 * pattern that reads it back.
 */

export type PrintkPiece = { readonly lit: string } | { readonly conv: string };

const CONV = /%(#?(?:ll)?[udxps])/g;
const cache = new Map<string, readonly PrintkPiece[]>();

/** `fmt` as literal runs and conversions, in order. */
export function printkPieces(fmt: string): readonly PrintkPiece[] {
  let out = cache.get(fmt);
  if (out) return out;
  const pieces: PrintkPiece[] = [];
  let at = 0;
  for (const m of fmt.matchAll(CONV)) {
    if (m.index > at) pieces.push({ lit: fmt.slice(at, m.index) });
    pieces.push({ conv: m[1]! });
    at = m.index + m[0].length;
  }
  if (at < fmt.length) pieces.push({ lit: fmt.slice(at) });
  cache.set(fmt, (out = pieces));
  return out;
}

/**
 * A numeric conversion of a value of `size` bytes: %u/%x of the unsigned value, %d of the value
 * as C promotes it (sign-extended only when the field is signed), %p as the address itself
 * (what `no_hash_pointers` shows), %#llx with its `0x` (none for 0).
 */
export function convText(conv: string, v: bigint, size: number, signed: boolean): string {
  const u = BigInt.asUintN(size * 8, v);
  switch (conv) {
    case 'u':
      return u.toString();
    case 'd':
      return (signed ? BigInt.asIntN(size * 8, v) : u).toString();
    case 'x':
    case 'llx':
      return u.toString(16);
    case '#llx':
      return u === 0n ? '0' : '0x' + u.toString(16);
    case 'p':
      return u.toString(16).padStart(16, '0');
    default:
      throw new Error(`printk: %${conv} is not a numeric conversion`);
  }
}

/** The pattern a numeric conversion's text matches (one capture group: the digits). */
export function convPattern(conv: string): string {
  switch (conv) {
    case 'u':
      return '(\\d+)';
    case 'd':
      return '(-?\\d+)';
    case 'x':
    case 'llx':
      return '([0-9a-f]+)';
    case '#llx':
      return '(?:0x)?([0-9a-f]+)';
    case 'p':
      return '(\\S+)';
    default:
      throw new Error(`printk: %${conv} is not a numeric conversion`);
  }
}

/** Whether the digits of `conv` are hex. */
export const convIsHex = (conv: string): boolean => conv.endsWith('x');
