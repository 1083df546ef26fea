/**
 * Memory-cache traits: the generic kvm_mmu_memory_cache (virt/kvm/kvm_main.c) and the x86
 * vCPU's caches (arch/x86/kvm/mmu/mmu.c: kvm_mmu_create, mmu_topup_memory_caches) per kernel,
 * plus the RFC's one-page PAE-root cache. src/cache consults these values.
 */
import type { DomainTraits } from './index.js';

/** The stable key of a vCPU cache: its 5.16 field name (6.x renamed the gfn-array cache). */
export type VcpuCacheKey =
  | 'mmu_pte_list_desc_cache'
  | 'mmu_shadow_page_cache'
  | 'mmu_gfn_array_cache'
  | 'mmu_page_header_cache';

export interface VcpuCacheSpec {
  readonly key: VcpuCacheKey;
  /** The field name in this kernel's struct kvm_vcpu_arch. */
  readonly name: string;
  /** Slab objects (kmem_cache named here) or whole pages (null). */
  readonly kmem_cache: 'pte_list_desc' | 'mmu_page_header' | null;
  /** __GFP_ZERO set on the cache. */
  readonly gfp_zero: boolean;
  /** 6.x: pages are filled with SHADOW_NONPRESENT_VALUE (init_value) instead of zeroed. */
  readonly init_nonpresent: boolean;
  /** The minimum mmu_topup_memory_caches asks for. */
  readonly min: number;
  /** Topped up only when the MMU may be indirect (maybe_indirect). */
  readonly only_indirect: boolean;
}

export interface CacheTraits {
  /**
   * kvm_mmu_memory_cache. '5.x': a fixed objects[40] array. '6.x': the objects array is
   * allocated on the first top-up with the requested capacity (kvmalloc_array), capacity 0, a
   * capacity mismatch, or init_value with __GFP_ZERO/a slab WARN and return -EIO; gfp_custom and
   * init_value exist; free releases the array and resets the capacity.
   */
  readonly memory_cache: '5.x' | '6.x';
  /** The vCPU's caches in mmu_topup_memory_caches order (the first failure stops the top-up). */
  readonly vcpu_caches: readonly VcpuCacheSpec[];
  /**
   * RFC 5/6: the one-page DMA32 PAE-root cache, topped up right after the cache named here (and
   * before the rest); null when the kernel has none.
   */
  readonly pae_root_cache_after: VcpuCacheKey | null;
  /** RFC 5/6 alloc_pae_root writes default_pae_pdpte into entries 0..3 of the fresh page. */
  readonly pae_root_default_pdptes: boolean;
}

/** 1 rmap + 1 parent PTE per level (PT64_ROOT_MAX_LEVEL = 5) + PTE_PREFETCH_NUM (8) prefetched rmaps. */
const PTE_LIST_DESC_MIN = 1 + 5 + 8;

const V516_CACHES: readonly VcpuCacheSpec[] = [
  { key: 'mmu_pte_list_desc_cache', name: 'mmu_pte_list_desc_cache', kmem_cache: 'pte_list_desc', gfp_zero: true, init_nonpresent: false, min: PTE_LIST_DESC_MIN, only_indirect: false },
  { key: 'mmu_shadow_page_cache', name: 'mmu_shadow_page_cache', kmem_cache: null, gfp_zero: true, init_nonpresent: false, min: 5, only_indirect: false },
  { key: 'mmu_gfn_array_cache', name: 'mmu_gfn_array_cache', kmem_cache: null, gfp_zero: false, init_nonpresent: false, min: 5, only_indirect: true },
  { key: 'mmu_page_header_cache', name: 'mmu_page_header_cache', kmem_cache: 'mmu_page_header', gfp_zero: true, init_nonpresent: false, min: 5, only_indirect: false },
];

const V618_CACHES: readonly VcpuCacheSpec[] = V516_CACHES.map((c) =>
  c.key === 'mmu_shadow_page_cache'
    ? { ...c, gfp_zero: false, init_nonpresent: true }
    : c.key === 'mmu_gfn_array_cache'
      ? { ...c, name: 'mmu_shadowed_info_cache' }
      : c,
);

export const cacheTraits: DomainTraits<CacheTraits> = {
  root: {
    memory_cache: '5.x',
    vcpu_caches: V516_CACHES,
    pae_root_cache_after: null,
    pae_root_default_pdptes: false,
  },
  patches: {
    'rfc-pae-root-v1': { pae_root_cache_after: 'mmu_shadow_page_cache', pae_root_default_pdptes: true },
    'mainline-v6.18': { memory_cache: '6.x', vcpu_caches: V618_CACHES },
  },
};
