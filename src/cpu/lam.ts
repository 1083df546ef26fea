/**
 * Linear Address Masking (cpu-features.md section 5; LAM KVM enabling v7, kvm@vger.kernel.org 2023-04): the untag rule KVM applies
 * (vmx_get_untagged_addr), the seed's modified canonicality table, and where untagging applies.
 * User vs supervisor is pointer bit 63 alone, never CPL (LAM KVM enabling v7, kvm@vger.kernel.org 2023-04).
 */
import type { Profile } from '../profiles/index.js';
import { __is_canonical_address, X86EMUL_F_FETCH, X86EMUL_F_IMPLICIT, X86EMUL_F_INVLPG } from './canonical.js';
import { EFER_LMA, X86_CR3_LAM_U48, X86_CR3_LAM_U57, X86_CR4_LA57, X86_CR4_LAM_SUP, kvm_get_active_cr3_lam_bits } from './cr.js';

const BIT63 = 1n << 63n;

/** The vCPU state untagging reads. */
export interface LamCtx {
  readonly cr3: bigint;
  readonly cr4: bigint;
  readonly efer: bigint;
  /** CS.L (64-bit code segment). */
  readonly cs_l: boolean;
  /** The vCPU has the LAM capability (KVM supports it and guest CPUID enumerates it). */
  readonly guest_lam: boolean;
}

/** @kernel x86.h is_64_bit_mode: EFER.LMA and CS.L. */
export function is_64_bit_mode(ctx: LamCtx): boolean {
  return (ctx.efer & EFER_LMA) !== 0n && ctx.cs_l;
}

/** Which LAM mode applies to a pointer (LAM KVM enabling v7, kvm@vger.kernel.org 2023-04), or null when LAM is off for it. */
export type LamMode = 'LAM_U48' | 'LAM_U57' | 'LAM_S48' | 'LAM_S57';

/**
 * The LAM mode for `gva` (bit 63 chooses user/supervisor; LAM_U57 wins over LAM_U48; supervisor
 * width follows CR4.LA57), or null. Only in 64-bit mode, and only where the profile has LAM.
 */
export function lamModeOf(profile: Profile, gva: bigint, ctx: LamCtx): LamMode | null {
  if (!profile.cpu.lam.supported || !is_64_bit_mode(ctx)) return null;
  if (!(gva & BIT63)) {
    const bits = kvm_get_active_cr3_lam_bits(profile, ctx.cr3, ctx.guest_lam);
    if (bits & X86_CR3_LAM_U57) return 'LAM_U57';
    if (bits & X86_CR3_LAM_U48) return 'LAM_U48';
    return null;
  }
  if (!(ctx.cr4 & X86_CR4_LAM_SUP)) return null;
  return ctx.cr4 & X86_CR4_LA57 ? 'LAM_S57' : 'LAM_S48';
}

/** The bit a mode sign-extends from (47 for the 48 modes, 56 for the 57 modes). */
export function lamBit(mode: LamMode): 47 | 56 {
  return mode === 'LAM_U57' || mode === 'LAM_S57' ? 56 : 47;
}

/** Untag with a known LAM bit: sign-extend from `bit`, keep the original bit 63. */
export function untagWith(gva: bigint, bit: number): bigint {
  const ext = BigInt.asUintN(64, BigInt.asIntN(bit + 1, gva));
  return (ext & ~BIT63) | (gva & BIT63);
}

/**
 * @kernel vmx.c vmx_get_untagged_addr: instruction fetches, implicit accesses and INVLPG operands
 * are never untagged; outside 64-bit mode nothing is; otherwise sign-extend from the mode's LAM
 * bit keeping bit 63. (The supervisor branch reads CR4.LAM_SUP only, not the guest capability.)
 */
export function get_untagged_addr(profile: Profile, gva: bigint, ctx: LamCtx, flags: number): bigint {
  if (!profile.cpu.lam.supported) return gva;
  if (flags & (X86EMUL_F_FETCH | X86EMUL_F_IMPLICIT | X86EMUL_F_INVLPG)) return gva;
  const mode = lamModeOf(profile, gva, ctx);
  return mode === null ? gva : untagWith(gva, lamBit(mode));
}

/**
 * Seed 004's modified canonicality check (lines 39-49), as the SDM states it: which bits must
 * equal what, metadata ignored. `la57` is the paging mode (CR4.LA57).
 */
