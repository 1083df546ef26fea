/**
 * A small stand-in for the host side (src/cache: page allocator, kvm_mmu_memory_cache, the RFC's
 * PAE-root cache) used by the shadow-page code until that side is wired in through ./ports.ts.
 * It follows the kernel's cache rules (fill to capacity when below the minimum, LIFO alloc,
 * warn + atomic fallback when empty) and can fail any allocation site on demand.
 */
import { ShadowMmuError } from '../bits/errors.js';
import { ENOMEM } from './constants.js';
import type { CacheLevel, HostMemory, MmuCacheName, PageInfo, VcpuMemory } from './ports.js';

export const CACHE_CAPACITY = 40;
/** First pfn of ZONE_NORMAL (4 GiB). */
export const NORMAL_BASE_PFN = 0x100000;

export interface LocalHostConfig {
  /** Pages in ZONE_DMA32 (below 4 GiB) and ZONE_NORMAL. */
  readonly dma32_pages: number;
  readonly normal_pages: number;
}

interface Zone {
  next: number;
  end: number;
  free: number[];
}

export class LocalHost implements HostMemory {
  private readonly pages = new Map<number, { owner: string; decrypted: boolean }>();
  private readonly objs = { mmu_page_header: 0, pte_list_desc: 0 };
  private readonly dma32: Zone;
  private readonly normal: Zone;
  /** Allocation sites to fail: site -> remaining failures. */
  readonly failures = new Map<string, number>();
  /** Sites whose allocation failed at least once. */
  readonly failed_sites = new Set<string>();
  constructor(
    cfg: LocalHostConfig,
    private readonly tdp_enabled: boolean,
  ) {
    this.dma32 = { next: 0x1000, end: 0x1000 + cfg.dma32_pages, free: [] };
    if (this.dma32.end > NORMAL_BASE_PFN) throw new ShadowMmuError('EINVAL_INPUT', 'host: dma32_pages does not fit below 4 GiB');
    this.normal = { next: NORMAL_BASE_PFN, end: NORMAL_BASE_PFN + cfg.normal_pages, free: [] };
  }
  /** Fail the next `n` allocations at `site`. */
  fail(site: string, n = 1): void {
    this.failures.set(site, (this.failures.get(site) ?? 0) + n);
  }
  /** Consume one scheduled failure for `site`; true when this allocation must fail. */
  injected(site: string): boolean {
    const n = this.failures.get(site) ?? 0;
    if (n <= 0) return false;
    if (n === 1) this.failures.delete(site);
    else this.failures.set(site, n - 1);
    this.failed_sites.add(site);
    return true;
  }
  alloc_page(owner: string, dma32: boolean): number | null {
    if (this.injected(owner)) return null;
    const zones = dma32 ? [this.dma32] : [this.normal, this.dma32];
    for (const z of zones) {
      let pfn = z.free.pop();
      if (pfn === undefined && z.next < z.end) pfn = z.next++;
      if (pfn !== undefined) {
        this.pages.set(pfn, { owner, decrypted: false });
        return pfn;
      }
    }
    return null;
  }
  free_page(pfn: number): void {
    const p = this.pages.get(pfn);
    if (!p) throw new ShadowMmuError('ESTATE', `free_page: pfn ${pfn.toString(16)} is not allocated (double free)`);
    if (p.decrypted) throw new ShadowMmuError('ESTATE', `free_page: pfn ${pfn.toString(16)} is still decrypted`);
    this.pages.delete(pfn);
    (pfn < NORMAL_BASE_PFN ? this.dma32 : this.normal).free.push(pfn);
  }
  set_memory_decrypted(pfn: number): void {
    const p = this.pages.get(pfn);
    if (p) p.decrypted = true;
  }
  set_memory_encrypted(pfn: number): void {
    const p = this.pages.get(pfn);
    if (p) p.decrypted = false;
  }
  info(pfn: number): PageInfo | undefined {
    const p = this.pages.get(pfn);
    return p && { pfn, ...p };
  }
  *allocated(): Iterable<PageInfo> {
    for (const [pfn, p] of this.pages) yield { pfn, ...p };
  }
  /** kmem_cache_alloc of a header or descriptor object (an id), null on failure. */
  alloc_obj(kind: 'mmu_page_header' | 'pte_list_desc', site: string): number | null {
    if (this.injected(site)) return null;
    return ++this.objs[kind];
  }
  free_obj(kind: 'mmu_page_header' | 'pte_list_desc'): void {
    if (this.objs[kind] <= 0) throw new ShadowMmuError('ESTATE', `kmem_cache_free: no ${kind} object is allocated`);
    this.objs[kind]--;
  }
  free_pae_root(pfn: number): void {
    if (!this.tdp_enabled) this.set_memory_encrypted(pfn);
    this.free_page(pfn);
  }
  objects_allocated(kind: 'mmu_page_header' | 'pte_list_desc'): number {
    return this.objs[kind];
  }
}

/** Minima of mmu_topup_memory_caches (5.16 and 6.x). */
const TOPUP_MIN: Record<MmuCacheName, number> = {
  mmu_pte_list_desc_cache: 1 + 5 + 8,
  mmu_shadow_page_cache: 5,
  mmu_gfn_array_cache: 5,
  mmu_page_header_cache: 5,
};

