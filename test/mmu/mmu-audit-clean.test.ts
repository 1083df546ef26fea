/**
 * The auditor's fast pass (auditClean) against its report (auditReport): each class of
 * corruption auditReport names is injected into a state that audits clean, and the per-step
 * audit of the very next step (one that does not touch the corrupted state: a top-up, a read
 * that hits) must report it, which it does only if auditClean refuses the state.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { audit, auditClean, auditCrossCheck, auditReport } from '../../src/mmu/vm/audit.js';
import type { Machine } from '../../src/mmu/vm/machine.js';
import type { KvmMmuPage } from '../../src/mmu/pages/page.js';
import { gfnHash } from '../../src/mmu/pages/kvm.js';
import { NIL, R_ROLE, REC_WORDS } from '../../src/mmu/pages/page_hash.js';
import { SPTE_ENT_PER_PAGE } from '../../src/mmu/pages/constants.js';
import { rmapKey } from '../../src/mmu/pages/rmap.js';
import { kvm_mmu_get_page } from '../../src/mmu/pages/get_page.js';
import { is_shadow_present_pte } from '../../src/mmu/spte/spte.js';
import { parseStep } from '../../src/scenario/index.js';
import { runOpsCase } from '../../src/fuzz/ops.js';
import { getProfile } from '../../src/profiles/index.js';
import { auditVm } from '../../src/mmu/vm/api.js';
import { Model, tree } from '../support/mmu.js';
import { access, LONG_MODE, probeGuest, rig, VA } from '../support/mmu-fault.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
const mut = <T>(x: T) => x as Mutable<T>;

/** The next step's audit (a top-up: it touches no page, list or counter) names `invariant`. */
function caughtNextStep(m: Model, invariant: string): void {
  expect(auditClean(m.r.m)).toBe(false);
  const next = m.r.step(100, parseStep(m.r.sc.profile, { op: 'topup' }, 100));
  expect(next.violations.map((v) => v.invariant)).toContain(invariant);
  expect(next.violations.every((v) => v.step === 'step 100 (topup)')).toBe(true);
}

function page(m: Model, name: string): KvmMmuPage {
  const sp = name === 'root' ? m.kvm.to_shadow_page(m.vcpu.mmu.root_hpa) : m.r.pageNamed(name);
  if (!sp) throw new Error(`no page ${name}`);
  return sp;
}

function built(profile = 'v6.18'): Model {
  const m = new Model(profile);
  tree(m);
  expect(auditClean(m.r.m)).toBe(true);
  return m;
}

/** Entry `i` of a page: its low half's offset in the arena. */
const off = (_m: Machine, sp: KvmMmuPage, i: number) => sp.spt_base + 2 * i;

type Case = [invariant: string, profile: string, corrupt: (m: Model) => void];

