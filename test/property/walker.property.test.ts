/**
 * Walker properties over random entries and registers (issue 4 §4):
 * a successful walk leaves A set on every level it read; a fault leaves the entries unchanged
 * (KVM sets A/D only after the permission check, FNAME(update_accessed_dirty_bits));
 * 4-level and 5-level paging agree below the top level.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { halves } from '../../src/bits/u64.js';
import { getProfile } from '../../src/profiles/index.js';
import {
  EFER_LMA,
  EFER_LME,
  EFER_NX,
  GuestMemory,
  GuestWalker,
  PageTableBuilder,
  WalkEventLog,
  X86_CR0_PE,
  X86_CR0_PG,
  X86_CR0_WP,
  X86_CR4_LA57,
  X86_CR4_PAE,
  X86_CR4_PKE,
  X86_CR4_SMAP,
  X86_CR4_SMEP,
  X86_EFLAGS_AC,
  accessBits,
  guest_access,
  kvm_init_walk_mmu,
  type AccessKind,
} from '../../src/guest/index.js';

const VA = 0xffff923400000000n; // access.c's address: canonical for 48 and 57 bits
const DATA = 0x2000000n;

/** Random low flag bits (P, RW, US, PWT, PCD, A, D, PS, G) and high bits (XD, keys, bit 51, 52). */
const entryBits = fc.record({
  // Mostly P|RW|US with random A/D/PWT/PCD/G, sometimes any low bits at all.
  lo: fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 0x1ff }).map((n) => (n & 0x178) | 0x7) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x1ff }) },
  ),
  p: fc.integer({ min: 0, max: 7 }).map((n) => (n === 0 ? 0 : 1)), // rarely not present
  xd: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
  pkey: fc.integer({ min: 0, max: 15 }),
  rsvd51: fc.integer({ min: 0, max: 15 }).map((n) => n === 0), // rare
});

const scenario = fc.record({
  levels: fc.array(entryBits, { minLength: 4, maxLength: 4 }),
  large: fc.constantFrom(0, 0, 2), // sometimes a 2 MiB leaf at level 2
  kind: fc.constantFrom<AccessKind>('read', 'write', 'fetch'),
  user: fc.boolean(),
  wp: fc.boolean(),
  nx: fc.boolean(),
  smep: fc.boolean(),
  smap: fc.boolean(),
  pke: fc.boolean(),
  ac: fc.boolean(),
  pkru: fc.integer({ min: 0, max: 0xff }),
});
type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

/** Build the 4-level tables of a scenario under `root`, entries randomised; returns entry gpas top-down. */
function build(s: Scenario, mem: GuestMemory, b: PageTableBuilder): number[] {
  b.map(VA, s.large === 2 ? DATA - (DATA % 0x200000n) : DATA, { page: s.large === 2 ? '2m' : '4k' });
  const top = s.large === 2 ? 2 : 1;
  const gpas: number[] = [];
  for (let level = 4; level >= top; level--) gpas.push(b.entryGpa(VA, level)!);
  for (let level = 4; level >= top; level--) {
    const gpa = gpas[4 - level]!;
    const cur = mem.readBig(gpa);
    const e = s.levels[4 - level]!;
    const addr = cur & 0x000ffffffffff000n;
    let lo = BigInt((e.lo & ~0x81) | 0x1); // PS comes from the layout only
    if (e.p === 0) lo &= ~1n; // sometimes not present
    if (level === top && top === 2) lo |= 0x80n;
    const hi = (e.xd ? 1n << 63n : 0n) | (level === top ? BigInt(e.pkey) << 59n : 0n) | (e.rsvd51 ? 1n << 51n : 0n);
    mem.writeBig(gpa, addr | lo | hi);
  }
  return gpas;
}

function run(s: Scenario, la57: boolean) {
  const mem = new GuestMemory();
  mem.addSlot(0, 64 << 20);
  const b = new PageTableBuilder(mem, 'pt64-4', { alloc_base: 0x2100000 });
  const gpas = build(s, mem, b);
  let cr3 = b.root;
  if (la57) {
    // One more level on top: a PML5 table whose entry (A preset) points at the 4-level root.
    cr3 = 0x2200000;
    mem.writeBig(cr3 + Number((VA >> 48n) & 511n) * 8, BigInt(b.root) | 0x27n);
  }
  const profile = getProfile('v6.18');
  const mmu = kvm_init_walk_mmu(profile, {
    cr0: (X86_CR0_PG | X86_CR0_PE | (s.wp ? X86_CR0_WP : 0)) >>> 0,
    cr3,
    cr4: X86_CR4_PAE | (la57 ? X86_CR4_LA57 : 0) | (s.smep ? X86_CR4_SMEP : 0) | (s.smap ? X86_CR4_SMAP : 0) | (s.pke ? X86_CR4_PKE : 0),
    efer: EFER_LME | EFER_LMA | (s.nx ? EFER_NX : 0),
    pkru: s.pkru,
    rflags: 0x2 | (s.ac ? X86_EFLAGS_AC : 0),
  }, { maxphyaddr: 46 });
  const before = gpas.map((g) => mem.readBig(g));
  const w = new GuestWalker();
  const log = new WalkEventLog(profile);
  const a = halves(VA);
  const r = guest_access(w, mmu, mem, a.lo, a.hi, accessBits(s.kind, s.user), log);
  const read = Array.from(w.el_gpa.subarray(0, w.n_elements));
  return { r, w, mem, gpas, before, after: gpas.map((g) => mem.readBig(g)), read, events: log.lines() };
}

describe('walker properties', () => {
  it('a successful walk leaves A set on every level it read', () => {
    let hits = 0;
    fc.assert(
      fc.property(scenario, (s) => {
        const x = run(s, false);
        if (!x.r.ok) return;
        hits++;
        for (const g of x.read) expect(x.mem.readBig(g) & 0x20n).toBe(0x20n);
        if (s.kind === 'write') expect(x.mem.readBig(x.read[x.read.length - 1]!) & 0x40n).toBe(0x40n);
      }),
      { numRuns: 400 },
    );
    expect(hits, 'successful walks among the runs').toBeGreaterThan(10);
  });

  it('a fault leaves the leaf entry (and every other entry) unchanged', () => {
    let hits = 0;
    fc.assert(
      fc.property(scenario, (s) => {
        const x = run(s, false);
        if (x.r.ok) return;
        hits++;
        expect(x.after).toEqual(x.before);
      }),
      { numRuns: 400 },
    );
    expect(hits, 'faulting walks among the runs').toBeGreaterThan(20);
  });

  it('4-level and 5-level paging agree below the top level', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const l4 = run(s, false);
        const l5 = run(s, true);
        expect(l5.r).toEqual(l4.r);
        expect(l5.after).toEqual(l4.after);
        // The same events but for the extra PML5E element.
        expect(l5.events[1]).toMatch(/level 5$/);
        expect([l5.events[0], ...l5.events.slice(2)].map((e) => e.replace(/ level \d$/, ''))).toEqual(
          l4.events.map((e) => e.replace(/ level \d$/, '')),
        );
      }),
      { numRuns: 300 },
    );
  });
});
