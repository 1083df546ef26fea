/**
 * The guest-PTE reads of paging_tmpl.h the shadow side makes on its own (prefetch, sync, invlpg):
 * the prefetch validity test and the atomic gPTE read. The shared helpers (presence, access, gfn,
 * clean-PTE rule) are guest/gpte.ts's, re-exported here for the shadow side.
 */
import type { WalkMmu } from '../../guest/mmu.js';
import type { GuestMemory, Word } from '../../guest/memory.js';
import { is_rsvd_bits_set, type RsvdCheck } from '../../guest/rsvd.js';
import { gpte_present_mask } from '../../guest/gpte.js';

export { gpte_access, gpte_access_in, gpte_dirty_mask, gpte_present_mask, gpte_to_gfn, gpte_to_gfn_in, is_present_gpte, protect_clean_gpte, protect_clean_gpte_in } from '../../guest/gpte.js';

/**
 * @kernel paging_tmpl.h FNAME(prefetch_invalid_gpte) (the test; the caller drops the SPTE)
 * Not present, not accessed (when the format has A/D bits) or reserved bits at level 1.
 */
export function gpte_invalid_for_prefetch(w: WalkMmu, lo: number, hi: number): boolean {
  return gpte_invalid_for_prefetch_in(gpte_present_mask(w), w.have_ad ? w.accessed_mask : 0, w.rsvd, w.kind === 'ept', lo, hi);
}

/**
 * gpte_invalid_for_prefetch on the format's facts, taken once by a loop over a table: the
 * present mask (gpte_present_mask), the accessed bit (0 when the format has no A/D bits), the
 * reserved-bit table and whether it is EPT.
 */
export function gpte_invalid_for_prefetch_in(present_mask: number, accessed_mask: number, rsvd: RsvdCheck, ept: boolean, lo: number, hi: number): boolean {
  return (lo & present_mask) === 0 || (lo & accessed_mask) !== accessed_mask || is_rsvd_bits_set(rsvd, lo, hi, 1, ept);
}

/** kvm_vcpu_read_guest_atomic of one gPTE; false when the address is not RAM. */
export function read_gpte(w: WalkMmu, mem: GuestMemory, gpa: number, out: Word): boolean {
  return w.pte_size === 8 ? mem.read64(gpa, out) : mem.read32(gpa, out);
}