const cases: Case[] = [
  ['root-is-live-page', 'v6.18', (m) => void (m.vcpu.mmu.prev_roots[0]!.hpa = 0x7777000)],
  ['live-pages-not-freed', 'v6.18', (m) => void (page(m, 'l2').freed = true)],
  ['spte-points-at-live-page', 'v6.18', (m) => {
    const r = page(m, 'root');
    const a = m.kvm.arena;
    a[off(m.r.m, r, 7)] = (a[off(m.r.m, r, 1)]! & 0xfff) | 0x5555000;
    a[off(m.r.m, r, 7) + 1] = 0;
  }],
  ['parent-list-holds-spte', 'v6.18', (m) => void (page(m, 'l2').parent_ptes.single = -1)],
  ['no-link-to-invalid-page', 'v6.18', (m) => void (page(m, 'l2').role |= m.kvm.rb.invalid)],
  ['unsync-bitmap-covers-children', 'v6.18', (m) => void (page(m, 'l1').unsync = true)],
  ['unsync-children-count', 'v5.16', (m) => void (page(m, 'l3').unsync_children = 1)],
  ['only-leaf-pages-unsync', 'v6.18', (m) => void (page(m, 'l3').unsync = true)],
  ['parent-entry-is-present-link', 'v6.18', (m) => {
    // The link cleared in the parent, the child still listing it.
    const l3 = page(m, 'l3');
    m.kvm.arena[off(m.r.m, l3, 2)] = 0;
    m.kvm.arena[off(m.r.m, l3, 2) + 1] = 0;
  }],
  ['parent-list-size', 'v6.18', (m) => {
    const l2 = page(m, 'l2');
    const p = l2.parent_ptes.single;
    l2.parent_ptes.single = -1;
    l2.parent_ptes.descs = [{ obj: page(m, 'l1').header, sptes: [p, p] }];
  }],
  ['unsync-pages-have-gptes', 'v6.18', (m) => {
    m.do({ op: 'unsync', gfn: '0x13' });
    page(m, 'l1').role |= m.kvm.rb.direct;
  }],
  ['unsync-gfn-not-write-tracked', 'v6.18', (m) => {
    m.do({ op: 'unsync', gfn: '0x13' });
    m.kvm.write_track.set(0x13, 1);
  }],
  ['mmu-unsync-count', 'v6.18', (m) => void m.kvm.stat.mmu_unsync++],
  ['hash-once', 'v6.18', (m) => {
    const l3 = page(m, 'l3');
    const l1 = page(m, 'l1');
    expect(m.kvm.mmu_page_hash.next(l3.hash_slot)).toBe(NIL);
    m.kvm.mmu_page_hash.heads[gfnHash(l1.gfn)] = l3.hash_slot;
  }],
  ['hash-holds-live-pages', 'v6.18', (m) => {
    const l2 = page(m, 'l2');
    const ghost = Object.assign(Object.create(Object.getPrototypeOf(l2)) as KvmMmuPage, l2, { gfn: 0x4321 });
    m.kvm.hashAdd(ghost);
  }],
  ['hash-bucket-matches-gfn', 'v6.18', (m) => {
    const a = page(m, 'l3');
    m.kvm.hashDel(a);
    a.gfn = 0x99;
    m.kvm.hashAdd(a);
    a.gfn = 0x11;
  }],
  ['hash-count', 'v6.18', (m) => void m.kvm.hashed++],
  ['hash-holds-every-page', 'v6.18', (m) => {
    m.kvm.hashDel(page(m, 'l2'));
    m.kvm.hashed++;
  }],
  ['hash-index-matches-page', 'v6.18', (m) => {
    // A role write that bypassed Kvm.setRole: the record says invalid, the page does not.
    const l2 = page(m, 'l2');
    m.kvm.mmu_page_hash.rec[l2.hash_slot * REC_WORDS + R_ROLE] = (l2.role | m.kvm.rb.invalid) | 0;
  }],
  ['hash-index-matches-page', 'v6.18', (m) => void (m.kvm.mmu_page_hash.prev[page(m, 'l1').hash_slot] = page(m, 'l3').hash_slot)],
  ['hash-index-matches-page', 'v6.18', (m) => void m.kvm.mmu_page_hash.used++],
  ['hash-index-matches-page', 'v5.16', (m) => void (page(m, 'l3').hash_slot = page(m, 'l2').hash_slot)],
  ['unique-gfn-role', 'v6.18', (m) => void (page(m, 'l2').gfn = page(m, 'l3').gfn, (page(m, 'l2').role = page(m, 'l3').role))],
  ['invalid-pages-freed-at-commit', 'v6.18', (m) => void (page(m, 'l1').role |= m.kvm.rb.invalid)],
  ['valid-pages-on-active-list', 'v6.18', (m) => m.kvm.activeDel(page(m, 'l2'))],
  ['invalid-pages-off-active-list', 'v6.18', (m) => void (page(m, 'l1').role |= m.kvm.rb.invalid)],
  ['root-count-matches-references', 'v6.18', (m) => void (page(m, 'l3').root_count = 1)],
  ['n-used-mmu-pages', 'v6.18', (m) => void m.kvm.n_used_mmu_pages++],
  ['indirect-shadow-pages', 'v6.18', (m) => void m.kvm.indirect_shadow_pages--],
  ['write-track-matches-pages', 'v6.18', (m) => void m.kvm.write_track.set(0x999, 1)],
  ['write-track-matches-pages', 'v5.16', (m) => void m.kvm.write_track.set(0x12, 2)],
  ['write-track-matches-pages', 'v6.18', (m) => void m.kvm.write_track.delete(0x11)],
  ['pae-root-below-4g', 'v6.18', (m) => void (mut(m.vcpu.mmu.pae_root!).pfn = 0x100000)],
  ['pae-root-decrypted', 'v6.18', (m) => void m.r.m.mem.set_memory_encrypted(m.vcpu.mmu.pae_root!.pfn)],
  ['cache-within-capacity', 'v6.18', (m) => void (m.r.m.caches.cache('mmu_page_header_cache').nobjs = 41)],
  ['object-owned-once', 'v5.16', (m) => void (mut(page(m, 'l2')).header = page(m, 'l3').header)],
  ['cached-objects-unused', 'v6.18', (m) => m.r.m.mem.set_cached(page(m, 'l2').header, true)],
  ['no-leaked-object', 'v6.18', (m) => void m.r.m.mem.alloc_page(0, 'test-leak')],
  ['no-leaked-object', 'v6.18', (m) => m.r.m.mem.set_cached([...m.r.m.mem.liveObjects()].find((o) => o.cached)!.id, false)],
  ['owned-objects-allocated', 'v5.16', (m) => void (mut(page(m, 'l2')).gfns = 2 ** 44 + 123456)],
];

