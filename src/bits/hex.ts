/**
 * Parsing and printing of register and word values. Inputs arrive as JSON strings ("0x1f"),
 * decimal strings, or JSON numbers; 64-bit values are parsed as BigInt at this edge and never
 * inside hot loops.
 */
import { badInput } from './errors.js';

const HEX_RE = /^0x[0-9a-fA-F]+$/;
const DEC_RE = /^[0-9]+$/;

export const U64_MAX = (1n << 64n) - 1n;

/** Parse an unsigned value of at most `bits` bits (default 64). `where` names the input. */
export function parseUnsigned(value: unknown, where: string, bits = 64): bigint {
  let v: bigint;
  if (typeof value === 'bigint') {
    v = value;
  } else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) badInput(where, `expected an unsigned integer, got ${value}`);
    v = BigInt(value);
  } else if (typeof value === 'string') {
    if (value !== value.trim()) badInput(where, `unexpected space around the number ${JSON.stringify(value.length > 40 ? value.slice(0, 37) + '...' : value)}`);
    const s = value.replace(/_/g, '');
    if (HEX_RE.test(s)) v = BigInt(s);
    else if (DEC_RE.test(s)) v = BigInt(s);
    else badInput(where, `expected a hex (0x...) or decimal number, got ${JSON.stringify(value.length > 80 ? value.slice(0, 77) + '...' : value)}`);
  } else {
    badInput(where, `expected a number or a hex string, got ${value === undefined ? 'nothing' : typeof value}`);
  }
  if (v < 0n) badInput(where, `negative value ${v}`);
  if (v >> BigInt(bits) !== 0n) badInput(where, `value 0x${v.toString(16)} does not fit in ${bits} bits`);
  return v;
}

/** Parse a value of at most 32 bits into a JS number (unsigned). */
export function parseU32(value: unknown, where: string): number {
  return Number(parseUnsigned(value, where, 32));
}

/** parseU32, with a missing value read as 0. */
export function parseU32Opt(value: unknown, where: string): number {
  return value === undefined ? 0 : parseU32(value, where);
}

/** Parse a small integer in [min, max]. */
export function parseInt_(value: unknown, where: string, min: number, max: number): number {
  const v = parseUnsigned(value, where, 53);
  const n = Number(v);
  if (n < min || n > max) badInput(where, `value ${n} is outside ${min}..${max}`);
  return n;
}

/** Parse a 0/1 flag (also accepts booleans). */
export function parseFlag(value: unknown, where: string): 0 | 1 {
  if (value === true) return 1;
  if (value === false) return 0;
  const n = parseInt_(value, where, 0, 1);
  return n as 0 | 1;
}

/** "0x" + 8 lower-case hex digits, the golden encoding of 32-bit words. */
export function hex32(n: number): string {
  return '0x' + (n >>> 0).toString(16).padStart(8, '0');
}

/** "0x" + 16 lower-case hex digits, the golden encoding of 64-bit values. */
export function hex64(v: bigint): string {
  return '0x' + BigInt.asUintN(64, v).toString(16).padStart(16, '0');
}

/** "0x" + 16 hex digits from two 32-bit halves. */
export function hex64Halves(lo: number, hi: number): string {
  return '0x' + (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}

/** Plain lower-case hex without padding, as the kernel's %llx prints. */
export function hexPlain(v: bigint | number): string {
  return (typeof v === 'bigint' ? BigInt.asUintN(64, v) : v >>> 0).toString(16);
}
