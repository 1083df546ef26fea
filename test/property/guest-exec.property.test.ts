/**
 * The vCPU executor over the shadow MMU, driven by random sequences of guest accesses and guest
 * page-table writes (user writes through aliases of the tables: unsync or emulation; CPL-0
 * emulated writes; INVLPG): the auditor holds after every step, and after MOV CR3 (which syncs
 * every unsync page) a user read sees exactly what the guest's tables say — the data at the
 * translation, or a #PF — whatever happened before. Host writes are left out: KVM never sees
 * them, so they may stay stale (the write-tracking oracle's host-write records).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { getProfile } from '../../src/profiles/index.js';
import { parseProbeScenario } from '../../src/probe/parse.js';
import { runProbeScenario } from '../../src/probe/replay.js';
import type { ProbeVm } from '../../src/probe/vcpu.js';

const VAS = [0x8080604000n, 0x8080605000n, 0x8080606000n, 0x8080607000n];
const PTE_VALUES = [0n, 0x300007n, 0x301005n, 0x302027n, 0x300065n, 0x301067n, 0x302003n];
const L1_ALIAS = 0x10000000000n; // the L1 table 0x103000, user-writable
const L2_ALIAS = 0x10000001000n; // the L2 table 0x102000
const hex = (v: bigint) => '0x' + v.toString(16);

const access = fc.record({ t: fc.constant('access' as const), kind: fc.constantFrom('read', 'write', 'fetch'), va: fc.constantFrom(...VAS) });
const pte = fc.record({ t: fc.constant('pte' as const), kernel: fc.boolean(), idx: fc.integer({ min: 4, max: 7 }), value: fc.constantFrom(...PTE_VALUES) });
const pde = fc.record({ t: fc.constant('pde' as const), kernel: fc.boolean(), value: fc.constantFrom(0n, 0x103007n, 0x103027n, 0x103005n) });
const invlpg = fc.record({ t: fc.constant('invlpg' as const), va: fc.constantFrom(...VAS) });
const op = fc.oneof({ arbitrary: access, weight: 4 }, { arbitrary: pte, weight: 3 }, { arbitrary: pde, weight: 1 }, { arbitrary: invlpg, weight: 1 });
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

function lines(ops: Op[]): string[] {
  const out = [
    'vm name=prop cpl=3 wp=1 nx=1',
    `map ${hex(VAS[0]!)} 0x300000`,
    `map ${hex(VAS[1]!)} 0x301000`,
    `map ${hex(VAS[2]!)} 0x302000`,
    `map ${hex(L1_ALIAS)} 0x103000`,
    `map ${hex(L2_ALIAS)} 0x102000`,
    'poke 0x300000 0x1111',
    'poke 0x301000 0x2222',
    'poke 0x302000 0x3333',
  ];
  const asKernel = (l: string, k: boolean) => (k ? ['sregs cpl=0', l, 'sregs cpl=3'] : [l]);
  for (const o of ops) {
    if (o.t === 'access') out.push(`${o.kind} ${hex(o.va)}${o.kind === 'write' ? ' val=0x77' : ''}`);
    else if (o.t === 'pte') out.push(...asKernel(`write ${hex(L1_ALIAS + BigInt(o.idx * 8))} val=${hex(o.value)}`, o.kernel));
    else if (o.t === 'pde') out.push(...asKernel(`write ${hex(L2_ALIAS + 0x18n)} val=${hex(o.value)}`, o.kernel));
    else out.push(...asKernel(`invlpg ${hex(o.va)}`, true));
  }
  out.push('sregs cpl=0', 'movcr3 0x100000', 'sregs cpl=3');
  for (const va of VAS) out.push(`read ${hex(va)}`);
  return out;
}

/** What the guest's tables say for a user read of `va`: the gpa, or null (#PF). */
function guestView(vm: ProbeVm, va: bigint): number | null {
  const g = vm.layout.gptes(vm.cfg.cr3, va);
  if (g.length !== 4 || g.some((e) => (e.pte & 5n) !== 5n)) return null;
  return Number(g[3]!.pte & 0x000ffffffffff000n);
}

describe('executor under random guest accesses and page-table writes', () => {
  for (const profile of ['v6.18', 'v5.16', 'rfc-v1']) {
    it(`${profile}: audit clean after every step; after MOV CR3 user reads match the guest tables`, () => {
      fc.assert(
        fc.property(fc.array(op, { minLength: 1, maxLength: 14 }), (ops) => {
          const vms = runProbeScenario(parseProbeScenario(lines(ops)), { profile: getProfile(profile), audit: true }, (vm) => {
            for (const s of vm.steps) expect(s.violations, `step ${s.step} ${s.op}`).toEqual([]);
            const finals = vm.steps.slice(-VAS.length);
            VAS.forEach((va, i) => {
              const s = finals[i]!;
              const gpa = guestView(vm, va);
              if (gpa === null) expect(s.exceptions[0]?.[0], `read ${hex(va)}`).toBe(14);
              else {
                expect(s.exceptions, `read ${hex(va)}`).toEqual([[1]]);
                expect(s.value, `read ${hex(va)}`).toBe(vm.layout.read(gpa, 8));
              }
            });
          });
          expect(vms).toHaveLength(1);
        }),
        { numRuns: 40, seed: 0x5eed },
      );
    });
  }
});
