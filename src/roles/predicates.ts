/**
 * Questions the MMU asks of a role word: which address space its memslots come from, whether
 * the page shadows a guest table, and whether a page may be synced under the current root role.
 * Reference: shadow-mmu.md §a.7, §a.8, §c.3.
 */
import type { Profile } from '../profiles/index.js';
import { roleLayout } from './layout.js';
import { get } from './word.js';

/** @kernel mmu_internal.h kvm_mmu_role_as_id: address space 1 (SMM) iff role.smm. */
export function kvm_mmu_role_as_id(profile: Profile, role: number): 0 | 1 {
  return get(roleLayout(profile), role, 'smm') ? 1 : 0;
}

/**
 * @kernel mmu_internal.h sp_has_gptes (6.x): the page shadows a guest table, i.e. it is neither
 * direct nor passthrough. Profiles without `passthrough` (5.x, the RFC) test !direct, as their
 * for_each_gfn_indirect_valid_sp does.
 */
export function sp_has_gptes(profile: Profile, role: number): boolean {
  const l = roleLayout(profile);
  if (get(l, role, 'direct')) return false;
  if (l.byName.has('passthrough') && get(l, role, 'passthrough')) return false;
  return true;
}

/** The mask of role bits FNAME(sync_page) ignores (5.16 0x76f, v6.18 0x4076f, RFC 0xc076f). */
export function syncRoleIgnoreMask(profile: Profile): number {
  const l = roleLayout(profile);
  let m = 0;
  for (const name of profile.roles.sync_ignore) m |= l.byName.get(name)?.mask ?? 0;
  return m >>> 0;
}

/**
 * @kernel paging_tmpl.h FNAME(sync_page) (the role check; 6.x kvm_sync_page_check): a shadow
 * page may be synced under `root_role` iff their words agree outside the ignored bits.
 */
export function syncRoleMatches(profile: Profile, sp_role: number, root_role: number): boolean {
  return ((sp_role ^ root_role) & ~syncRoleIgnoreMask(profile)) >>> 0 === 0;
}
