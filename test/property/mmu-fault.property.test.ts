/**
 * Random sequences of guest accesses (native at CPL 3 and 0, through the fault path),
 * emulated and host page-table writes, INVLPG, CR3 loads and WP toggles, under every profile,
 * for a 4-level and a 32-bit guest; the auditor (rmaps, write-protection, unsync, links, leaks)
 * runs after every step. Without host writes, a MOV CR3 (a full guest TLB flush: every unsync
 * page is synced) leaves the shadow tables agreeing with the guest's own walk.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PageTableBuilder } from '../../src/guest/builder.js';
import { GuestMemory } from '../../src/guest/memory.js';
import * as api from '../../src/mmu/vm/api.js';
import { PROFILE_NAMES } from '../../src/profiles/index.js';
import { access, emulate, rig, type Rig } from '../support/mmu-fault.js';

type Op =
  | { k: 'access'; va: number; kind: api.AccessKind; cpl: 0 | 3 }
  | { k: 'ptwrite'; table: number; index: number; value: number; size: 1 | 2 | 4 | 8; host: boolean }
  | { k: 'invlpg'; va: number }
  | { k: 'cr3' }
  | { k: 'wp' };

interface Guest {
  mem: GuestMemory;
  regs: api.VcpuRegisters;
  /** Data addresses the guest uses. */
  vas: bigint[];
  /** Guest-physical addresses of its table pages, and where the guest kernel sees each. */
  tables: { gpa: number; alias: bigint }[];
  /** Values a table entry may get (pointers to tables or data pages, or not present). */
  values: bigint[];
  pteSize: 4 | 8;
}

function guest(format: 'pt64-4' | 'pt32'): Guest {
  const mem = new GuestMemory();
  mem.addSlot(0, 32 << 20);
  const b = new PageTableBuilder(mem, format, { alloc_base: 0x100000 });
  const vas = format === 'pt32' ? [0x400000n, 0x401000n, 0x800000n, 0x40000000n] : [0x8080604000n, 0x8080605000n, 0x8080800000n, 0x10000000n];
  vas.forEach((va, i) => b.map(va, BigInt(0x300000 + i * 0x1000), { flags: i === 3 ? 0x5n : 0x7n }));
  // A guest huge page over the first 2M/4M of memory, where the page tables live: with THP the
  // host could map it with a 2M SPTE, but not over a gfn KVM shadows.
  const big = format === 'pt32' ? 0xc0000000n : 0x7000000000n;
  b.map(big, 0n, { page: format === 'pt32' ? '4m' : '2m' });
  // And one over data only (16M..): a huge SPTE with THP until a table lands in it.
  const big2 = format === 'pt32' ? 0xc0800000n : 0x7040000000n;
  b.map(big2, 0x1000000n, { page: format === 'pt32' ? '4m' : '2m' });
  vas.push(big + 0x100000n, big + 0x1ff000n, big2 + 0x1000n);
  // The table pages, mapped writable for the guest (an alias window at 0x20000000).
  const tables = [...new Set(vas.flatMap((va) => [4, 3, 2, 1].map((l) => b.entryGpa(va, l)).filter((g): g is number => g !== null).map((g) => g - (g % 4096))))];
  const aliased = tables.map((gpa, i) => ({ gpa, alias: 0x20000000n + BigInt(i) * 0x1000n }));
  for (const t of aliased) b.map(t.alias, BigInt(t.gpa), {});
  for (let i = 0; i < 4; i++) mem.writeBig(0x300000 + i * 0x1000, BigInt(i + 1));
  const values = [0n, ...tables.map((t) => BigInt(t) | 0x27n), 0x300027n, 0x301067n, 0x302005n, 0x303007n];
  const pg = format === 'pt32' ? { cr4: 0x10n, efer: 0n } : { cr4: 0x20n, efer: 0xd00n };
  return { mem, regs: { cr0: 0x80010033n, cr3: BigInt(b.cr3), ...pg }, vas, tables: aliased, values, pteSize: format === 'pt32' ? 4 : 8 };
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('access' as const), va: fc.nat(15), kind: fc.constantFrom<api.AccessKind>('read', 'write', 'fetch'), cpl: fc.constantFrom<0 | 3>(3, 3, 0) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('ptwrite' as const), table: fc.nat(20), index: fc.nat(600), value: fc.nat(20), size: fc.constantFrom<1 | 2 | 4 | 8>(8, 8, 4, 2, 1), host: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('invlpg' as const), va: fc.nat(15) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'cr3' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'wp' as const }) },
);

