import { describe, expect, it } from 'vitest';
import { parseVmScenario, VmScenarioRunner } from '../../src/scenario/vm.js';
import { getProfile, PROFILE_NAMES } from '../../src/profiles/index.js';

describe('n_max_mmu_pages bounds the fault path', () => {
  it('a guest touching 150 far-apart pages (3 new shadow pages each) stays under KVM_SET_NR_MMU_PAGES = 64', () => {
    const map = Array.from({ length: 150 }, (_, i) => ({ va: '0x' + ((BigInt(i + 1) << 30n) + 0x1000n).toString(16), gpa: '0x' + (0x400000 + i * 0x1000).toString(16) }));
    const json = {
      host: { nr_mmu_pages: 64 },
      regs: { cr0: '0x80010033', cr4: '0x20', efer: '0xd00' },
      table_format: 'pt64-4',
      guest: { memory: [{ base: '0x0', size: '0x4000000' }], map },
      steps: map.map((m) => ({ op: 'access', va: m.va, access: 'read', cpl: 3 })),
    };
    for (const p of PROFILE_NAMES) {
      const r = new VmScenarioRunner(parseVmScenario(json, 'limit', getProfile(p)));
      const kvm = r.machine.kvm;
      let peak = 0;
      json.steps.forEach((s, i) => {
        const res = r.step(i, parseVmScenario({ ...json, steps: [s] }, 'limit', getProfile(p)).steps[0]!);
        expect(res.violations).toEqual([]);
        expect(res.outcome, `${p} step ${i}`).toMatch(/^ok gpa/);
        peak = Math.max(peak, kvm.n_used_mmu_pages);
      });
      expect(kvm.n_max_mmu_pages).toBe(64);
      expect(peak, p).toBeLessThanOrEqual(64);
      expect(kvm.stat.mmu_recycled, p).toBeGreaterThan(0);
    }
  });
});
