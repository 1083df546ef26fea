/**
 * 64-bit words as two unsigned 32-bit halves. Page tables live in one ArrayBuffer arena viewed
 * as a Uint32Array (entry i at [2i] = low half, [2i+1] = high half); hot loops use these
 * helpers, and BigInt is used only at the edges (parsing, printing, tests).
 */

/** A 64-bit mask or value split into halves, for hot-path bit tests. */
export interface Halves {
  readonly lo: number;
  readonly hi: number;
}

export function halves(v: bigint): Halves {
  const u = BigInt.asUintN(64, v);
  return { lo: Number(u & 0xffffffffn) >>> 0, hi: Number(u >> 32n) >>> 0 };
}

export function fromHalves(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** A single bit (0..63) as halves. */
export function bitHalves(bit: number): Halves {
  return bit < 32 ? { lo: (1 << bit) >>> 0, hi: 0 } : { lo: 0, hi: (1 << (bit - 32)) >>> 0 };
}

/** Bits [lo, hi] inclusive as a BigInt mask (GENMASK_ULL). */
export function genmask(hi: number, lo: number): bigint {
  return ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
}

/** 1 << n as a BigInt (BIT_ULL). */
export function bit(n: number): bigint {
  return 1n << BigInt(n);
}

/** Whether any bit of mask m is set in the halves (lo, hi). */
export function testAny(lo: number, hi: number, m: Halves): boolean {
  return ((lo & m.lo) | (hi & m.hi)) !== 0;
}

/** A page-table arena: one ArrayBuffer, viewed as 32-bit halves and as 64-bit words. */
export class WordArena {
  readonly buffer: ArrayBuffer;
  readonly u32: Uint32Array;
  readonly u64: BigUint64Array;
  constructor(words: number) {
    this.buffer = new ArrayBuffer(words * 8);
    this.u32 = new Uint32Array(this.buffer);
    this.u64 = new BigUint64Array(this.buffer);
  }
  get words(): number {
    return this.u64.length;
  }
}

/**
 * x mod d for an integer 0 <= x < 2^53 and a power of two d, with no `%`: V8 compiles `%` of a
 * value it holds as a double (gfns, pfns and gpas past 2^31, or read back from a Float64Array)
 * to a call of the C library's fmod, measured at ~8 ns a call; these are an AND or a floor.
 */
export function mod_pow2(x: number, d: number): number {
  return d <= 0x80000000 ? x & (d - 1) : x - Math.floor(x / d) * d;
}
