/** Types shared by the role computations and their callers. */
import type { HostConfig } from './host.js';
import type { RoleVcpuState } from './regs.js';

/**
 * Which MMU a root role is for: `tdp` (root_mmu with EPT/NPT), `shadow` (root_mmu, TDP off),
 * `npt` (guest_mmu shadowing L1's NPT), `ept` (guest_mmu shadowing L1's EPT), `nested`
 * (the walk-only nested_mmu).
 */
export type MmuKind = 'tdp' | 'shadow' | 'npt' | 'ept' | 'nested';
export const MMU_KINDS: readonly MmuKind[] = ['tdp', 'shadow', 'npt', 'ept', 'nested'];

/** What role computation reads from the vCPU and the VM. */
export interface RoleVcpu extends RoleVcpuState {
  readonly host: HostConfig;
}

/** The EPTP-derived inputs of a shadow-EPT MMU (kvm_init_shadow_ept_mmu). */
export interface EptInput {
  /** EPT page-walk length, 4 or 5. */
  readonly level: number;
  /** EPTP A/D enable. */
  readonly accessed_dirty: boolean;
  /** Execute-only EPT entries allowed. */
  readonly execonly: boolean;
}

/** 5.x `union kvm_mmu_role` / 6.x `union kvm_cpu_role`: base page role plus extended role. */
export interface Role64 {
  readonly base: number;
  readonly ext: number;
}

/** The role-related state an MMU context holds after its init function ran. */
export interface RootRoleResult {
  readonly mmu: MmuKind;
  /** The root page role: 5.x `mmu_role.base`, 6.x `root_role`. */
  readonly word: number;
  /** The extended role: 5.x `mmu_role.ext`, 6.x `cpu_role.ext`. */
  readonly ext: number;
  /** 6.x `cpu_role.base` (the guest's paging mode); null in 5.x. */
  readonly cpu_word: number | null;
  /** The guest's paging levels: 5.x `mmu->root_level`, 6.x `cpu_role.base.level`. */
  readonly root_level: number;
  /** The level of the root KVM builds: 5.x `mmu->shadow_root_level`, 6.x `root_role.level`; 0 for nested. */
  readonly shadow_root_level: number;
  /** 5.x `mmu->direct_map`, 6.x `root_role.direct`. */
  readonly direct_map: boolean;
}
