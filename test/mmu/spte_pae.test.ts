import { describe, expect, it } from 'vitest';
import { getProfile } from '../../src/profiles/index.js';
import { HostMemory } from '../../src/cache/host_memory.js';
import { fromHalves } from '../../src/bits/u64.js';
import { hostZeroPage, make_pae_pdpte, make_pae_root_entry } from '../../src/mmu/spte/pae_pdpte.js';
import { is_mmio_spte, is_shadow_present_pte } from '../../src/mmu/spte/spte.js';
import { kvm_mmu_module_exit, kvm_mmu_module_init } from '../../src/mmu/spte/spte_module.js';
import { HOSTS, spteMasksFor, type HostConfig } from '../../src/mmu/spte/spte_masks.js';

const cfg: HostConfig = { ...HOSTS['amd-48-sme47']!, mode: 'svm', tdp: false, mmio_caching: true };
const out = new Uint32Array(2);

describe('PAE PDPTEs', () => {
  it('make_pae_pdpte: pa | P | bit 11 | me, none of the PDPTE-reserved W/U/A bits', () => {
    const m = spteMasksFor(getProfile('rfc-v1'), cfg);
    make_pae_pdpte(m, 0x1234000, out, 0);
    const v = fromHalves(out[0]!, out[1]!);
    expect(v).toBe(0x1234801n | (1n << 47n));
    expect(v & 0x1e6n).toBe(0n); // bits 8:5 and 2:1
    expect(is_shadow_present_pte(out[0]!)).toBe(true);
    expect(is_mmio_spte(m, out[0]!, out[1]!)).toBe(false);
  });
  it('mainline PAE-root entries carry A|W|U only under a pml4/pml5 special root', () => {
    const m = spteMasksFor(getProfile('v5.16'), cfg);
    make_pae_root_entry(m, 0x5000, false, out, 0);
    expect(fromHalves(out[0]!, out[1]!)).toBe(0x5001n | (1n << 47n));
    make_pae_root_entry(m, 0x5000, true, out, 0);
    expect(out[0]! & 0x27).toBe(0x27);
    expect(is_shadow_present_pte(out[0]!)).toBe(false);
  });
  it('default_pae_pdpte (rfc-v1): allocated at module init, present to the CPU only, freed at exit', () => {
    const mem = new HostMemory({ dma32_pages: 16, normal_pages: 16 });
    const zp = hostZeroPage(mem);
    const mod = kvm_mmu_module_init(getProfile('rfc-v1'), cfg, zp);
    expect(mod.ret).toBe(0);
    const d = mod.default_pae_pdpte!;
    expect(d.lo & 1).toBe(1);
    expect(is_shadow_present_pte(d.lo)).toBe(false);
    expect(is_mmio_spte(mod.masks, d.lo, d.hi)).toBe(false);
    expect(mem.allocated()).toHaveLength(1);
    kvm_mmu_module_exit(mod, zp);
    expect(mem.allocated()).toHaveLength(0);
  });
  it('default_pae_pdpte allocation failure fails module init with -ENOMEM and leaks nothing', () => {
    const mem = new HostMemory({ dma32_pages: 16, normal_pages: 16, faults: { shouldFail: (a) => a.site === 'default_pae_pdpte' } });
    const mod = kvm_mmu_module_init(getProfile('rfc-v1'), cfg, hostZeroPage(mem));
    expect(mod.ret).toBe(-12);
    expect(mod.default_pae_pdpte).toBeNull();
    expect(mem.allocated()).toHaveLength(0);
  });
  it('profiles without the RFC allocate nothing at module init', () => {
    const mem = new HostMemory({ dma32_pages: 16, normal_pages: 16 });
    const mod = kvm_mmu_module_init(getProfile('v6.18'), cfg, hostZeroPage(mem));
    expect(mod.default_pae_pdpte).toBeNull();
    expect(mem.allocated()).toHaveLength(0);
  });
});

describe('named hosts', () => {
  it('HOSTS matches the host part of every golden/spte configuration', async () => {
    const { goldenFiles, readGolden } = await import('../support/golden.js');
    const seen = new Set<string>();
    for (const f of goldenFiles('spte', /\.(masks|encoders)\.jsonl\.gz$/)) {
      for (const rec of readGolden(f)) {
        const c = (rec['in'] as { cfg?: Record<string, unknown> }).cfg;
        if (!c) continue;
        const name = String(c['name']).split('/')[0]!;
        seen.add(name);
        const h = HOSTS[name];
        expect(h, name).toBeDefined();
        expect({ ...h, l1tf: h!.l1tf ? 1 : 0 }).toEqual({
          maxphyaddr: c['maxphyaddr'], x86_phys_bits: c['x86_phys_bits'], x86_cache_bits: c['x86_cache_bits'], l1tf: c['l1tf'], sme_c_bit: c['sme_c_bit'],
        });
      }
    }
    expect([...seen].sort()).toEqual(Object.keys(HOSTS).sort());
  });
});
