/**
 * Dirty logging on the shadow MMU: a memslot with KVM_MEM_LOG_DIRTY_PAGES has its leaf SPTEs
 * write-protected (without clearing MMU-writable, so the next write fault makes them writable
 * again and marks the page dirty); huge pages are not built in it (kvm_mmu_hugepage_adjust);
 * KVM_GET_DIRTY_LOG hands out the bitmap and write-protects the pages it reported; when logging
 * stops, the small SPTEs a huge page could replace are zapped.
 */
import type { Memslot } from '../../guest/memory.js';
import type { Kvm } from './kvm.js';
import { kvm_mmu_max_mapping_level } from './mapping_level.js';
import type { PteList } from './pte_list.js';
import { drop_spte, KVM_MAX_HUGEPAGE_LEVEL, rmap_write_protect, rmapKey, rmapKeyFrame } from './rmap.js';

/** @kernel kvm_host.h kvm_slot_dirty_track_enabled (dirty logging; write tracking is separate) */
export function kvm_slot_dirty_track_enabled(slot: Memslot | undefined): boolean {
  return slot !== undefined && slot.dirty_bitmap !== null;
}

/**
 * @kernel mmu.c kvm_mmu_slot_remove_write_access
 * slot_rmap_write_protect over the slot's rmaps from `start_level` up: every leaf SPTE of the
 * slot loses W (MMU-writable stays). Returns whether an SPTE changed.
 */
export function kvm_mmu_slot_remove_write_access(kvm: Kvm, slot: Memslot, start_level: number): boolean {
  let flush = false;
  const keys = [...kvm.rmaps.keys()].sort((a, b) => a - b);
  for (const key of keys) {
    const { gfn, level } = rmapKeyFrame(key);
    if (level < start_level || gfn < slot.base_gfn || gfn >= slot.base_gfn + slot.npages) continue;
    flush = rmap_write_protect(kvm, kvm.rmaps.get(key)!, false) || flush;
  }
  return flush;
}

/** PG_LEVEL_NUM: no level limit of the caller's own. */
const PG_LEVEL_NUM = 6;

/**
 * @kernel mmu.c kvm_mmu_zap_collapsible_spte
 * The SPTEs of one rmap that a larger page could now replace: those in direct shadow pages (a
 * guest huge page the host mapped smaller) whose level is below what kvm_mmu_max_mapping_level
 * allows at the page's gfn. Indirect pages stay: their size follows the guest's own tables.
 * Each is zapped alone (the page itself stays linked); returns whether a TLB flush is needed.
 */
function kvm_mmu_zap_collapsible_spte(kvm: Kvm, list: PteList, slot: Memslot): boolean {
  let flush = false;
  for (const sptep of [...list.values()]) {
    const sp = kvm.sptep_to_sp(sptep)!;
    if ((sp.role & kvm.rb.direct) === 0) continue;
    if (kvm.level(sp) >= kvm_mmu_max_mapping_level(kvm, slot, sp.gfn, PG_LEVEL_NUM)) continue;
    // kvm_zap_one_rmap_spte: the SPTE cleared and taken off the rmap.
    drop_spte(kvm, sptep);
    flush = true;
  }
  return flush;
}

/**
 * @kernel mmu.c kvm_mmu_zap_collapsible_sptes
 * After dirty logging stops: the slot's rmaps at 4K and 2M (walk_slot_rmaps up to
 * KVM_MAX_HUGEPAGE_LEVEL - 1, in gfn order per level), then one flush of the memslot's range when
 * any SPTE went (no ranged remote flush on this host, so kvm_flush_remote_tlbs_memslot).
 */
export function kvm_mmu_zap_collapsible_sptes(kvm: Kvm, slot: Memslot): void {
  let flush = false;
  const keys = [...kvm.rmaps.keys()].sort((a, b) => a - b);
  for (let level = 1; level < KVM_MAX_HUGEPAGE_LEVEL; level++) {
    for (const key of keys) {
      const { gfn, level: l } = rmapKeyFrame(key);
      if (l !== level || gfn < slot.base_gfn || gfn >= slot.base_gfn + slot.npages) continue;
      const list = kvm.rmaps.get(key);
      if (list) flush = kvm_mmu_zap_collapsible_spte(kvm, list, slot) || flush;
    }
  }
  if (flush) kvm.kvm_flush_remote_tlbs();
}

/**
 * @kernel x86.c kvm_mmu_slot_apply_flags (KVM_MEM_LOG_DIRTY_PAGES turned on or off)
 * The bitmap comes and goes first (kvm_main.c's part of the memslot update). The MMU does nothing
 * for a read-only slot. On: the slot write-protected at 4K and up, then the remote TLB flush
 * (always since v6.1, before only when an SPTE changed). Off: the SPTEs a huge page could replace
 * are zapped (kvm_mmu_zap_collapsible_sptes), so later faults build the huge pages again.
 */
export function kvm_mmu_slot_apply_flags(kvm: Kvm, slot: Memslot, log_dirty_pages: boolean): void {
  slot.dirty_bitmap = log_dirty_pages ? new Uint32Array(Math.ceil(slot.npages / 32)) : null;
  if (slot.readonly) return;
  if (!log_dirty_pages) {
    kvm_mmu_zap_collapsible_sptes(kvm, slot);
    return;
  }
  const flush = kvm_mmu_slot_remove_write_access(kvm, slot, 1);
  if (flush || kvm.traits.dirty_log_enable_always_flushes) kvm.kvm_flush_remote_tlbs();
}

/** @kernel mmu.c kvm_mmu_write_protect_pt_masked: the 4K SPTEs of the gfns set in `mask`. */
function kvm_mmu_write_protect_pt_masked(kvm: Kvm, slot: Memslot, gfn_offset: number, mask: number): void {
  for (let m = mask >>> 0; m !== 0; m &= m - 1) {
    const bit = 31 - Math.clz32(m & -m);
    const list = kvm.rmaps.get(rmapKey(slot.base_gfn + gfn_offset + bit, 1));
    if (list) rmap_write_protect(kvm, list, false);
  }
}

/**
 * @kernel kvm_main.c kvm_get_dirty_log_protect (KVM_GET_DIRTY_LOG without manual protect)
 * The dirty gfns of the slot, in order; the bitmap is cleared and those pages write-protected
 * again; one remote TLB flush when any was dirty. A slot that does not log dirty pages is
 * -ENOENT, as the kernel returns.
 */
export function kvm_get_dirty_log_protect(kvm: Kvm, slot: Memslot): number[] | null {
  const bm = slot.dirty_bitmap;
  if (bm === null) return null;
  const dirty: number[] = [];
  let flush = false;
  for (let i = 0; i < bm.length; i++) {
    const mask = bm[i]!;
    if (mask === 0) continue;
    flush = true;
    bm[i] = 0;
    for (let m = mask >>> 0; m !== 0; m &= m - 1) dirty.push(slot.base_gfn + i * 32 + (31 - Math.clz32(m & -m)));
    kvm_mmu_write_protect_pt_masked(kvm, slot, i * 32, mask);
  }
  if (flush) kvm.kvm_flush_remote_tlbs();
  return dirty;
}
