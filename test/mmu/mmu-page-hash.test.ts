/**
 * The page hash's records (src/mmu/pages/page_hash.ts) against the page objects: after any
 * sequence of get_page / zap / zap_all_fast / unsync / link, each bucket holds the live pages
 * whose gfn hashes there, newest first (hlist_add_head order), each slot's record is its page's
 * gfn, role and generation, and the walks that read the records find what a walk over the
 * objects finds.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { auditClean, auditReport } from '../../src/mmu/vm/audit.js';
import { gfnHash } from '../../src/mmu/pages/kvm.js';
import type { Kvm } from '../../src/mmu/pages/kvm.js';
import type { KvmMmuPage } from '../../src/mmu/pages/page.js';
import { NIL, recordGfn, REC_WORDS } from '../../src/mmu/pages/page_hash.js';
import { gfnValidPagesWithGptes } from '../../src/mmu/pages/unsync.js';
import { KVM_NUM_MMU_PAGES } from '../../src/roles/hash.js';
import { Model } from '../support/mmu.js';
import { ShadowMmuError } from '../../src/bits/errors.js';

/** Three gfns sharing one bucket, and three others: chains of several pages and collisions. */
const B0 = gfnHash(0x40);
const SAME: number[] = [0x40];
for (let g = 0x41; SAME.length < 3; g++) if (gfnHash(g) === B0) SAME.push(g);
const GFNS = [...SAME, 0x41, 0x42, 0x43];

/** The reference: per bucket the live pages hashing there, newest (highest id) first. */
function referenceBuckets(kvm: Kvm): Map<number, KvmMmuPage[]> {
  const out = new Map<number, KvmMmuPage[]>();
  for (const sp of kvm.pages) {
    const b = gfnHash(sp.gfn);
    const l = out.get(b) ?? [];
    l.push(sp);
    out.set(b, l);
  }
  for (const l of out.values()) l.sort((a, b) => b.id - a.id);
  return out;
}

function expectIndexMatchesObjects(kvm: Kvm): void {
  const hash = kvm.mmu_page_hash;
  const ref = referenceBuckets(kvm);
  let n = 0;
  for (let b = 0; b < KVM_NUM_MMU_PAGES; b++) {
    const got = [...hash.bucket(b)];
    expect(got).toEqual(ref.get(b) ?? []);
    for (const sp of got) {
      n++;
      expect(hash.recordAgrees(sp.hash_slot, sp)).toBe(true);
      expect(recordGfn(hash.rec, sp.hash_slot * REC_WORDS)).toBe(sp.gfn);
    }
  }
  expect(n).toBe(kvm.pages.size);
  expect(hash.used).toBe(kvm.pages.size);
  expect(kvm.hashed).toBe(kvm.pages.size);
  // The record walk for_each_gfn_valid_sp_with_gptes against the same filter over the objects.
  for (const gfn of GFNS) {
    const want = (ref.get(gfnHash(gfn)) ?? []).filter((sp) => sp.gfn === gfn && !kvm.is_obsolete_sp(sp) && kvm.sp_has_gptes(sp));
    expect(gfnValidPagesWithGptes(kvm, gfn)).toEqual(want);
  }
}

type Op =
  | { kind: 'get_page'; gfn: number; level: number; direct: boolean }
  | { kind: 'zap'; pick: number }
  | { kind: 'zap_all_fast' }
  | { kind: 'unsync'; gfn: number }
  | { kind: 'link'; pick: number; index: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('get_page' as const), gfn: fc.constantFrom(...GFNS), level: fc.integer({ min: 1, max: 3 }), direct: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('zap' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('zap_all_fast' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('unsync' as const), gfn: fc.constantFrom(...GFNS) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('link' as const), pick: fc.nat(), index: fc.integer({ min: 0, max: 511 }) }) },
);

/** A live named page other than the root, or null. */
function pick(m: Model, names: string[], k: number): string | null {
  const live = names.filter((n) => {
    const sp = m.r.pageNamed(n);
    return sp !== null && sp !== undefined && m.kvm.pages.has(sp);
  });
  return live.length ? live[k % live.length]! : null;
}

function apply(m: Model, names: string[], op: Op): void {
  switch (op.kind) {
    case 'get_page': {
      const name = `p${names.length}`;
      names.push(name);
      m.do({ op: 'topup' });
      m.do({ op: 'get_page', name, gfn: op.gfn, level: op.level, direct: op.direct });
      return;
    }
    case 'zap': {
      const n = pick(m, names, op.pick);
      if (n) m.do({ op: 'zap', page: n });
      return;
    }
    case 'zap_all_fast':
      m.do({ op: 'zap_all_fast' });
      m.do({ op: 'load' });
      return;
    case 'unsync':
      m.do({ op: 'unsync', gfn: op.gfn });
      return;
    case 'link': {
      const n = pick(m, names, op.pick);
      const child = n ? m.r.pageNamed(n)! : null;
      if (!child || (child.role & m.kvm.rb.invalid) !== 0 || m.kvm.level(child) !== 3) return;
      m.do({ op: 'topup' });
      m.do({ op: 'link', parent: 'root', index: op.index, child: n });
      return;
    }
  }
}

