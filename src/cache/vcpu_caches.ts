/**
 * The x86 vCPU's MMU caches (arch/x86/kvm/mmu/mmu.c: kvm_mmu_create, mmu_topup_memory_caches,
 * mmu_free_memory_caches) per profile: which caches exist, how each is set up (slab or pages,
 * __GFP_ZERO, 6.x init_value = SHADOW_NONPRESENT_VALUE for shadow pages), the minima a top-up
 * asks for, their order (the first failure stops the top-up), and under the RFC the PAE-root
 * cache topped up right after the shadow-page cache.
 */
import { ShadowMmuError } from '../bits/errors.js';
import type { Profile } from '../profiles/index.js';
import type { VcpuCacheKey, VcpuCacheSpec } from '../profiles/traits/cache.js';
import type { HostMemory, VmAccount } from './host_memory.js';
import { KvmMmuMemoryCache } from './memory_cache.js';
import { PAE_ROOT_SITE, PaeRootCache } from './pae_root_cache.js';
import { WarnLog } from './warn.js';

export type { VcpuCacheKey } from '../profiles/traits/cache.js';

/** SHADOW_NONPRESENT_VALUE (6.x, x86-64) high half: bit 63. */
const NONPRESENT_HI = 0x80000000;

export interface VcpuCachesEnv {
  readonly tdp_enabled: boolean;
  /** shadow_me_mask != 0 (the PAE-root cache warns about it under TDP). */
  readonly shadow_me_mask_nonzero: boolean;
  /** RFC as posted: default_pae_pdpte halves; required when the profile writes default PDPTEs. */
  readonly default_pae_pdpte?: { readonly lo: number; readonly hi: number } | null;
  readonly account?: VmAccount | null;
  readonly warns?: WarnLog;
}

export interface CacheLevel {
  readonly nobjs: number;
  readonly capacity: number;
}

export class VcpuMmuCaches {
  readonly caches: ReadonlyMap<VcpuCacheKey, KvmMmuMemoryCache>;
  readonly specs: readonly VcpuCacheSpec[];
  /** The cache of each spec, by the spec's index (the top-up's loop takes no Map lookup). */
  private readonly bySpec: KvmMmuMemoryCache[];
  /** RFC: the PAE-root cache; null when the profile has none. */
  readonly pae_root_cache: PaeRootCache | null;
  private readonly paeAfter: VcpuCacheKey | null;
  readonly warns: WarnLog;
  /** alloc('mmu_pte_list_desc_cache') as one reusable callback (pte_list_add's, no closure per call). */
  readonly alloc_pte_list_desc = (): number => this.alloc('mmu_pte_list_desc_cache');

  constructor(
    readonly profile: Profile,
    readonly mem: HostMemory,
    env: VcpuCachesEnv,
  ) {
    const t = profile.cache;
    this.warns = env.warns ?? new WarnLog();
    this.specs = t.vcpu_caches;
    const m = new Map<VcpuCacheKey, KvmMmuMemoryCache>();
    for (const s of t.vcpu_caches) {
      m.set(
        s.key,
        new KvmMmuMemoryCache(mem, {
          name: s.name,
          traits: t,
          kmem_cache: s.kmem_cache,
          gfp_zero: s.gfp_zero,
          init_value_hi: s.init_nonpresent ? NONPRESENT_HI : 0,
          account: env.account ?? null,
          warns: this.warns,
        }),
      );
    }
    this.caches = m;
    this.bySpec = t.vcpu_caches.map((s) => m.get(s.key)!);
    this.paeAfter = t.pae_root_cache_after;
    if (t.pae_root_cache_after !== null) {
      const d = env.default_pae_pdpte ?? null;
      if (t.pae_root_default_pdptes && d === null) {
        throw new ShadowMmuError('EINVAL_INPUT', `profile ${profile.name}: the PAE-root cache writes default_pae_pdpte, so it must be given`);
      }
      this.pae_root_cache = new PaeRootCache(mem, {
        tdp_enabled: env.tdp_enabled,
        shadow_me_mask_nonzero: env.shadow_me_mask_nonzero,
        default_pdpte: t.pae_root_default_pdptes ? d : null,
        account: env.account ?? null,
        warns: this.warns,
      });
    } else {
      this.pae_root_cache = null;
    }
  }

