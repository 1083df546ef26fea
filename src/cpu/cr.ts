/**
 * CR3 and CR4 legality and writes (cpu-features.md sections 1.4 and 5.4; LAM KVM enabling v7, kvm@vger.kernel.org 2023-04):
 * which CR4 bits KVM and the guest allow (LA57, LAM_SUP), MOV to CR4 and MOV to CR3 with PCID
 * and LAM bits, and the shadow-paging root GFN and hardware CR3 of a guest CR3.
 */
import type { Profile } from '../profiles/index.js';
import { KVM_MMU_CR4_ROLE_BITS } from '../roles/regs.js';

/** The register bits (bits/regs.ts), for the CPU model's users. */
export * from '../bits/regs.js';
import {
  X86_CR0_PG,
  X86_CR0_WP,
  X86_CR4_PAE,
  X86_CR4_UMIP,
  X86_CR4_LA57,
  X86_CR4_VMXE,
  X86_CR4_FSGSBASE,
  X86_CR4_PCIDE,
  X86_CR4_OSXSAVE,
  X86_CR4_SMEP,
  X86_CR4_SMAP,
  X86_CR4_PKE,
  X86_CR4_CET,
  X86_CR4_LAM_SUP,
  EFER_LMA,
  X86_CR3_PCID_MASK,
  X86_CR3_PCID_NOFLUSH,
  X86_CR3_LAM_U57,
  X86_CR3_LAM_U48,
} from '../bits/regs.js';
/** mmu_internal.h __PT_BASE_ADDR_MASK = GENMASK_ULL(51, 12). */
export const PT_BASE_ADDR_MASK = ((1n << 52n) - 1n) & ~0xfffn;
const U64 = (1n << 64n) - 1n;

/** The features that gate a CR4 bit (__cr4_reserved_bits), for KVM or for the guest. */
export interface Cr4Features {
  readonly xsave: boolean;
  readonly smep: boolean;
  readonly smap: boolean;
  readonly fsgsbase: boolean;
  readonly pku: boolean;
  readonly la57: boolean;
  readonly umip: boolean;
  readonly vmx: boolean;
  readonly pcid: boolean;
  readonly lam: boolean;
  /** SHSTK or IBT. */
  readonly cet: boolean;
}

/** Every CR4-gating feature present except LA57 and LAM, which are given. */
export function cr4Features(la57: boolean, lam: boolean): Cr4Features {
  return { xsave: true, smep: true, smap: true, fsgsbase: true, pku: true, la57, umip: true, vmx: true, pcid: true, lam, cet: true };
}

/** @kernel kvm_host.h CR4_RESERVED_BITS: every bit the profile's KVM does not know. */
export function CR4_RESERVED_BITS(profile: Profile): bigint {
  return ~BigInt(profile.cpu.cr.cr4_known_bits) & U64;
}

/** @kernel x86.h __cr4_reserved_bits: CR4_RESERVED_BITS plus the bits whose feature is missing. */
export function __cr4_reserved_bits(profile: Profile, f: Cr4Features): bigint {
  let r = CR4_RESERVED_BITS(profile);
  if (!f.xsave) r |= X86_CR4_OSXSAVE;
  if (!f.smep) r |= X86_CR4_SMEP;
  if (!f.smap) r |= X86_CR4_SMAP;
  if (!f.fsgsbase) r |= X86_CR4_FSGSBASE;
  if (!f.pku) r |= X86_CR4_PKE;
  if (!f.la57) r |= X86_CR4_LA57;
  if (!f.umip) r |= X86_CR4_UMIP;
  if (!f.vmx) r |= X86_CR4_VMXE;
  if (!f.pcid) r |= X86_CR4_PCIDE;
  // 5.16 has no such checks, but the bits are in its CR4_RESERVED_BITS anyway.
  if (!f.lam) r |= X86_CR4_LAM_SUP;
  if (!f.cet) r |= X86_CR4_CET;
  return r;
}

/** The two masks kvm_is_valid_cr4 consults: KVM's (global) and the vCPU's. */
export interface Cr4Masks {
  /** 5.16 cr4_reserved_bits (KVM's features only). */
  readonly cr4_reserved_bits: bigint;
  /** vcpu->arch.cr4_guest_rsvd_bits (5.16: guest CPUID; 6.18: KVM's | the guest's). */
  readonly cr4_guest_rsvd_bits: bigint;
}

