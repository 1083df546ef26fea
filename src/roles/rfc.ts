/**
 * The role rules of Lai Jiangshan's RFC "Add and use shadow page with level promoted or acting
 * as pae_root" (2021-12-10, patches 4/6-6/6): `level_promoted` (bit 18) and `pae_root` (bit 19).
 * Consulted by the 5.x pipeline when the profile carries `rfc_pae_root`; the one rule that
 * differs between rfc-v1 and rfc-v1-pae is `promoted_test` (CR4.PSE as posted, CR4.PAE fixed).
 */
import type { Profile } from '../profiles/index.js';
import type { RoleLayout } from './layout.js';
import {
  PT32E_ROOT_LEVEL,
  ____is_cr0_pg,
  ____is_cr4_pae,
  ____is_cr4_pse,
  ____is_efer_lma,
  role_regs_to_root_level,
  type RoleRegs,
} from './regs.js';
import { get, put } from './word.js';

/** RFC 5/6 in kvm_calc_tdp_mmu_root_page_role: a level-3 TDP root (32-bit-host NPT) is a PAE root. */
export function rfcTdpRoot(profile: Profile, l: RoleLayout, word: number): number {
  if (!profile.roles.rfc_pae_root) return word;
  return get(l, word, 'level') === PT32E_ROOT_LEVEL ? put(l, word, 'pae_root', 1) : word;
}

/**
 * RFC 5/6 and 6/6 in kvm_calc_shadow_mmu_root_page_role: a guest without long mode is shadowed
 * by a PAE root; within that, a paging guest whose `promoted_test` CR4 bit is clear gets
 * `level_promoted` (as posted: CR4.PSE; the levels need CR4.PAE).
 */
export function rfcShadowRoot(profile: Profile, l: RoleLayout, word: number, regs: RoleRegs): number {
  const rfc = profile.roles.rfc_pae_root;
  if (!rfc) return word;
  if (!____is_cr0_pg(regs) || !____is_efer_lma(regs)) {
    word = put(l, word, 'pae_root', 1);
    const bitSet = rfc.promoted_test === 'pse' ? ____is_cr4_pse(regs) : ____is_cr4_pae(regs);
    if (____is_cr0_pg(regs) && !bitSet) word = put(l, word, 'level_promoted', 1);
  }
  return word;
}

/**
 * RFC 4/6 and 5/6 in kvm_calc_shadow_npt_root_page_role: promoted when the NPT level exceeds
 * L1's paging level; a PAE root when the NPT level is 3 (32-bit host).
 */
export function rfcNptRoot(profile: Profile, l: RoleLayout, word: number, regs: RoleRegs): number {
  if (!profile.roles.rfc_pae_root) return word;
  const level = get(l, word, 'level');
  if (level > role_regs_to_root_level(regs)) word = put(l, word, 'level_promoted', 1);
  if (level === PT32E_ROOT_LEVEL) word = put(l, word, 'pae_root', 1);
  return word;
}

/**
 * RFC 4/6 and 5/6 in kvm_mmu_get_page: only pages above the guest's root level are promoted,
 * and only level-3 pages can be PAE roots.
 */
export function rfcPageRole(profile: Profile, l: RoleLayout, word: number, level: number, rootLevel: number): number {
  if (!profile.roles.rfc_pae_root) return word;
  if (level <= rootLevel) word = put(l, word, 'level_promoted', 0);
  if (level < PT32E_ROOT_LEVEL) word = put(l, word, 'pae_root', 0);
  return word;
}