  cache(key: VcpuCacheKey): KvmMmuMemoryCache {
    const c = this.caches.get(key);
    if (!c) throw new ShadowMmuError('EINVAL_INPUT', `profile ${this.profile.name} has no vCPU cache ${key}`);
    return c;
  }

  /**
   * @kernel mmu.c mmu_topup_memory_caches
   * 0 or the first failing cache's error; later caches are not topped up. `shadow_root_level`
   * only matters for the RFC's PAE-root cache.
   */
  mmu_topup_memory_caches(maybe_indirect: boolean, shadow_root_level: number): number {
    // An indexed loop: for-of over the profile's (frozen) spec list allocated an iterator per fault.
    const specs = this.specs;
    for (let i = 0; i < specs.length; i++) {
      const s = specs[i]!;
      if (!s.only_indirect || maybe_indirect) {
        const r = this.bySpec[i]!.kvm_mmu_topup_memory_cache(s.min);
        if (r) return r;
      }
      if (this.pae_root_cache && s.key === this.paeAfter) {
        const r = this.pae_root_cache.mmu_topup_pae_root_cache(shadow_root_level);
        if (r) return r;
      }
    }
    return 0;
  }

  /** @kernel mmu.c mmu_free_memory_caches */
  mmu_free_memory_caches(): void {
    for (const c of this.caches.values()) c.kvm_mmu_free_memory_cache();
    this.pae_root_cache?.free();
  }

  // ---- what the shadow-page code calls ----

  /** mmu_topup_memory_caches. */
  topup(maybe_indirect: boolean, shadow_root_level: number): number {
    return this.mmu_topup_memory_caches(maybe_indirect, shadow_root_level);
  }
  /** kvm_mmu_memory_cache_alloc on the named cache. */
  alloc(key: VcpuCacheKey): number {
    return this.cache(key).kvm_mmu_memory_cache_alloc();
  }
  /** Free an object that came from the named cache (free_page / kmem_cache_free). */
  release(key: VcpuCacheKey, obj: number): void {
    this.cache(key).release(obj);
  }
  take_pae_root(): number | null {
    return this.pae_root_cache ? this.pae_root_cache.take() : null;
  }
  free_pae_root(pfn: number): void {
    if (!this.pae_root_cache) throw new ShadowMmuError('ESTATE', `profile ${this.profile.name} has no PAE-root cache`);
    this.pae_root_cache.mmu_free_pae_root(pfn);
  }
  free_all(): void {
    this.mmu_free_memory_caches();
  }
  pae_root_cached(): number | null {
    return this.pae_root_cache?.slot ?? null;
  }
  /** nobjs and capacity of every cache (the PAE-root cache as `mmu_pae_root_cache`, capacity 1). */
  levels(): Record<string, CacheLevel> {
    const out: Record<string, CacheLevel> = {};
    for (const [k, c] of this.caches) out[k] = { nobjs: c.nobjs, capacity: c.capacity };
    if (this.pae_root_cache) out['mmu_pae_root_cache'] = { nobjs: this.pae_root_cache.slot === null ? 0 : 1, capacity: 1 };
    return out;
  }
  /** Every allocation site these caches use (fault-injection keys), in top-up order. */
  allocSites(): string[] {
    const sites: string[] = [];
    for (const c of this.caches.values()) {
      if (c.traits.memory_cache_dynamic_capacity) sites.push(`kvmalloc_array:${c.name}`);
      sites.push(c.site, c.atomicSite);
      if (this.pae_root_cache && this.caches.get(this.paeAfter!) === c) sites.push(PAE_ROOT_SITE);
    }
    return sites;
  }

  /** Host objects the caches themselves own (6.x objects arrays), for the leak query. */
  ownedObjects(): number[] {
    const ids: number[] = [];
    for (const c of this.caches.values()) if (c.objectsArray !== null) ids.push(c.objectsArray);
    return ids;
  }
}
