import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectVm } from '../../src/diff/collect.js';
import { getProfile, PROFILE_NAMES } from '../../src/profiles/index.js';
import { parseVmScenario, VmScenarioRunner } from '../../src/scenario/vm.js';

const FILE = join(__dirname, '../../examples/diff/dirty-log.json');
const JSON_ = JSON.parse(readFileSync(FILE, 'utf8'));

describe('dirty logging (KVM_MEM_LOG_DIRTY_PAGES, KVM_GET_DIRTY_LOG) on the shadow MMU', () => {
  for (const p of PROFILE_NAMES) {
    it(`${p}: enabling write-protects the slot, a write marks its page, the log hands it out and protects it again`, () => {
      const r = collectVm(JSON_, FILE, getProfile(p));
      expect(r.steps.flatMap((s) => s.violations)).toEqual([]);
      expect(r.steps.map((s) => s.outcome)).toEqual([
        'ok gpa 300000 after 1 fault(s)',
        'ok gpa 301000 after 1 fault(s)',
        'slot 0 dirty logging on',
        'ok gpa 301000 after 1 fault(s)',
        'ok gpa 301000',
        'dirty gfns [301]',
        'dirty gfns []',
        'ok gpa 301000 after 1 fault(s)',
        'dirty gfns [301]',
      ]);
      const sets = (i: number) => r.steps[i]!.events.filter((e) => e.event === 'kvm_mmu_set_spte').map((e) => e.text.replace(/ at [0-9a-f]+$/, ''));
      // The fault makes the write-protected SPTE writable again: kernels that trace the new SPTE
      // show e67 (W, MMU-writable); the others trace the old one, e65 (MMU-writable, W cleared by
      // the dirty-log write protection).
      const newSpte = getProfile(p).mmu.set_spte_traces_new_spte;
      expect(sets(3)).toEqual([`kvm_mmu_set_spte: gfn 301 spte 2000301${newSpte ? 'e67 (rwxu)' : 'e65 (r-xu)'} level 1`]);
    });
  }
  it('the walker\'s A/D updates mark the page-table pages; a slot that does not log is -ENOENT', () => {
    const j = structuredClone(JSON_);
    j.steps = [{ op: 'get_dirty_log', slot: 0 }, { op: 'dirty_log', slot: 0, enable: true }, { op: 'access', va: '0x40203000', access: 'read' }, { op: 'get_dirty_log', slot: 0 }];
    const r = collectVm(j, FILE, getProfile('v6.18'));
    expect(r.steps[0]!.outcome).toBe('-ENOENT (not logging)');
    // The first walk sets A in the four table entries (gfns 100..103): KVM wrote those pages.
    expect(r.steps[3]!.outcome).toBe('dirty gfns [100 101 102 103]');
  });
  it('no huge page in a dirty-logged slot: a guest 2M page is shadowed at 4K (kvm_mmu_hugepage_adjust)', () => {
    const j = {
      profile: 'v6.18',
      host: { thp: true },
      regs: JSON_.regs,
      guest: { map: [{ va: '0x40400000', gpa: '0x400000', page: '2m' }] },
      steps: [{ op: 'dirty_log', slot: 0, enable: true }, { op: 'access', va: '0x40400000', access: 'read' }],
    };
    const on = collectVm(j, 'x.json', getProfile('v6.18'));
    expect(on.steps[1]!.events.filter((e) => e.event === 'kvm_mmu_spte_requested').map((e) => e.text)).toEqual(['kvm_mmu_spte_requested: gfn 400 pfn 2000400 level 1']);
    const off = collectVm({ ...j, steps: [j.steps[1]] }, 'x.json', getProfile('v6.18'));
    expect(off.steps[0]!.events.filter((e) => e.event === 'kvm_mmu_spte_requested').map((e) => e.text)).toEqual(['kvm_mmu_spte_requested: gfn 400 pfn 2000400 level 2']);
  });
  it('enabling flushes remote TLBs always since v6.1; v5.16 only when an SPTE lost W', () => {
    const flushes = (p: string, write: boolean) => {
      const j = structuredClone(JSON_);
      j.steps = [{ op: 'access', va: '0x40203000', access: write ? 'write' : 'read', value: '0x1' }];
      const sc = parseVmScenario(j, FILE, getProfile(p));
      const run = new VmScenarioRunner(sc);
      run.step(0, sc.steps[0]!);
      const kvm = run.machine.kvm;
      const before = kvm.stat.remote_tlb_flush_requests;
      run.step(1, { op: 'dirty_log', slot: 0, enable: true });
      return kvm.stat.remote_tlb_flush_requests - before;
    };
    expect(flushes('v5.16', false)).toBe(0);
    expect(flushes('v5.16', true)).toBe(1);
    expect(flushes('v6.18', false)).toBe(1);
    expect(flushes('v6.18', true)).toBe(1);
  });
});
