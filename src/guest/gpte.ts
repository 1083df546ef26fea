/**
 * The guest-PTE helpers of paging_tmpl.h, shared by the guest walker and the shadow side (prefetch,
 * sync, invlpg): presence, access bits, the next table's gfn and the clean-PTE rule, for the
 * guest's format (WalkMmu) on 32-bit halves.
 */
import { ACC_EXEC_MASK, ACC_USER_MASK, ACC_WRITE_MASK } from './constants.js';
import type { WalkMmu } from './mmu.js';

/** An EPT entry's XWR bits (2:0) as ACC_* bits: W to ACC_WRITE_MASK, X to ACC_EXEC_MASK, R to ACC_USER_MASK. */
const EPT_ACCESS = Uint8Array.from({ length: 8 }, (_, xwr) => (xwr & 2 ? ACC_WRITE_MASK : 0) | (xwr & 4 ? ACC_EXEC_MASK : 0) | (xwr & 1 ? ACC_USER_MASK : 0));

/** @kernel paging_tmpl.h FNAME(is_present_gpte) */
export function is_present_gpte(w: WalkMmu, lo: number): boolean {
  return (lo & gpte_present_mask(w)) !== 0;
}

/** The bits is_present_gpte tests: any of XWR for EPT, P otherwise. */
export function gpte_present_mask(w: WalkMmu): number {
  return w.kind === 'ept' ? 7 : 1;
}

/**
 * @kernel paging_tmpl.h FNAME(gpte_access)
 * ACC_* bits of a gPTE (or of the walker's accumulated bits); `hi` bit 31 is XD in the 8-byte
 * formats. EPT: R stands in for ACC_USER_MASK, X for ACC_EXEC_MASK.
 */
export function gpte_access(w: WalkMmu, lo: number, hi: number): number {
  return gpte_access_in(w.kind === 'ept', w.pte_size === 8, lo, hi);
}

/**
 * gpte_access on the two facts of the format it depends on, so a loop over a table can take them
 * once (sync_page.ts) instead of reading the WalkMmu per entry.
 */
export function gpte_access_in(ept: boolean, pte8: boolean, lo: number, hi: number): number {
  if (ept) return EPT_ACCESS[lo & 7]!;
  // P stands in for ACC_EXEC_MASK; XD clears it.
  return (lo & 7) ^ (pte8 ? hi >>> 31 : 0);
}

/** @kernel paging_tmpl.h gpte_to_gfn: the gfn a non-leaf gPTE points at. */
export function gpte_to_gfn(w: WalkMmu, lo: number, hi: number): number {
  return gpte_to_gfn_in(w.pte_size === 8, lo, hi);
}

/** gpte_to_gfn on the entry size alone. */
export function gpte_to_gfn_in(pte8: boolean, lo: number, hi: number): number {
  return pte8 ? (hi & 0xfffff) * 0x100000 + (lo >>> 12) : lo >>> 12;
}

/**
 * @kernel paging_tmpl.h FNAME(protect_clean_gpte)
 * `access` without W when the gPTE is clean (D=0), so the first write faults and KVM can set D.
 */
export function protect_clean_gpte(w: WalkMmu, access: number, lo: number): number {
  return protect_clean_gpte_in(gpte_dirty_mask(w), access, lo);
}

/** The format's dirty bit (accessed_mask << 1), or 0 when it has no A/D bits. */
export function gpte_dirty_mask(w: WalkMmu): number {
  return w.have_ad ? w.accessed_mask << 1 : 0;
}

/** protect_clean_gpte on the dirty mask alone (0: no A/D bits, access unchanged). */
export function protect_clean_gpte_in(dirty_mask: number, access: number, lo: number): number {
  return dirty_mask === 0 || (lo & dirty_mask) !== 0 ? access : access & ~ACC_WRITE_MASK;
}
