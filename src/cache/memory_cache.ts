/**
 * struct kvm_mmu_memory_cache and its four operations (virt/kvm/kvm_main.c), per kernel:
 * a LIFO of pre-allocated objects (slab objects or whole pages) that the MMU fills where it may
 * sleep and fails, so that it can take objects later where it may not.
 *
 * - top-up: nothing when nobjs >= min; otherwise fill to the full capacity (not to min); a
 *   failed allocation returns 0 if nobjs >= min by then, else -ENOMEM (objects already taken stay
 *   cached: nothing leaks). 6.x first allocates the objects array (kvmalloc_array, own failure
 *   -ENOMEM) and WARNs + -EIO on capacity 0, on init_value with __GFP_ZERO or a slab, and on a
 *   capacity different from the recorded one — all only after the nobjs >= min early return.
 * - alloc: pop the last object; from an empty cache WARN and fall back to an atomic allocation
 *   (GFP_ATOMIC | __GFP_ACCOUNT, still ORed with __GFP_ZERO and, 6.x, init_value); if that fails
 *   too the kernel BUGs (KernelBug here).
 * - free: give every remaining object back (6.x also frees the array and resets the capacity).
 */
import { ShadowMmuError } from '../bits/errors.js';
import { getProfile } from '../profiles/index.js';
import type { CacheTraits } from '../profiles/traits/cache.js';
import { GFP_ATOMIC, GFP_KERNEL_ACCOUNT, __GFP_ACCOUNT, __GFP_ZERO, type Gfp } from './gfp.js';
import type { HostMemory, VmAccount } from './host_memory.js';
import { WarnLog } from './warn.js';

/** KVM_ARCH_NR_OBJS_PER_MEMORY_CACHE (arch/x86/include/asm/kvm_types.h). */
export const KVM_ARCH_NR_OBJS_PER_MEMORY_CACHE = 40;
export const ENOMEM = 12;
export const EIO = 5;

/** A kernel BUG_ON that fired: the model stops the operation where the kernel would oops. */
export class KernelBug extends ShadowMmuError {
  constructor(where: string, what: string) {
    super('ESTATE', `kernel BUG in ${where}: ${what}`);
    this.name = 'KernelBug';
  }
}

/** The cache traits struct kvm_mmu_memory_cache follows. */
export type MemoryCacheTraits = Pick<CacheTraits, 'memory_cache_dynamic_capacity' | 'memory_cache_gfp_custom' | 'memory_cache_init_value'>;

/** Older callers name a kernel's cache by shorthand: the cache traits of that shipped profile. */
const SHORTHAND_PROFILE: Readonly<Record<string, string>> = { '5.x': 'v5.16', '6.x': 'v6.18' };

function cacheTraitsOf(opts: MemoryCacheOptions): MemoryCacheTraits {
  if (opts.traits) return opts.traits;
  const profile = opts.variant === undefined ? undefined : SHORTHAND_PROFILE[opts.variant];
  if (profile === undefined) throw new ShadowMmuError('EINVAL_INPUT', `${opts.name}: no cache traits given (traits, or variant ${Object.keys(SHORTHAND_PROFILE).join(' / ')})`);
  return getProfile(profile).cache;
}

export interface MemoryCacheOptions {
  /** The cache's field name, e.g. `mmu_shadow_page_cache`; allocation sites derive from it. */
  readonly name: string;
  /** The kernel's cache behaviour (a profile's cache traits). */
  readonly traits?: MemoryCacheTraits;
  /** Shorthand instead of traits: '5.x' (v5.16's cache) or '6.x' (v6.18's). */
  readonly variant?: string;
  /** Slab objects of this kmem cache, or null for whole pages. */
  readonly kmem_cache: string | null;
  readonly gfp_zero: boolean;
  /** memory_cache_gfp_custom: replaces GFP_KERNEL_ACCOUNT for top-ups (riscv uses GFP_ATOMIC | __GFP_ACCOUNT). */
  readonly gfp_custom?: Gfp | null;
  /** memory_cache_init_value: 64-bit pattern for fresh pages, as halves (0/0 = none). */
  readonly init_value_lo?: number;
  readonly init_value_hi?: number;
  /** The VM charged for __GFP_ACCOUNT allocations. */
  readonly account?: VmAccount | null;
  /** Where WARNs are counted (shared with the rest of the vCPU). */
  readonly warns?: WarnLog;
}

/** One run of allocator calls with the same flags and outcome. */
export interface AttemptRun {
  gfp: Gfp;
  ok: boolean;
  count: number;
}

