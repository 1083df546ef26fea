import { describe, expect, it } from 'vitest';
import { Model, PROFILES, tree } from '../support/mmu.js';

describe('link_shadow_page / drop_parent_pte', () => {
  it.each(PROFILES)('%s: link writes make_nonleaf_spte and records the parent; drop clears both', (p) => {
    const m = new Model(p);
    m.do({ op: 'load' });
    m.do({ op: 'get_page', name: 'c', gfn: '0x11', level: 3 });
    const l = m.do({ op: 'link', parent: 'root', index: 5, child: 'c' });
    const child = [...m.kvm.pages].find((sp) => sp.gfn === 0x11)!;
    const spte = BigInt(l.result['spte'] as string);
    // P | W | U | A | bit 11 | address (non-EPT shadow paging).
    expect(spte & 0xfffn).toBe(0x827n);
    expect(spte >> 12n).toBe(BigInt(child.pfn));
    expect([...child.parent_ptes.values()]).toEqual([m.kvm.sptep(m.r.m.kvm.to_shadow_page(m.vcpu.mmu.root_hpa)!, 5)]);
    const d = m.do({ op: 'drop', parent: 'root', index: 5 });
    expect(BigInt(d.result['spte'] as string)).toBe(p === 'v6.18' ? 1n << 63n : 0n);
    expect(child.parent_ptes.empty).toBe(true);
  });

  it('linking into a present SPTE is refused and changes nothing', () => {
    const m = new Model('v5.16');
    m.do({ op: 'load' });
    m.do({ op: 'get_page', name: 'a', gfn: '0x11', level: 3 });
    m.do({ op: 'get_page', name: 'b', gfn: '0x12', level: 3 });
    m.do({ op: 'link', parent: 'root', index: 1, child: 'a' });
    expect(() => m.do({ op: 'link', parent: 'root', index: 1, child: 'b' })).toThrow(/already present/);
    expect(m.do({ op: 'walk', addr: '0x8000000000' }).result['walk']).toHaveLength(2);
  });

  it('rfc-v1: a pae_root parent gets make_pae_pdpte; drop restores default_pae_pdpte', () => {
    const m = new Model('rfc-v1', { pae: true, cr3: '0x1000' });
    m.do({ op: 'load' });
    const root = m.kvm.to_shadow_page(m.vcpu.mmu.root_hpa)!;
    const d = m.kvm.default_pae_pdpte!;
    expect(root.spt[0]).toBe(d.lo);
    m.do({ op: 'get_page', name: 'pd', gfn: '0x3', level: 2, gaddr: '0x40000000' });
    const l = m.do({ op: 'link', parent: 'root', index: 1, child: 'pd' });
    const v = BigInt(l.result['spte'] as string);
    expect(v & 0xfffn).toBe(0x801n); // P | bit 11 only: no W/U/A (reserved in a PDPTE)
    const dr = m.do({ op: 'drop', parent: 'root', index: 1 });
    expect(BigInt(dr.result['spte'] as string)).toBe((BigInt(d.hi) << 32n) | BigInt(d.lo));
  });

  it('rfc-v1-pae keeps the RFC link rule; rfc-base has no pae_root pages', () => {
    const m = new Model('rfc-v1-pae', { pae: true, cr3: '0x1000' });
    m.do({ op: 'load' });
    m.do({ op: 'get_page', name: 'pd', gfn: '0x3', level: 2, gaddr: '0x40000000' });
    expect(BigInt(m.do({ op: 'link', parent: 'root', index: 1, child: 'pd' }).result['spte'] as string) & 0xfffn).toBe(0x801n);
    const b = new Model('rfc-base', { pae: true, cr3: '0x1000' });
    b.do({ op: 'load' });
    expect(b.kvm.to_shadow_page(b.vcpu.mmu.root_hpa)).toBeNull(); // a special root, not a page
  });

  it('an unsync leaf marks its parents up to the root (mark_unsync)', () => {
    const m = new Model('v6.18');
    tree(m);
    m.do({ op: 'unsync', gfn: '0x13' });
    const root = m.kvm.to_shadow_page(m.vcpu.mmu.root_hpa)!;
    expect(root.unsync_children).toBe(1);
    expect(root.testUnsyncChild(1)).toBe(true);
    // Linking an unsync page marks the new parent too.
    m.do({ op: 'get_page', name: 'l2b', gfn: '0x14', level: 2 });
    m.do({ op: 'link', parent: 'l2b', index: 7, child: 'l1' });
    const l2b = [...m.kvm.pages].find((sp) => sp.gfn === 0x14)!;
    expect(l2b.testUnsyncChild(7)).toBe(true);
    // Zapping the unsync leaf clears the path bits (audit checks counts after every step).
    m.do({ op: 'zap', page: 'l1' });
    expect(root.unsync_children).toBe(1); // stale bit, cleared lazily by the next unsync walk
  });
});

