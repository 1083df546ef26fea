/**
 * Canonical linear addresses (x86.h): an address is canonical for N virtual-address bits when
 * bits 63..N-1 are all equal to bit N-1, i.e. sign-extending from bit N-1 gives it back.
 */

/** @kernel x86.h __canonical_address: sign-extend from bit vaddr_bits-1. */
export function __canonical_address(la: bigint, vaddr_bits: number): bigint {
  return BigInt.asUintN(64, BigInt.asIntN(vaddr_bits, la));
}

/** @kernel x86.h __is_canonical_address */
export function __is_canonical_address(la: bigint, vaddr_bits: number): boolean {
  return __canonical_address(la, vaddr_bits) === BigInt.asUintN(64, la);
}

/** Canonicality on 32-bit halves (hot paths): bits 63..n-1 all equal bit n-1. */
export function isCanonicalHalves(lo: number, hi: number, vaddr_bits: 48 | 57): boolean {
  // bits >= 32 only matter: n-1 >= 47.
  const s = vaddr_bits - 1 - 32; // sign bit position within hi
  const top = hi >> s; // arithmetic shift: all ones or all zeros when canonical
  void lo;
  return top === 0 || top === -1;
}
