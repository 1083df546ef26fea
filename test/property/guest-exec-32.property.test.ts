/**
 * The executor property of guest-exec.property.test.ts for the 32-bit guest formats, which no
 * oracle covers: 2-level tables with 4-byte entries (shadowed in quadrants) and PAE tables
 * written 4 bytes at a time from 32-bit code (the 4- to 8-byte widening of kvm_mmu_pte_write).
 * Random user and kernel writes of PTEs and PDEs through aliases of the tables, user accesses
 * and INVLPG; the auditor after every step; after MOV CR3 every user read sees what the guest's
 * tables say. Every profile.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { getProfile } from '../../src/profiles/index.js';
import { parseProbeScenario } from '../../src/probe/parse.js';
import { runProbeScenario } from '../../src/probe/replay.js';
import type { ProbeVm } from '../../src/probe/vcpu.js';

interface Mode {
  readonly vm: string;
  readonly vas: readonly bigint[];
  /** Alias of the page table (entry i of it at alias + i * pte) and of the PDE of the VAs. */
  readonly ptAlias: bigint;
  readonly pdeAlias: bigint;
  readonly pte: number;
  readonly maps: readonly string[];
  readonly pdeValues: readonly bigint[];
  /** Permission bits each level needs for a user read, top level first. */
  readonly need: readonly bigint[];
  readonly addr: bigint;
}

const MODES: Record<string, Mode> = {
  legacy32: {
    vm: 'vm name=p32 mode=legacy cpl=3 wp=1',
    vas: [0x00804000n, 0x00805000n, 0x00806000n, 0x00807000n],
    ptAlias: 0x01000000n,
    pdeAlias: 0x01001008n,
    pte: 4,
    maps: ['map 0x00804000 0x300000', 'map 0x00805000 0x301000', 'map 0x00806000 0x302000', 'map 0x01000000 0x101000', 'map 0x01001000 0x100000'],
    pdeValues: [0n, 0x101007n, 0x101027n, 0x101005n],
    need: [5n, 5n],
    addr: 0xfffff000n,
  },
  pae: {
    vm: 'vm name=pae mode=pae cpl=3 wp=1 nx=1',
    vas: [0x40604000n, 0x40605000n, 0x40606000n, 0x40607000n],
    ptAlias: 0x40800000n,
    pdeAlias: 0x40801018n,
    pte: 8,
    maps: ['map 0x40604000 0x300000', 'map 0x40605000 0x301000', 'map 0x40606000 0x302000', 'map 0x40800000 0x102000', 'map 0x40801000 0x101000'],
    pdeValues: [0n, 0x102007n, 0x102027n, 0x102005n],
    need: [1n, 5n, 5n],
    addr: 0x000ffffffffff000n,
  },
};
const PTE_VALUES = [0n, 0x300007n, 0x301005n, 0x302027n, 0x300065n, 0x301067n, 0x302003n];
const hex = (v: bigint) => '0x' + v.toString(16);

function arb(m: Mode) {
  const access = fc.record({ t: fc.constant('access' as const), kind: fc.constantFrom('read', 'write', 'fetch'), va: fc.constantFrom(...m.vas) });
  const pte = fc.record({ t: fc.constant('pte' as const), kernel: fc.boolean(), idx: fc.integer({ min: 4, max: 7 }), value: fc.constantFrom(...PTE_VALUES) });
  const pde = fc.record({ t: fc.constant('pde' as const), kernel: fc.boolean(), value: fc.constantFrom(...m.pdeValues) });
  const invlpg = fc.record({ t: fc.constant('invlpg' as const), va: fc.constantFrom(...m.vas) });
  return fc.array(fc.oneof({ arbitrary: access, weight: 4 }, { arbitrary: pte, weight: 3 }, { arbitrary: pde, weight: 1 }, { arbitrary: invlpg, weight: 1 }), { minLength: 1, maxLength: 12 });
}
type Op = ReturnType<typeof arb> extends fc.Arbitrary<(infer T)[]> ? T : never;

function lines(m: Mode, ops: Op[]): string[] {
  const out = [m.vm, ...m.maps, 'poke 0x300000 0x1111', 'poke 0x301000 0x2222', 'poke 0x302000 0x3333'];
  const asKernel = (l: string, k: boolean) => (k ? ['sregs cpl=0', l, 'sregs cpl=3'] : [l]);
  for (const o of ops) {
    if (o.t === 'access') out.push(`${o.kind} ${hex(o.va)}${o.kind === 'write' ? ' val=0x77' : ''}`);
    else if (o.t === 'pte') out.push(...asKernel(`write ${hex(m.ptAlias + BigInt(o.idx * m.pte))} val=${hex(o.value)}`, o.kernel));
    else if (o.t === 'pde') out.push(...asKernel(`write ${hex(m.pdeAlias)} val=${hex(o.value)}`, o.kernel));
    else out.push(...asKernel(`invlpg ${hex(o.va)}`, true));
  }
  out.push('sregs cpl=0', 'movcr3 0x100000', 'sregs cpl=3');
  for (const va of m.vas) out.push(`read ${hex(va)}`);
  return out;
}

function guestView(m: Mode, vm: ProbeVm, va: bigint): number | null {
  const g = vm.layout.gptes(vm.cfg.cr3, va);
  if (g.length !== m.need.length || g.some((e, i) => (e.pte & m.need[i]!) !== m.need[i]!)) return null;
  return Number(g.at(-1)!.pte & m.addr);
}

describe('executor on 32-bit and PAE guests under random table writes', () => {
  for (const [name, m] of Object.entries(MODES)) {
    for (const profile of ['v5.16', 'rfc-base', 'rfc-v1', 'rfc-v1-pae', 'v6.18']) {
      it(`${name} under ${profile}`, () => {
        fc.assert(
          fc.property(arb(m), (ops) => {
            runProbeScenario(parseProbeScenario(lines(m, ops)), { profile: getProfile(profile), audit: true }, (vm) => {
              for (const s of vm.steps) expect(s.violations, `step ${s.step} ${s.op}`).toEqual([]);
              const finals = vm.steps.slice(-m.vas.length);
              m.vas.forEach((va, i) => {
                const s = finals[i]!;
                const gpa = guestView(m, vm, va);
                if (gpa === null) expect(s.exceptions[0]?.[0], `read ${hex(va)}`).toBe(14);
                else {
                  expect(s.exceptions, `read ${hex(va)}`).toEqual([[1]]);
                  expect(s.value, `read ${hex(va)}`).toBe(vm.layout.read(gpa, 4));
                }
              });
            });
          }),
          { numRuns: 25, seed: 0x32b17 },
        );
      });
    }
  }
});