describe('auditClean refuses every class of corruption auditReport names', () => {
  for (const [invariant, profile, corrupt] of cases) {
    it(`${invariant} (${profile}) is caught at the next step`, () => {
      const m = built(profile);
      corrupt(m);
      caughtNextStep(m, invariant);
    });
  }

  it('default-pae-pdpte-not-present (rfc-v1)', () => {
    const m = new Model('rfc-v1', { pae: true, cr3: '0x1000' });
    m.do({ op: 'load' });
    expect(auditClean(m.r.m)).toBe(true);
    mut(m.kvm.default_pae_pdpte!).lo |= 0x801;
    caughtNextStep(m, 'default-pae-pdpte-not-present');
  });

  it('pae-root-decrypted of a PAE root shadow page (rfc-v1)', () => {
    const m = new Model('rfc-v1', { pae: true, cr3: '0x1000' });
    m.do({ op: 'load' });
    m.r.m.mem.set_memory_encrypted(m.kvm.to_shadow_page(m.vcpu.mmu.root_hpa)!.pfn);
    caughtNextStep(m, 'pae-root-decrypted');
  });
});

/** A 4K leaf from a guest read (or a writable one from a write), audited by the VM facade. */
function leaf(profile: string, write = false) {
  const mem = probeGuest();
  if (write) mem.writeBig(0x103020, 0x300067n);
  const r = rig(profile, mem);
  access(r, VA, write ? 'write' : 'read', 3, 1n);
  expect(r.violations).toEqual([]);
  const m = r.vm.machine;
  expect(auditClean(m)).toBe(true);
  const sp = [...m.kvm.pages].find((s) => s.gfn === 0x103)!;
  return { r, m, sp, sptep: sp.pfn * SPTE_ENT_PER_PAGE + 4 };
}

/** The next access (a read that hits: no fault, nothing changes) reports `invariant`. */
function caughtNextAccess(r: ReturnType<typeof leaf>['r'], invariant: string): void {
  expect(auditClean(r.vm.machine)).toBe(false);
  access(r, VA, 'read');
  expect(r.violations.join('\n')).toContain(`audit: ${invariant}:`);
  expect(auditVm(r.vm, 'again').map((v) => v.invariant)).toContain(invariant);
}

