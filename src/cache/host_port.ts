/**
 * The host side of the shadow-page code's narrow interface (src/mmu/ports.ts HostMemory): the
 * page allocations mmu.c makes outside the memory caches (mainline's per-MMU pae_root page:
 * alloc_page(GFP_KERNEL_ACCOUNT | __GFP_DMA32), not zeroed; the special roots: zeroed pages
 * with GFP_KERNEL_ACCOUNT), over a real HostMemory. Structurally typed, no import of the port.
 */
import { GFP_KERNEL_ACCOUNT, __GFP_DMA32, __GFP_ZERO } from './gfp.js';
import type { HostMemory, VmAccount } from './host_memory.js';

export function hostMemoryPort(mem: HostMemory, account: VmAccount | null = null) {
  const pageInfo = (pfn: number) => {
    const o = mem.info(pfn);
    return o && o.kind === 'page' ? { pfn, owner: o.site, decrypted: o.decrypted } : undefined;
  };
  return {
    mem,
    /** The owner string is the allocation site (the fault-injection key). */
    alloc_page: (owner: string, dma32: boolean): number | null =>
      mem.alloc_page(dma32 ? GFP_KERNEL_ACCOUNT | __GFP_DMA32 : GFP_KERNEL_ACCOUNT | __GFP_ZERO, owner, account),
    free_page: (pfn: number): void => mem.free_page(pfn),
    set_memory_decrypted: (pfn: number): void => void mem.set_memory_decrypted(pfn),
    set_memory_encrypted: (pfn: number): void => void mem.set_memory_encrypted(pfn),
    info: pageInfo,
    allocated: () => mem.allocated().filter((o) => o.kind === 'page').map((o) => ({ pfn: o.id, owner: o.site, decrypted: o.decrypted })),
    objects_allocated: (kind: 'mmu_page_header' | 'pte_list_desc'): number => mem.counts()[kind] ?? 0,
  };
}
