/**
 * Roots against real KVM (golden/kvm roles.jsonl, recorded on Linux 6.18 with the shadow MMU):
 * loading the MMU for each recorded vCPU state must emit the same kvm_mmu_get_page events for
 * the root(s) — gfn, role word, created, root_count, unsync — as the kernel's tracepoint did.
 * Long mode: one level-4 root at CR3's gfn; non-paging modes: four direct level-2 roots.
 */
import { describe, expect, it } from 'vitest';
import { parseScenario, runScenario } from '../../src/scenario/index.js';
import { readGolden } from '../support/golden.js';

interface Ev {
  gfn: string;
  role: string;
  created: number;
  root_count: number;
  unsync: number;
}

const recs = readGolden('kvm/roles.jsonl.gz').filter((r) => r['kind'] === 'root_role') as Record<string, unknown>[];

describe('root allocation vs real KVM 6.18 (shadow MMU)', () => {
  it('covers the shared records', () => {
    expect(recs.length).toBeGreaterThan(10);
  });
  for (const r of recs) {
    it(String(r['id']), () => {
      const eff = r['effective'] as Record<string, string>;
      const cr3 = (r['requested'] as Record<string, string>)['cr3']!;
      const sc = parseScenario(
        {
          profile: 'v6.18',
          tdp: false,
          host: { vendor: 'intel', cpu: 'intel-46' },
          vcpu: { cr3, regs: { cr0: eff['cr0'], cr4: eff['cr4'], efer: eff['efer'] } },
          steps: [{ op: 'load' }],
        },
        String(r['id']),
      );
      const res = runScenario(sc);
      expect(res.violations).toEqual([]);
      const got = res.steps[0]!.events.map((e) => ('gfn' in e && e.event === 'kvm_mmu_get_page' ? { gfn: '0x' + e.gfn.toString(16), role: '0x' + e.role.toString(16), created: e.created ? 1 : 0, root_count: e.root_count, unsync: e.unsync ? 1 : 0 } : null));
      const warm = r['warmup_get_page'] as Ev[];
      const nRoots = r['start_mode'] === 'long' ? 1 : 4;
      const want = warm.slice(0, nRoots).map((e) => ({ gfn: e.gfn, role: e.role, created: e.created, root_count: e.root_count, unsync: e.unsync }));
      expect(got).toEqual(want);
      // The record's root_role is the role of the root pages: for non-paging modes the PAE
      // roots' (level 2), one level below the MMU's root_role (level 3).
      expect(Number(BigInt(r['root_role'] as string))).toBe(nRoots === 1 ? sc.ctx.mmu_role : sc.ctx.mmu_role - 1);
    });
  }
});
