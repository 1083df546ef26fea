/**
 * The 6.x role pipeline (5.19 and later, here v6.18): `union kvm_cpu_role` describes the
 * guest's paging mode, and each MMU context derives a separate root page role from it
 * (arch/x86/kvm/mmu/mmu.c). Reference: shadow-mmu.md §b.3. The root page roles both
 * pipelines compute (TDP, shadow EPT) are in ./root-page-role.ts.
 */
import type { Profile } from '../profiles/index.js';
import { kvm_mmu_get_tdp_level } from './host.js';
import { roleLayout } from './layout.js';
import {
  ACC_ALL,
  PT32E_ROOT_LEVEL,
  PT32_ROOT_LEVEL,
  PT64_ROOT_4LEVEL,
  PT64_ROOT_5LEVEL,
  X86_CR4_PKE,
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
  type RoleRegs,
} from './regs.js';
import type { Role64, RoleVcpu } from './types.js';
import { get, put } from './word.js';

/**
 * @kernel mmu.c kvm_calc_cpu_role
 * With paging off only access, smm, guest_mode, direct and ext.valid are set.
 */
export function kvm_calc_cpu_role(profile: Profile, vcpu: RoleVcpu, regs: RoleRegs): Role64 {
  const l = roleLayout(profile);
  const x = roleLayout(profile, 'kvm_mmu_extended_role');
  let base = put(l, 0, 'access', ACC_ALL);
  base = put(l, base, 'smm', vcpu.smm);
  base = put(l, base, 'guest_mode', vcpu.guest_mode);
  let ext = put(x, 0, 'valid', 1);
  if (!____is_cr0_pg(regs)) return { base: put(l, base, 'direct', 1), ext };

  const wp = ____is_cr0_wp(regs);
  base = put(l, base, 'efer_nx', ____is_efer_nx(regs));
  base = put(l, base, 'cr0_wp', wp);
  base = put(l, base, 'smep_andnot_wp', ____is_cr4_smep(regs) && !wp);
  base = put(l, base, 'smap_andnot_wp', ____is_cr4_smap(regs) && !wp);
  base = put(l, base, 'has_4_byte_gpte', !____is_cr4_pae(regs));
  const level = ____is_efer_lma(regs)
    ? ____is_cr4_la57(regs)
      ? PT64_ROOT_5LEVEL
      : PT64_ROOT_4LEVEL
    : ____is_cr4_pae(regs)
      ? PT32E_ROOT_LEVEL
      : PT32_ROOT_LEVEL;
  base = put(l, base, 'level', level);

  ext = put(x, ext, 'cr4_smep', ____is_cr4_smep(regs));
  ext = put(x, ext, 'cr4_smap', ____is_cr4_smap(regs));
  ext = put(x, ext, 'cr4_pse', ____is_cr4_pse(regs));
  // PKE and LA57 count only in long mode.
  ext = put(x, ext, 'cr4_pke', ____is_efer_lma(regs) && ____is_cr4_pke(regs));
  ext = put(x, ext, 'cr4_la57', ____is_efer_lma(regs) && ____is_cr4_la57(regs));
  ext = put(x, ext, 'efer_lma', ____is_efer_lma(regs));
  return { base, ext };
}

/**
 * @kernel mmu.c kvm_init_shadow_mmu (the root role it installs)
 * KVM shadows every non-64-bit guest with PAE paging, and runs shadow paging with EFER.NX on.
 */
export function kvm_init_shadow_mmu_root_role(profile: Profile, cpu_role: Role64): number {
  const l = roleLayout(profile);
  let root = put(l, cpu_role.base, 'level', Math.max(get(l, cpu_role.base, 'level'), PT32E_ROOT_LEVEL));
  if (profile.roles.root_efer_nx_forced) root = put(l, root, 'efer_nx', 1);
  return root;
}

/**
 * @kernel mmu.c kvm_init_shadow_npt_mmu (the roles it installs)
 * L1's CR4.PKE is dropped; the root has the host NPT level, and a 4-level L1 under 5-level NPT
 * gets a passthrough root.
 */
export function kvm_init_shadow_npt_mmu_roles(profile: Profile, vcpu: RoleVcpu, l1: RoleRegs): { cpu_role: Role64; root_role: number } {
  const l = roleLayout(profile);
  const cpu_role = kvm_calc_cpu_role(profile, vcpu, { cr0: l1.cr0, cr4: (l1.cr4 & ~X86_CR4_PKE) >>> 0, efer: l1.efer });
  let root = put(l, cpu_role.base, 'level', kvm_mmu_get_tdp_level(profile, vcpu.host));
  if (get(l, root, 'level') === PT64_ROOT_5LEVEL && get(l, cpu_role.base, 'level') === PT64_ROOT_4LEVEL) {
    root = put(l, root, 'passthrough', 1);
  }
  return { cpu_role, root_role: root };
}
