/**
 * kvm.write_track / kvm.lpage_disallowed storage (gfn_counts.ts): per-memslot arrays with a Map
 * fallback must read exactly as the Map<gfn, count> they replaced, order included.
 */
import { describe, expect, it } from 'vitest';
import type { Memslot } from '../../src/guest/memory.js';
import { GfnCounts } from '../../src/mmu/pages/gfn_counts.js';

function slot(id: number, base_gfn: number, npages: number): Memslot {
  return { id, base_gfn, npages, readonly: false, dirty_bitmap: null };
}

describe('GfnCounts', () => {
  it('reads as a Map under random bumps, with slots added late and gfns outside every slot', () => {
    for (let seed = 1; seed <= 20; seed++) {
      let x = seed;
      const r = (n: number) => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) % n);
      const slots: Memslot[] = [slot(0, 0, 600)];
      const t = new GfnCounts();
      t.slots = slots;
      const ref = new Map<number, number>();
      for (let step = 0; step < 4000; step++) {
        if (step === 1000) slots.push(slot(1, 600, 700));
        if (step === 2000) slots.push(slot(2, 2 ** 40, 100));
        const gfn = r(5) === 0 ? 2 ** 40 + r(100) : r(1600);
        const d = r(3) === 0 ? -1 : 1;
        const n = (ref.get(gfn) ?? 0) + d;
        if (n < 0) continue;
        if (n === 0) {
          expect(t.delete(gfn)).toBe(ref.delete(gfn));
        } else {
          ref.set(gfn, n);
          t.set(gfn, n);
        }
        expect(t.get(gfn)).toBe(ref.get(gfn));
        if (step % 101 === 0) {
          expect([...t]).toEqual([...ref]);
          expect([...t.keys()]).toEqual([...ref.keys()]);
          expect(t.size).toBe(ref.size);
        }
      }
      expect([...t]).toEqual([...ref]);
    }
  });

  it('anyIn answers as a scan of the held gfns, on both sides of its lookup-or-scan switch', () => {
    let x = 7;
    const r = (n: number) => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) % n);
    const t = new GfnCounts();
    t.slots = [slot(0, 0, 4096)];
    const held = new Set<number>();
    let checked = 0;
    for (let step = 0; step < 3000; step++) {
      const gfn = r(5000);
      if (held.has(gfn) && r(2) === 0) {
        t.delete(gfn);
        held.delete(gfn);
      } else {
        t.set(gfn, 1);
        held.add(gfn);
      }
      const n = [1, 8, 512, 4096][r(4)]!;
      const base = r(5000 - n);
      const want = [...held].some((g) => g >= base && g < base + n);
      expect(t.anyIn(base, n), `step ${step}: [${base}, ${base + n})`).toBe(want);
      checked += want ? 1 : 0;
    }
    // Both answers occur and both strategies ran (n above and below the held count).
    expect(checked).toBeGreaterThan(100);
    expect(checked).toBeLessThan(3000);
  });
});