function step(r: Rig, g: Guest, op: Op, wp: { on: boolean }): void {
  const va = (i: number) => (i < g.vas.length ? g.vas[i]! : g.tables[(i - g.vas.length) % g.tables.length]!.alias);
  switch (op.k) {
    case 'access':
      // Writes through a table alias store a table entry value (the guest editing its tables).
      access(r, va(op.va), op.kind, op.cpl, g.values[op.va % g.values.length]! & (g.pteSize === 4 ? 0xffffffffn : ~0n), g.pteSize);
      break;
    case 'ptwrite': {
      const t = g.tables[op.table % g.tables.length]!;
      const off = (op.index * g.pteSize) % 4096 + (op.size < g.pteSize && op.index & 1 ? g.pteSize - op.size : 0);
      const v = g.values[op.value % g.values.length]! & ((1n << BigInt(op.size * 8)) - 1n);
      if (op.host) g.mem.writeBig(t.gpa + off, v, op.size);
      else emulate(r, t.alias + BigInt(off), 'write', 0, v, op.size);
      break;
    }
    case 'invlpg':
      api.invlpg(r.vm, va(op.va));
      break;
    case 'cr3':
      api.setCr3(r.vm, g.regs.cr3);
      break;
    case 'wp':
      wp.on = !wp.on;
      api.setSregs(r.vm, { ...g.regs, cr0: wp.on ? 0x80010033n : 0x80000033n });
      break;
  }
}

describe('fault path under random guest accesses and page-table writes, audited after every step', () => {
  for (const profile of PROFILE_NAMES) {
    for (const [format, thp] of [['pt64-4', false], ['pt32', false], ['pt64-4', true], ['pt32', true]] as const) {
      it(`${profile} ${format}${thp ? ' THP' : ''}`, () => {
        const seen: Record<string, number> = { coherent: 0, unsync: 0, zapped: 0, emulated: 0, ...(thp ? { huge: 0 } : {}) };
        fc.assert(
          fc.property(fc.array(opArb, { minLength: 1, maxLength: 30 }), (ops) => {
            const g = guest(format);
            const r = rig(profile, g.mem, g.regs, { mmio_caching: false, thp });
            const wp = { on: true };
            let hostWrites = false;
            for (const [i, op] of ops.entries()) {
              step(r, g, op, wp);
              if (op.k === 'ptwrite' && op.host) hostWrites = true;
              expect(r.violations, `step ${i} ${JSON.stringify(op)}`).toEqual([]);
              if ([...r.vm.machine.kvm.pages].some((sp) => sp.unsync)) seen['unsync']!++;
              if (thp && r.vm.machine.kvm.stat.pages_2m > 0) seen['huge']!++;
              if (op.k === 'cr3' && !hostWrites) {
                // After a full flush the shadow translation of each data address is the guest's.
                for (const v of g.vas) {
                  const hw = api.cpuAccess(r.vm, v, 'read', 3);
                  if (!hw.ok) continue;
                  const walk = api.gvaToGpa(r.vm, v, 'read', 3, { inject: false });
                  expect(walk, `step ${i}: ${v.toString(16)}`).toEqual({ ok: true, gpa: hw.gpa });
                  seen['coherent']!++;
                }
              }
            }
            const st = api.stats(r.vm);
            seen['zapped']! += st.vm['mmu_shadow_zapped']!;
            seen['emulated']! += st.vm['mmu_pte_write']!;
            api.destroyVm(r.vm);
          }),
          { numRuns: Number(process.env.MMU_FAULT_RUNS ?? 40), seed: 0x5eed },
        );
        // The sequences reach what they are meant to exercise.
        for (const [k, n] of Object.entries(seen)) expect(n, k).toBeGreaterThan(0);
      });
    }
  }
});
