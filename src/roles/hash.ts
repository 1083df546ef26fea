/**
 * The shadow-page hash: `kvm_page_table_hashfn(gfn) = hash_64(gfn, KVM_MMU_HASH_SHIFT)`
 * (include/linux/hash.h), for 64-bit and 32-bit kernels. Computed on 16-bit limbs so the hot
 * path needs no BigInt.
 */

export const KVM_MMU_HASH_SHIFT = 12;
export const KVM_NUM_MMU_PAGES = 1 << KVM_MMU_HASH_SHIFT;

const GOLDEN_RATIO_32 = 0x61c88647;
// GOLDEN_RATIO_64 = 0x61C8864680B583EB as four 16-bit limbs, low first.
const G0 = 0x83eb;
const G1 = 0x80b5;
const G2 = 0x8646;
const G3 = 0x61c8;
/** The same constant as two 32-bit halves (and the low half's 16-bit pieces). */
const G_LO = ((G1 << 16) | G0) >>> 0;
const G_HI = ((G3 << 16) | G2) >>> 0;
const G_LO0 = G0;
const G_LO1 = G1;

/** hash_32(v, bits): top `bits` bits of v * GOLDEN_RATIO_32 mod 2^32. */
export function hash_32(v: number, bits: number): number {
  return Math.imul(v >>> 0, GOLDEN_RATIO_32) >>> (32 - bits);
}

/**
 * @kernel hash.h hash_64_generic (64-bit kernels): top `bits` (<= 16 here) bits of
 * gfn * GOLDEN_RATIO_64 mod 2^64, for a gfn given as 32-bit halves.
 */
export function hash_64_halves(lo: number, hi: number, bits: number): number {
  // Only the high 32 bits of the 64-bit product matter: the high half of lo * G_lo, plus the
  // low halves of lo * G_hi and hi * G_lo (Math.imul), mod 2^32. The high half of lo * G_lo
  // comes from 16-bit pieces; every intermediate stays below 2^34, exact in a double.
  const a = lo >>> 0;
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const m1 = a1 * G_LO0;
  const m2 = a0 * G_LO1;
  const mid = ((a0 * G_LO0) >>> 16) + (m1 & 0xffff) + (m2 & 0xffff);
  const mulhi = a1 * G_LO1 + (m1 >>> 16) + (m2 >>> 16) + (mid >>> 16);
  const top = (mulhi + Math.imul(a, G_HI) + Math.imul(hi >>> 0, G_LO)) >>> 0;
  return top >>> (32 - bits);
}

/** hash_64 on a 32-bit kernel: hash_32(low32 ^ (high32 * GOLDEN_RATIO_32), bits). */
export function hash_64_32bit(lo: number, hi: number, bits: number): number {
  return hash_32((lo ^ Math.imul(hi >>> 0, GOLDEN_RATIO_32)) >>> 0, bits);
}

/** @kernel mmu.c kvm_page_table_hashfn */
export function kvm_page_table_hashfn(gfn: bigint, bitsPerLong: 32 | 64 = 64): number {
  const u = BigInt.asUintN(64, gfn);
  const lo = Number(u & 0xffffffffn);
  const hi = Number(u >> 32n);
  return bitsPerLong === 64 ? hash_64_halves(lo, hi, KVM_MMU_HASH_SHIFT) : hash_64_32bit(lo, hi, KVM_MMU_HASH_SHIFT);
}
