import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LivePages } from '../../src/mmu/pages/live_pages.js';
import type { KvmMmuPage } from '../../src/mmu/pages/page.js';

/** Stand-ins with the three list fields LivePages uses. */
function pages(n: number): KvmMmuPage[] {
  return Array.from({ length: n }, (_, id) => ({ id, live_next: null, live_prev: null, live_owner: null }) as unknown as KvmMmuPage);
}

describe('LivePages (kvm.pages)', () => {
  it('behaves as a Set in insertion order under random add / delete sequences', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(11)), { maxLength: 80 }), (ops) => {
        const ps = pages(12);
        const l = new LivePages();
        const s = new Set<KvmMmuPage>();
        for (const [add, k] of ops) {
          const sp = ps[k]!;
          if (add) {
            l.add(sp);
            s.add(sp);
          } else expect(l.delete(sp)).toBe(s.delete(sp));
          expect(l.size).toBe(s.size);
          expect([...l]).toEqual([...s]);
          for (const p of ps) expect(l.has(p)).toBe(s.has(p));
        }
        const out: KvmMmuPage[] = [];
        l.fill(out);
        expect(out).toEqual([...s]);
      }),
    );
  });

  it('a copy of a member is not a member; two lists do not see each other', () => {
    const [a, b] = pages(2);
    const l = new LivePages();
    const other = new LivePages();
    l.add(a!);
    const dup = Object.assign(Object.create(Object.getPrototypeOf(a)), a) as KvmMmuPage;
    expect([l.has(dup), other.has(a!)]).toEqual([false, false]);
    l.add(dup).add(b!);
    expect([...l]).toEqual([a, dup, b]);
    expect(other.delete(a!)).toBe(false);
    expect(l.size).toBe(3);
  });

  it('deleting during an iteration skips what was deleted, as a Set does', () => {
    const ps = pages(5);
    const l = new LivePages();
    for (const p of ps) l.add(p);
    const seen: KvmMmuPage[] = [];
    for (const p of l) {
      seen.push(p);
      if (p === ps[1]) {
        l.delete(ps[1]!);
        l.delete(ps[3]!);
      }
    }
    expect(seen).toEqual([ps[0], ps[1], ps[2], ps[4]]);
    expect([...l]).toEqual([ps[0], ps[2], ps[4]]);
  });
});
