import { describe, expect, it } from 'vitest';
import { INVALID_PAGE } from '../../src/mmu/pages/constants.js';
import { paeRootTargets } from '../../src/mmu/pages/roots.js';
import { getProfile } from '../../src/profiles/index.js';
import { Model, PROFILES, type ProfileName } from '../support/mmu.js';

const g = (m: Model) => m.vcpu.mmu;

describe('roots', () => {
  it.each(PROFILES)('%s: a 64-bit shadow root is pinned once and freed back to root_count 0', (p) => {
    const m = new Model(p);
    m.do({ op: 'load' });
    const sp = m.kvm.to_shadow_page(g(m).root_hpa)!;
    expect(sp.root_count).toBe(1);
    expect(g(m).root_pgd).toBe(0x10000);
    m.do({ op: 'free_roots', roots: 'all' });
    expect(sp.root_count).toBe(0);
    expect(g(m).root_hpa).toBe(INVALID_PAGE);
  });

  it.each(PROFILES.filter((n) => !getProfile(n).mmu.pae_root_shadow_page))('%s: a PAE guest gets the special DMA32 pae_root with one level-2 root per present PDPTR', (p) => {
    const m = new Model(p, { pae: true, cr3: '0x1000' });
    m.do({ op: 'load' });
    const pae = g(m).pae_root!;
    expect(g(m).root_hpa).toBe(pae.pfn * 4096);
    expect(pae.pfn).toBeLessThan(0x100000);
    expect(m.r.m.mem.info(pae.pfn)!.decrypted).toBe(true);
    const t = paeRootTargets(pae);
    expect(t.map((x) => x.index)).toEqual([0, 1]);
    expect(t.map((x) => m.kvm.to_shadow_page(x.pa)!.gfn)).toEqual([2, 3]);
    // PDPTE = root | P | me: no bit 11 (never tested with is_shadow_present_pte).
    expect(pae.words[0]! & 0xfff).toBe(1);
    m.do({ op: 'free_roots', roots: 'current' });
    expect(paeRootTargets(pae)).toEqual([]);
  });

  it('a 32-bit non-PAE guest: four level-2 roots at CR3 with quadrants 0..3', () => {
    const m = new Model('v5.16', { mmu: { kind: 'shadow', role: { level: 3, gpte_is_8_bytes: 0, access: 7, cr0_wp: 1 }, root_level: 2, shadow_root_level: 3 }, cr3: '0x5000' });
    m.do({ op: 'load' });
    const roots = paeRootTargets(g(m).pae_root!).map((x) => m.kvm.to_shadow_page(x.pa)!);
    expect(roots.map((sp) => sp.gfn)).toEqual([5, 5, 5, 5]);
    expect(roots.map((sp) => (sp.role >> 5) & 3)).toEqual([0, 1, 2, 3]);
  });

  it.each(['rfc-v1', 'rfc-v1-pae'] as ProfileName[])('%s: the PAE root is one shadow page from the DMA32, decrypted PAE-root cache', (p) => {
    const m = new Model(p, { pae: true, cr3: '0x1000' });
    const r = m.do({ op: 'load' });
    const sp = m.kvm.to_shadow_page(g(m).root_hpa)!;
    expect(sp.gfn).toBe(1);
    expect(sp.pfn).toBeLessThan(0x100000);
    expect(m.r.m.mem.info(sp.pfn)!.decrypted).toBe(true);
    expect(g(m).pae_root).toBeNull();
    expect(r.cr3?.verdict).toBe('ok');
    m.do({ op: 'free_roots', roots: 'all' });
    m.do({ op: 'destroy' });
  });

  it('direct roots: 4-level TDP root at gfn 0; PAE-shaped direct roots at gfn i << 18', () => {
    const m = new Model('v5.16', { tdp: true, mmu: { kind: 'tdp', role: { level: 4, gpte_is_8_bytes: 1, direct: 1, access: 7 }, direct_map: true, root_level: 4, shadow_root_level: 4 } });
    m.do({ op: 'load' });
    expect(m.kvm.to_shadow_page(g(m).root_hpa)).toMatchObject({ gfn: 0 });
    const n = new Model('v5.16', { mmu: { kind: 'shadow', role: { level: 3, gpte_is_8_bytes: 1, direct: 1, access: 7, cr0_wp: 1 }, direct_map: true, root_level: 0, shadow_root_level: 3 } });
    n.do({ op: 'load' });
    expect(paeRootTargets(g(n).pae_root!).map((x) => n.kvm.to_shadow_page(x.pa)!.gfn)).toEqual([0, 1 << 18, 2 << 18, 3 << 18]);
    expect(g(n).root_pgd).toBe(0);
  });

  // shadow-mmu.md g.7 worked example: (C | A B D), hit on B -> (B | C A D); miss -> (D | C A B), D freed.
  it.each(['v5.16', 'v6.18'] as ProfileName[])('%s: prev_roots rotate on a fast PGD switch', (p) => {
    const m = new Model(p, { cr3: '0xd000' });
    const gfnOf = (hpa: number) => (hpa < 0 ? null : m.kvm.to_shadow_page(hpa)!.gfn);
    for (const cr3 of ['0xd000', '0xb000', '0xa000', '0xc000']) {
      m.do({ op: 'set_cr3', cr3 });
      m.do({ op: 'load' });
    }
    const state = () => [gfnOf(g(m).root_hpa), ...g(m).prev_roots.map((r) => gfnOf(r.hpa))];
    expect(state()).toEqual([0xc, 0xa, 0xb, 0xd]);
    // Arrange (C | A B D): it is already that shape.
    expect(m.do({ op: 'set_cr3', cr3: '0xb000' }).result['fast_switch']).toBe(true);
    expect(state()).toEqual([0xb, 0xc, 0xa, 0xd]);
    expect(m.do({ op: 'set_cr3', cr3: '0xe000' }).result['fast_switch']).toBe(false);
    expect(state()).toEqual([null, 0xb, 0xc, 0xa]);
  });

  it('5.16: PAE-shaped MMUs never cache roots (fast switch not applicable)', () => {
    const m = new Model('v5.16', { pae: true, cr3: '0x1000' });
    m.do({ op: 'load' });
    expect(m.do({ op: 'set_cr3', cr3: '0x1000' }).result['fast_switch']).toBe(false);
    expect(g(m).root_hpa).toBe(INVALID_PAGE);
  });
});

