/**
 * What the shadow-page code needs from its neighbours, as narrow interfaces: the SPTE encoders
 * and predicates (src/mmu/spte*, pae*), the host page allocator and the vCPU's memory caches
 * (src/cache), and the role derivation (src/roles). The shadow-page code calls only these, so
 * each side can be swapped without touching the bookkeeping.
 */

/** SPTE encodings under one host configuration. 64-bit values as BigInt (cold), tests on halves. */
export interface SpteOps {
  /** SHADOW_NONPRESENT_VALUE (0 in 5.x; bit 63 on 64-bit 6.x) as halves. */
  readonly nonpresent_lo: number;
  readonly nonpresent_hi: number;
  /** is_shadow_present_pte on halves. */
  is_shadow_present_pte(lo: number, hi: number): boolean;
  is_mmio_spte(spte: bigint): boolean;
  make_nonleaf_spte(child_pa: bigint, ad_disabled: boolean): bigint;
  /** RFC 5/6 make_pae_pdpte; undefined when the profile has no such encoder. */
  make_pae_pdpte(child_pa: bigint): bigint;
  /** RFC 5/6 default_pae_pdpte (allocated at module init); null when the profile has none. */
  readonly default_pae_pdpte: bigint | null;
  /** What mainline ORs into PAE-root entries (5.x shadow_me_mask, 6.x shadow_me_value). */
  readonly pae_entry_me_bits: bigint;
  /** Host MAXPHYADDR: bits at or above it are reserved in a PDPTE. */
  readonly host_maxphyaddr: number;
}

export type MmuCacheName =
  | 'mmu_pte_list_desc_cache'
  | 'mmu_shadow_page_cache'
  | 'mmu_gfn_array_cache'
  | 'mmu_page_header_cache';

export interface CacheLevel {
  readonly nobjs: number;
  readonly capacity: number;
}

/** The vCPU's kvm_mmu_memory_cache set plus the RFC's one-page PAE-root cache. */
export interface VcpuMemory {
  /** @kernel mmu.c mmu_topup_memory_caches: 0 or -ENOMEM. */
  topup(maybe_indirect: boolean, shadow_root_level: number): number;
  /** @kernel kvm_main.c kvm_mmu_memory_cache_alloc: an object (pages: a pfn). */
  alloc(cache: MmuCacheName): number;
  /** Give an object taken from a cache back to the host (free_page / kmem_cache_free). */
  release(cache: MmuCacheName, obj: number): void;
  /** RFC: take the cached DMA32 PAE-root page (null when the slot is empty). */
  take_pae_root(): number | null;
  /** @kernel mmu.c mmu_free_memory_caches */
  free_all(): void;
  levels(): Record<string, CacheLevel>;
  /** The page held by the PAE-root cache, if any. */
  pae_root_cached(): number | null;
}

export interface PageInfo {
  readonly pfn: number;
  readonly owner: string;
  readonly decrypted: boolean;
}

/** The host page allocator as the MMU sees it. */
export interface HostMemory {
  /** alloc_page(GFP_KERNEL_ACCOUNT [| __GFP_DMA32] [| __GFP_ZERO]); null on failure. */
  alloc_page(owner: string, dma32: boolean): number | null;
  free_page(pfn: number): void;
  set_memory_decrypted(pfn: number): void;
  set_memory_encrypted(pfn: number): void;
  info(pfn: number): PageInfo | undefined;
  /** Every page currently allocated (for the leak check). */
  allocated(): Iterable<PageInfo>;
  /** Header and descriptor objects currently allocated, by cache (kmem objects). */
  objects_allocated(kind: 'mmu_page_header' | 'pte_list_desc'): number;
  /** kmem_cache_free of a header or pte_list_desc object. */
  free_obj(kind: 'mmu_page_header' | 'pte_list_desc'): void;
  /** RFC (Sean's shape) mmu_free_pae_root: re-encrypt when TDP is off, then free the page. */
  free_pae_root(pfn: number): void;
}

/** The MMU context a 5.x page role is derived from (vcpu->arch.mmu). */
export interface MmuContext {
  readonly kind: 'tdp' | 'shadow' | 'shadow_npt' | 'shadow_ept';
  /** 5.x mmu_role.base word; 6.x root_role word. */
  readonly mmu_role: number;
  readonly direct_map: boolean;
  /** Guest paging levels (0 = paging off). */
  readonly root_level: number;
  readonly shadow_root_level: number;
}
