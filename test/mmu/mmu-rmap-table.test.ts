/**
 * kvm.rmaps storage (rmap_table.ts): per-memslot heads with a Map fallback must read exactly as
 * the Map keyed by rmapKey it replaced: the same rmap per (gfn frame, level) and the same
 * iteration order (creation order, an emptied and re-created rmap counting as new).
 */
import { describe, expect, it } from 'vitest';
import type { Memslot } from '../../src/guest/memory.js';
import { pte_list_add, pte_list_remove, type PteList } from '../../src/mmu/pages/pte_list.js';
import { RmapTable, rmapKey } from '../../src/mmu/pages/rmap_table.js';

function slot(id: number, base_gfn: number, npages: number): Memslot {
  return { id, base_gfn, npages, readonly: false, dirty_bitmap: null };
}

/** A small LCG so the sequence is the same every run. */
function rng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

describe('RmapTable', () => {
  it('reads as a Map keyed by rmapKey under random adds and removes, slots added late and huge frames across slot edges', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = rng(seed);
      const slots: Memslot[] = [slot(0, 0, 1000)];
      const t = new RmapTable();
      t.slots = slots;
      const ref = new Map<number, PteList>();
      const held = new Map<number, { gfn: number; level: number; sptep: number }>();
      let sptep = 1;
      for (let step = 0; step < 3000; step++) {
        if (step === 700) slots.push(slot(1, 1000, 1100)); // gfns 1000..2099: 2M frames 1 to 3 only partly inside
        if (step === 1500) slots.push(slot(2, 5 * 512 * 512, 512 * 512));
        const op = r(3);
        if (op < 2 || held.size === 0) {
          const level = 1 + r(3);
          const gfn = r(4) === 0 ? 5 * 512 * 512 + r(512 * 512) : r(4000);
          const l = t.obtain(gfn, level);
          const k = rmapKey(gfn, level);
          if (!ref.has(k)) ref.set(k, l);
          expect(ref.get(k)).toBe(l);
          pte_list_add(l, sptep, true, () => 0);
          held.set(sptep, { gfn, level, sptep });
          sptep++;
        } else {
          const keys = [...held.keys()];
          const h = held.get(keys[r(keys.length)]!)!;
          held.delete(h.sptep);
          const id = t.find(h.gfn, h.level);
          expect(id).toBeGreaterThanOrEqual(0);
          const l = t.list(id);
          expect(pte_list_remove(l, h.sptep, true, () => {})).toBe(true);
          if (l.empty) {
            t.release(id);
            ref.delete(rmapKey(h.gfn, h.level));
          }
        }
        if (step % 97 === 0) {
          expect([...t.keys()]).toEqual([...ref.keys()]);
          expect([...t].map(([k, l]) => [k, l])).toEqual([...ref]);
          for (const [k, l] of ref) expect(t.get(k)).toBe(l);
          expect(t.size).toBe(ref.size);
        }
      }
      expect([...t.keys()]).toEqual([...ref.keys()]);
    }
  });
});
