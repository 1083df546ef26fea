/**
 * Native CPL-3 accesses of upper-half linear addresses (PML4 slots 256..511) and of the page-table
 * entries seen through a recursive PML4 slot (510): the CPU's access through the shadow tables
 * (cpuAccess, after KVM fixed its faults) lands at the same guest-physical address as the guest
 * walker's own translation, byte for byte — for 4 KiB and 2 MiB guest pages, 4- and 5-level
 * paging, and every recursion depth (the PTE, PDE, ... top-level entry of an address).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PageTableBuilder } from '../../src/guest/builder.js';
import { GuestMemory } from '../../src/guest/memory.js';
import * as api from '../../src/mmu/vm/api.js';
import { access, rig } from '../support/mmu-fault.js';
import { recursiveVa, sext } from '../support/recursive.js';

const RECURSIVE_SLOT = 510n;

interface Mapping {
  slot: number;
  low: number;
  huge: boolean;
}

const mappingArb: fc.Arbitrary<Mapping> = fc.record({
  slot: fc.integer({ min: 256, max: 511 }).filter((s) => s !== Number(RECURSIVE_SLOT)),
  low: fc.nat(2 ** 27 - 1),
  huge: fc.boolean(),
});

const accessArb = fc.record({
  which: fc.nat(7),
  offset: fc.nat(4095 * 512),
  depth: fc.integer({ min: 0, max: 5 }),
  kind: fc.constantFrom<api.AccessKind>('read', 'read', 'write'),
});

describe('upper-half and recursive-mapping accesses agree with the guest walker', () => {
  for (const levels of [4, 5] as const)
  it(`${levels}-level paging: cpuAccess and gvaToGpa give the same gpa`, () => {
    const top = BigInt(12 + 9 * (levels - 1));
    fc.assert(
      fc.property(fc.array(mappingArb, { minLength: 1, maxLength: 8 }), fc.array(accessArb, { minLength: 1, maxLength: 12 }), (maps, accs) => {
        const mem = new GuestMemory();
        mem.addSlot(0, 32 << 20);
        const b = new PageTableBuilder(mem, levels === 5 ? 'pt64-5' : 'pt64-4', { alloc_base: 0x100000 });
        // Code page of the kvm-probe layout is not needed: the accesses are data accesses.
        const vas: { va: bigint; huge: boolean }[] = [];
        const used = new Set<bigint>();
        maps.forEach((m, i) => {
          const span = m.huge ? 0x200000n : 0x1000n;
          const va = sext((BigInt(m.slot) << top) | ((BigInt(m.low) << 12n) & ((1n << top) - 1n)), levels) & ~(span - 1n);
          const key = va >> 21n;
          if (used.has(key)) return;
          used.add(key);
          b.map(va, BigInt(0x800000 + i * 0x200000), m.huge ? { page: '2m' } : {});
          vas.push({ va, huge: m.huge });
        });
        const cr3 = BigInt(b.cr3);
        mem.writeBig(Number(cr3) + Number(RECURSIVE_SLOT) * 8, cr3 | 7n);
        const r = rig('v6.18', mem, { cr0: 0x80010033n, cr3, cr4: levels === 5 ? 0x1020n : 0x20n, efer: 0xd00n });
        for (const a of accs) {
          const m = vas[a.which % vas.length]!;
          const depth = Math.min(a.depth, levels);
          const off = BigInt(a.offset % (m.huge ? 0x200000 : 0x1000)) & ~7n;
          const data = m.va + off;
          const va = depth === 0 ? data : recursiveVa(RECURSIVE_SLOT, data, depth, levels);
          // A write through the recursive window would rewrite the tables: only data is written.
          const kind = depth === 0 ? a.kind : 'read';
          const expected = api.gvaToGpa(r.vm, va, kind, 3, { inject: false });
          const got = access(r, va, kind, 3, 0x5an);
          expect(expected.ok).toBe(true);
          if (!expected.ok) return;
          expect(got.kind === 'ok' || got.kind === 'emulated').toBe(true);
          if (got.kind !== 'ok' && got.kind !== 'emulated') return;
          expect({ va: va.toString(16), gpa: got.gpa.toString(16) }).toEqual({ va: va.toString(16), gpa: expected.gpa.toString(16) });
        }
        expect(r.violations).toEqual([]);
      }),
      { numRuns: 150, seed: 13 },
    );
  });
});