describe('PAE CR3 is only 32-byte aligned (rfc-pae-root.md §3, V3 review)', () => {
  it('rfc-v1 keys its PAE root page by gfn: two PDPTs in one page share one root shadow page', () => {
    const m = new Model('rfc-v1', { pae: true, cr3: '0x1000' });
    m.do({ op: 'load' });
    const first = m.vcpu.mmu.root_hpa;
    m.do({ op: 'set_cr3', cr3: '0x1020' });
    const r = m.do({ op: 'load' });
    expect(r.events).toMatchObject([{ event: 'kvm_mmu_get_page', gfn: 1, created: false }]);
    expect(m.vcpu.mmu.root_hpa).toBe(first);
  });

  it('v5.16 rebuilds its special root from the PDPTRs instead', () => {
    const m = new Model('v5.16', { pae: true, cr3: '0x1000' });
    m.do({ op: 'load' });
    m.do({ op: 'set_cr3', cr3: '0x1020' });
    m.do({ op: 'set_regs', cr0: '0x80000011', cr4: '0x20', efer: '0', pdptrs: ['0x5001', '0x0', '0x0', '0x0'] });
    m.do({ op: 'load' });
    expect(paeRootTargets(g(m).pae_root!).map((x) => m.kvm.to_shadow_page(x.pa)!.gfn)).toEqual([5]);
  });
});

describe('special roots for shadow NPT of a 32-bit L1 (mmu_alloc_special_roots)', () => {
  it.each(['v5.16', 'v6.18'] as ProfileName[])('%s: pml4_root -> pae_root (A|W|U entries), zeroed non-DMA32 pages; the walk starts at the PAE level', (p) => {
    const role = p === 'v5.16' ? { level: 4, gpte_is_8_bytes: 1, access: 7, guest_mode: 1 } : { level: 4, access: 7, guest_mode: 1, efer_nx: 1 };
    const m = new Model(p, { tdp: true, host: { vendor: 'amd', cpu: 'amd-48' }, cr3: '0x7000', pdptrs: ['0x8001', '0x0', '0x0', '0x0'], mmu: { kind: 'shadow_npt', role, direct_map: false, root_level: 3, shadow_root_level: 4 } });
    m.do({ op: 'load' });
    const mm = g(m);
    expect(mm.root_hpa).toBe(mm.pml4_root!.pfn * 4096);
    expect(mm.pae_root!.dma32).toBe(false);
    expect(mm.pml4_root!.words[0]! & 0xfff).toBe(0x27); // P | W | U | A
    expect(mm.pae_root!.words[0]! & 0xfff).toBe(0x27);
    expect(paeRootTargets(mm.pae_root!).map((x) => m.kvm.to_shadow_page(x.pa)!.gfn)).toEqual([8]);
    const w = m.do({ op: 'walk', addr: '0x200000' }).result['walk'] as { level: number }[];
    expect(w.map((x) => x.level)).toEqual([2]);
    m.do({ op: 'destroy' });
  });
});
