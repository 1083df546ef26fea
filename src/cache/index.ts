/**
 * src/cache — host memory and KVM's MMU memory caches.
 *
 * API summary (for the shadow-page code):
 * - `new HostMemory({ dma32_pages, normal_pages, faults? })`: the host page allocator.
 *   `alloc_page(gfp, site, account?) -> pfn | null` (null = the kernel's -ENOMEM path),
 *   `free_page(pfn)`, `kmem_cache_alloc(cache, gfp, site, account?) -> id | null`,
 *   `kmem_cache_free(cache, id)`, `words(pfn) -> Uint32Array` (the page's 512 entries as 1024
 *   halves), `set_memory_decrypted/encrypted(pfn)`, `get_ref/put_ref(id)` (freeing a referenced,
 *   cached, decrypted or already-free page throws ShadowMmuError 'ESTATE'), `info(id)`,
 *   `allocated()`, `counts()`, and the auditor's leak query
 *   `unreachable(isReachable) -> objects neither cached nor reachable`.
 *   Zones: DMA32 pfns 0x1000.., NORMAL pfns 0x100000..; __GFP_DMA32 forces DMA32.
 * - GFP flags as data (`gfp.ts`): GFP_KERNEL, GFP_KERNEL_ACCOUNT, GFP_ATOMIC, __GFP_ZERO,
 *   __GFP_DMA32, __GFP_ACCOUNT ...; `gfpName(gfp)` prints them the kernel's way.
 * - Fault injection (`fault.ts`): set `mem.faults` to a `SiteFaults` (fail the k-th attempt at a
 *   site), `ScriptedFaults` (the golden `fail` lists) or `RandomFaults(seed, rate)`.
 *   Sites: `memory_cache:<cache name>`, `memory_cache_atomic:<cache name>`,
 *   `kvmalloc_array:<cache name>` (6.x), `pae_root_cache`, `default_pae_pdpte` (src/mmu).
 * - `KvmMmuMemoryCache`: kvm_mmu_topup_memory_cache(min), __kvm_mmu_topup_memory_cache(cap,
 *   min), kvm_mmu_memory_cache_alloc() (empty: WARN + atomic fallback; failure throws KernelBug),
 *   kvm_mmu_memory_cache_nr_free_objects(), kvm_mmu_free_memory_cache(), release(obj).
 * - `VcpuMmuCaches(profile, mem, { tdp_enabled, shadow_me_mask_nonzero, default_pae_pdpte?,
 *   account?, warns? })`: the vCPU's caches per profile, keyed by the 5.16 field names
 *   (`mmu_pte_list_desc_cache`, `mmu_shadow_page_cache`, `mmu_gfn_array_cache` (6.x
 *   mmu_shadowed_info_cache), `mmu_page_header_cache`); `mmu_topup_memory_caches(maybe_indirect,
 *   shadow_root_level)`, `mmu_free_memory_caches()`, `alloc(key)`, `release(key, obj)`,
 *   `take_pae_root()`, `free_pae_root(pfn)` (= mmu_free_pae_root), `levels()`, `allocSites()`
 *   (every fault-injection key of the vCPU's caches), `ownedObjects()` (6.x objects arrays).
 * - `PaeRootCache` (RFC): `mmu_topup_pae_root_cache(level)`, `take()`, `mmu_free_pae_root(pfn)`.
 * - `WarnLog`: kernel WARNs counted (`count`, `events`), shared by everything of one vCPU/VM.
 */
export * from './warn.js';
export * from './gfp.js';
export * from './fault.js';
export * from './host_memory.js';
export * from './memory_cache.js';
export * from './pae_root_cache.js';
export * from './vcpu_caches.js';
