/**
 * The root page roles that both role pipelines compute, one function per kernel function: the
 * TDP root role, the shadow-EPT root role, and 5.x's base-only root role for the fast PGD
 * switch. What differs between kernels is read from the role traits where it acts.
 */
import type { Profile } from '../profiles/index.js';
import { kvm_calc_cpu_role } from './cpu-role.js';
import { kvm_mmu_get_tdp_level } from './host.js';
import { roleLayout } from './layout.js';
import { kvm_calc_mmu_role_common, kvm_calc_shadow_mmu_root_page_role } from './mmu-role.js';
import { ACC_ALL, vcpu_to_role_regs, type RoleRegs } from './regs.js';
import { rfcTdpRoot } from './rfc.js';
import type { EptInput, Role64, RoleVcpu } from './types.js';
import { get, put, withGpte8 } from './word.js';

/**
 * @kernel mmu.c kvm_calc_tdp_mmu_root_page_role
 * The MMU-role pipeline starts from kvm_calc_mmu_role_common (the guest's efer_nx and cr0_wp
 * when paging, and its extended role); the CPU-role pipeline builds the role from zero: only smm
 * and guest_mode come from the CPU role, cr0_wp is constant 1 and efer_nx is 1 where
 * root_efer_nx_forced (else the CPU role's), and `ext` is the CPU role's. Then ad_disabled, the
 * host TDP level, direct, bit 4 (8-byte gptes) and the RFC's pae_root.
 */
export function kvm_calc_tdp_mmu_root_page_role(profile: Profile, vcpu: RoleVcpu, regs: RoleRegs, base_only: boolean): Role64 {
  const l = roleLayout(profile);
  let base: number;
  let ext: number;
  if (profile.roles.pipeline === 'cpu_role') {
    const cpu = kvm_calc_cpu_role(profile, vcpu, regs);
    base = put(l, 0, 'access', ACC_ALL);
    base = put(l, base, 'cr0_wp', 1);
    base = put(l, base, 'efer_nx', profile.roles.root_efer_nx_forced ? 1 : get(l, cpu.base, 'efer_nx'));
    base = put(l, base, 'smm', get(l, cpu.base, 'smm'));
    base = put(l, base, 'guest_mode', get(l, cpu.base, 'guest_mode'));
    ext = cpu.ext;
  } else {
    ({ base, ext } = kvm_calc_mmu_role_common(profile, vcpu, regs, base_only));
  }
  base = put(l, base, 'ad_disabled', !vcpu.host.ad_enabled);
  base = put(l, base, 'level', kvm_mmu_get_tdp_level(profile, vcpu.host));
  base = put(l, base, 'direct', 1);
  base = withGpte8(profile, l, base);
  base = rfcTdpRoot(profile, l, base);
  return { base, ext };
}

/**
 * @kernel mmu.c kvm_calc_shadow_ept_root_page_role
 * Built from scratch: no guest register is consulted. smm is root_mmu's where
 * shadow_ept_root_copies_smm, else 0 (no SMM transfer monitor).
 */
export function kvm_calc_shadow_ept_root_page_role(profile: Profile, root_mmu_smm: boolean, ept: EptInput): Role64 {
  const l = roleLayout(profile);
  const x = roleLayout(profile, 'kvm_mmu_extended_role');
  let base = put(l, 0, 'smm', profile.roles.shadow_ept_root_copies_smm && root_mmu_smm);
  base = put(l, base, 'level', ept.level);
  base = withGpte8(profile, l, base);
  base = put(l, base, 'direct', 0);
  base = put(l, base, 'ad_disabled', !ept.accessed_dirty);
  base = put(l, base, 'guest_mode', 1);
  base = put(l, base, 'access', ACC_ALL);
  let ext = put(x, 0, 'execonly', ept.execonly);
  ext = put(x, ext, 'valid', 1);
  return { base, ext };
}

/**
 * @kernel mmu.c kvm_mmu_calc_root_page_role (5.x)
 * The base-only root role kvm_mmu_new_pgd compares cached roots with. Base-only means the
 * extended role is zero, so smep/smap_andnot_wp come out 0 even with CR4.SMEP=1, CR0.WP=0
 * (shadow-mmu.md §b.2): such a vCPU never hits a cached root.
 */
export function kvm_mmu_calc_root_page_role(profile: Profile, vcpu: RoleVcpu, tdp_enabled: boolean): number {
  const regs = vcpu_to_role_regs(vcpu);
  return tdp_enabled
    ? kvm_calc_tdp_mmu_root_page_role(profile, vcpu, regs, true).base
    : kvm_calc_shadow_mmu_root_page_role(profile, vcpu, regs, true).base;
}
