/**
 * The inputs of role computation: `struct kvm_mmu_role_regs` (CR0, CR4, EFER masked to the bits
 * roles depend on), its single-bit tests, and the guest's paging depth derived from it
 * (arch/x86/kvm/mmu.h, arch/x86/kvm/mmu/mmu.c).
 */
import * as R from '../bits/regs.js';


/** The register bits roles read, as unsigned 32-bit numbers (defined in bits/regs.ts). */
export const X86_CR0_PE = Number(R.X86_CR0_PE);
export const X86_CR0_WP = Number(R.X86_CR0_WP);
export const X86_CR0_PG = Number(R.X86_CR0_PG);
export const X86_CR4_PSE = Number(R.X86_CR4_PSE);
export const X86_CR4_PAE = Number(R.X86_CR4_PAE);
export const X86_CR4_LA57 = Number(R.X86_CR4_LA57);
export const X86_CR4_SMEP = Number(R.X86_CR4_SMEP);
export const X86_CR4_SMAP = Number(R.X86_CR4_SMAP);
export const X86_CR4_PKE = Number(R.X86_CR4_PKE);
export const EFER_LME = Number(R.EFER_LME);
export const EFER_LMA = Number(R.EFER_LMA);
export const EFER_NX = Number(R.EFER_NX);

/** KVM_MMU_CR0_ROLE_BITS and KVM_MMU_CR4_ROLE_BITS (mmu.h). */
export const KVM_MMU_CR0_ROLE_BITS = (X86_CR0_PG | X86_CR0_WP) >>> 0;
export const KVM_MMU_CR4_ROLE_BITS =
  X86_CR4_PSE | X86_CR4_PAE | X86_CR4_LA57 | X86_CR4_SMEP | X86_CR4_SMAP | X86_CR4_PKE;

/** Paging levels (mmu.h, kvm_host.h). */
export const PT32_ROOT_LEVEL = 2;
export const PT32E_ROOT_LEVEL = 3;
export const PT64_ROOT_4LEVEL = 4;
export const PT64_ROOT_5LEVEL = 5;
export const PG_LEVEL_4K = 1;

/** ACC_ALL: exec | write | user. */
export const ACC_ALL = 7;

/**
 * `struct kvm_mmu_role_regs`. Values are unsigned 32-bit numbers: every bit a role reads lies
 * in the low 32 bits of CR0, CR4 and EFER.
 */
export interface RoleRegs {
  readonly cr0: number;
  readonly cr4: number;
  readonly efer: number;
}

/** The vCPU state role computation reads: registers and the hidden-flag bits. */
export interface RoleVcpuState {
  readonly cr0: number;
  readonly cr4: number;
  readonly efer: number;
  /** is_smm(vcpu) */
  readonly smm: boolean;
  /** is_guest_mode(vcpu): running L2 */
  readonly guest_mode: boolean;
}

/** @kernel mmu.c vcpu_to_role_regs */
export function vcpu_to_role_regs(vcpu: RoleVcpuState): RoleRegs {
  return {
    cr0: (vcpu.cr0 & KVM_MMU_CR0_ROLE_BITS) >>> 0,
    cr4: (vcpu.cr4 & KVM_MMU_CR4_ROLE_BITS) >>> 0,
    efer: vcpu.efer >>> 0,
  };
}

/** @kernel mmu.c ____is_cr0_pg */
export const ____is_cr0_pg = (r: RoleRegs): boolean => (r.cr0 & X86_CR0_PG) !== 0;
/** @kernel mmu.c ____is_cr0_wp */
export const ____is_cr0_wp = (r: RoleRegs): boolean => (r.cr0 & X86_CR0_WP) !== 0;
/** @kernel mmu.c ____is_cr4_pse */
export const ____is_cr4_pse = (r: RoleRegs): boolean => (r.cr4 & X86_CR4_PSE) !== 0;
/** @kernel mmu.c ____is_cr4_pae */
export const ____is_cr4_pae = (r: RoleRegs): boolean => (r.cr4 & X86_CR4_PAE) !== 0;
/** @kernel mmu.c ____is_cr4_la57 */
export const ____is_cr4_la57 = (r: RoleRegs): boolean => (r.cr4 & X86_CR4_LA57) !== 0;
/** @kernel mmu.c ____is_cr4_smep */
export const ____is_cr4_smep = (r: RoleRegs): boolean => (r.cr4 & X86_CR4_SMEP) !== 0;
/** @kernel mmu.c ____is_cr4_smap */
export const ____is_cr4_smap = (r: RoleRegs): boolean => (r.cr4 & X86_CR4_SMAP) !== 0;
/** @kernel mmu.c ____is_cr4_pke */
export const ____is_cr4_pke = (r: RoleRegs): boolean => (r.cr4 & X86_CR4_PKE) !== 0;
/** @kernel mmu.c ____is_efer_nx */
export const ____is_efer_nx = (r: RoleRegs): boolean => (r.efer & EFER_NX) !== 0;
/** @kernel mmu.c ____is_efer_lma */
export const ____is_efer_lma = (r: RoleRegs): boolean => (r.efer & EFER_LMA) !== 0;

/** @kernel mmu.c role_regs_to_root_level (5.x; the 6.x CPU role's level is the same value) */
export function role_regs_to_root_level(regs: RoleRegs): number {
  if (!____is_cr0_pg(regs)) return 0;
  if (____is_efer_lma(regs)) return ____is_cr4_la57(regs) ? PT64_ROOT_5LEVEL : PT64_ROOT_4LEVEL;
  if (____is_cr4_pae(regs)) return PT32E_ROOT_LEVEL;
  return PT32_ROOT_LEVEL;
}
