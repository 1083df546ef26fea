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
  describe('when logging stops, huge pages come back (kvm_mmu_zap_collapsible_sptes)', () => {
    const huge = (steps: unknown[]) => ({
      profile: 'v6.18',
      host: { thp: true },
      regs: JSON_.regs,
      guest: { map: [{ va: '0x40400000', gpa: '0x400000', page: '2m' }, { va: '0x40203000', gpa: '0x300000' }] },
      steps,
    });
    const on = { op: 'dirty_log', slot: 0, enable: true };
    const off = { op: 'dirty_log', slot: 0, enable: false };
    const read2m = { op: 'access', va: '0x40400000', access: 'read' };
    const read4k = { op: 'access', va: '0x40203000', access: 'read' };
    for (const p of PROFILE_NAMES) {
      it(`${p}: the 4K SPTE in the direct page goes, the indirect one stays; the next fault maps 2M and drops the direct page`, () => {
        const j = huge([on, read2m, read4k, off, read2m, read4k]);
        const sc = parseVmScenario(j, 'x.json', getProfile(p));
        const run = new VmScenarioRunner(sc);
        const kvm = run.machine.kvm;
        for (let i = 0; i < 3; i++) expect(run.step(i, sc.steps[i]!).violations).toEqual([]);
        expect(kvm.stat.pages_4k).toBe(2);
        expect(kvm.stat.pages_2m).toBe(0);
        const flushes = kvm.stat.remote_tlb_flush_requests;
        expect(run.step(3, sc.steps[3]!).violations).toEqual([]);
        // One SPTE zapped (the guest 2M page's 4K piece in its direct page), one flush of the slot.
        expect(kvm.stat.pages_4k).toBe(1);
        expect(kvm.stat.remote_tlb_flush_requests - flushes).toBe(1);
        const r = collectVm(j, 'x.json', getProfile(p));
        expect(r.steps.flatMap((s) => s.violations)).toEqual([]);
        const requested = (i: number) => r.steps[i]!.events.filter((e) => e.event === 'kvm_mmu_spte_requested').map((e) => e.text);
        expect(requested(1)).toEqual(['kvm_mmu_spte_requested: gfn 400 pfn 2000400 level 1']);
        expect(requested(4)).toEqual(['kvm_mmu_spte_requested: gfn 400 pfn 2000400 level 2']);
        // The 4K page of the guest's own 4K mapping was not touched: its access does not fault again.
        expect(r.steps[5]!.outcome).toBe('ok gpa 300000');
        expect(r.steps[4]!.outcome).toBe('ok gpa 400000 after 1 fault(s)');
      });
    }
    it('without THP the host maps 4K anyway: nothing is zapped and nothing flushed', () => {
      const j = { ...huge([on, read2m, off]), host: { thp: false } };
      const sc = parseVmScenario(j, 'x.json', getProfile('v6.18'));
      const run = new VmScenarioRunner(sc);
      const kvm = run.machine.kvm;
      run.step(0, sc.steps[0]!);
      run.step(1, sc.steps[1]!);
      const before = { pages: kvm.stat.pages_4k, flushes: kvm.stat.remote_tlb_flush_requests };
      expect(run.step(2, sc.steps[2]!).violations).toEqual([]);
      expect({ pages: kvm.stat.pages_4k, flushes: kvm.stat.remote_tlb_flush_requests }).toEqual(before);
    });
    it('setting the flags a slot already has is no memslot update: the MMIO generation does not move', () => {
      const j = huge([off, on, on]);
      const sc = parseVmScenario(j, 'x.json', getProfile('v6.18'));
      const run = new VmScenarioRunner(sc);
      const gen = () => run.machine.kvm.memslots_generation;
      const g0 = gen();
      run.step(0, sc.steps[0]!);
      expect(gen()).toBe(g0);
      run.step(1, sc.steps[1]!);
      const g1 = gen();
      expect(g1).toBeGreaterThan(g0);
      run.step(2, sc.steps[2]!);
      expect(gen()).toBe(g1);
    });
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
