/**
 * Memory caches and SPTE encoding: a page cache's top-up / alloc / free cycle, a whole vCPU
 * top-up, and make_spte / make_nonleaf_spte / predicates over a 512-entry table on 32-bit halves
 * (with one BigInt-edge case beside it for comparison).
 */
import { getProfile } from '../../src/profiles/index.js';
import { HostMemory, KvmMmuMemoryCache, VcpuMmuCaches, WarnLog } from '../../src/cache/index.js';
import * as S from '../../src/mmu/spte/spte.js';
import { HOSTS, spteMasksFor, type HostConfig } from '../../src/mmu/spte/spte_masks.js';
import type { BenchSuite } from '../harness.js';

const mem = new HostMemory({ dma32_pages: 1024, normal_pages: 8192 });
const pageCache = new KvmMmuMemoryCache(mem, { name: 'bench_pages', variant: '5.x', kmem_cache: null, gfp_zero: true });
const slabCache = new KvmMmuMemoryCache(mem, { name: 'bench_slab', variant: '6.x', kmem_cache: 'pte_list_desc', gfp_zero: true });
const vcpu = new VcpuMmuCaches(getProfile('v5.16'), mem, { tdp_enabled: false, shadow_me_mask_nonzero: false });

function cycle(c: KvmMmuMemoryCache): void {
  c.kvm_mmu_topup_memory_cache(5);
  for (let i = 0; i < 40; i++) c.release(c.kvm_mmu_memory_cache_alloc());
}

const shadowCfg: HostConfig = { ...HOSTS['intel-46-l1tf']!, mode: 'vmx', tdp: false, mmio_caching: true };
const eptCfg: HostConfig = { ...HOSTS['intel-46']!, mode: 'vmx-ept', tdp: true, mmio_caching: true, ept_ad: true, ept_execonly: true };
const table = new Uint32Array(1024);

function ctxFor(profile: string, cfg: HostConfig): S.MakeSpteCtx {
  return {
    masks: spteMasksFor(getProfile(profile), cfg),
    nx_huge_pages: true,
    pml: false,
    warns: new WarnLog(),
    kvm_is_mmio_pfn: () => false,
    mmu_try_to_unsync_pages: (gfn) => gfn & 1,
    kvm_slot_dirty_track_enabled: () => false,
    mark_page_dirty_in_slot: () => {},
  };
}

function fillTable(ctx: S.MakeSpteCtx): void {
  const a: S.MakeSpteArgs = {
    level: 1, ad_disabled: false, nested: false, pte_access: 7, gfn: 0, pfn: 0,
    old_lo: 0, old_hi: 0, prefetch: false, can_unsync_or_synchronizing: true, host_writable: true,
  };
  for (let i = 0; i < 512; i++) {
    a.gfn = 0x40000 + i;
    a.pfn = 0x98000 + i;
    a.pte_access = i & 7;
    a.prefetch = (i & 8) !== 0;
    S.make_spte(ctx, a, table, 2 * i);
  }
}

const ctx516 = ctxFor('v5.16', shadowCfg);
const ctx618 = ctxFor('v6.18', eptCfg);
let sink = 0;

export const cacheSuite: BenchSuite = {
  name: 'cache',
  cases: [
    { name: 'page cache: top-up 40 + alloc/free 40 (5.x)', fn: () => cycle(pageCache), counts: () => ({ pages: 40 }) },
    { name: 'slab cache: top-up 40 + alloc/free 40 (6.x)', fn: () => cycle(slabCache), counts: () => ({ objects: 40 }) },
    {
      name: 'vCPU mmu_topup_memory_caches + free (v5.16, indirect)',
      fn: () => {
        vcpu.mmu_topup_memory_caches(true, 4);
        vcpu.mmu_free_memory_caches();
      },
      counts: () => ({ objects: 160 }),
    },
    { name: 'make_spte x512 on halves (v5.16 shadow)', fn: () => fillTable(ctx516), counts: () => ({ sptes: 512 }) },
    { name: 'make_spte x512 on halves (v6.18 EPT)', fn: () => fillTable(ctx618), counts: () => ({ sptes: 512 }) },
    {
      name: 'predicates x512 (present, mmio, writable, accessed)',
      fn: () => {
        const m = ctx516.masks;
        let n = 0;
        for (let i = 0; i < 1024; i += 2) {
          const lo = table[i]!;
          const hi = table[i + 1]!;
          if (S.is_shadow_present_pte(lo) && !S.is_mmio_spte(m, lo, hi) && S.is_writable_pte(lo) && S.is_accessed_spte(m, lo, hi)) n++;
        }
        sink += n;
      },
      counts: () => ({ sptes: 512 }),
    },
    {
      name: 'make_nonleaf_spte x512 on halves',
      fn: () => {
        for (let i = 0; i < 512; i++) S.make_nonleaf_spte(ctx516.masks, (0x100000 + i) * 4096, false, table, 2 * i);
      },
      counts: () => ({ sptes: 512 }),
    },
    {
      name: 'make_nonleaf_spte x512 through the BigInt edge (spte64)',
      fn: () => {
        let x = 0n;
        for (let i = 0; i < 512; i++) x ^= S.spte64((o, off) => S.make_nonleaf_spte(ctx516.masks, (0x100000 + i) * 4096, false, o, off));
        sink += Number(x & 1n);
      },
      counts: () => ({ sptes: 512 }),
    },
  ],
};
