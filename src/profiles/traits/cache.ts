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
   * kvm_mmu_memory_cache's objects array is allocated on the first top-up with the requested
   * capacity (kvmalloc_array); capacity 0 or a capacity mismatch WARN and return -EIO; free
   * releases the array and resets the capacity. Without it (5.x) a fixed objects[40] array.
   * David Matlack, "KVM: Allow for different capacities in kvm_mmu_memory_cache structs", commit
   * 837f66c71207 (v6.0, the eager page splitting series).
   */
  readonly memory_cache_dynamic_capacity: boolean;
  /**
   * The cache has gfp_custom, replacing GFP_KERNEL_ACCOUNT for top-ups (riscv uses
   * GFP_ATOMIC | __GFP_ACCOUNT). Anup Patel, "KVM: Add gfp_custom flag in struct
   * kvm_mmu_memory_cache" (v6.1; commit not pinned here).
   */
  readonly memory_cache_gfp_custom: boolean;
  /**
   * The cache has init_value, a 64-bit pattern for fresh pages; with a slab cache or __GFP_ZERO
   * it WARNs and the top-up returns -EIO. It came with SHADOW_NONPRESENT_VALUE (v6.10; commit not
   * pinned here).
   */
  readonly memory_cache_init_value: boolean;
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

/** 6.0: the gfn-array cache becomes mmu_shadowed_info_cache (shadowed_translation). */
const V60_CACHES: readonly VcpuCacheSpec[] = V516_CACHES.map((c) => (c.key === 'mmu_gfn_array_cache' ? { ...c, name: 'mmu_shadowed_info_cache' } : c));

/** 6.10: shadow pages are filled with SHADOW_NONPRESENT_VALUE instead of zeroed. */
const V618_CACHES: readonly VcpuCacheSpec[] = V60_CACHES.map((c) =>
  c.key === 'mmu_shadow_page_cache' ? { ...c, gfp_zero: false, init_nonpresent: true } : c,
);

export const cacheTraits: DomainTraits<CacheTraits> = {
  root: {
    memory_cache_dynamic_capacity: false,
    memory_cache_gfp_custom: false,
    memory_cache_init_value: false,
    vcpu_caches: V516_CACHES,
    pae_root_cache_after: null,
    pae_root_default_pdptes: false,
  },
  patches: {
    'rfc-pae-root-v1': { pae_root_cache_after: 'mmu_shadow_page_cache', pae_root_default_pdptes: true },
    // The vCPU cache list is replaced whole: each entry gives the list as of that change.
    'shadowed-translation-access-6.0': { vcpu_caches: V60_CACHES },
    'memory-cache-capacity-6.0': { memory_cache_dynamic_capacity: true },
    'memory-cache-gfp-custom-6.1': { memory_cache_gfp_custom: true },
    'shadow-nonpresent-value-6.10': { memory_cache_init_value: true, vcpu_caches: V618_CACHES },
  },
};
