/**
 * Nested-EPT VM scenarios (examples/diff/ept4-gpa-bit48.json, ept5-gpa-bit48.json): seed 002's
 * case, an L2 GPA with bits 51:48 set under a 4-level EPT, runs as a scenario under every
 * profile with the auditor after every step; the scenario keys of the nested-EPT host.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectVm } from '../../src/diff/collect.js';
import { getProfile, PROFILE_NAMES } from '../../src/profiles/index.js';
import { parseVmScenario, VmScenarioRunner } from '../../src/scenario/vm.js';

const load = (name: string) => {
  const file = join(__dirname, '../../examples/diff', name);
  return { file, json: JSON.parse(readFileSync(file, 'utf8')) };
};

describe('seed 002 as a VM scenario: GPA[51:48] under nested EPT', () => {
  const four = load('ept4-gpa-bit48.json');
  const five = load('ept5-gpa-bit48.json');
  for (const p of PROFILE_NAMES) {
    it(`${p}: 4-level EPT — a mapped alias loops, an unmapped one is exit 48 at the full GPA; auditor clean`, () => {
      const r = collectVm(four.json, four.file, getProfile(p));
      expect(r.steps.flatMap((s) => s.violations)).toEqual([]);
      expect(r.steps.map((s) => s.outcome)).toEqual([
        'ok gpa 300000 after 1 fault(s)',
        'no progress after 8 faults',
        'exit EPT_VIOLATION (48) qualification 0x181 at gpa 0x0001000080000000',
      ]);
    });
    it(`${p}: 5-level EPT — the same GPA is mapped; its alias is another (unmapped) page`, () => {
      const r = collectVm(five.json, five.file, getProfile(p));
      expect(r.steps.flatMap((s) => s.violations)).toEqual([]);
      expect(r.steps.map((s) => s.outcome)).toEqual([
        'ok gpa 301000 after 1 fault(s)',
        'ok gpa 301008 after 1 fault(s)',
        'exit EPT_VIOLATION (48) qualification 0x181 at gpa 0x0000000040203000',
      ]);
    });
  }
});

describe('nested-EPT scenario keys', () => {
  const base = () => structuredClone(load('ept4-gpa-bit48.json').json);
  it('the default EPTP is the root | WB | walk length | A/D; ept_ad false drops A/D; eptp may be given', () => {
    expect(parseVmScenario(base(), 's').regs.cr3).toBe(0x100000n | 0x5en);
    const j = base();
    j.host.ept_ad = false;
    expect(parseVmScenario(j, 's').regs.cr3).toBe(0x10001en);
    const e = base();
    e.regs.eptp = '0x10001e';
    const sc = parseVmScenario(e, 's');
    expect(sc.regs.cr3).toBe(0x10001en);
    const run = new VmScenarioRunner(sc);
    const res = run.step(0, sc.steps[0]!);
    expect(res.outcome).toBe('ok gpa 300000 after 1 fault(s)');
    // No A/D in the EPTP: the walk sets no accessed bit in L1's EPT.
    expect(run.mem.readBig(0x100000) & 0x100n).toBe(0n);
  });
  it('refuses a non-EPT table format, an eptp off nested EPT, and an EPTP A/D without the host capability', () => {
    const f = base();
    f.table_format = 'pt64-4';
    expect(() => parseVmScenario(f, 's')).toThrow(/ept-4 or ept-5/);
    const n = base();
    n.host = { vendor: 'amd', tdp: true };
    n.table_format = 'npt-4';
    n.regs.eptp = '0x10005e';
    expect(() => parseVmScenario(n, 's')).toThrow(/an EPTP needs an Intel host/);
    const a = base();
    a.host.ept_ad = false;
    a.regs.eptp = '0x10005e';
    expect(() => new VmScenarioRunner(parseVmScenario(a, 's'))).toThrow(/A\/D enabled without the EPT A\/D capability/);
  });
});
