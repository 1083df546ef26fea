/**
 * Roles of TDP-MMU pages (arch/x86/kvm/mmu/tdp_mmu.c): 5.x page_role_for_level for roots and
 * children alike; 6.x roots copy the MMU's root role (TDX mirror roots add is_mirror) and each
 * child is its parent's role one level down.
 */
import { badInput } from '../bits/errors.js';
import type { Profile } from '../profiles/index.js';
import { roleLayout } from './layout.js';
import { ACC_ALL } from './regs.js';
import { get, put, withGpte8 } from './word.js';

/** @kernel tdp_mmu.c page_role_for_level (5.x) */
export function page_role_for_level(profile: Profile, mmu_role: number, ad_enabled: boolean, level: number): number {
  const l = roleLayout(profile);
  let role = put(l, mmu_role, 'level', level);
  role = put(l, role, 'direct', 1);
  role = withGpte8(profile, l, role);
  role = put(l, role, 'access', ACC_ALL);
  return put(l, role, 'ad_disabled', !ad_enabled);
}

/** @kernel tdp_mmu.c kvm_tdp_mmu_alloc_root (6.x: the role statements) */
export function kvm_tdp_mmu_alloc_root_role(profile: Profile, root_role: number, mirror: boolean): number {
  const l = roleLayout(profile);
  if (!mirror) return root_role >>> 0;
  if (!l.byName.has('is_mirror')) badInput('mirror', `profile ${profile.name} has no TDX mirror roots`);
  return put(l, root_role, 'is_mirror', 1);
}

/** @kernel tdp_mmu.c tdp_mmu_init_child_sp (6.x: the role statements) */
export function tdp_mmu_init_child_sp_role(profile: Profile, parent: number): number {
  const l = roleLayout(profile);
  const level = get(l, parent, 'level');
  if (level < 2) badInput('parent', `a level-${level} page has no child pages`);
  return put(l, parent, 'level', level - 1);
}
