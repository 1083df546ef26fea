import { describe, expect, it } from 'vitest';
import { getProfile } from '../../src/profiles/index.js';
import {
  HostMemory,
  KernelBug,
  KvmMmuMemoryCache,
  PaeRootCache,
  SiteFaults,
  VcpuMmuCaches,
  WarnLog,
  type FaultInjector,
} from '../../src/cache/index.js';

function mem(faults?: FaultInjector) {
  return new HostMemory({ dma32_pages: 64, normal_pages: 1024, faults });
}

describe('kvm_mmu_memory_cache', () => {
  it('tops up to the full capacity only when below the minimum', () => {
    const m = mem();
    const c = new KvmMmuMemoryCache(m, { name: 'c', variant: '5.x', kmem_cache: null, gfp_zero: true });
    expect(c.kvm_mmu_topup_memory_cache(5)).toBe(0);
    expect(c.nobjs).toBe(40);
    c.kvm_mmu_memory_cache_alloc();
    expect(c.kvm_mmu_topup_memory_cache(5)).toBe(0);
    expect(c.nobjs).toBe(39);
  });
  it('a failed top-up returns -ENOMEM below the minimum, 0 at or above it; objects stay cached', () => {
    const f = new SiteFaults().failAt('memory_cache:c', 3).failAt('memory_cache:c', 4);
    const m = mem(f);
    const c = new KvmMmuMemoryCache(m, { name: 'c', variant: '5.x', kmem_cache: 'obj', gfp_zero: true });
    expect(c.kvm_mmu_topup_memory_cache(5)).toBe(-12);
    expect(c.nobjs).toBe(3);
    expect(c.kvm_mmu_topup_memory_cache(4)).toBe(-12); // attempt 4 fails too
    expect(c.nobjs).toBe(3);
    expect(c.kvm_mmu_topup_memory_cache(4)).toBe(0);
    expect(c.nobjs).toBe(40);
    const d = new KvmMmuMemoryCache(mem(new SiteFaults().failAt('memory_cache:d', 3)), { name: 'd', variant: '5.x', kmem_cache: null, gfp_zero: true });
    expect(d.kvm_mmu_topup_memory_cache(2)).toBe(0);
    expect(d.nobjs).toBe(3);
    expect(m.unreachable(() => false)).toEqual([]);
  });
  it('allocates LIFO; an empty cache warns and falls back to an atomic allocation', () => {
    const m = mem();
    const w = new WarnLog();
    const c = new KvmMmuMemoryCache(m, { name: 'c', variant: '5.x', kmem_cache: null, gfp_zero: false, warns: w });
    c.kvm_mmu_topup_memory_cache(1);
    const top = c.cachedObjects()[39];
    expect(c.kvm_mmu_memory_cache_alloc()).toBe(top);
    c.kvm_mmu_free_memory_cache();
    expect(w.count).toBe(0);
    c.kvm_mmu_memory_cache_alloc();
    expect([w.count, c.atomic_fallbacks]).toEqual([1, 1]);
  });
  it('BUGs when the atomic fallback fails too, leaving the cache unchanged', () => {
    const m = mem(new SiteFaults().failAlways('memory_cache_atomic:c'));
    const c = new KvmMmuMemoryCache(m, { name: 'c', variant: '5.x', kmem_cache: null, gfp_zero: false });
    expect(() => c.kvm_mmu_memory_cache_alloc()).toThrow(KernelBug);
    expect([c.nobjs, c.atomic_fallbacks, m.allocated().length]).toEqual([0, 0, 0]);
  });
  it('6.x: WARN + -EIO for capacity 0, a capacity mismatch, and init_value with __GFP_ZERO', () => {
    const m = mem();
    const w = new WarnLog();
    const c = new KvmMmuMemoryCache(m, { name: 'c', variant: '6.x', kmem_cache: null, gfp_zero: false, warns: w });
    expect(c.__kvm_mmu_topup_memory_cache(0, 1)).toBe(-5);
    expect(c.__kvm_mmu_topup_memory_cache(16, 1)).toBe(0);
    expect(c.__kvm_mmu_topup_memory_cache(16, 17)).toBe(0);
    expect(c.__kvm_mmu_topup_memory_cache(40, 17)).toBe(-5);
    const z = new KvmMmuMemoryCache(m, { name: 'z', variant: '6.x', kmem_cache: null, gfp_zero: true, init_value_hi: 0x80000000, warns: w });
    expect(z.kvm_mmu_topup_memory_cache(1)).toBe(-5);
    expect(w.count).toBe(3);
    c.kvm_mmu_free_memory_cache();
    expect([c.capacity, c.array_frees]).toEqual([0, 1]);
  });
  it('6.x: pages are filled with init_value', () => {
    const m = mem();
    const c = new KvmMmuMemoryCache(m, { name: 'c', variant: '6.x', kmem_cache: null, gfp_zero: false, init_value_hi: 0x80000000 });
    c.kvm_mmu_topup_memory_cache(1);
    const w = m.words(c.kvm_mmu_memory_cache_alloc());
    expect([w[0], w[1], w[1022], w[1023]]).toEqual([0, 0x80000000, 0, 0x80000000]);
  });
  it('5.x caches have neither gfp_custom nor init_value', () => {
    expect(() => new KvmMmuMemoryCache(mem(), { name: 'c', variant: '5.x', kmem_cache: null, gfp_zero: false, init_value_lo: 1 })).toThrow(/6.x/);
  });
});

