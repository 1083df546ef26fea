import { describe, expect, it } from 'vitest';
import { collectVm } from '../../src/diff/collect.js';
import { getProfile, PROFILE_NAMES } from '../../src/profiles/index.js';
import { parseVmScenario, VmScenarioRunner } from '../../src/scenario/vm.js';

// Nested NPT: a fault in L1's NPT is reflected to L1 as a #NPF VM exit (svm nested.c
// nested_svm_inject_npf_exit), not injected into L2 as a #PF: exit_info_1 is
// PFERR_GUEST_FINAL_MASK (bit 32, L0's own #NPF) with the walk's error code in bits 31:0,
// exit_info_2 the L2 GPA, and pf_guest is not counted (kvm_inject_page_fault is not the hook).
const SCENARIO = {
  profile: 'v6.18',
  host: { vendor: 'amd', tdp: true, tdp_level: 4 },
  table_format: 'npt-4',
  regs: { cr0: '0x80010033', cr4: '0x20', efer: '0xd00' },
  guest: { map: [{ va: '0x40203000', gpa: '0x300000' }, { va: '0x40204000', gpa: '0x301000', flags: '0x5' }] },
  steps: [
    { op: 'access', va: '0x40205000', access: 'read' },
    { op: 'access', va: '0x40204000', access: 'write', value: '0x1' },
    { op: 'emulate', va: '0x40205000', access: 'write', value: '0x1' },
    { op: 'access', va: '0x40203000', access: 'read' },
  ],
};

describe('nested NPT: a fault in L1\'s NPT is a #NPF VM exit to L1', () => {
  for (const p of PROFILE_NAMES) {
    it(`${p}: not present, read-only and the emulator's walk each exit with exit_info_1 = GUEST_FINAL | error code; pf_guest stays 0`, () => {
      const r = collectVm(SCENARIO, 'npf.json', getProfile(p));
      expect(r.steps.flatMap((s) => s.violations)).toEqual([]);
      expect(r.steps.map((s) => s.outcome)).toEqual([
        'exit NPF (0x400) exit_info_1 0x100000004 at gpa 0x0000000040205000',
        'exit NPF (0x400) exit_info_1 0x100000007 at gpa 0x0000000040204000',
        'exit NPF (0x400) exit_info_1 0x100000006 at gpa 0x0000000040205000',
        'ok gpa 300000 after 1 fault(s)',
      ]);
      const sc = parseVmScenario(SCENARIO, 'npf.json', getProfile(p));
      const run = new VmScenarioRunner(sc);
      for (let i = 0; i < sc.steps.length; i++) run.step(i, sc.steps[i]!);
      expect(run.machine.vcpu.stat.pf_guest).toBe(0);
    });
  }
});
