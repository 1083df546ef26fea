import { describe, expect, it } from 'vitest';
import { getProfile } from '../../src/profiles/index.js';
import { Model, PROFILES } from '../support/mmu.js';

describe('the MMU shrinker (mmu_shrink_count / mmu_shrink_scan)', () => {
  it('5.16 and the RFC tree: count = used pages; scan zaps the oldest unpinned pages of the VM', () => {
    for (const p of PROFILES.filter((n) => getProfile(n).mmu.mmu_shrinker)) {
      const m = new Model(p);
      m.do({ op: 'load' });
      for (let i = 0; i < 6; i++) m.do({ op: 'get_page', gfn: 0x100 + i, level: 1 });
      const used = m.kvm.n_used_mmu_pages;
      const r = m.do({ op: 'shrink', n: 3 });
      expect(r.result, p).toEqual({ count: used, freed: 3 });
      expect(r.events.map((e) => ('gfn' in e ? e.gfn : -1)), p).toEqual([0x100, 0x101, 0x102]);
      expect(m.kvm.n_used_mmu_pages, p).toBe(used - 3);
      expect(m.kvm.stat.mmu_recycled, p).toBe(3);
      expect(r.violations).toEqual([]);
    }
  });

  it('a VM with no used pages is skipped', () => {
    const m = new Model('v5.16');
    expect(m.do({ op: 'shrink', n: 10 }).result).toEqual({ count: 0, freed: 0 });
  });

  it('6.18 has no MMU shrinker: nothing counted, nothing zapped', () => {
    const m = new Model('v6.18');
    m.do({ op: 'load' });
    for (let i = 0; i < 6; i++) m.do({ op: 'get_page', gfn: 0x100 + i, level: 1 });
    const used = m.kvm.n_used_mmu_pages;
    const r = m.do({ op: 'shrink', n: 3 });
    expect(r.result).toEqual({ count: 0, freed: 0 });
    expect(r.events).toEqual([]);
    expect(m.kvm.n_used_mmu_pages).toBe(used);
  });
});