describe('kvm_mmu_sync_roots / mmu_sync_children', () => {
  it.each(['v5.16', 'v6.18'] as const)('%s: syncs every unsync leaf below the root in batches of 16 and clears the path', (p) => {
    const m = new Model(p);
    m.do({ op: 'load' });
    m.do({ op: 'get_page', name: 'l3', gfn: '0x11', level: 3 });
    m.do({ op: 'link', parent: 'root', index: 1, child: 'l3' });
    m.do({ op: 'get_page', name: 'l2', gfn: '0x12', level: 2 });
    m.do({ op: 'link', parent: 'l3', index: 0, child: 'l2' });
    for (let i = 0; i < 20; i++) {
      m.do({ op: 'topup' });
      m.do({ op: 'get_page', name: `pt${i}`, gfn: 0x100 + i, level: 1 });
      m.do({ op: 'link', parent: 'l2', index: i, child: `pt${i}` });
      m.do({ op: 'unsync', gfn: 0x100 + i });
    }
    const root = m.kvm.to_shadow_page(m.vcpu.mmu.root_hpa)!;
    expect(root.unsync_children).toBe(1);
    const r = m.do({ op: 'sync_roots' });
    expect(r.result['synced']).toBe(20);
    expect(r.events.filter((e) => e.event === 'kvm_mmu_sync_page')).toHaveLength(20);
    expect(root.unsync_children).toBe(0);
    expect(m.kvm.stat.mmu_unsync).toBe(0);
    expect([...m.kvm.pages].every((sp) => !sp.unsync && sp.unsync_children === 0)).toBe(true);
  });

  it('a failed sync zaps the page; loading the MMU syncs the roots', () => {
    const m = new Model('v5.16');
    m.do({ op: 'load' });
    m.do({ op: 'get_page', name: 'l3', gfn: '0x11', level: 3 });
    m.do({ op: 'link', parent: 'root', index: 1, child: 'l3' });
    m.do({ op: 'get_page', name: 'l2', gfn: '0x12', level: 2 });
    m.do({ op: 'link', parent: 'l3', index: 0, child: 'l2' });
    m.do({ op: 'get_page', name: 'pt', gfn: '0x13', level: 1 });
    m.do({ op: 'link', parent: 'l2', index: 3, child: 'pt' });
    m.do({ op: 'unsync', gfn: '0x13' });
    m.do({ op: 'sync_result', gfn: '0x13', result: 'fail' });
    m.do({ op: 'free_roots', roots: 'current' });
    const r = m.do({ op: 'load' });
    expect(r.events.map((e) => e.event)).toEqual(['kvm_mmu_get_page', 'kvm_mmu_sync_page', 'kvm_mmu_prepare_zap_page']);
    expect([...m.kvm.pages].some((sp) => sp.gfn === 0x13)).toBe(false);
  });
});

describe('link_shadow_page refuses states the kernel never builds (regression)', () => {
  it('a child whose level is not one below the parent, and a zapped child', () => {
    const m = new Model('v6.18');
    m.do({ op: 'load' });
    m.do({ op: 'get_page', name: 'l1', gfn: '0x13', level: 1 });
    expect(() => m.do({ op: 'link', parent: 'root', index: 0, child: 'l1' })).toThrow(/cannot hang below/);
    expect(() => m.do({ op: 'link', parent: 'l1', index: 0, child: 'l1' })).toThrow(/cannot hang below/);
    m.do({ op: 'zap', page: 'root' }); // pinned: stays, invalid
    m.do({ op: 'get_page', name: 'l3', gfn: '0x11', level: 3 });
    expect(() => m.do({ op: 'link', parent: 'root', index: 0, child: 'l3' })).toThrow(/invalid/);
  });
});
