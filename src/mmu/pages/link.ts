/**
 * Linking shadow pages into their parents and unlinking them (mmu.c link_shadow_page,
 * mmu_page_add_parent_pte, drop_parent_pte, mark_unsync, mmu_spte_clear_no_track, drop_spte),
 * with the RFC's pae_root parent rules. SPTE values come from the encoders of ./spte.ts and
 * ./pae_pdpte.ts, written straight into the parent page's words.
 */
import { SPTE_ENT_PER_PAGE } from './constants.js';
import type { Kvm } from './kvm.js';
import type { KvmMmuPage } from './page.js';
import { make_pae_pdpte } from '../spte/pae_pdpte.js';
import { pte_list_add, pte_list_remove } from './pte_list.js';
import { drop_spte } from './rmap.js';
import { clear_spte, is_large_pte, is_last_spte, is_mmio_spte, is_shadow_present_pte, make_nonleaf_spte } from '../spte/spte.js';
import type { Vcpu } from './vcpu.js';

/** __pa(sp->spt) */
export function spPa(sp: KvmMmuPage): number {
  return sp.pfn * 4096;
}

/** @kernel mmu.c mmu_spte_clear_no_track */
export function mmu_spte_clear_no_track(kvm: Kvm, sptep: number): void {
  clear_spte(kvm.masks, kvm.arena, kvm.spteOff(sptep));
}

/** @kernel mmu.c mmu_page_add_parent_pte */
export function mmu_page_add_parent_pte(vcpu: Vcpu, sp: KvmMmuPage, parent_pte: number): void {
  pte_list_add(sp.parent_ptes, parent_pte, vcpu.kvm.traits.pte_list_head_push, vcpu.mem.alloc_pte_list_desc);
}

/** @kernel mmu.c mmu_page_remove_parent_pte */
export function mmu_page_remove_parent_pte(kvm: Kvm, sp: KvmMmuPage, parent_pte: number): void {
  const ok = pte_list_remove(sp.parent_ptes, parent_pte, kvm.traits.pte_list_head_push, kvm.free_pte_list_desc);
  if (!ok) kvm.bug(`pte_list_remove: sptep ${parent_pte} is not a parent of sp ${sp.id} (the kernel BUGs)`);
}

/** @kernel mmu.c drop_parent_pte (RFC 5/6: a pae_root parent gets default_pae_pdpte back). */
export function drop_parent_pte(kvm: Kvm, sp: KvmMmuPage, parent_pte: number): void {
  mmu_page_remove_parent_pte(kvm, sp, parent_pte);
  const parent = kvm.sptep_to_sp(parent_pte);
  const d = kvm.default_pae_pdpte;
  if (d !== null && parent && (parent.role & kvm.rb.pae_root) !== 0) {
    // __update_clear_spte_fast(parent_pte, default_pae_pdpte)
    const w = kvm.arena;
    const off = kvm.spteOff(parent_pte);
    w[off] = d.lo;
    w[off + 1] = d.hi;
  } else {
    mmu_spte_clear_no_track(kvm, parent_pte);
  }
}

/** @kernel mmu.c mark_unsync */
export function mark_unsync(kvm: Kvm, sptep: number): void {
  const sp = kvm.sptep_to_sp(sptep)!;
  const index = sptep & (SPTE_ENT_PER_PAGE - 1);
  const w = index >>> 5;
  const b = 1 << (index & 31);
  if (sp.unsync_child_bitmap[w]! & b) return;
  sp.setUnsyncChild(index);
  if (sp.unsync_children++) return;
  kvm_mmu_mark_parents_unsync(kvm, sp);
}

/** @kernel mmu.c kvm_mmu_mark_parents_unsync */
export function kvm_mmu_mark_parents_unsync(kvm: Kvm, sp: KvmMmuPage): void {
  for (const sptep of [...sp.parent_ptes.values()]) mark_unsync(kvm, sptep);
}

