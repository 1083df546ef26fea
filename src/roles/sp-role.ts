/**
 * The role of a shadow page below a root: 5.x derives it in kvm_mmu_get_page from the MMU's
 * role (quadrants for 4-byte guest PTEs, the RFC's clearing rules); 6.x gives roots their role
 * in mmu_alloc_root and children theirs in kvm_mmu_child_role. Reference: shadow-mmu.md §c.4,
 * §c.5, §b.5; rfc-pae-root.md §2.
 */
import { badInput } from '../bits/errors.js';
import type { Profile } from '../profiles/index.js';
import { roleLayout } from './layout.js';
import { PT32_ROOT_LEVEL } from './regs.js';
import { rfcPageRole } from './rfc.js';
import { roleBits } from './role-bits.js';
import { get, has4ByteGpte, put, withGpte8 } from './word.js';

/** The MMU context a 5.x shadow page is requested in (the members kvm_mmu_get_page reads). */
export interface SpMmuContext {
  /** mmu->mmu_role.base */
  readonly mmu_role: number;
  /** mmu->direct_map */
  readonly direct_map: boolean;
  /** mmu->root_level: the guest's paging levels */
  readonly root_level: number;
  /** mmu->shadow_root_level (not read by the role code; kept for callers' checks) */
  readonly shadow_root_level: number;
}

/** A kvm_mmu_get_page request: gaddr is the guest address whose table is shadowed (quadrant only). */
export interface SpRequest {
  readonly level: number;
  readonly direct: boolean;
  /** ACC_* bits, 0..7 */
  readonly access: number;
  /** Guest address (64-bit): a bigint, or a non-negative integer number. */
  readonly gaddr: bigint | number;
}

/** Bits [shift, shift+width) of a 64-bit address (width <= 5, shift >= 21). */
function addrBits(gaddr: bigint | number, shift: number, width: number): number {
  if (typeof gaddr === 'bigint') return Number((BigInt.asUintN(64, gaddr) >> BigInt(shift)) & BigInt((1 << width) - 1));
  return Math.floor(gaddr / 2 ** shift) % 2 ** width;
}

/**
 * The quadrant of a 4-byte-gpte page: which 1/2^level part of the guest table it shadows,
 * (gaddr >> (PAGE_SHIFT + PT64_PT_BITS * level)) & ((1 << ((PT32_PT_BITS - PT64_PT_BITS) *
 * level)) - 1), stored in the 2-bit field (so truncated for levels KVM never asks for).
 */
export function spQuadrant(gaddr: bigint | number, level: number): number {
  return addrBits(gaddr, 12 + 9 * level, level) & 3;
}

function checkAccess(access: number): void {
  if (!Number.isInteger(access) || access < 0 || access > 7) badInput('access', `expected 0..7, got ${access}`);
}

/**
 * The role statements of kvm_mmu_get_page (mmu/get_page.ts) before its hash lookup, 5.x.
 * <= 5.16: direct pages get gpte_is_8_bytes = 1, and a quadrant is computed when the MMU is not
 * direct-mapped and the guest has 2 levels. >= 5.17: the quadrant is computed whenever the role
 * has 4-byte gptes (direct pages keep the bit). The RFC then clears level_promoted at or below
 * the guest's root level and pae_root below level 3.
 */
export function kvm_mmu_get_page_role(profile: Profile, mmu: SpMmuContext, req: SpRequest): number {
  const l = roleLayout(profile);
  checkAccess(req.access);
  let role = put(l, mmu.mmu_role, 'level', req.level);
  role = put(l, role, 'direct', req.direct);
  if (profile.roles.gpte_bit === 'gpte_is_8_bytes') {
    if (req.direct) role = withGpte8(profile, l, role);
    role = put(l, role, 'access', req.access);
    if (!mmu.direct_map && mmu.root_level <= PT32_ROOT_LEVEL) role = put(l, role, 'quadrant', spQuadrant(req.gaddr, req.level));
  } else {
    role = put(l, role, 'access', req.access);
    if (get(l, role, 'has_4_byte_gpte')) role = put(l, role, 'quadrant', spQuadrant(req.gaddr, req.level));
  }
  return rfcPageRole(profile, l, role, req.level, mmu.root_level);
}

/**
 * The role statements of 6.x mmu.c mmu_alloc_root (the function itself is mmu/roots.ts).
 * KVM warns (WARN_ON_ONCE) on a quadrant without 4-byte gptes and on a direct role with 4-byte
 * gptes, and carries on; so does the model: `rootRoleWarnings` names those cases.
 */
export function mmu_alloc_root_role(profile: Profile, root_role: number, level: number, quadrant: number): number {
  const l = roleLayout(profile);
  const role = put(l, root_role, 'level', level);
  return put(l, role, 'quadrant', quadrant);
}

/** The WARN_ON_ONCEs of mmu_alloc_root that a root role (with its quadrant) trips, if any. */
export function rootRoleWarnings(profile: Profile, role: number): string[] {
  const l = roleLayout(profile);
  const four = has4ByteGpte(profile, l, role);
  const w: string[] = [];
  if (get(l, role, 'quadrant') && !four) w.push('quadrant without 4-byte gptes');
  if (get(l, role, 'direct') && four) w.push('direct role with 4-byte gptes');
  return w;
}

/**
 * @kernel mmu.c kvm_mmu_child_role (6.x)
 * The parent's role one level down with the new access and direct; never passthrough; a
 * 4-byte-gpte child (level 1 only; KVM warns on others and carries on) takes its quadrant from
 * the low bit of the parent SPTE's index.
 */
export function kvm_mmu_child_role(profile: Profile, parent: number, spte_index: number, direct: boolean, access: number): number {
  const b = roleBits(profile);
  checkAccess(access);
  if (!(spte_index >= 0 && spte_index <= 511 && Number.isInteger(spte_index))) badInput('spte_index', `expected 0..511, got ${spte_index}`);
  const level = (parent & b.levelMask) >>> b.levelShift;
  if (level < 2) badInput('parent', `a level-${level} page has no child pages`);
  // The same field writes as put(), on masks taken once per profile: this runs on every shadow
  // fault's walk down (3 child pages for a full fault), where a field lookup by name per write
  // was ~5 % of the fault.
  let role = (parent & ~b.levelMask) | ((level - 1) << b.levelShift);
  role = (role & ~b.accessMask) | (access << b.accessShift);
  role = direct ? role | b.direct : role & ~b.direct;
  role &= ~b.passthrough;
  if ((role & b.gpteBit) === b.gpteBit4Byte) role = (role & ~b.quadrantMask) | (((spte_index & 1) << b.quadrantShift) & b.quadrantMask);
  return role >>> 0;
}

