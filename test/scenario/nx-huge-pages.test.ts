import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectVm } from '../../src/diff/collect.js';
import { getProfile, PROFILE_NAMES } from '../../src/profiles/index.js';

const FILE = join(__dirname, '../../examples/diff/nx-huge-pages.json');
const JSON_ = JSON.parse(readFileSync(FILE, 'utf8'));
const shadow = (r: ReturnType<typeof collectVm>, i: number) =>
  r.steps[i]!.events.filter((e) => e.event.startsWith('kvm_mmu_') && !/pagetable_walk|paging_element|set_accessed|set_dirty/.test(e.event)).map((e) => e.text.replace(/ at [0-9a-f]+$/, ''));

describe('the NX huge page mitigation (kvm.nx_huge_pages)', () => {
  for (const p of PROFILE_NAMES) {
    it(`${p}: a 2M SPTE is never executable; a fetch splits it to 4K and lists the page; recovery zaps it and the 2M mapping returns`, () => {
      const r = collectVm(JSON_, FILE, getProfile(p));
      expect(r.steps.flatMap((s) => s.violations)).toEqual([]);
      // Kernels that trace the new SPTE show it without X (bit 63 set); the others trace the old one.
      const leaf = getProfile(p).mmu.set_spte_traces_new_spte ? /^kvm_mmu_set_spte: gfn 400 spte 8[0-9a-f]+ \(r--u\) level 2$/ : /^kvm_mmu_set_spte: gfn 400 spte 0 \(r-x-\) level 2$/;
      expect(shadow(r, 0).slice(-2)).toEqual(['kvm_mmu_spte_requested: gfn 400 pfn 2000400 level 2', expect.stringMatching(leaf)]);
      const s1 = shadow(r, 1);
      expect(s1[0]).toBe('kvm_mmu_spte_requested: gfn 400 pfn 2000400 level 1');
      expect(s1[1]).toMatch(/^kvm_mmu_get_page: sp gen 0 gfn 400 l1 .*direct -ux .* new$/);
      expect(s1.at(-1)).toMatch(getProfile(p).mmu.set_spte_traces_new_spte ? /^kvm_mmu_set_spte: gfn 400 spte [0-9a-f]+ \(r-xu\) level 1$/ : /^kvm_mmu_set_spte: gfn 400 spte 0 \(r-x-\) level 1$/);
      expect(r.steps[2]!.outcome).toBe('zapped 1, nx_lpage_splits 0');
      expect(shadow(r, 3).slice(-2)).toEqual(['kvm_mmu_spte_requested: gfn 400 pfn 2000400 level 2', expect.stringMatching(/ level 2$/)]);
    });
  }
  it('without the mitigation the 2M SPTE is executable and a fetch needs no fault', () => {
    const j = structuredClone(JSON_);
    j.host.nx_huge_pages = false;
    const r = collectVm(j, FILE, getProfile('v6.18'));
    expect(shadow(r, 0).at(-1)).toMatch(/\(r-xu\) level 2$/);
    expect(r.steps[1]!.outcome).toBe('ok gpa 400000');
    expect(r.steps[2]!.outcome).toBe('zapped 0, nx_lpage_splits 0');
  });
  it('the recovery ratio: 0 zaps nothing, 60 zaps ceil(splits / 60)', () => {
    const j = structuredClone(JSON_);
    j.steps = [j.steps[0], j.steps[1], { op: 'nx_recovery', ratio: 0 }, { op: 'nx_recovery' }];
    const r = collectVm(j, FILE, getProfile('v6.18'));
    expect(r.steps[2]!.outcome).toBe('zapped 0, nx_lpage_splits 1');
    expect(r.steps[3]!.outcome).toBe('zapped 1, nx_lpage_splits 0');
  });
});