describe('auditClean refuses corrupt leaves and rmaps', () => {
  for (const profile of ['v5.16', 'v6.18']) {
    it(`rmap-not-empty, rmap-covers-leaves, rmap-holds-present-leaves, rmap-matches-gfn (${profile})`, () => {
      {
        const { r, m } = leaf(profile);
        m.kvm.rmaps.obtain(0x555, 1); // an empty rmap kept
        caughtNextAccess(r, 'rmap-not-empty');
      }
      {
        const { r, m } = leaf(profile);
        const id = m.kvm.rmaps.find(0x300, 1);
        const single = m.kvm.rmaps.list(id).single;
        expect(single).toBeGreaterThanOrEqual(0);
        m.kvm.rmaps.list(id).single = -1;
        m.kvm.rmaps.release(id);
        caughtNextAccess(r, 'rmap-covers-leaves');
        // The same entry under the wrong key.
        m.kvm.rmaps.obtain(0x301, 1).single = single;
        expect(auditClean(m)).toBe(false);
        expect(audit(m, 'x').map((v) => v.invariant)).toContain('rmap-matches-gfn');
      }
      {
        const { r, m, sp } = leaf(profile);
        // A link (not a leaf) of the level-2 page added to the leaf's rmap, and the count kept.
        const pd = [...m.kvm.pages].find((s) => s.gfn === 0x102)!;
        const list = m.kvm.rmaps.get(rmapKey(0x300, 1))!;
        list.single = pd.pfn * SPTE_ENT_PER_PAGE + 3;
        void sp;
        caughtNextAccess(r, 'rmap-holds-present-leaves');
      }
    });

    it(`page-stats-match-leaves (${profile})`, () => {
      const { r, m } = leaf(profile);
      m.kvm.stat.pages_2m++;
      caughtNextAccess(r, 'page-stats-match-leaves');
    });

    it(`write-tracked-gfn-read-only and shadowed-gfn-read-only (${profile})`, () => {
      {
        const { r, m, sptep } = leaf(profile, true);
        expect(m.kvm.spteLo(sptep) & 2).toBe(2);
        m.kvm.write_track.set(0x300, 1);
        caughtNextAccess(r, 'write-tracked-gfn-read-only');
      }
      {
        const { r, m, sp, sptep } = leaf(profile, true);
        // A shadow page for gfn 0x300 write-protects it; the leaf made writable again behind its back.
        kvm_mmu_get_page(m.vcpu, 0x300, sp.role);
        expect(auditClean(m)).toBe(true);
        m.mem.arena[m.kvm.spteOff(sptep)]! |= 2;
        caughtNextAccess(r, 'shadowed-gfn-read-only');
      }
    });
  }

  for (const profile of ['v5.16', 'v6.18']) {
    it(`no-huge-mapping-over-shadowed-gfn: a 2M leaf made writable again over a shadowed gfn (${profile})`, () => {
      const mem = probeGuest();
      mem.writeBig(0x102018, 0x4000e7n); // VA's PDE: a 2M page at 0x400000
      const r = rig(profile, mem, LONG_MODE, { mmio_caching: false, thp: true });
      access(r, VA, 'write', 3, 1n);
      // A guest table at 0x405000, inside the 2M page, becomes shadowed: the 2M SPTE goes read-only.
      mem.writeBig(0x102020, 0x405027n);
      mem.writeBig(0x405000, 0x301027n);
      access(r, 0x8080800000n, 'read');
      expect(r.violations).toEqual([]);
      const m = r.vm.machine;
      expect(m.kvm.stat.pages_2m).toBe(1);
      expect(auditClean(m)).toBe(true);
      const pd = [...m.kvm.pages].find((s) => s.gfn === 0x102)!;
      const sptep = pd.pfn * SPTE_ENT_PER_PAGE + 3;
      expect(m.kvm.spteLo(sptep) & 2).toBe(0);
      m.mem.arena[m.kvm.spteOff(sptep)]! |= 2;
      caughtNextAccess(r, 'no-huge-mapping-over-shadowed-gfn');
    });
  }
});

describe('auditClean and auditReport agree', () => {
  it('is_shadow_present_pte tests low-half bits, so an OR of four entries is present exactly when one is', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 4, maxLength: 4 }), (w) => {
        const or = w[0]! | w[1]! | w[2]! | w[3]!;
        expect(is_shadow_present_pte(or)).toBe(w.some((x) => is_shadow_present_pte(x)));
      }),
    );
  });

  it('on random op sequences: clean exactly when the report is empty', () => {
    // The suite's cross-check (test/support/audit-cross-check.ts) throws on a clean verdict with
    // violations; here no clean state may take the slow path either.
    expect(auditCrossCheck.on).toBe(true);
    const before = { ...auditCrossCheck };
    for (const p of ['v5.16', 'v6.18', 'rfc-v1']) {
      for (let seed = 1; seed <= 12; seed++) {
        const res = runOpsCase(seed, getProfile(p), 150);
        expect(res.failure).toBe(null);
      }
    }
    expect(auditCrossCheck.audits - before.audits).toBeGreaterThan(3000);
    expect(auditCrossCheck.slow - before.slow).toBe(0);
  });

  it('unsync_children against the bitmap: clean exactly when the report is empty, any bits', () => {
    // The root's: a page with unsync children must have its bit set in its parent, and the root has none.
    const m = built('v5.16');
    const root = page(m, 'root');
    // A bitmap of its own: pages share one all-zero bitmap until a bit is set (page.ts).
    root.unsync_child_bitmap = new Uint32Array(16);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 16, maxLength: 16 }), fc.integer({ min: -1, max: 1 }), (words, delta) => {
        root.unsync_child_bitmap.set(words);
        let n = 0;
        for (const w of words) for (let b = 0; b < 32; b++) n += (w >>> b) & 1;
        root.unsync_children = n + delta;
        expect(auditClean(m.r.m)).toBe(delta === 0);
        expect(auditReport(m.r.m, 's').length === 0).toBe(delta === 0);
      }),
    );
  });

  it('auditReport is what audit returns for a corrupt state', () => {
    const m = built();
    page(m, 'l2').unsync_children = 2;
    expect(audit(m.r.m, 's')).toEqual(auditReport(m.r.m, 's'));
  });
});