const OBJ_KIND: Partial<Record<MmuCacheName, 'mmu_page_header' | 'pte_list_desc'>> = {
  mmu_pte_list_desc_cache: 'pte_list_desc',
  mmu_page_header_cache: 'mmu_page_header',
};

export interface LocalVcpuMemoryOptions {
  /** The RFC's PAE-root cache exists (rfc-v1*). */
  readonly pae_root_cache: boolean;
  readonly tdp_enabled: boolean;
}

export class LocalVcpuMemory implements VcpuMemory {
  private readonly caches: Record<MmuCacheName, number[]> = {
    mmu_pte_list_desc_cache: [],
    mmu_shadow_page_cache: [],
    mmu_gfn_array_cache: [],
    mmu_page_header_cache: [],
  };
  private pae_root: number | null = null;
  /** Allocations from an empty cache (WARN + atomic fallback). */
  atomic_fallbacks = 0;
  constructor(
    private readonly host: LocalHost,
    private readonly opts: LocalVcpuMemoryOptions,
    /** Called with each new PAE-root page (the RFC writes default PDPTEs into it). */
    private readonly init_pae_root: (pfn: number) => void = () => {},
  ) {}

  private one(cache: MmuCacheName, atomic: boolean): number | null {
    const kind = OBJ_KIND[cache];
    const site = atomic ? `${cache}(atomic)` : cache;
    if (kind) return this.host.alloc_obj(kind, site);
    return this.host.alloc_page(site, false);
  }

  /** @kernel kvm_main.c kvm_mmu_topup_memory_cache */
  private topup_one(cache: MmuCacheName): number {
    const c = this.caches[cache];
    const min = TOPUP_MIN[cache];
    if (c.length >= min) return 0;
    while (c.length < CACHE_CAPACITY) {
      const o = this.one(cache, false);
      if (o === null) return c.length >= min ? 0 : -ENOMEM;
      c.push(o);
    }
    return 0;
  }

  /** RFC 5/6 alloc_pae_root (Sean: mmu_topup_pae_root_cache). */
  private topup_pae_root(shadow_root_level: number): number {
    if (!this.opts.pae_root_cache || shadow_root_level !== 3 || this.pae_root !== null) return 0;
    const pfn = this.host.alloc_page('pae_root_cache', true);
    if (pfn === null) return -ENOMEM;
    if (!this.opts.tdp_enabled) this.host.set_memory_decrypted(pfn);
    this.pae_root = pfn;
    this.init_pae_root(pfn);
    return 0;
  }

  topup(maybe_indirect: boolean, shadow_root_level: number): number {
    let r = this.topup_one('mmu_pte_list_desc_cache');
    if (r) return r;
    r = this.topup_one('mmu_shadow_page_cache');
    if (r) return r;
    r = this.topup_pae_root(shadow_root_level);
    if (r) return r;
    if (maybe_indirect) {
      r = this.topup_one('mmu_gfn_array_cache');
      if (r) return r;
    }
    return this.topup_one('mmu_page_header_cache');
  }

  alloc(cache: MmuCacheName): number {
    const o = this.caches[cache].pop();
    if (o !== undefined) return o;
    this.atomic_fallbacks++;
    const a = this.one(cache, true);
    if (a === null) throw new ShadowMmuError('ENOMEM', `${cache}: empty cache and the atomic fallback failed (the kernel BUGs here)`);
    return a;
  }

  release(cache: MmuCacheName, obj: number): void {
    const kind = OBJ_KIND[cache];
    if (kind) this.host.free_obj(kind);
    else this.host.free_page(obj);
  }

  take_pae_root(): number | null {
    const p = this.pae_root;
    this.pae_root = null;
    return p;
  }

  free_all(): void {
    for (const name of Object.keys(this.caches) as MmuCacheName[]) {
      for (const o of this.caches[name]) this.release(name, o);
      this.caches[name] = [];
    }
    if (this.pae_root !== null) {
      this.host.free_pae_root(this.pae_root);
      this.pae_root = null;
    }
  }

  levels(): Record<string, CacheLevel> {
    const out: Record<string, CacheLevel> = {};
    for (const [k, v] of Object.entries(this.caches)) out[k] = { nobjs: v.length, capacity: CACHE_CAPACITY };
    out['mmu_pae_root_cache'] = { nobjs: this.pae_root === null ? 0 : 1, capacity: 1 };
    return out;
  }

  pae_root_cached(): number | null {
    return this.pae_root;
  }

  /** Objects currently held (for the leak check). */
  held(): { pages: number[]; objs: Record<'mmu_page_header' | 'pte_list_desc', number> } {
    const pages = [...this.caches.mmu_shadow_page_cache, ...this.caches.mmu_gfn_array_cache];
    if (this.pae_root !== null) pages.push(this.pae_root);
    return {
      pages,
      objs: { mmu_page_header: this.caches.mmu_page_header_cache.length, pte_list_desc: this.caches.mmu_pte_list_desc_cache.length },
    };
  }
}
