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

/** hash_32(v, bits): top `bits` bits of v * GOLDEN_RATIO_32 mod 2^32. */
export function hash_32(v: number, bits: number): number {
  return Math.imul(v >>> 0, GOLDEN_RATIO_32) >>> (32 - bits);
}

/**
 * @kernel hash.h hash_64_generic (64-bit kernels): top `bits` (<= 16 here) bits of
 * gfn * GOLDEN_RATIO_64 mod 2^64, for a gfn given as 32-bit halves.
 */
export function hash_64_halves(lo: number, hi: number, bits: number): number {
  const a0 = lo & 0xffff;
  const a1 = lo >>> 16;
  const a2 = hi & 0xffff;
  const a3 = hi >>> 16;
  // Schoolbook product, keeping only limbs 0..3 (mod 2^64); each partial sum stays < 2^53.
  let c = a0 * G0;
  c = Math.floor(c / 65536) + a0 * G1 + a1 * G0;
  c = Math.floor(c / 65536) + a0 * G2 + a1 * G1 + a2 * G0;
  const r3 = (Math.floor(c / 65536) + a0 * G3 + a1 * G2 + a2 * G1 + a3 * G0) % 65536;
  return r3 >>> (16 - bits);
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