export class KvmMmuMemoryCache {
  readonly name: string;
  readonly traits: MemoryCacheTraits;
  readonly kmem_cache: string | null;
  readonly gfp_zero: Gfp;
  readonly gfp_custom: Gfp;
  readonly init_value_lo: number;
  readonly init_value_hi: number;
  readonly warns: WarnLog;
  private readonly account: VmAccount | null;

  nobjs = 0;
  /** Fixed capacity: always 40. Dynamic: 0 until the first top-up allocates the array. */
  capacity: number;
  /** The cached objects in [0, nobjs); entries past nobjs are stale. */
  private objects: number[] | null;
  /** The kvmalloc'ed objects array (dynamic capacity), as a host slab object id. */
  private arrayId: number | null = null;

  // Counters (what the golden vectors and the auditor read).
  /** Allocations served by the atomic fallback (an empty cache's WARN path that got an object). */
  atomic_fallbacks = 0;
  objects_allocated = 0;
  objects_freed = 0;
  alloc_attempts = 0;
  array_allocs = 0;
  array_frees = 0;
  readonly attempts: AttemptRun[] = [];
  readonly array_gfp: Gfp[] = [];

  constructor(
    private readonly mem: HostMemory,
    opts: MemoryCacheOptions,
  ) {
    this.name = opts.name;
    this.traits = cacheTraitsOf(opts);
    this.site = `memory_cache:${this.name}`;
    this.atomicSite = `memory_cache_atomic:${this.name}`;
    this.kmem_cache = opts.kmem_cache;
    this.gfp_zero = opts.gfp_zero ? __GFP_ZERO : 0;
    this.gfp_custom = opts.gfp_custom ?? 0;
    this.init_value_lo = (opts.init_value_lo ?? 0) >>> 0;
    this.init_value_hi = (opts.init_value_hi ?? 0) >>> 0;
    // The arena is little-endian 64-bit words viewed as (lo, hi) halves.
    this.init_value64 = (BigInt(this.init_value_hi) << 32n) | BigInt(this.init_value_lo);
    this.account = opts.account ?? null;
    this.warns = opts.warns ?? new WarnLog();
    if (this.gfp_custom && !this.traits.memory_cache_gfp_custom) {
      throw new ShadowMmuError('EINVAL_INPUT', `${this.name}: this kernel's cache has no gfp_custom (6.x caches have)`);
    }
    if ((this.init_value_lo || this.init_value_hi) && !this.traits.memory_cache_init_value) {
      throw new ShadowMmuError('EINVAL_INPUT', `${this.name}: this kernel's cache has no init_value (6.x caches have)`);
    }
    if (!this.traits.memory_cache_dynamic_capacity) {
      this.capacity = KVM_ARCH_NR_OBJS_PER_MEMORY_CACHE;
      this.objects = [];
    } else {
      this.capacity = 0;
      this.objects = null;
    }
  }

  private readonly init_value64: bigint;

  /** The allocation site of top-up and fallback allocations (fault-injection key). */
  readonly site: string;
  readonly atomicSite: string;

  private get hasInit(): boolean {
    return (this.init_value_lo | this.init_value_hi) !== 0;
  }

  /** @kernel kvm_main.c mmu_memory_cache_alloc_obj */
  private mmu_memory_cache_alloc_obj(gfp: Gfp, site: string): number | null {
    gfp |= this.gfp_zero;
    this.alloc_attempts++;
    let obj: number | null;
    if (this.kmem_cache !== null) {
      obj = this.mem.kmem_cache_alloc(this.kmem_cache, gfp, site, this.account);
    } else {
      // mmu_memory_cache_alloc_obj's memset64 of init_value, done by the allocation itself.
      obj = this.mem.alloc_page(gfp, site, this.account, this.hasInit ? this.init_value64 : null);
    }
    const last = this.attempts[this.attempts.length - 1];
    const ok = obj !== null;
    if (last && last.gfp === gfp && last.ok === ok) last.count++;
    else this.attempts.push({ gfp, ok, count: 1 });
    if (ok) this.objects_allocated++;
    return obj;
  }

  /** @kernel kvm_main.c kvm_mmu_topup_memory_cache */
  kvm_mmu_topup_memory_cache(min: number): number {
    return this.__kvm_mmu_topup_memory_cache(KVM_ARCH_NR_OBJS_PER_MEMORY_CACHE, min);
  }

