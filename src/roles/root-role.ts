/**
 * The root roles an MMU context ends up with, for each kind of MMU: the one entry point that
 * picks the profile's pipeline (5.x MMU role or 6.x CPU role + root role). Each branch follows
 * the kernel's init function for that MMU (init_kvm_tdp_mmu, kvm_init_shadow_mmu,
 * kvm_init_shadow_npt_mmu, kvm_init_shadow_ept_mmu, init_kvm_nested_mmu).
 */
import { badInput } from '../bits/errors.js';
import type { Profile } from '../profiles/index.js';
import { kvm_calc_cpu_role, kvm_init_shadow_mmu_root_role, kvm_init_shadow_npt_mmu_roles } from './cpu-role.js';
import { roleLayout } from './layout.js';
import { kvm_calc_nested_mmu_role, kvm_calc_shadow_mmu_root_page_role, kvm_calc_shadow_npt_root_page_role } from './mmu-role.js';
import { kvm_calc_shadow_ept_root_page_role, kvm_calc_tdp_mmu_root_page_role } from './root-page-role.js';
import { ____is_cr0_pg, X86_CR4_PKE, role_regs_to_root_level, vcpu_to_role_regs, type RoleRegs } from './regs.js';
import type { EptInput, MmuKind, Role64, RootRoleResult, RoleVcpu } from './types.js';
import { get } from './word.js';

/** The default shadow-EPT inputs: a 4-level EPTP with A/D, no execute-only. */
export const DEFAULT_EPT: EptInput = Object.freeze({ level: 4, accessed_dirty: true, execonly: false });

function result(mmu: MmuKind, word: number, ext: number, cpu_word: number | null, root_level: number, shadow_root_level: number, direct_map: boolean): RootRoleResult {
  return { mmu, word, ext, cpu_word, root_level, shadow_root_level, direct_map };
}

/**
 * The guest's CPU role. 6.x: kvm_calc_cpu_role. 5.x has no separate CPU role; its nearest
 * equivalent, returned here, is the nested MMU's role (shadow common + level = guest levels).
 */
export function guestCpuRole(profile: Profile, vcpu: RoleVcpu): Role64 {
  const regs = vcpu_to_role_regs(vcpu);
  return profile.roles.pipeline === 'cpu_role' ? kvm_calc_cpu_role(profile, vcpu, regs) : kvm_calc_nested_mmu_role(profile, vcpu, regs);
}

/**
 * The role state of an MMU of kind `mmu` after its init function, for the vCPU state `vcpu`
 * (for `npt`, `vcpu`'s registers are L1's, as KVM passes them). `ept` is used only for `ept`.
 * With the CPU-role pipeline the CPU role is computed first and reported (`cpu_word`), and the
 * extended role is the CPU role's; with the MMU-role pipeline the MMU role's base is the root.
 */
export function calcRootRole(profile: Profile, mmu: MmuKind, vcpu: RoleVcpu, ept: EptInput = DEFAULT_EPT): RootRoleResult {
  const l = roleLayout(profile);
  const lv = (w: number) => get(l, w, 'level');
  const direct = (w: number) => get(l, w, 'direct') === 1;
  const cpuRoles = profile.roles.pipeline === 'cpu_role';
  switch (mmu) {
    case 'tdp': {
      const regs = vcpu_to_role_regs(vcpu);
      const r = kvm_calc_tdp_mmu_root_page_role(profile, vcpu, regs, false);
      const cpu = cpuRoles ? kvm_calc_cpu_role(profile, vcpu, regs).base : null;
      return result(mmu, r.base, r.ext, cpu, role_regs_to_root_level(regs), lv(r.base), direct(r.base));
    }
    case 'shadow': {
      const regs = vcpu_to_role_regs(vcpu);
      if (cpuRoles) {
        const cpu = kvm_calc_cpu_role(profile, vcpu, regs);
        const root = kvm_init_shadow_mmu_root_role(profile, cpu);
        return result(mmu, root, cpu.ext, cpu.base, lv(cpu.base), lv(root), direct(root));
      }
      const r = kvm_calc_shadow_mmu_root_page_role(profile, vcpu, regs, false);
      return result(mmu, r.base, r.ext, null, role_regs_to_root_level(regs), lv(r.base), !____is_cr0_pg(regs));
    }
    case 'npt': {
      if (cpuRoles) {
        const { cpu_role, root_role } = kvm_init_shadow_npt_mmu_roles(profile, vcpu, vcpu);
        return result(mmu, root_role, cpu_role.ext, cpu_role.base, lv(cpu_role.base), lv(root_role), direct(root_role));
      }
      const regs = nptRegs(vcpu);
      const r = kvm_calc_shadow_npt_root_page_role(profile, vcpu, regs);
      return result(mmu, r.base, r.ext, null, role_regs_to_root_level(regs), lv(r.base), !____is_cr0_pg(regs));
    }
    case 'ept': {
      checkEpt(ept);
      const r = kvm_calc_shadow_ept_root_page_role(profile, vcpu.smm, ept);
      return result(mmu, r.base, r.ext, cpuRoles ? r.base : null, ept.level, ept.level, false);
    }
    case 'nested': {
      // 6.x: the nested MMU's role is the CPU role itself.
      const regs = vcpu_to_role_regs(vcpu);
      const r = cpuRoles ? kvm_calc_cpu_role(profile, vcpu, regs) : kvm_calc_nested_mmu_role(profile, vcpu, regs);
      return result(mmu, r.base, r.ext, cpuRoles ? r.base : null, lv(r.base), 0, false);
    }
  }
}

function checkEpt(ept: EptInput): void {
  if (ept.level !== 4 && ept.level !== 5) badInput('ept.level', `EPT walk length must be 4 or 5, got ${ept.level}`);
}

/** kvm_init_shadow_npt_mmu's regs: L1's CR0/CR4/EFER as passed, CR4.PKE dropped. */
function nptRegs(vcpu: RoleVcpu): RoleRegs {
  return { cr0: vcpu.cr0 >>> 0, cr4: (vcpu.cr4 & ~X86_CR4_PKE) >>> 0, efer: vcpu.efer >>> 0 };
}
