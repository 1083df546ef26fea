/**
 * The page-role derivations the shadow-page code needs (computed by src/roles): the 5.x role
 * statements at the top of kvm_mmu_get_page, and 6.x mmu_alloc_root / kvm_mmu_child_role.
 * Interim local versions until the role computation lands in src/roles; then these re-export it.
 */
import type { Profile } from '../profiles/index.js';
import { getField, hasField, roleLayout, setField } from '../roles/layout.js';
import type { MmuContext } from './vcpu.js';

/** 5.x: the role of a page requested by kvm_mmu_get_page(gfn, gaddr, level, direct, access). */
export function sp_role(profile: Profile, ctx: MmuContext, level: number, direct: boolean, access: number, gaddr: bigint): number {
  const l = roleLayout(profile);
  let r = ctx.mmu_role;
  r = setField(l, r, 'level', level);
  r = setField(l, r, 'direct', direct ? 1 : 0);
  // 5.16 forces gpte_is_8_bytes on direct pages; the v5.17-rc role code (has_4_byte_gpte) leaves
  // the bit as the MMU role has it (golden sp_role vectors).
  if (direct && hasField(l, 'gpte_is_8_bytes')) r = setField(l, r, 'gpte_is_8_bytes', 1);
  r = setField(l, r, 'access', access);
  if (!ctx.direct_map && ctx.root_level <= 2) {
    let q = Number((gaddr >> BigInt(12 + 9 * level)) & 0xffffn);
    q &= (1 << level) - 1;
    r = setField(l, r, 'quadrant', q & 3);
  }
  if (hasField(l, 'level_promoted') && getField(l, r, 'level_promoted') && level <= ctx.root_level) r = setField(l, r, 'level_promoted', 0);
  if (hasField(l, 'pae_root') && getField(l, r, 'pae_root') && level < 3) r = setField(l, r, 'pae_root', 0);
  return r >>> 0;
}

/** 6.x: the role statements of mmu_alloc_root. */
export function sp_root_role(profile: Profile, root_role: number, level: number, quadrant: number): number {
  const l = roleLayout(profile);
  return setField(l, setField(l, root_role, 'level', level), 'quadrant', quadrant) >>> 0;
}

/** 6.x: kvm_mmu_child_role(parent role, direct, access, index of the parent SPTE). */
export function sp_child_role(profile: Profile, parent: number, direct: boolean, access: number, spte_index: number): number {
  const l = roleLayout(profile);
  let r = setField(l, parent, 'level', getField(l, parent, 'level') - 1);
  r = setField(l, r, 'access', access);
  r = setField(l, r, 'direct', direct ? 1 : 0);
  if (hasField(l, 'passthrough')) r = setField(l, r, 'passthrough', 0);
  if (getField(l, r, 'has_4_byte_gpte')) r = setField(l, r, 'quadrant', spte_index & 1);
  return r >>> 0;
}