/**
 * @kernel cpuid.c kvm_vcpu_after_set_cpuid (the cr4_guest_rsvd_bits statement) and x86.c
 * kvm_arch_hardware_setup (5.16 cr4_reserved_bits).
 */
export function cr4ReservedMasks(profile: Profile, kvm: Cr4Features, guest: Cr4Features): Cr4Masks {
  const k = __cr4_reserved_bits(profile, kvm);
  const g = __cr4_reserved_bits(profile, guest);
  // 5.16 keeps the two apart and checks both; 6.x folds KVM's into the vCPU mask.
  return { cr4_reserved_bits: k, cr4_guest_rsvd_bits: profile.cpu.cr.guest_rsvd_includes_kvm ? k | g : g };
}

/** @kernel x86.c kvm_is_valid_cr4: no bit reserved for KVM or for the guest (vendor hook: true). */
export function kvm_is_valid_cr4(masks: Cr4Masks, cr4: bigint): boolean {
  return (cr4 & masks.cr4_reserved_bits) === 0n && (cr4 & masks.cr4_guest_rsvd_bits) === 0n;
}

/** The control-register state MOV to CR3/CR4 read. */
export interface CrState {
  cr0: bigint;
  cr3: bigint;
  cr4: bigint;
  efer: bigint;
}

function is_long_mode(s: CrState): boolean {
  return (s.efer & EFER_LMA) !== 0n;
}

/** @kernel x86.h is_pae_paging: PAE paging outside long mode. */
export function is_pae_paging(s: CrState): boolean {
  return !is_long_mode(s) && (s.cr4 & X86_CR4_PAE) !== 0n && (s.cr0 & X86_CR0_PG) !== 0n;
}

/**
 * @kernel x86.c kvm_set_cr4: validity, PAE required and LA57 frozen in long mode, PCIDE only from
 * a CR3 with PCID 0 in long mode (5.16 also needs guest PCID), CET needs CR0.WP (6.x). Returns 0 or
 * 1 (#GP); on success `s.cr4` is updated. PDPTR loads are assumed to succeed.
 */
export function kvm_set_cr4(profile: Profile, s: CrState, masks: Cr4Masks, guest: Cr4Features, cr4: bigint): 0 | 1 {
  const old = s.cr4;
  if (!kvm_is_valid_cr4(masks, cr4)) return 1;
  if (is_long_mode(s)) {
    if (!(cr4 & X86_CR4_PAE)) return 1;
    if ((cr4 ^ old) & X86_CR4_LA57) return 1;
  }
  if (cr4 & X86_CR4_PCIDE && !(old & X86_CR4_PCIDE)) {
    if (profile.cpu.cr.set_cr4_checks_pcid_cpuid && !guest.pcid) return 1;
    if (s.cr3 & X86_CR3_PCID_MASK || !is_long_mode(s)) return 1;
  }
  if (profile.cpu.cr.set_cr4_cet_needs_wp && cr4 & X86_CR4_CET && !(s.cr0 & X86_CR0_WP)) return 1;
  s.cr4 = cr4;
  return 0;
}

/** Whether MAXPHYADDR and guest LAM allow a CR3 value. */
export interface Cr3Ctx {
  readonly maxphyaddr: number;
  readonly guest_lam: boolean;
}

/** @kernel cpuid.h kvm_vcpu_is_legal_cr3 (5.16: !kvm_vcpu_is_illegal_gpa): LAM bits are stripped first when the guest has LAM. */
export function kvm_vcpu_is_legal_cr3(profile: Profile, cr3: bigint, ctx: Cr3Ctx): boolean {
  let v = cr3;
  if (profile.cpu.lam.supported && ctx.guest_lam) v &= ~(X86_CR3_LAM_U48 | X86_CR3_LAM_U57);
  const rsvd = (U64 >> BigInt(ctx.maxphyaddr)) << BigInt(ctx.maxphyaddr);
  return (v & rsvd) === 0n;
}

export interface SetCr3Result {
  readonly rc: 0 | 1;
  /** Argument of kvm_mmu_new_pgd (null: not called). The LAM bits stay in it. */
  readonly new_pgd: bigint | null;
  /** Argument of kvm_invalidate_pcid (null: not called). */
  readonly invalidate_pcid: bigint | null;
  /** PDPTEs were (re)loaded (PAE paging). */
  readonly load_pdptrs: boolean;
}