describe('vCPU caches per profile', () => {
  const env = { tdp_enabled: false, shadow_me_mask_nonzero: false, default_pae_pdpte: { lo: 0x7ffff001, hi: 0 } };
  it('top up in the kernel order with the kernel minima; the gfn cache only when indirect', () => {
    const m = mem();
    const v = new VcpuMmuCaches(getProfile('v5.16'), m, env);
    expect(v.mmu_topup_memory_caches(false, 4)).toBe(0);
    expect(v.levels()).toEqual({
      mmu_pte_list_desc_cache: { nobjs: 40, capacity: 40 },
      mmu_shadow_page_cache: { nobjs: 40, capacity: 40 },
      mmu_gfn_array_cache: { nobjs: 0, capacity: 40 },
      mmu_page_header_cache: { nobjs: 40, capacity: 40 },
    });
    expect(v.specs.map((s) => s.min)).toEqual([14, 5, 5, 5]);
  });
  it('lists its allocation sites for fault injection', () => {
    const v = new VcpuMmuCaches(getProfile('rfc-v1'), mem(), env);
    expect(v.allocSites()).toEqual([
      'memory_cache:mmu_pte_list_desc_cache', 'memory_cache_atomic:mmu_pte_list_desc_cache',
      'memory_cache:mmu_shadow_page_cache', 'memory_cache_atomic:mmu_shadow_page_cache', 'pae_root_cache',
      'memory_cache:mmu_gfn_array_cache', 'memory_cache_atomic:mmu_gfn_array_cache',
      'memory_cache:mmu_page_header_cache', 'memory_cache_atomic:mmu_page_header_cache',
    ]);
    expect(new VcpuMmuCaches(getProfile('v6.18'), mem(), env).allocSites()[0]).toBe('kvmalloc_array:mmu_pte_list_desc_cache');
  });
  it('the first failure stops the top-up', () => {
    const m = mem(new SiteFaults().failAt('memory_cache:mmu_shadow_page_cache', 0));
    const v = new VcpuMmuCaches(getProfile('v5.16'), m, env);
    expect(v.mmu_topup_memory_caches(true, 4)).toBe(-12);
    expect(v.levels()['mmu_page_header_cache']!.nobjs).toBe(0);
    v.mmu_free_memory_caches();
    expect(m.allocated()).toEqual([]);
  });
  it('6.18: shadow pages come filled with SHADOW_NONPRESENT_VALUE; the gfn cache is mmu_shadowed_info_cache', () => {
    const m = mem();
    const v = new VcpuMmuCaches(getProfile('v6.18'), m, env);
    v.mmu_topup_memory_caches(true, 4);
    expect(m.words(v.alloc('mmu_shadow_page_cache'))[1]).toBe(0x80000000);
    expect(v.cache('mmu_gfn_array_cache').name).toBe('mmu_shadowed_info_cache');
    v.free_all();
    expect(m.unreachable(() => false).map((o) => o.site)).toEqual(['memory_cache:mmu_shadow_page_cache']);
  });
  it('rfc-v1: a decrypted, zeroed DMA32 PAE root with default PDPTEs, topped up after the shadow-page cache', () => {
    const m = mem();
    const v = new VcpuMmuCaches(getProfile('rfc-v1'), m, env);
    expect(v.mmu_topup_memory_caches(false, 3)).toBe(0);
    const p = v.pae_root_cached()!;
    expect(p * 4096).toBeLessThan(2 ** 32);
    expect(m.info(p)!.decrypted).toBe(true);
    const w = m.words(p);
    expect([w[0], w[6], w[8]]).toEqual([0x7ffff001, 0x7ffff001, 0]);
    expect(v.levels()['mmu_pae_root_cache']).toEqual({ nobjs: 1, capacity: 1 });
    const taken = v.take_pae_root()!;
    expect(v.pae_root_cached()).toBeNull();
    v.free_pae_root(taken);
    v.free_all();
    expect(m.allocated()).toEqual([]);
    expect([m.stats.decrypt_calls, m.stats.encrypt_calls]).toEqual([1, 1]);
  });
  it('rfc-v1: a PAE-root failure aborts the later top-ups (gfn array and headers)', () => {
    const m = mem(new SiteFaults().failAlways('pae_root_cache'));
    const v = new VcpuMmuCaches(getProfile('rfc-v1'), m, env);
    expect(v.mmu_topup_memory_caches(true, 3)).toBe(-12);
    expect(v.levels()['mmu_gfn_array_cache']!.nobjs).toBe(0);
    expect(v.levels()['mmu_page_header_cache']!.nobjs).toBe(0);
  });
  it('PAE-root cache with TDP: not decrypted; warns if SPTEs carry an encryption mask; only for level 3', () => {
    const m = mem();
    const c = new PaeRootCache(m, { tdp_enabled: true, shadow_me_mask_nonzero: true, default_pdpte: null });
    expect(c.mmu_topup_pae_root_cache(4)).toBe(0);
    expect(c.slot).toBeNull();
    c.mmu_topup_pae_root_cache(3);
    expect(m.info(c.slot!)!.decrypted).toBe(false);
    expect(c.warns.count).toBe(1);
    c.free();
    expect([m.allocated().length, m.stats.encrypt_calls]).toEqual([0, 0]);
  });
});
