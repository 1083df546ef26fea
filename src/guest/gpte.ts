/**
 * The guest-PTE helpers of paging_tmpl.h, shared by the guest walker and the shadow side (prefetch,
 * sync, invlpg): presence, access bits, the next table's gfn and the clean-PTE rule, for the
 * guest's format (WalkMmu) on 32-bit halves.
 */
import { ACC_EXEC_MASK, ACC_USER_MASK, ACC_WRITE_MASK } from './constants.js';
import type { WalkMmu } from './mmu.js';

/** @kernel paging_tmpl.h FNAME(is_present_gpte) */
export function is_present_gpte(w: WalkMmu, lo: number): boolean {
  return w.kind === 'ept' ? (lo & 7) !== 0 : (lo & 1) !== 0;
}

/**
 * @kernel paging_tmpl.h FNAME(gpte_access)
 * ACC_* bits of a gPTE (or of the walker's accumulated bits); `hi` bit 31 is XD in the 8-byte
 * formats. EPT: R stands in for ACC_USER_MASK, X for ACC_EXEC_MASK.
 */
export function gpte_access(w: WalkMmu, lo: number, hi: number): number {
  if (w.kind === 'ept') return (lo & 2 ? ACC_WRITE_MASK : 0) | (lo & 4 ? ACC_EXEC_MASK : 0) | (lo & 1 ? ACC_USER_MASK : 0);
  // P stands in for ACC_EXEC_MASK; XD clears it.
  const nx = w.pte_size === 8 ? hi >>> 31 : 0;
  return (lo & 7) ^ nx;
}

/** @kernel paging_tmpl.h gpte_to_gfn: the gfn a non-leaf gPTE points at. */
export function gpte_to_gfn(w: WalkMmu, lo: number, hi: number): number {
  if (w.pte_size === 4) return lo >>> 12;
  return (hi & 0xfffff) * 0x100000 + (lo >>> 12);
}

/**
 * @kernel paging_tmpl.h FNAME(protect_clean_gpte)
 * `access` without W when the gPTE is clean (D=0), so the first write faults and KVM can set D.
 */
export function protect_clean_gpte(w: WalkMmu, access: number, lo: number): number {
  if (!w.have_ad) return access;
  return lo & (w.accessed_mask << 1) ? access : access & ~ACC_WRITE_MASK;
}