export function lamModifiedCanonical(mode: LamMode, la: bigint, la57: boolean): boolean {
  const b = (n: number): bigint => (la >> BigInt(n)) & 1n;
  switch (mode) {
    case 'LAM_S48':
      return b(63) === 1n && b(47) === 1n;
    case 'LAM_U48':
      // Also under 5-level paging: the effective user width is 48 (LAM KVM enabling v7, kvm@vger.kernel.org 2023-04).
      return b(63) === 0n && b(47) === 0n;
    case 'LAM_S57':
      return b(63) === 1n && b(56) === 1n;
    case 'LAM_U57':
      if (la57) return b(63) === 0n && b(56) === 0n;
      // 4-level paging: bits 56..47 all 0.
      return b(63) === 0n && ((la >> 47n) & 0x3ffn) === 0n;
  }
}

/** The check an access gets: LAM's modified check for the pointer's mode, else the legacy one. */
export function lamCanonicalCheck(profile: Profile, la: bigint, ctx: LamCtx): { mode: LamMode | null; canonical: boolean } {
  const la57 = (ctx.cr4 & X86_CR4_LA57) !== 0n;
  const mode = lamModeOf(profile, la, ctx);
  if (mode === null) return { mode, canonical: __is_canonical_address(la, la57 ? 57 : 48) };
  return { mode, canonical: lamModifiedCanonical(mode, la, la57) };
}

/**
 * KVM's order (untag, then the vCPU-width canonical check) — functionally identical to the SDM's
 * modified check then masking (section 5.2). Returns the untagged address and the verdict.
 */
export function untagThenCheck(profile: Profile, la: bigint, ctx: LamCtx, flags: number): { untagged: bigint; canonical: boolean } {
  const untagged = get_untagged_addr(profile, la, ctx, flags);
  return { untagged, canonical: __is_canonical_address(untagged, ctx.cr4 & X86_CR4_LA57 ? 57 : 48) };
}

/** Where KVM untags (section 5.3), for the CLI and the demo. */
export const LAM_APPLIES: readonly { readonly use: string; readonly untagged: boolean; readonly why: string }[] = [
  { use: 'data access (emulator __linearize, 64-bit mode)', untagged: true, why: 'LAM applies to data addresses' },
  { use: 'VMX instruction memory operand (get_vmx_mem_address)', untagged: true, why: 'operand address of VMREAD/VMWRITE/INVEPT/INVVPID/INVPCID' },
  { use: 'SGX ENCLS operand', untagged: true, why: '64-bit mode only' },
  { use: 'instruction fetch', untagged: false, why: 'LAM applies to data only (LAM KVM enabling v7, kvm@vger.kernel.org 2023-04)' },
  { use: 'implicit access (descriptor tables, TSS)', untagged: false, why: 'X86EMUL_F_IMPLICIT' },
  { use: 'INVLPG operand', untagged: false, why: 'TLB invalidation input; non-canonical -> NOP' },
  { use: 'INVPCID / INVVPID individual address', untagged: false, why: 'address inside the descriptor: host-width check, #GP / VMfail' },
  { use: 'WRMSR (FS/GS base, LSTAR, ...)', untagged: false, why: 'legacy canonical check (v5 changelog, LAM KVM enabling v7, kvm@vger.kernel.org 2023-04)' },
  { use: 'LGDT/LIDT base', untagged: false, why: 'descriptor-table base load: host-width check' },
];

/** The LAM bit per pointer kind for a vCPU state (0 = LAM off), computed once per CR3/CR4 change. */
export interface LamConfig {
  readonly user: 0 | 47 | 56;
  readonly sup: 0 | 47 | 56;
}

/** The per-vCPU LAM configuration for data accesses (the mode choice of vmx_get_untagged_addr). */
export function lamConfigOf(profile: Profile, ctx: LamCtx): LamConfig {
  const u = lamModeOf(profile, 0n, ctx);
  const s = lamModeOf(profile, BIT63, ctx);
  return { user: u === null ? 0 : lamBit(u), sup: s === null ? 0 : lamBit(s) };
}

/**
 * Hot-path untag on 32-bit halves: the high half of the untagged address (the low half never
 * changes, the LAM bit is 47 or 56). Same result as get_untagged_addr for a data access.
 */
export function untagHighHalf(cfg: LamConfig, hi: number): number {
  const bit = hi < 0 || hi >>> 31 ? cfg.sup : cfg.user;
  if (bit === 0) return hi >>> 0;
  const sh = 63 - bit; // bit (in the high half at bit-32) moves to bit 31
  return ((((hi << sh) >> sh) & 0x7fffffff) | (hi & 0x80000000)) >>> 0;
}
