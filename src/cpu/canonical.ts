/**
 * Canonical linear addresses (x86.h): an address is canonical for N virtual-address bits when
 * bits 63..N-1 are all equal to bit N-1, i.e. sign-extending from bit N-1 gives it back.
 * Which N applies depends on the use and the profile (cpu-features.md section 4).
 */
import { X86_CR4_LA57 as CR4_LA57 } from '../bits/regs.js';
import type { Profile } from '../profiles/index.js';

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

/** kvm_emulate.h X86EMUL_F_* access flags (6.x). */
export const X86EMUL_F_WRITE = 1 << 0;
export const X86EMUL_F_FETCH = 1 << 1;
export const X86EMUL_F_IMPLICIT = 1 << 2;
export const X86EMUL_F_INVLPG = 1 << 3;
export const X86EMUL_F_MSR = 1 << 4;
export const X86EMUL_F_DT_LOAD = 1 << 5;

/** The state the width choice reads: the guest's CR4 and whether KVM (the host CPU) has LA57. */
export interface CanonicalCtx {
  readonly cr4: bigint;
  readonly kvm_la57: boolean;
}


/** @kernel x86.h vcpu_virt_addr_bits: 57 under guest CR4.LA57, else 48. */
export function vcpu_virt_addr_bits(ctx: CanonicalCtx): 48 | 57 {
  return (ctx.cr4 & CR4_LA57) !== 0n ? 57 : 48;
}

/** @kernel x86.h max_host_virt_addr_bits: 57 iff KVM supports LA57 (a host property). */
export function max_host_virt_addr_bits(ctx: CanonicalCtx): 48 | 57 {
  return ctx.kvm_la57 ? 57 : 48;
}

/**
 * The width a check uses: 6.x checks MSR values, descriptor-table bases and INVLPG operands
 * against the host width; everything else (and everything in 5.16) against the vCPU's width.
 */
export function canonicalWidthFor(profile: Profile, ctx: CanonicalCtx, flags: number): 48 | 57 {
  if (profile.cpu.canonical.host_width_for_msr_dt_invlpg && flags & (X86EMUL_F_INVLPG | X86EMUL_F_MSR | X86EMUL_F_DT_LOAD)) {
    return max_host_virt_addr_bits(ctx);
  }
  return vcpu_virt_addr_bits(ctx);
}

/** @kernel x86.h is_noncanonical_address (5.16: two arguments, flags ignored) */
export function is_noncanonical_address(profile: Profile, la: bigint, ctx: CanonicalCtx, flags: number): boolean {
  return !__is_canonical_address(la, canonicalWidthFor(profile, ctx, flags));
}

/** @kernel x86.h is_noncanonical_msr_address */
export function is_noncanonical_msr_address(profile: Profile, la: bigint, ctx: CanonicalCtx): boolean {
  return is_noncanonical_address(profile, la, ctx, X86EMUL_F_MSR);
}

/** @kernel x86.h is_noncanonical_base_address */
export function is_noncanonical_base_address(profile: Profile, la: bigint, ctx: CanonicalCtx): boolean {
  return is_noncanonical_address(profile, la, ctx, X86EMUL_F_DT_LOAD);
}

/** @kernel x86.h is_noncanonical_invlpg_address */
export function is_noncanonical_invlpg_address(profile: Profile, la: bigint, ctx: CanonicalCtx): boolean {
  return is_noncanonical_address(profile, la, ctx, X86EMUL_F_INVLPG);
}
