/**
 * The page-table builder's formats and refusals (issue 4 §1), the EPT and NPT walkers
 * (paging_tmpl.h PTTYPE_EPT; mmu.c __reset_rsvds_bits_mask_ept; x86.c translate_nested_gpa),
 * and the walker events' text per profile (shadow-mmu.md §i.2).
 */
import { describe, expect, it } from 'vitest';
import { ShadowMmuError } from '../../src/bits/errors.js';
import { halves } from '../../src/bits/u64.js';
import { getProfile } from '../../src/profiles/index.js';
import {
  EPT_VIOLATION_ACC_WRITE,
  GuestMemory,
  GuestWalker,
  PFERR_FETCH_MASK,
  PFERR_USER_MASK,
  PFERR_WRITE_MASK,
  PageTableBuilder,
  WalkEventLog,
  formatPferrFlags,
  kvm_init_ept_walk_mmu,
  kvm_init_walk_mmu,
  walk_addr_generic,
  type TableFormatName,
} from '../../src/guest/index.js';
import { access, guest, mmuFor, regsFor } from '../support/guest.js';

describe('PageTableBuilder', () => {
  const cases: [TableFormatName, bigint, '4k' | '2m' | '4m' | '1g'][] = [
    ['pt32', 0xc0400000n, '4m'],
    ['pae', 0xc0200000n, '2m'],
    ['pt64-4', 0xffff800040000000n, '1g'],
    ['pt64-5', 0xff00000000200000n, '2m'],
  ];
  for (const [format, va, page] of cases) {
    it(`${format}: maps 4K and ${page} pages the walker translates`, () => {
      const g = guest(format);
      g.b.map(0x1000n, 0x5000n);
      g.b.map(va, 0x400000n * (page === '1g' ? 0n : 1n), { page });
      const m = mmuFor(g, format, format === 'pt32' ? { cr4: 0x10 } : {}, { gbpages: true });
      expect(access(g, m, 0x1234n, 'read').gpa).toBe(0x5234);
      expect(access(g, m, va + 0x1234n, 'write', true).gpa).toBe((page === '1g' ? 0 : 0x400000) + 0x1234);
    });
  }

  it('refuses impossible layouts with a ShadowMmuError and writes nothing', () => {
    const g = guest('pt64-4');
    g.b.map(0x200000n, 0x200000n, { page: '2m' });
    const small = new PageTableBuilder(g.mem, 'pt64-4', { alloc_base: 0x800000, maxphyaddr: 36 });
    const snapshot = () => [g.mem.residentPages, g.mem.readBig(g.b.root), g.mem.readBig(0x101000)];
    const before = snapshot();
    const bad: [string, () => unknown, RegExp][] = [
      ['misaligned va', () => g.b.map(0x201000n, 0x400000n, { page: '2m' }), /aligned/],
      ['misaligned gpa', () => g.b.map(0x400000n, 0x401000n, { page: '2m' }), /aligned/],
      ['4M in 4-level', () => g.b.map(0x400000n, 0x400000n, { page: '4m' }), /do not exist/],
      ['under a large page', () => g.b.map(0x201000n, 0x5000n), /large page/],
      ['mapped twice', () => g.b.map(0x200000n, 0x200000n, { page: '2m' }), /already mapped/],
      ['non-canonical', () => g.b.map(0x0000800000000000n, 0x5000n), /canonical/],
      ['gpa above MAXPHYADDR', () => small.map(0x1000n, 1n << 36n), /beyond/],
      ['flags with address bits', () => g.b.map(0x1000n, 0x5000n, { flags: 0x10007n }), /address bits/],
      ['not-present flags', () => g.b.map(0x1000n, 0x5000n, { flags: 0x6n }), /not present/],
    ];
    for (const [what, f, re] of bad) {
      expect(f, what).toThrow(ShadowMmuError);
      expect(f, what).toThrow(re);
    }
    expect(snapshot()).toEqual(before);
  });

  it('refuses 1G pages in PAE, 2M in 32-bit, and tables that do not fit in memory', () => {
    expect(() => guest('pae').b.map(0x40000000n, 0n, { page: '1g' })).toThrow(/1g pages do not exist in pae/);
    expect(() => guest('pt32').b.map(0x200000n, 0x200000n, { page: '2m' })).toThrow(/2m pages do not exist in pt32/);
    const mem = new GuestMemory();
    mem.addSlot(0, 0x3000);
    const b = new PageTableBuilder(mem, 'pt64-4', { alloc_base: 0x1000 });
    expect(() => b.map(0x1000n, 0x5000n)).toThrow(/outside guest memory/);
    expect(mem.readBig(b.root)).toBe(0n);
  });
});

