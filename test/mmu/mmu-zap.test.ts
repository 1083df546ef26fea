import { describe, expect, it } from 'vitest';
import { Model, PROFILES, tree } from '../support/mmu.js';


describe('zapping', () => {
  it.each(PROFILES)('%s: zapping a middle page unlinks children and parents, then frees it', (p) => {
    const m = new Model(p);
    tree(m);
    const used = m.kvm.n_used_mmu_pages;
    const r = m.do({ op: 'zap', page: 'l3' });
    expect(r.result['zapped']).toBe(1);
    expect(m.kvm.n_used_mmu_pages).toBe(used - 1);
    expect(m.do({ op: 'walk', addr: '0x8080600000' }).result['walk']).toHaveLength(1);
  });

  it('zapping an unsync leaf page prints prepare_zap then sync_page (kvm_unlink_unsync_page)', () => {
    const m = new Model('v5.16');
    tree(m);
    m.do({ op: 'unsync', gfn: '0x13' });
    const r = m.do({ op: 'zap', page: 'l2' });
    expect(r.events.map((e) => e.event)).toEqual(['kvm_mmu_prepare_zap_page', 'kvm_mmu_prepare_zap_page', 'kvm_mmu_sync_page']);
    expect(r.result['zapped']).toBe(2);
    expect(m.kvm.stat.mmu_unsync).toBe(0);
  });

  it('a pinned root is prepare-zapped twice: when zapped, and when its last reference goes', () => {
    const m = new Model('v6.18');
    m.do({ op: 'load' });
    const z = m.do({ op: 'zap', page: 'root' });
    expect(z.result['zapped']).toBe(0);
    expect(m.vcpu.requests.has('KVM_REQ_MMU_FREE_OBSOLETE_ROOTS')).toBe(true);
    const f = m.do({ op: 'load' }); // services the request: frees the obsolete root, loads a new one
    expect(f.events.map((e) => e.event)).toEqual(['kvm_mmu_prepare_zap_page', 'kvm_mmu_get_page']);
    expect(f.events[0]).toMatchObject({ root_count: 0 });
  });

  it('reclaim zaps the oldest unpinned pages first (kvm_mmu_zap_oldest_mmu_pages)', () => {
    const m = new Model('v5.16');
    m.do({ op: 'load' });
    for (let i = 0; i < 6; i++) m.do({ op: 'get_page', gfn: 0x100 + i, level: 1 });
    const r = m.do({ op: 'zap_oldest', n: 2 });
    expect(r.result['zapped']).toBe(2);
    expect(r.events.map((e) => ('gfn' in e ? e.gfn : -1))).toEqual([0x100, 0x101]);
    expect(m.kvm.stat.mmu_recycled).toBe(2);
  });

  it('make_mmu_pages_available refills to KVM_REFILL_PAGES when fewer than 5 are free', () => {
    const m = new Model('v6.18', { nr_mmu_pages: 64 });
    for (let i = 0; i < 62; i++) m.do({ op: 'get_page', gfn: 0x100 + i, level: 1 });
    const r = m.do({ op: 'load' });
    // 2 available -> zap 25 - 2 = 23 oldest, then allocate the root.
    expect(r.events.filter((e) => e.event === 'kvm_mmu_prepare_zap_page')).toHaveLength(23);
    expect(m.kvm.n_used_mmu_pages).toBe(62 - 23 + 1);
  });

  it('KVM_SET_NR_MMU_PAGES below usage zaps down to the goal', () => {
    const m = new Model('v5.16', { nr_mmu_pages: 200 });
    for (let i = 0; i < 100; i++) m.do({ op: 'get_page', gfn: 0x100 + i, level: 1 });
    m.do({ op: 'set_nr_mmu_pages', n: 64 });
    expect(m.kvm.n_used_mmu_pages).toBe(64);
    expect(m.kvm.n_max_mmu_pages).toBe(64);
    expect(() => m.do({ op: 'set_nr_mmu_pages', n: 10 })).toThrow(/at least 64/);
  });

  it.each(PROFILES)('%s: zap_all_fast makes every page obsolete and zaps it; the root is reloaded', (p) => {
    const m = new Model(p);
    tree(m);
    const r = m.do({ op: 'zap_all_fast' });
    expect(r.events[0]).toMatchObject({ event: 'kvm_mmu_zap_all_fast', mmu_valid_gen: 0, mmu_used_pages: 4 });
    expect(m.kvm.mmu_valid_gen).toBe(1);
    const l = m.do({ op: 'load' });
    expect(l.events.at(-1)).toMatchObject({ event: 'kvm_mmu_get_page', mmu_valid_gen: 1, created: true });
    expect(m.kvm.n_used_mmu_pages).toBe(1);
  });
});

describe('6.x KVM_REQ_MMU_FREE_OBSOLETE_ROOTS', () => {
  it('a root without a shadow page (the PAE special root) counts as obsolete and is rebuilt', () => {
    const m = new Model('v6.18', { pae: true, cr3: '0x1000' });
    m.do({ op: 'load' });
    const before = [...m.kvm.pages].filter((sp) => sp.root_count === 1).map((sp) => sp.id);
    expect(before).toHaveLength(2);
    m.do({ op: 'zap_all_fast' });
    expect(m.vcpu.requests.has('KVM_REQ_MMU_FREE_OBSOLETE_ROOTS')).toBe(true);
    const r = m.do({ op: 'load' });
    expect(r.events.filter((e) => e.event === 'kvm_mmu_prepare_zap_page')).toHaveLength(2); // the second zap of each pinned root
    expect(r.events.filter((e) => e.event === 'kvm_mmu_get_page' && e.created)).toHaveLength(2);
    expect([...m.kvm.pages].every((sp) => sp.mmu_valid_gen === 1)).toBe(true);
  });
});
