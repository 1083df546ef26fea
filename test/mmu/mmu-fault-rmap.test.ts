/**
 * Leaf SPTEs and rmaps (shadow-mmu.md §c.8, §c.7, §h.2 flush rules): the per-entry translation
 * (5.16 gfns[] vs 6.x shadowed_translation = gfn << 12 | access), rmap_add / rmap_remove and the
 * page counters, mmu_spte_update's flush decision per profile, spte_write_protect.
 */
import { describe, expect, it } from 'vitest';
import { SPTE_ENT_PER_PAGE } from '../../src/mmu/pages/constants.js';
import {
  drop_spte,
  kvm_mmu_page_get_access,
  kvm_mmu_page_get_gfn,
  kvm_mmu_slot_gfn_write_protect,
  mmu_spte_update,
  rmapKey,
  spte_write_protect,
} from '../../src/mmu/pages/rmap.js';
import { access, probeGuest, rig, VA } from '../support/mmu-fault.js';

function leaf(p: string, write = false) {
  const mem = probeGuest();
  if (write) mem.writeBig(0x103020, 0x300067n); // D set: the write fault maps it writable
  const r = rig(p, mem);
  access(r, VA, write ? 'write' : 'read', 3, 1n);
  const kvm = r.vm.machine.kvm;
  const sp = [...kvm.pages].find((s) => s.gfn === 0x103)!;
  return { r, kvm, sp, sptep: sp.pfn * SPTE_ENT_PER_PAGE + 4 };
}

describe('translation and rmaps', () => {
  it('5.16 keeps the gfn in gfns[i]; 6.x keeps gfn << 12 | access in shadowed_translation', () => {
    for (const p of ['v5.16', 'v6.18']) {
      const { kvm, sp } = leaf(p);
      expect(kvm_mmu_page_get_gfn(kvm, sp, 4)).toBe(0x300);
      // Access: the walked pte_access (wux & user, clean -> no W): 5 in 6.x, role.access (7) in 5.16.
      expect(kvm_mmu_page_get_access(kvm, sp, 4)).toBe(p === 'v6.18' ? 5 : 7);
      const w = kvm.mem.words(sp.gfns);
      expect(w[8]).toBe(p === 'v6.18' ? (0x300 << 12) | 5 : 0x300);
    }
  });

  it('a direct page maps gfn + index (no array); a present leaf is in the rmap of (gfn, level)', () => {
    const mem = probeGuest();
    mem.writeBig(0x102018, 0x4000e7n);
    const r = rig('v6.18', mem);
    access(r, VA, 'read');
    const kvm = r.vm.machine.kvm;
    const d = [...kvm.pages].find((s) => s.role & kvm.rb.direct)!;
    expect(d.gfns).toBe(-1);
    expect(kvm_mmu_page_get_gfn(kvm, d, 17)).toBe(0x400 + 17);
    expect(kvm.rmaps.get(rmapKey(0x404, 1))!.count()).toBe(1);
  });

  it('drop_spte clears the SPTE, removes it from its rmap and counts the page down', () => {
    const { kvm, sptep } = leaf('v6.18');
    expect(kvm.stat.pages_4k).toBe(1);
    drop_spte(kvm, sptep);
    expect(kvm.isPresent(sptep)).toBe(false);
    expect(kvm.rmaps.has(rmapKey(0x300, 1))).toBe(false);
    expect(kvm.stat.pages_4k).toBe(0);
    // Dropping a non-present SPTE does nothing.
    drop_spte(kvm, sptep);
    expect(kvm.stat.pages_4k).toBe(0);
  });
});

describe('mmu_spte_update flush decision', () => {
  it('6.x flushes only when the SPTE loses MMU-writable; 5.16 also when it loses A', () => {
    for (const [p, lostA, lostW] of [['v6.18', false, true], ['v5.16', true, true]] as const) {
      const { kvm, sptep } = leaf(p, true);
      const lo = kvm.spteLo(sptep);
      const hi = kvm.spteHi(sptep);
      expect(lo & 2).toBe(2);
      // Clear the accessed bit only.
      expect(mmu_spte_update(kvm, sptep, (lo & ~kvm.masks.accessed.lo) >>> 0, hi)).toBe(lostA);
      // Then make it read-only and not MMU-writable.
      const lo2 = kvm.spteLo(sptep);
      expect(mmu_spte_update(kvm, sptep, (lo2 & ~2 & ~kvm.masks.mmu_writable.lo) >>> 0, hi)).toBe(lostW);
    }
  });

  it('spte_write_protect: a writable leaf loses W (and MMU-writable with pt_protect); a read-only one is left alone', () => {
    const { kvm, sptep } = leaf('v6.18', true);
    expect(spte_write_protect(kvm, sptep, true)).toBe(true);
    expect(kvm.spteLo(sptep) & 2).toBe(0);
    expect(spte_write_protect(kvm, sptep, true)).toBe(false);
  });

  it('kvm_mmu_slot_gfn_write_protect walks the rmaps of 4K..1G of the gfn', () => {
    const { kvm, sptep } = leaf('v6.18', true);
    expect(kvm_mmu_slot_gfn_write_protect(kvm, 0x300, 1)).toBe(true);
    expect(kvm.spteLo(sptep) & 2).toBe(0);
    expect(kvm_mmu_slot_gfn_write_protect(kvm, 0x301, 1)).toBe(false);
  });
});
