import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectVm } from '../../src/diff/collect.js';
import { getProfile, PROFILE_NAMES } from '../../src/profiles/index.js';

const FILE = join(__dirname, '../../examples/diff/mmio-generation.json');
const JSON_ = JSON.parse(readFileSync(FILE, 'utf8'));

/** The step's MMU event lines (walker events left out). */
const mmuLines = (r: ReturnType<typeof collectVm>, i: number) => r.steps[i]!.events.filter((e) => !e.event.startsWith('kvm_mmu_pagetable') && !e.event.startsWith('kvm_mmu_paging') && !e.event.startsWith('kvm_mmu_set_accessed')).map((e) => e.text);

describe('MMIO SPTEs carry the memslots generation (mark_mmio_spte, check_mmio_spte, a memslot update)', () => {
  for (const p of PROFILE_NAMES) {
    it(`${p}: generation 2 with one memslot; a new memslot (generation 4) makes the SPTE stale and the fault maps RAM`, () => {
      const r = collectVm(JSON_, FILE, getProfile(p));
      expect(r.steps.flatMap((s) => s.violations)).toEqual([]);
      expect(r.steps[0]!.outcome).toBe('emulated: mmio gpa 4000000');
      expect(mmuLines(r, 0).filter((l) => l.startsWith('mark_mmio_spte'))).toEqual([expect.stringMatching(/^mark_mmio_spte: sptep:[0-9a-f]{16} gfn 4000 access 5 gen 2$/)]);
      // The second read hits the vCPU's MMIO info cache (kvm_handle_noslot_fault filled it): no check.
      expect(r.steps[1]!.outcome).toBe('emulated: mmio gpa 4000000');
      expect(mmuLines(r, 1)).toEqual([]);
      expect(r.steps[2]!.outcome).toBe('memslot generation 4');
      const s3 = mmuLines(r, 3);
      expect(s3[0]).toMatch(/^check_mmio_spte: spte [0-9a-f]+ kvm_gen 4 spte-gen 2 valid 0$/);
      expect(s3.at(-1)).toMatch(/^kvm_mmu_set_spte: gfn 4000 spte [0-9a-f]+ \(r-xu\) level 1 at [0-9a-f]+$/);
      expect(r.steps[3]!.outcome).toBe('ok gpa 4000000 after 1 fault(s)');
      expect(r.steps[4]!.outcome).toBe('ok gpa 4000000');
    });
  }
  it('with the cache cleared (a MOV CR3 syncs the roots), a current-generation MMIO SPTE passes check_mmio_spte and is handled', () => {
    const j = structuredClone(JSON_);
    j.steps = [j.steps[0], { op: 'set_cr3', cr3: '0x100000' }, j.steps[1]];
    const r = collectVm(j, FILE, getProfile('v6.18'));
    const s = mmuLines(r, 2);
    expect(s[0]).toMatch(/^check_mmio_spte: spte [0-9a-f]+ kvm_gen 2 spte-gen 2 valid 1$/);
    expect(s[1]).toBe('handle_mmio_page_fault: addr:40203000 gfn 4000 access 4');
  });
  it('a wrap of the MMIO generation zaps every shadow page (kvm_mmu_invalidate_mmio_sptes)', async () => {
    const api = await import('../../src/mmu/vm/api.js');
    const { GuestMemory } = await import('../../src/guest/memory.js');
    const mem = new GuestMemory();
    mem.addSlot(0, 32 << 20);
    const vm = api.createVm({ profile: getProfile('v6.18'), guest: mem, regs: { cr0: 0x80010033n, cr3: 0x100000n, cr4: 0x20n, efer: 0xd00n } });
    const evs: string[] = [];
    api.onEvent(vm, (ev) => evs.push(ev.event));
    api.enterGuest(vm);
    vm.machine.kvm.memslots_generation = 0x7fffe;
    api.addMemslot(vm, 0x4000000, 0x200000);
    expect(vm.machine.kvm.memslots_generation).toBe(0x80000);
    expect(evs).toContain('kvm_mmu_zap_all_fast');
    evs.length = 0;
    api.addMemslot(vm, 0x4200000, 0x200000);
    expect(evs).not.toContain('kvm_mmu_zap_all_fast');
  });
});
