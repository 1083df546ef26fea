/**
 * The guest-PTE helpers of paging_tmpl.h the shadow side needs when it reads guest entries on
 * its own (prefetch, sync, invlpg): presence, access bits, the gfn, the clean-PTE rule and the
 * 4K-level reserved-bit check, for the guest's format (WalkMmu) and on 32-bit halves.
 */
import type { WalkMmu } from '../guest/mmu.js';
import type { GuestMemory, Word } from '../guest/memory.js';
import { is_rsvd_bits_set } from '../guest/rsvd.js';
import { ACC_EXEC_MASK, ACC_USER_MASK, ACC_WRITE_MASK } from '../guest/constants.js';

/** @kernel paging_tmpl.h FNAME(is_present_gpte) */
export function is_present_gpte(w: WalkMmu, lo: number): boolean {
  return w.kind === 'ept' ? (lo & 7) !== 0 : (lo & 1) !== 0;
}

/** @kernel paging_tmpl.h FNAME(gpte_access) */
export function gpte_access(w: WalkMmu, lo: number, hi: number): number {
  if (w.kind === 'ept') return (lo & 2 ? ACC_WRITE_MASK : 0) | (lo & 4 ? ACC_EXEC_MASK : 0) | (lo & 1 ? ACC_USER_MASK : 0);
  const nx = w.pte_size === 8 ? hi >>> 31 : 0;
  return (lo & 7) ^ nx;
}

/** @kernel paging_tmpl.h gpte_to_gfn */
export function gpte_to_gfn(w: WalkMmu, lo: number, hi: number): number {
  if (w.pte_size === 4) return lo >>> 12;
  return (hi & 0xfffff) * 0x100000 + (lo >>> 12);
}

/** @kernel paging_tmpl.h FNAME(protect_clean_gpte): the access without W when the gPTE is clean. */
export function protect_clean_gpte(w: WalkMmu, access: number, lo: number): number {
  if (!w.have_ad) return access;
  return lo & (w.accessed_mask << 1) ? access : access & ~ACC_WRITE_MASK;
}

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