  /**
   * @kernel kvm_main.c __kvm_mmu_topup_memory_cache
   * 0, -ENOMEM or (dynamic capacity) -EIO. With a fixed capacity `capacity` must be 40.
   */
  __kvm_mmu_topup_memory_cache(capacity: number, min: number): number {
    if (!this.traits.memory_cache_dynamic_capacity && capacity !== KVM_ARCH_NR_OBJS_PER_MEMORY_CACHE) this.badCapacity(capacity);
    // A cache that holds enough returns here (every fault asks each cache); the refill is apart,
    // so that this stays small enough for V8 to inline.
    if (this.nobjs >= min) return 0;
    return this.refill(capacity, min);
  }

  private badCapacity(capacity: number): never {
    throw new ShadowMmuError('EINVAL_INPUT', `${this.name}: a fixed-capacity cache has the capacity ${KVM_ARCH_NR_OBJS_PER_MEMORY_CACHE}, not ${capacity}`);
  }

  /** __kvm_mmu_topup_memory_cache past its nobjs >= min test. */
  private refill(capacity: number, min: number): number {
    const gfp = this.gfp_custom || GFP_KERNEL_ACCOUNT;
    if (this.objects === null) {
      if (capacity === 0 && this.warns.on(true, '__kvm_mmu_topup_memory_cache', `${this.name}: capacity 0`)) return -EIO;
      if (
        this.warns.on(
          this.hasInit && (this.kmem_cache !== null || this.gfp_zero !== 0),
          '__kvm_mmu_topup_memory_cache',
          `${this.name}: init_value with a slab cache or __GFP_ZERO`,
        )
      ) {
        return -EIO;
      }
      this.array_gfp.push(gfp);
      const id = this.mem.kmem_cache_alloc('kvmalloc', gfp, `kvmalloc_array:${this.name}`, this.account);
      if (id === null) return -ENOMEM;
      this.array_allocs++;
      this.arrayId = id;
      this.objects = [];
      this.capacity = capacity;
    }
    if (this.capacity !== capacity && this.warns.on(true, '__kvm_mmu_topup_memory_cache', `${this.name}: capacity ${capacity} differs from ${this.capacity}`)) {
      return -EIO;
    }
    while (this.nobjs < this.capacity) {
      const obj = this.mmu_memory_cache_alloc_obj(gfp, this.site);
      if (obj === null) return this.nobjs >= min ? 0 : -ENOMEM;
      this.mem.set_cached(obj, true);
      this.objects[this.nobjs++] = obj;
    }
    return 0;
  }

  /** @kernel kvm_main.c kvm_mmu_memory_cache_nr_free_objects */
  kvm_mmu_memory_cache_nr_free_objects(): number {
    return this.nobjs;
  }

  /**
   * @kernel kvm_main.c kvm_mmu_memory_cache_alloc
   * The object (a pfn for page caches, a slab id otherwise), now owned by the caller.
   */
  kvm_mmu_memory_cache_alloc(): number {
    let p: number | null;
    if (this.nobjs === 0 && this.warns.on(true, 'kvm_mmu_memory_cache_alloc', `${this.name}: empty, atomic fallback`)) {
      p = this.mmu_memory_cache_alloc_obj(GFP_ATOMIC | __GFP_ACCOUNT, this.atomicSite);
      if (p !== null) this.atomic_fallbacks++;
    } else {
      // Entries at nobjs and above are stale; the array is not truncated (V8 would shrink its
      // store and the next top-up grow it again: an allocation per fault).
      p = this.objects![--this.nobjs]!;
      this.mem.set_cached(p, false);
    }
    if (p === null) throw new KernelBug('kvm_mmu_memory_cache_alloc', `${this.name}: BUG_ON(!p): the atomic fallback allocation failed`);
    return p;
  }

  /** Give an object obtained from this cache back to the host allocator. */
  release(obj: number): void {
    if (this.kmem_cache !== null) this.mem.kmem_cache_free(this.kmem_cache, obj);
    else this.mem.free_page(obj);
  }

  /** @kernel kvm_main.c kvm_mmu_free_memory_cache */
  kvm_mmu_free_memory_cache(): void {
    while (this.nobjs) {
      const obj = this.objects![--this.nobjs]!;
      this.mem.set_cached(obj, false);
      this.release(obj);
      this.objects_freed++;
    }
    if (this.traits.memory_cache_dynamic_capacity) {
      if (this.arrayId !== null) {
        this.mem.kmem_cache_free('kvmalloc', this.arrayId);
        this.array_frees++;
      }
      this.arrayId = null;
      this.objects = null;
      this.capacity = 0;
    }
  }

  /** The cached objects, bottom to top (the next alloc returns the last). */
  cachedObjects(): readonly number[] {
    return this.objects === null ? [] : this.objects.slice(0, this.nobjs);
  }

  /** The objects array (6.x), which the leak query must count as reachable. */
  get objectsArray(): number | null {
    return this.arrayId;
  }
}