describe('the page hash index', () => {
  for (const profile of ['v5.16', 'v6.18']) {
    it(`${profile}: random get_page / zap / zap_all_fast / unsync / link keep the records equal to the objects, newest first`, () => {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 1, maxLength: 30 }), (ops) => {
          const m = new Model(profile);
          m.do({ op: 'load' });
          const names: string[] = [];
          for (const op of ops) {
            try {
              apply(m, names, op);
            } catch (e) {
              // A refused step (a link the kernel would BUG on ...) must leave a clean model.
              if (!(e instanceof ShadowMmuError)) throw e;
            }
            expectIndexMatchesObjects(m.kvm);
            expect(auditClean(m.r.m)).toBe(true);
          }
        }),
        { numRuns: 25 },
      );
    });
  }

  it('freed slots are reused and the records grow past their first 64 slots, chains intact', () => {
    const m = new Model('v6.18');
    m.do({ op: 'load' });
    for (let i = 0; i < 150; i++) {
      m.do({ op: 'topup' });
      m.do({ op: 'get_page', name: `a${i}`, gfn: 0x1000 + i, level: 1 });
    }
    const hash = m.kvm.mmu_page_hash;
    expect(hash.capacity).toBeGreaterThanOrEqual(151);
    expectIndexMatchesObjects(m.kvm);
    const freed = m.r.pageNamed('a7')!.hash_slot;
    m.do({ op: 'zap', page: 'a7' });
    expect(hash.pages[freed]).toBe(null);
    m.do({ op: 'topup' });
    m.do({ op: 'get_page', name: 'b', gfn: 0x9999, level: 1 });
    expect(m.r.pageNamed('b')!.hash_slot).toBe(freed);
    expectIndexMatchesObjects(m.kvm);
    expect(auditReport(m.r.m, 'x')).toEqual([]);
  });

  it('a zap sets the invalid bit in the record too, so get_page misses the obsolete page', () => {
    const m = new Model('v6.18');
    m.do({ op: 'load' });
    m.do({ op: 'get_page', name: 'a', gfn: 0x40, level: 3 });
    m.do({ op: 'link', parent: 'root', index: 1, child: 'a' });
    const a = m.r.pageNamed('a')!;
    m.do({ op: 'zap', page: 'a' });
    expect(m.kvm.pages.has(a)).toBe(false);
    // The root: pinned, zapped, still hashed and invalid in its record.
    const root = m.kvm.to_shadow_page(m.vcpu.mmu.root_hpa)!;
    m.do({ op: 'zap', page: 'root' });
    expect(root.hash_slot).not.toBe(NIL);
    expect(hash32(m.kvm, root) & m.kvm.rb.invalid).not.toBe(0);
    expectIndexMatchesObjects(m.kvm);
  });
});

function hash32(kvm: Kvm, sp: KvmMmuPage): number {
  return kvm.mmu_page_hash.rec[sp.hash_slot * REC_WORDS + 2]!;
}

describe('page hash records: gfns above 4G pages', () => {
  it('two gfns with the same low 32 bits in one bucket stay apart (the record filters on the low half, the page confirms)', () => {
    const lo = 0x1234;
    let hi = 1;
    while (gfnHash(hi * 2 ** 32 + lo) !== gfnHash(lo)) hi++;
    const far = hi * 2 ** 32 + lo;
    const m = new Model('v6.18');
    m.do({ op: 'load' });
    m.do({ op: 'get_page', name: 'near', gfn: lo, level: 2 });
    m.do({ op: 'get_page', name: 'far', gfn: far, level: 2 });
    const near = m.r.pageNamed('near')!;
    const farSp = m.r.pageNamed('far')!;
    expect(farSp).not.toBe(near);
    expect(recordGfn(m.kvm.mmu_page_hash.rec, farSp.hash_slot * REC_WORDS)).toBe(far);
    expect(m.kvm.stat.max_mmu_page_hash_collisions).toBe(1);
    expect(m.do({ op: 'get_page', name: 'near2', gfn: lo, level: 2 }).result['created']).toBe(false);
    expect(m.r.pageNamed('near2')).toBe(near);
    expect(m.do({ op: 'get_page', name: 'far2', gfn: far, level: 2 }).result['created']).toBe(false);
    expect(m.r.pageNamed('far2')).toBe(farSp);
    expectIndexMatchesObjects(m.kvm);
  });
});