/** link_shadow_page's refusal of a child at the wrong level or an invalid page (apart: the messages are most of its bytecode). */
function link_refused(kvm: Kvm, parent: KvmMmuPage, sp: KvmMmuPage): never {
  if (kvm.level(sp) !== kvm.level(parent) - 1) {
    return kvm.bug(`link_shadow_page: a level-${kvm.level(sp)} page cannot hang below a level-${kvm.level(parent)} page`);
  }
  return kvm.bug('link_shadow_page: invalid (zapped) page');
}

/**
 * A present SPTE where link_shadow_page links must be a large leaf: it is dropped first (6.x
 * __link_shadow_page; 5.16's callers already dropped it with drop_large_spte). Anything else
 * present there is refused.
 */
function drop_large_parent_spte(kvm: Kvm, parent: KvmMmuPage, sptep: number, off: number): void {
  const a = kvm.arena;
  if (is_large_pte(a[off]!) && kvm.level(parent) > 1) {
    drop_spte(kvm, sptep);
    kvm.kvm_flush_remote_tlbs();
  }
  if (is_shadow_present_pte(kvm.arena[off]!)) {
    kvm.bug(`link_shadow_page: SPTE ${sptep & (SPTE_ENT_PER_PAGE - 1)} of sp ${parent.id} is already present (0x${kvm.spte64(sptep).toString(16)})`);
  }
}

/**
 * @kernel mmu.c link_shadow_page
 * The parent slot must not hold a present SPTE (the kernel WARNs; the model refuses before
 * changing anything). Under rfc-v1* a pae_root parent gets make_pae_pdpte.
 */
export function link_shadow_page(vcpu: Vcpu, sptep: number, sp: KvmMmuPage): void {
  const kvm = vcpu.kvm;
  const parent = kvm.sptep_to_sp(sptep);
  if (parent === null) return kvm.bug(`link_shadow_page: sptep ${sptep} is not inside a shadow page`);
  const index = sptep & (SPTE_ENT_PER_PAGE - 1);
  // States FNAME(fetch) / __direct_map never create; the model refuses them before any change.
  if (kvm.level(sp) !== kvm.level(parent) - 1 || ((sp.role | parent.role) & kvm.rb.invalid) !== 0) link_refused(kvm, parent, sp);
  // The parent's entry in the host arena, found once (nothing below allocates, so it stays put).
  const a = kvm.arena;
  const off = parent.spt_base + 2 * index;
  if (is_shadow_present_pte(a[off]!)) drop_large_parent_spte(kvm, parent, sptep, off);
  if (kvm.traits.pae_root_shadow_page && (parent.role & kvm.rb.pae_root) !== 0) make_pae_pdpte(kvm.masks, spPa(sp), a, off);
  else make_nonleaf_spte(kvm.masks, spPa(sp), (sp.role & kvm.rb.ad_disabled) !== 0, a, off);
  mmu_page_add_parent_pte(vcpu, sp, sptep);
  if (sp.unsync_children || sp.unsync) mark_unsync(kvm, sptep);
}


/**
 * @kernel mmu.c mmu_page_zap_pte
 * Returns the number of child pages zapped (nested TDP rule).
 */
export function mmu_page_zap_pte(kvm: Kvm, sp: KvmMmuPage, index: number, invalid_list: KvmMmuPage[] | null, prepare_zap: (c: KvmMmuPage) => number): number {
  const lo = kvm.arena[sp.spt_base + 2 * index]!;
  const hi = kvm.arena[sp.spt_base + 2 * index + 1]!;
  const sptep = kvm.sptep(sp, index);
  if (is_shadow_present_pte(lo)) {
    if (is_last_spte(lo, kvm.level(sp))) {
      drop_spte(kvm, sptep);
    } else {
      const child = kvm.spte_to_child(lo, hi);
      if (!child) return kvm.bug(`mmu_page_zap_pte: SPTE ${index} of sp ${sp.id} points at no shadow page`);
      drop_parent_pte(kvm, child, sptep);
      if (kvm.tdp_enabled && invalid_list && (child.role & kvm.rb.guest_mode) !== 0 && child.parent_ptes.empty) {
        return prepare_zap(child);
      }
    }
  } else if (is_mmio_spte(kvm.masks, lo, hi)) {
    mmu_spte_clear_no_track(kvm, sptep);
  }
  return 0;
}
