/**
 * The 5.x role pipeline (v5.16 and v5.17-rc, with or without the RFC): one 64-bit
 * `union kvm_mmu_role` per MMU context, its base doubling as the root page role
 * (arch/x86/kvm/mmu/mmu.c). Reference: shadow-mmu.md §b.2, §b.5. The root page roles both
 * pipelines compute (TDP, shadow EPT) are in ./root-page-role.ts.
 */
import type { Profile } from '../profiles/index.js';
import { kvm_mmu_get_tdp_level } from './host.js';
import { roleLayout } from './layout.js';
import {
  ACC_ALL,
  PT32E_ROOT_LEVEL,
  PT64_ROOT_4LEVEL,
  PT64_ROOT_5LEVEL,
  ____is_cr0_pg,
  ____is_cr0_wp,
  ____is_cr4_la57,
  ____is_cr4_pae,
  ____is_cr4_pke,
  ____is_cr4_pse,
  ____is_cr4_smap,
  ____is_cr4_smep,
  ____is_efer_lma,
  ____is_efer_nx,
  role_regs_to_root_level,
  type RoleRegs,
} from './regs.js';
import { rfcNptRoot, rfcShadowRoot } from './rfc.js';
import type { Role64, RoleVcpu } from './types.js';
import { get, put, withGpteFromPaging } from './word.js';

/** @kernel mmu.c kvm_calc_mmu_role_ext */
export function kvm_calc_mmu_role_ext(profile: Profile, regs: RoleRegs): number {
  const x = roleLayout(profile, 'kvm_mmu_extended_role');
  let ext = 0;
  if (____is_cr0_pg(regs)) {
    ext = put(x, ext, 'cr0_pg', 1);
    ext = put(x, ext, 'cr4_pae', ____is_cr4_pae(regs));
    ext = put(x, ext, 'cr4_smep', ____is_cr4_smep(regs));
    ext = put(x, ext, 'cr4_smap', ____is_cr4_smap(regs));
    ext = put(x, ext, 'cr4_pse', ____is_cr4_pse(regs));
    // PKE and LA57 count only in long mode.
    ext = put(x, ext, 'cr4_pke', ____is_efer_lma(regs) && ____is_cr4_pke(regs));
    ext = put(x, ext, 'cr4_la57', ____is_efer_lma(regs) && ____is_cr4_la57(regs));
    ext = put(x, ext, 'efer_lma', ____is_efer_lma(regs));
  }
  return put(x, ext, 'valid', 1);
}

/** @kernel mmu.c kvm_calc_mmu_role_common */
export function kvm_calc_mmu_role_common(profile: Profile, vcpu: RoleVcpu, regs: RoleRegs, base_only: boolean): Role64 {
  const l = roleLayout(profile);
  let base = put(l, 0, 'access', ACC_ALL);
  if (____is_cr0_pg(regs)) {
    base = put(l, base, 'efer_nx', ____is_efer_nx(regs));
    base = put(l, base, 'cr0_wp', ____is_cr0_wp(regs));
  }
  base = put(l, base, 'smm', vcpu.smm);
  base = put(l, base, 'guest_mode', vcpu.guest_mode);
  return { base, ext: base_only ? 0 : kvm_calc_mmu_role_ext(profile, regs) };
}

/**
 * @kernel mmu.c kvm_calc_shadow_root_page_role_common
 * smep/smap_andnot_wp read the *extended* role, which is zero when `base_only`.
 */
export function kvm_calc_shadow_root_page_role_common(profile: Profile, vcpu: RoleVcpu, regs: RoleRegs, base_only: boolean): Role64 {
  const l = roleLayout(profile);
  const x = roleLayout(profile, 'kvm_mmu_extended_role');
  const role = kvm_calc_mmu_role_common(profile, vcpu, regs, base_only);
  const wp = ____is_cr0_wp(regs);
  let base = put(l, role.base, 'smep_andnot_wp', get(x, role.ext, 'cr4_smep') === 1 && !wp);
  base = put(l, base, 'smap_andnot_wp', get(x, role.ext, 'cr4_smap') === 1 && !wp);
  base = withGpteFromPaging(profile, l, base, ____is_cr0_pg(regs), ____is_cr4_pae(regs));
  return { base, ext: role.ext };
}

/** @kernel mmu.c kvm_calc_shadow_mmu_root_page_role */
export function kvm_calc_shadow_mmu_root_page_role(profile: Profile, vcpu: RoleVcpu, regs: RoleRegs, base_only: boolean): Role64 {
  const l = roleLayout(profile);
  const role = kvm_calc_shadow_root_page_role_common(profile, vcpu, regs, base_only);
  let base = put(l, role.base, 'direct', !____is_cr0_pg(regs));
  // Without long mode KVM shadows with PAE paging (non-paging and both 32-bit modes).
  const level = !____is_efer_lma(regs) ? PT32E_ROOT_LEVEL : ____is_cr4_la57(regs) ? PT64_ROOT_5LEVEL : PT64_ROOT_4LEVEL;
  base = put(l, base, 'level', level);
  base = rfcShadowRoot(profile, l, base, regs);
  return { base, ext: role.ext };
}

/** @kernel mmu.c kvm_calc_shadow_npt_root_page_role (regs are L1's, CR4.PKE already dropped) */
export function kvm_calc_shadow_npt_root_page_role(profile: Profile, vcpu: RoleVcpu, regs: RoleRegs): Role64 {
  const l = roleLayout(profile);
  const role = kvm_calc_shadow_root_page_role_common(profile, vcpu, regs, false);
  let base = put(l, role.base, 'direct', 0);
  base = put(l, base, 'level', kvm_mmu_get_tdp_level(profile, vcpu.host));
  base = rfcNptRoot(profile, l, base, regs);
  return { base, ext: role.ext };
}

/**
 * @kernel mmu.c kvm_calc_nested_mmu_role
 * The walk-only nested MMU has no pages; `direct` is set only to catch misuse.
 */
export function kvm_calc_nested_mmu_role(profile: Profile, vcpu: RoleVcpu, regs: RoleRegs): Role64 {
  const l = roleLayout(profile);
  const role = kvm_calc_shadow_root_page_role_common(profile, vcpu, regs, false);
  let base = put(l, role.base, 'direct', 1);
  base = put(l, base, 'level', role_regs_to_root_level(regs));
  return { base, ext: role.ext };
}
