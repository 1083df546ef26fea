import { describe, expect, it } from 'vitest';
import { PteList, pte_list_add, pte_list_remove } from '../../src/mmu/pages/pte_list.js';

function mk(headPush: boolean, n: number) {
  const l = new PteList();
  let objs = 0;
  const freed: number[] = [];
  for (let i = 0; i < n; i++) pte_list_add(l, 100 + i, headPush, () => ++objs);
  return { l, alloc: () => ++objs, free: (o: number) => freed.push(o), freed, objs: () => objs };
}

describe('pte_list (parent_ptes)', () => {
  it('has and fill agree with the iterator in every form (empty, single, descriptors, both push orders)', () => {
    for (const headPush of [false, true]) {
      for (const n of [0, 1, 2, 14, 15, 29, 40]) {
        const { l } = mk(headPush, n);
        const it = [...l.values()];
        const out = [7];
        expect(l.fill(out)).toBe(n);
        expect(out).toEqual([7, ...it]);
        for (let s = 99; s <= 100 + n; s++) expect(l.has(s), `${headPush} ${n} ${s}`).toBe(it.includes(s));
        expect(l.has(-1)).toBe(false);
      }
    }
  });

  it('one entry is held directly; the second moves both into a descriptor', () => {
    const { l } = mk(false, 1);
    expect(l.single).toBe(100);
    pte_list_add(l, 101, false, () => 7);
    expect(l.single).toBe(-1);
    expect(l.descs).toEqual([{ obj: 7, sptes: [100, 101] }]);
  });

  it('5.x appends descriptors at the tail; 6.x pushes them at the head', () => {
    const a = mk(false, 16);
    expect(a.l.descs!.map((d) => d.sptes.length)).toEqual([14, 2]);
    expect(a.l.descs![1]!.sptes).toEqual([114, 115]);
    const b = mk(true, 16);
    expect(b.l.descs!.map((d) => d.sptes.length)).toEqual([2, 14]);
    expect(b.l.descs![0]!.sptes).toEqual([114, 115]);
  });

  it('removal fills the hole from the same (5.x) or the head (6.x) descriptor and frees empty ones', () => {
    const a = mk(false, 15);
    expect(pte_list_remove(a.l, 100, false, a.free)).toBe(true);
    expect(a.l.descs![0]!.sptes[0]).toBe(113);
    expect(pte_list_remove(a.l, 114, false, a.free)).toBe(true);
    expect(a.freed).toEqual([2]);
    const b = mk(true, 15);
    // tail descriptor [100..113], head [114]
    expect(pte_list_remove(b.l, 100, true, b.free)).toBe(true);
    expect(b.l.descs).toHaveLength(1);
    expect(b.l.descs![0]!.sptes[0]).toBe(114);
    expect(b.freed).toEqual([2]);
  });

  it('never returns to the single form while entries remain; empty frees everything', () => {
    const a = mk(false, 2);
    pte_list_remove(a.l, 100, false, a.free);
    expect(a.l.single).toBe(-1);
    expect(a.l.count()).toBe(1);
    pte_list_remove(a.l, 101, false, a.free);
    expect(a.l.empty).toBe(true);
    expect(a.freed).toEqual([1]);
    expect(pte_list_remove(a.l, 101, false, a.free)).toBe(false);
  });
});
