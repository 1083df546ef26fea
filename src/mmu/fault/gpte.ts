/**
 * The guest-PTE reads of paging_tmpl.h the shadow side makes on its own (prefetch, sync, invlpg):
 * the prefetch validity test and the atomic gPTE read. The shared helpers (presence, access, gfn,
 * clean-PTE rule) are guest/gpte.ts's, re-exported here for the shadow side.
 */
import type { WalkMmu } from '../../guest/mmu.js';
import type { GuestMemory, Word } from '../../guest/memory.js';
import { is_rsvd_bits_set } from '../../guest/rsvd.js';
import { is_present_gpte } from '../../guest/gpte.js';

export { gpte_access, gpte_to_gfn, is_present_gpte, protect_clean_gpte } from '../../guest/gpte.js';

/**
 * @kernel paging_tmpl.h FNAME(prefetch_invalid_gpte) (the test; the caller drops the SPTE)
 * Not present, not accessed (when the format has A/D bits) or reserved bits at level 1.
 */
export function gpte_invalid_for_prefetch(w: WalkMmu, lo: number, hi: number): boolean {
  if (!is_present_gpte(w, lo)) return true;
  if (w.have_ad && !(lo & w.accessed_mask)) return true;
  return is_rsvd_bits_set(w.rsvd, lo, hi, 1, w.kind === 'ept');
}

/** kvm_vcpu_read_guest_atomic of one gPTE; false when the address is not RAM. */
export function read_gpte(w: WalkMmu, mem: GuestMemory, gpa: number, out: Word): boolean {
  return w.pte_size === 8 ? mem.read64(gpa, out) : mem.read32(gpa, out);
}
