/**
 * Dirty logging on the shadow MMU: a memslot with KVM_MEM_LOG_DIRTY_PAGES has its leaf SPTEs
 * write-protected (without clearing MMU-writable, so the next write fault makes them writable
 * again and marks the page dirty); huge pages are not built in it (kvm_mmu_hugepage_adjust);
 * KVM_GET_DIRTY_LOG hands out the bitmap and write-protects the pages it reported.
 */
import type { Memslot } from '../../guest/memory.js';
import type { Kvm } from './kvm.js';
import { rmap_write_protect, rmapKey, rmapKeyFrame } from './rmap.js';

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

/**
 * @kernel x86.c kvm_mmu_slot_apply_flags (KVM_MEM_LOG_DIRTY_PAGES turned on or off)
 * On: an empty bitmap, the slot write-protected at 4K and up, then the remote TLB flush (always
 * since v6.1, before only when an SPTE changed). Off: the bitmap goes; the huge-page recovery
 * that follows in the kernel (kvm_mmu_zap_collapsible_sptes) is not modelled.
 */
export function kvm_mmu_slot_apply_flags(kvm: Kvm, slot: Memslot, log_dirty_pages: boolean): void {
  if (!log_dirty_pages) {
    slot.dirty_bitmap = null;
    return;
  }
  if (slot.dirty_bitmap !== null) return;
  slot.dirty_bitmap = new Uint32Array(Math.ceil(slot.npages / 32));
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
