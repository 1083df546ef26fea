import { describe, expect, it } from 'vitest';
import { checkPaeRoot, pdpteReservedMask } from '../../src/mmu/vm/archcheck.js';
import { paeRootTargets } from '../../src/mmu/pages/roots.js';
import { make_nonleaf_spte, spte64 } from '../../src/mmu/spte/spte.js';
import { spteMasksFor } from '../../src/mmu/spte/spte_masks.js';
import { getProfile } from '../../src/profiles/index.js';
import { Model } from '../support/mmu.js';

describe('shadow walk', () => {
  it('PAE-shaped root: the top step indexes pae_root with (addr >> 30) & 3', () => {
    const m = new Model('v5.16', { pae: true, cr3: '0x1000' });
    m.do({ op: 'load' });
    m.do({ op: 'get_page', name: 'pt', gfn: '0x44', level: 1, gaddr: '0x40200000' });
    const pd = m.kvm.to_shadow_page(paeRootTargets(m.vcpu.mmu.pae_root!)[1]!.pa)!;
    expect(pd.gfn).toBe(3);
    // The walk for 0x40200000 starts at level 2 in PDPTR 1's root, index (addr >> 21) & 511 = 1.
    const w = m.do({ op: 'walk', addr: '0x40200000' }).result['walk'] as { level: number; index: number }[];
    expect(w).toEqual([{ level: 2, index: 1, spte: '0x0000000000000000' }]);
    // PDPTR 2 is not present: the walk yields nothing.
    expect(m.do({ op: 'walk', addr: '0x80000000' }).result['walk']).toEqual([]);
  });

  it('rfc-v1: the walk starts at the pae_root shadow page with the 9-bit index of level 3', () => {
    const m = new Model('rfc-v1', { pae: true, cr3: '0x1000' });
    m.do({ op: 'load' });
    const w = m.do({ op: 'walk', addr: '0x40200000' }).result['walk'] as { level: number; index: number }[];
    // default_pae_pdpte is not shadow-present: the walk stops at level 3.
    expect(w.map((x) => [x.level, x.index])).toEqual([[3, 1]]);
  });
});

describe('the architectural PAE-root check', () => {
  const masks = spteMasksFor(getProfile('v5.16'), { mode: 'vmx', maxphyaddr: 46, x86_phys_bits: 46, x86_cache_bits: 46, l1tf: false, sme_c_bit: 0, mmio_caching: true, tdp: false });
  const nonleaf = spte64((o, off) => make_nonleaf_spte(masks, 0x12345000, false, o, off));

  it('reserved bits of a present PDPTE: 63..MAXPHYADDR, 8:5, 2:1', () => {
    expect(pdpteReservedMask(46)).toBe(0xffffc00000000000n | 0x1e0n | 0x6n);
  });

  it('a PDPTE built like a non-leaf SPTE fails Intel VM entry (W, U, A are reserved)', () => {
    const v = checkPaeRoot('intel', 46, 0x1000000, [nonleaf, 0n, 0n, 0n]);
    expect(v.verdict).toBe('vmentry-fail');
    expect(v.exit_reason).toBe(0x80000021);
    expect(v.exit_qualification).toBe(2);
    expect(v.pdptes[0]!.reserved).toBe(0x26n);
  });

  it('AMD checks PDPTEs on use: #PF with RSVD rather than a failed VMRUN', () => {
    expect(checkPaeRoot('amd', 48, 0x1000000, [nonleaf, 0n, 0n, 0n]).verdict).toBe('pf-rsvd-on-use');
  });

  it('not-present PDPTEs are legal whatever else they hold; bit 11 is ignored', () => {
    expect(checkPaeRoot('intel', 46, 0x1000000, [0n, 0n, 0n, 0n]).verdict).toBe('ok');
    expect(checkPaeRoot('intel', 46, 0x1000000, [0xfffffffffffffffen, 0n, 0n, 0n]).verdict).toBe('ok');
    expect(checkPaeRoot('intel', 46, 0x1000000, [0x12345801n, 0n, 0n, 0n]).verdict).toBe('ok');
  });

  it('a PDPT above 4 GiB cannot be reached through a 32-bit CR3', () => {
    expect(checkPaeRoot('intel', 46, 2 ** 32, [0n, 0n, 0n, 0n]).verdict).toBe('cr3-unreachable');
  });
});