describe('EPT walker (PTTYPE_EPT)', () => {
  function ept(ad: boolean) {
    const mem = new GuestMemory();
    mem.addSlot(0, 16 << 20);
    const b = new PageTableBuilder(mem, 'ept-4', { alloc_base: 0x100000 });
    const eptp = b.root + (3 << 3) + (ad ? 1 << 6 : 0) + 6;
    return { mem, b, mmu: kvm_init_ept_walk_mmu(getProfile('v6.18'), eptp, {}), w: new GuestWalker() };
  }
  const walk = (e: ReturnType<typeof ept>, gpa: bigint, acc: number) => {
    const a = halves(gpa);
    return walk_addr_generic(e.w, e.mmu, e.mem, a.lo, a.hi, acc);
  };

  it('translates with R/W/X, reads need R (the U slot), and sets A/D in bits 8/9 only with A/D enabled', () => {
    const e = ept(true);
    e.b.map(0x7000n, 0x9000n, { flags: 0x35n }); // R-X, WB
    expect(walk(e, 0x7008n, PFERR_USER_MASK)).toBe(true);
    expect(e.w.gpa).toBe(0x9008);
    expect(e.mem.readBig(e.b.entryGpa(0x7000n, 1)!)).toBe(0x9135n);
    expect(walk(e, 0x7008n, PFERR_WRITE_MASK)).toBe(false);
    expect(e.w.exit_qualification & 7).toBe(EPT_VIOLATION_ACC_WRITE);
    expect((e.w.exit_qualification >>> 3) & 7).toBe(0b101);
    const n = ept(false);
    n.b.map(0x7000n, 0x9000n);
    expect(walk(n, 0x7000n, PFERR_FETCH_MASK)).toBe(true);
    expect(n.mem.readBig(n.b.entryGpa(0x7000n, 1)!)).toBe(0x9037n);
  });

  it('write-without-read and reserved memory types are misconfigurations (RSVD)', () => {
    const e = ept(true);
    e.b.map(0x7000n, 0x9000n, { flags: 0x32n }); // -W-
    expect(walk(e, 0x7000n, PFERR_USER_MASK)).toBe(false);
    expect(e.w.fault_error_code & 0x8).toBe(0x8);
    const m = ept(true);
    m.b.map(0x7000n, 0x9000n, { flags: 0x17n }); // memory type 2
    expect(walk(m, 0x7000n, PFERR_USER_MASK)).toBe(false);
    expect(m.w.fault_error_code & 0x8).toBe(0x8);
  });
});

describe('NPT walker (64-bit tables, user walks)', () => {
  it('every NPT walk is a user walk: a supervisor (U=0) nested entry faults', () => {
    const mem = new GuestMemory();
    mem.addSlot(0, 16 << 20);
    const b = new PageTableBuilder(mem, 'npt-4', { alloc_base: 0x100000 });
    b.map(0x7000n, 0x9000n, { flags: 0x3n });
    const mmu = kvm_init_walk_mmu(getProfile('v6.18'), regsFor('pt64-4', b.root), {}, true);
    const w = new GuestWalker();
    expect(walk_addr_generic(w, mmu, mem, 0x7000, 0, 0)).toBe(false);
    expect(w.fault_error_code).toBe(0x5);
  });
});

describe('walker events (shadow-mmu.md §i.2)', () => {
  it('pferr flags print in table order with leftover bits as 0x..; the table differs per profile', () => {
    expect(formatPferrFlags(getProfile('v5.16'), 0x25)).toBe('P|U|0x20');
    expect(formatPferrFlags(getProfile('v6.18'), 0x25)).toBe('P|U|PK');
    expect(formatPferrFlags(getProfile('v6.18'), 0x2f)).toBe('P|W|U|PK|RSVD');
    expect(formatPferrFlags(getProfile('v6.18'), 0x19)).toBe('P|RSVD|F');
    expect(formatPferrFlags(getProfile('rfc-v1'), 0x8040)).toBe('0x8040');
    expect(formatPferrFlags(getProfile('v6.18'), 0)).toBe('');
  });

  it('one walk: pagetable_walk, an element per entry read, then A/D or the error, as the kernel prints', () => {
    const g = guest('pt64-4');
    g.b.map(0x8080604000n, 0x300000n, { flags: 0x0800000000000007n });
    const r = access(g, mmuFor(g, 'pt64-4', { cr4: 0x400000, pkru: 0x4 }), 0x8080604000n, 'read', true);
    expect(r.events).toEqual([
      'kvm_mmu_pagetable_walk: addr 8080604000 pferr 4 U',
      'kvm_mmu_paging_element: pte 101007 level 4',
      'kvm_mmu_paging_element: pte 102007 level 3',
      'kvm_mmu_paging_element: pte 103007 level 2',
      'kvm_mmu_paging_element: pte 800000000300007 level 1',
      'kvm_mmu_walker_error: pferr 25 P|U|PK',
    ]);
    const log = new WalkEventLog(getProfile('v5.16'));
    log.walker_error(0x25);
    log.pagetable_walk(0, 0, 0);
    expect(log.lines()).toEqual(['kvm_mmu_walker_error: pferr 25 P|U|0x20', 'kvm_mmu_pagetable_walk: addr 0 pferr 0 ']);
  });
});

describe('regressions', () => {
  it('a builder that allocates its own root gives the first table a different page (root was reused)', () => {
    const g = guest('pt64-4');
    g.b.map(0x1000n, 0x5000n);
    expect(g.b.entryGpa(0x1000n, 3)).not.toBe(g.b.root);
    expect(g.mem.readBig(g.b.root) & ~0xfffn).not.toBe(BigInt(g.b.root));
  });

  it('EPT without A/D (EPTP bit 6 clear) never writes A/D bits (update_accessed_dirty_bits returns early)', () => {
    const mem = new GuestMemory();
    mem.addSlot(0, 16 << 20);
    const b = new PageTableBuilder(mem, 'ept-4', { alloc_base: 0x100000 });
    b.map(0x7000n, 0x9000n);
    const w = new GuestWalker();
    expect(walk_addr_generic(w, kvm_init_ept_walk_mmu(getProfile('v6.18'), b.root + (3 << 3) + 6), mem, 0x7000, 0, PFERR_WRITE_MASK)).toBe(true);
    expect(w.n_accessed + w.n_dirty).toBe(0);
    expect(mem.readBig(b.entryGpa(0x7000n, 4)!)).toBe(BigInt(b.entryGpa(0x7000n, 3)! & ~0xfff) | 0x7n);
  });
});