/**
 * @kernel x86.c kvm_set_cr3: with CR4.PCIDE, bit 63 (NOFLUSH) is stripped and skips the flush;
 * an unchanged CR3 outside PAE paging only flushes; otherwise the value must be legal, PAE
 * paging reloads PDPTEs, and a changed CR3 gets a new pgd. On failure `s.cr3` is unchanged.
 */
export function kvm_set_cr3(profile: Profile, s: CrState, ctx: Cr3Ctx, cr3in: bigint): SetCr3Result {
  let cr3 = cr3in;
  let skip = false;
  let pcid = 0n;
  if (s.cr4 & X86_CR4_PCIDE) {
    skip = (cr3 & X86_CR3_PCID_NOFLUSH) !== 0n;
    cr3 &= ~X86_CR3_PCID_NOFLUSH;
    pcid = cr3 & X86_CR3_PCID_MASK;
  }
  let new_pgd: bigint | null = null;
  let load_pdptrs = false;
  if (!(cr3 === s.cr3 && !is_pae_paging(s))) {
    if (!kvm_vcpu_is_legal_cr3(profile, cr3, ctx)) return { rc: 1, new_pgd: null, invalidate_pcid: null, load_pdptrs: false };
    if (is_pae_paging(s)) load_pdptrs = true;
    if (cr3 !== s.cr3) new_pgd = cr3;
    s.cr3 = cr3;
  }
  return { rc: 0, new_pgd, invalidate_pcid: skip ? null : pcid, load_pdptrs };
}

/**
 * @kernel mmu.h kvm_get_active_cr3_lam_bits: CR3 & (LAM_U48 | LAM_U57) when the guest has LAM
 * (and the profile virtualizes it), else 0.
 */
export function kvm_get_active_cr3_lam_bits(profile: Profile, cr3: bigint, guest_lam: boolean): bigint {
  if (!profile.cpu.lam.supported || !guest_lam) return 0n;
  return cr3 & (X86_CR3_LAM_U48 | X86_CR3_LAM_U57);
}

export interface ShadowRootOfCr3 {
  /** The guest page-table root GFN. */
  readonly root_gfn: bigint;
  /** The root's pgd: the vCPU's CR3 as is (LAM bits included), the key roots are matched on. */
  readonly pgd: bigint;
  /** The CR3 KVM loads for shadow paging: root HPA | active PCID | active LAM bits. */
  readonly hw_cr3: bigint;
}

/**
 * The root_gfn step of mmu.c mmu_alloc_shadow_roots (src/mmu/pages/roots.ts) and vmx.c
 * vmx_load_mmu_pgd's shadow-paging CR3:
 * 6.x takes the GFN with the widest base-address mask (bits 51:12), so LAM bits never reach it,
 * while the pgd keeps them so every CR3+LAM combination has its own root; 5.16 shifts CR3 by 12.
 * For the MMU: `pgd` is the cached-root key, `root_gfn` the table to shadow.
 */
export function shadowRootOfCr3(profile: Profile, cr3: bigint, cr4: bigint, guest_lam: boolean, root_hpa: bigint): ShadowRootOfCr3 {
  const root_gfn = profile.cpu.cr.root_gfn_uses_base_addr_mask ? (cr3 & PT_BASE_ADDR_MASK) >> 12n : cr3 >> 12n;
  const pcid = cr4 & X86_CR4_PCIDE ? cr3 & X86_CR3_PCID_MASK : 0n;
  const hw_cr3 = root_hpa | pcid | kvm_get_active_cr3_lam_bits(profile, cr3, guest_lam);
  return { root_gfn, pgd: cr3, hw_cr3 };
}

const CR4_ROLE_BITS = BigInt(KVM_MMU_CR4_ROLE_BITS);

/**
 * The test kvm_post_set_cr4 (mmu/vm.ts setCr4) makes: a change of a CR4 role bit resets the MMU
 * context. CR4.LA57 is one (a 5-level guest gets a new root level); CR4.LAM_SUP is not, and needs
 * no emulated TLB flush either (LAM KVM enabling v7, kvm@vger.kernel.org 2023-04).
 */
export function cr4ChangeResetsMmu(old_cr4: bigint, cr4: bigint): boolean {
  return ((old_cr4 ^ cr4) & CR4_ROLE_BITS) !== 0n;
}
