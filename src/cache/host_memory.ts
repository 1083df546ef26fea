/**
 * The host's physical memory as KVM's MMU sees it: a page allocator with two zones (DMA32 below
 * 4 GiB, NORMAL above), GFP flags as data, slab objects for the kmem caches, per-VM accounting
 * (__GFP_ACCOUNT charges the VM's memcg), per-page SME state (set_memory_decrypted/encrypted)
 * and reference counts. Page contents are real: 512 64-bit entries as 1024 32-bit halves,
 * zeroed with __GFP_ZERO and filled with the 0xa5 poison otherwise. They live in one arena
 * (`arena: Uint32Array`): a page is a 1024-half slot at `base(pfn)`, so hot loops index
 * `arena[base(pfn) + 2 * i]` with no lookup per entry. When full, the arena is replaced by a copy
 * twice its size (a plain typed array: it indexes about twice as fast as one over a resizable
 * ArrayBuffer, and costs microseconds rather than a 4 GiB address reservation per VM), so
 * `arena` and `words(pfn)` (the page as a view, for cold callers) must be read again after
 * anything that may allocate a page; nothing keeps them across one.
 *
 * Misuse is an error (ShadowMmuError 'ESTATE'), never silently tolerated: freeing a page or an
 * object twice, freeing one that is still referenced, still decrypted or still sitting in a
 * cache. Every attempt goes through the FaultInjector first, so any allocation site can be made
 * to fail; a failed attempt changes nothing but the attempt counters.
 */
import { ShadowMmuError } from '../bits/errors.js';
import { NO_FAULTS, type FaultInjector } from './fault.js';
import { __GFP_ACCOUNT, __GFP_DMA32, __GFP_ZERO, gfpAllowsBlocking, type Gfp } from './gfp.js';

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
/** 32-bit halves per page (512 entries x 2). */
export const PAGE_HALVES = 1024;
/** The poison byte fresh memory holds without __GFP_ZERO (as in the golden vectors' stubs). */
export const POISON_U32 = 0xa5a5a5a5;

/** First pfn of each zone: DMA32 starts above the 16 MiB ISA DMA zone, NORMAL at 4 GiB. */
export const DMA32_FIRST_PFN = 0x1000;
export const DMA32_END_PFN = 0x100000;
export const NORMAL_FIRST_PFN = 0x100000;
/** Slab object ids start here, far above any pfn, so pages and objects share one id space. */
export const SLAB_ID_BASE = 2 ** 44;

export type Zone = 'DMA32' | 'NORMAL';

export interface HostMemoryConfig {
  /** Pages in ZONE_DMA32 (at most 0xff000) and in ZONE_NORMAL. */
  readonly dma32_pages: number;
  readonly normal_pages: number;
  readonly faults?: FaultInjector;
}

/** One VM's memory-cgroup charge (what __GFP_ACCOUNT allocations are billed to). */
export class VmAccount {
  pages = 0;
  objects = 0;
  constructor(readonly name: string) {}
}

export interface HostObject {
  /** pfn for pages, SLAB_ID_BASE + n for slab objects. */
  readonly id: number;
  readonly kind: 'page' | 'slab';
  /** Zone of a page; the kmem cache name of a slab object. */
  readonly zone: Zone | string;
  /** The allocation site that produced it. */
  readonly site: string;
  readonly gfp: Gfp;
  readonly account: VmAccount | null;
  /** Sequence number over every successful allocation (1, 2, ...). */
  readonly seq: number;
  /** SME: the page is mapped decrypted (shared). */
  decrypted: boolean;
  /** References held by the model (SPTEs, roots, the PAE-root slot ...). */
  refs: number;
  /** Held by a kvm_mmu_memory_cache or the PAE-root cache (not yet handed out). */
  cached: boolean;
  /** Slab objects only: the 64-bit pattern the object was filled with (lo, hi). */
  readonly fill_lo: number;
  readonly fill_hi: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * A live object's record: the HostObject plus its links in allocation order (storage only). The
 * links stay out of its JSON, so a record (info(), allocated()) serialises as the HostObject it is.
 */
class Rec implements Mutable<HostObject> {
  prev: Rec | null = null;
  next: Rec | null = null;
  constructor(
    public id: number,
    public kind: 'page' | 'slab',
    public zone: Zone | string,
    public site: string,
    public gfp: Gfp,
    public account: VmAccount | null,
    public seq: number,
    public decrypted: boolean,
    public refs: number,
    public cached: boolean,
    public fill_lo: number,
    public fill_hi: number,
  ) {}

  toJSON(): HostObject {
    const { id, kind, zone, site, gfp, account, seq, decrypted, refs, cached, fill_lo, fill_hi } = this;
    return { id, kind, zone, site, gfp, account, seq, decrypted, refs, cached, fill_lo, fill_hi };
  }
}

/** base()'s error, out of line so base itself stays small enough to inline into every SPTE access. */
function notAllocated(pfn: number): never {
  throw new ShadowMmuError('ESTATE', `page ${hexId(pfn)} is not allocated`);
}

/** Slab records per directory chunk (ids are handed out in sequence: a chunk goes when its last object is freed). */
const SLAB_CHUNK = 512;
interface SlabChunk {
  readonly recs: (Rec | undefined)[];
  live: number;
}

export interface HostMemoryStats {
  alloc_attempts: number;
  alloc_failures: number;
  /** Attempts that could not sleep (GFP_ATOMIC / GFP_NOWAIT). */
  atomic_attempts: number;
  pages_allocated: number;
  pages_freed: number;
  objects_allocated: number;
  objects_freed: number;
  decrypt_calls: number;
  encrypt_calls: number;
}

/**
 * The arena's first size in pages, and its largest: 2^21 pages, 8 GiB (a Uint32Array of 2^31
 * elements; Node 20 allows up to 2^32 - 1). Growing to it copies the 4 GiB arena, so about
 * 12 GiB are held for a moment; 2^21 pages are enough for 1e6 indirect 5.x shadow pages
 * (spt + gfns each).
 */
const FIRST_PAGES = 16;
const ARENA_MAX_PAGES = 2 ** 21;
/** Empty slot tables, shared until a zone hands out its first pfn. */
const NO_SLOTS = new Int32Array(0);

class ZoneState {
  private next: number;
  private readonly freeList: number[] = [];
  constructor(
    readonly name: Zone,
    readonly first: number,
    readonly end: number,
  ) {
    this.next = first;
  }
  take(): number | null {
    const f = this.freeList.pop();
    if (f !== undefined) return f;
    if (this.next >= this.end) return null;
    return this.next++;
  }
  give(pfn: number): void {
    this.freeList.push(pfn);
  }
  get free(): number {
    return this.freeList.length + (this.end - this.next);
  }
  contains(pfn: number): boolean {
    return pfn >= this.first && pfn < this.end;
  }
}

export class HostMemory {
  faults: FaultInjector;
  readonly stats: HostMemoryStats = {
    alloc_attempts: 0,
    alloc_failures: 0,
    atomic_attempts: 0,
    pages_allocated: 0,
    pages_freed: 0,
    objects_allocated: 0,
    objects_freed: 0,
    decrypt_calls: 0,
    encrypt_calls: 0,
  };
  private readonly zones: { DMA32: ZoneState; NORMAL: ZoneState };
  /**
   * The live objects: pages by arena slot (the pfn's slot table gives it), slab objects in
   * chunks by (id - SLAB_ID_BASE) / SLAB_CHUNK, and all of them on one list in allocation order
   * (head oldest), so no Map entry is made and dropped per allocation.
   */
  private readonly recBySlot: (Rec | undefined)[] = [];
  private readonly slabChunks = new Map<number, SlabChunk>();
  private liveHead: Rec | null = null;
  /** Live pages and objects, and how many of them a cache holds (the auditor's leak check by counts). */
  liveCount = 0;
  cachedCount = 0;
  private liveTail: Rec | null = null;
  private readonly siteAttempts = new Map<string, number>();
  /** Every page's halves: slot s at [s * PAGE_HALVES, (s + 1) * PAGE_HALVES). Replaced when it grows. */
  arena: Uint32Array = new Uint32Array(0);
  /** Most pages the arena may hold (the zones' pages, at most ARENA_MAX_PAGES). */
  private readonly maxSlots: number;
  /** Slot + 1 of each pfn of a zone, indexed by pfn - the zone's first pfn (0: no page). */
  private dmaSlot: Int32Array = NO_SLOTS;
  private normalSlot: Int32Array = NO_SLOTS;
  /** words() views of the current arena, per slot (made on first use, dropped when it grows). */
  private readonly views: (Uint32Array | undefined)[] = [];
  /** Slots of freed pages (touched); slots in [nextSlot, committedSlots) were never handed out (still zero). */
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;
  private committedSlots = 0;
  private nextSlab = SLAB_ID_BASE;
  private seq = 0;

  constructor(cfg: HostMemoryConfig) {
    const d = cfg.dma32_pages;
    if (!Number.isInteger(d) || d < 0 || d > DMA32_END_PFN - DMA32_FIRST_PFN) {
      throw new ShadowMmuError('EINVAL_INPUT', `HostMemory: dma32_pages ${d} must be an integer in 0..${DMA32_END_PFN - DMA32_FIRST_PFN}`);
    }
    if (!Number.isInteger(cfg.normal_pages) || cfg.normal_pages < 0 || cfg.normal_pages > 2 ** 36) {
      throw new ShadowMmuError('EINVAL_INPUT', `HostMemory: normal_pages ${cfg.normal_pages} must be an integer in 0..2^36`);
    }
    this.zones = {
      DMA32: new ZoneState('DMA32', DMA32_FIRST_PFN, DMA32_FIRST_PFN + d),
      NORMAL: new ZoneState('NORMAL', NORMAL_FIRST_PFN, NORMAL_FIRST_PFN + cfg.normal_pages),
    };
    this.faults = cfg.faults ?? NO_FAULTS;
    this.maxSlots = Math.min(ARENA_MAX_PAGES, d + cfg.normal_pages);
  }

  /** A freed object's record, for the next allocation to reuse (storage only: it is no longer in `live`). */
  private readonly spare: Rec[] = [];

  private record(id: number, kind: 'page' | 'slab', zone: Zone | string, site: string, gfp: Gfp, account: VmAccount | null, fill: number): Rec {
    const o = this.spare.pop();
    if (o === undefined) return this.link(new Rec(id, kind, zone, site, gfp, account, ++this.seq, false, 0, false, fill, fill));
    o.id = id;
    o.kind = kind;
    o.zone = zone;
    o.site = site;
    o.gfp = gfp;
    o.account = account;
    o.seq = ++this.seq;
    o.decrypted = false;
    o.refs = 0;
    o.cached = false;
    o.fill_lo = fill;
    o.fill_hi = fill;
    return this.link(o);
  }

  /** Append to the allocation-order list. */
  private link(o: Rec): Rec {
    this.liveCount++;
    o.next = null;
    o.prev = this.liveTail;
    if (this.liveTail) this.liveTail.next = o;
    else this.liveHead = o;
    this.liveTail = o;
    return o;
  }

  /** Off the allocation-order list, and kept for the next record. */
  private recycle(o: Rec): void {
    this.liveCount--;
    if (o.prev) o.prev.next = o.next;
    else this.liveHead = o.next;
    if (o.next) o.next.prev = o.prev;
    else this.liveTail = o.prev;
    o.prev = o.next = null;
    if (this.spare.length < 64) this.spare.push(o);
  }

  /** The live record of a pfn or slab id (the Map lookup it replaces: undefined when not live). */
  private lookup(id: number): Rec | undefined {
    if (id >= SLAB_ID_BASE) {
      const n = id - SLAB_ID_BASE;
      const c = this.slabChunks.get(Math.floor(n / SLAB_CHUNK));
      return c === undefined ? undefined : c.recs[n & (SLAB_CHUNK - 1)];
    }
    const s = id >= NORMAL_FIRST_PFN ? this.normalSlot[id - NORMAL_FIRST_PFN] : this.dmaSlot[id - DMA32_FIRST_PFN];
    return s === undefined || s <= 0 ? undefined : this.recBySlot[s - 1];
  }

  private addSlab(o: Rec): void {
    const n = o.id - SLAB_ID_BASE;
    const k = Math.floor(n / SLAB_CHUNK);
    let c = this.slabChunks.get(k);
    if (c === undefined) this.slabChunks.set(k, (c = { recs: new Array<Rec | undefined>(SLAB_CHUNK).fill(undefined), live: 0 }));
    c.recs[n & (SLAB_CHUNK - 1)] = o;
    c.live++;
  }

  private dropSlab(id: number): void {
    const n = id - SLAB_ID_BASE;
    const k = Math.floor(n / SLAB_CHUNK);
    const c = this.slabChunks.get(k)!;
    c.recs[n & (SLAB_CHUNK - 1)] = undefined;
    if (--c.live === 0) this.slabChunks.delete(k);
  }

  /** Every attempt passes here first: count it and ask the fault injector. */
  private attempt(site: string, gfp: Gfp): boolean {
    const nth = this.stats.alloc_attempts++;
    const nthAtSite = this.siteAttempts.get(site) ?? 0;
    this.siteAttempts.set(site, nthAtSite + 1);
    if (!gfpAllowsBlocking(gfp)) this.stats.atomic_attempts++;
    // NO_FAULTS never fails: the attempt record is built only for an injector that reads it.
    if (this.faults !== NO_FAULTS && this.faults.shouldFail({ site, gfp, nth, nthAtSite })) {
      this.stats.alloc_failures++;
      return false;
    }
    return true;
  }

  /** Attempts made at each site so far (tests check every site was failed at least once). */
  attemptsBySite(): ReadonlyMap<string, number> {
    return this.siteAttempts;
  }

  /**
   * @kernel page_alloc.c alloc_pages
   * One page, or null (the caller takes its -ENOMEM path). __GFP_DMA32 restricts it to
   * ZONE_DMA32; otherwise NORMAL is tried first and DMA32 is the fallback, as the zonelist does.
   */
  alloc_page(gfp: Gfp, site: string, account: VmAccount | null = null, fill64: bigint | null = null): number | null {
    if (!this.attempt(site, gfp)) return null;
    let pfn: number | null = null;
    let zone: Zone = 'DMA32';
    if (!(gfp & __GFP_DMA32)) {
      pfn = this.zones.NORMAL.take();
      zone = 'NORMAL';
    }
    if (pfn === null) {
      pfn = this.zones.DMA32.take();
      zone = 'DMA32';
    }
    if (pfn === null) {
      this.stats.alloc_failures++;
      return null;
    }
    const zero = (gfp & __GFP_ZERO) !== 0;
    const slot = this.slotFor(pfn, zero);
    if (slot === null) {
      (zone === 'DMA32' ? this.zones.DMA32 : this.zones.NORMAL).give(pfn);
      this.stats.alloc_failures++;
      return null;
    }
    // A caller that writes the whole page at once (a memory cache's init_value, memset64 right
    // after the allocation) passes it as fill64: the page is written once, not poisoned first.
    if (fill64 !== null) this.fillPage64(pfn, fill64);
    else if (slot >= 0) this.arena.fill(zero ? 0 : POISON_U32, slot * PAGE_HALVES, (slot + 1) * PAGE_HALVES);
    const charged = gfp & __GFP_ACCOUNT ? account : null;
    if (charged) charged.pages++;
    this.recBySlot[this.slotOf(pfn)] = this.record(pfn, 'page', zone, site, gfp, charged, 0);
    this.stats.pages_allocated++;
    return pfn;
  }

  /** @kernel page_alloc.c free_pages */
  free_page(pfn: number): void {
    const o = this.mustLive(pfn, 'free_page');
    if (o.kind !== 'page') throw new ShadowMmuError('ESTATE', `free_page(${hexId(pfn)}): object is a ${o.zone} slab object, not a page`);
    this.checkReleasable(o, 'free_page');
    const slot = this.slotOf(pfn);
    this.recBySlot[slot] = undefined;
    this.recycle(o);
    if (o.account) o.account.pages--;
    this.setSlot(pfn, -1);
    this.freeSlots.push(slot);
    (o.zone === 'DMA32' ? this.zones.DMA32 : this.zones.NORMAL).give(pfn);
    this.stats.pages_freed++;
  }

  /**
   * @kernel slub.c kmem_cache_alloc
   * One object of the named kmem cache, or null. Its contents are not modelled beyond the fill
   * pattern (zero with __GFP_ZERO, else the poison).
   */
  kmem_cache_alloc(cache: string, gfp: Gfp, site: string, account: VmAccount | null = null): number | null {
    if (!this.attempt(site, gfp)) return null;
    const id = this.nextSlab++;
    const charged = gfp & __GFP_ACCOUNT ? account : null;
    if (charged) charged.objects++;
    const fill = gfp & __GFP_ZERO ? 0 : POISON_U32;
    this.addSlab(this.record(id, 'slab', cache, site, gfp, charged, fill));
    this.stats.objects_allocated++;
    return id;
  }

  /** @kernel slub.c kmem_cache_free */
  kmem_cache_free(cache: string, id: number): void {
    const o = this.mustLive(id, 'kmem_cache_free');
    if (o.kind !== 'slab' || o.zone !== cache) {
      throw new ShadowMmuError('ESTATE', `kmem_cache_free(${cache}, ${hexId(id)}): object belongs to ${o.kind === 'page' ? 'the page allocator' : o.zone}`);
    }
    this.checkReleasable(o, 'kmem_cache_free');
    this.dropSlab(id);
    this.recycle(o);
    if (o.account) o.account.objects--;
    this.stats.objects_freed++;
  }

  /**
   * Where the page's halves start in `arena` (entry i: low half at base + 2i, high at base + 2i + 1).
   * The hot paths' accessor: a typed-array lookup, no Map and no object.
   */
  base(pfn: number): number {
    const s = pfn >= NORMAL_FIRST_PFN ? this.normalSlot[pfn - NORMAL_FIRST_PFN] : this.dmaSlot[pfn - DMA32_FIRST_PFN];
    if (s === undefined || s <= 0) return notAllocated(pfn);
    return (s - 1) * PAGE_HALVES;
  }

  /** The arena slot of a live page, or -1 (not a page, or not allocated): `base` without the throw. */
  slotIndex(pfn: number): number {
    const s = pfn >= NORMAL_FIRST_PFN ? this.normalSlot[pfn - NORMAL_FIRST_PFN] : this.dmaSlot[pfn - DMA32_FIRST_PFN];
    return s === undefined || s <= 0 ? -1 : s - 1;
  }

  /** The page's 512 entries as 1024 halves (entry i at [2i] low, [2i+1] high): a view of its arena slot. */
  words(pfn: number): Uint32Array {
    const slot = this.base(pfn) / PAGE_HALVES;
    let v = this.views[slot];
    if (v === undefined) this.views[slot] = v = this.arena.subarray(slot * PAGE_HALVES, (slot + 1) * PAGE_HALVES);
    return v;
  }

  /** The arena as 64-bit words (made on first use, dropped when it grows). */
  private arena64: BigUint64Array | null = null;

  /**
   * Fill page `pfn`'s 512 entries with the 64-bit `value` (lo, hi as `value64`): one native fill
   * over a 64-bit view instead of 1024 stores (a cache's init_value, 6.x SHADOW_NONPRESENT_VALUE).
   */
  fillPage64(pfn: number, value64: bigint): void {
    const a = (this.arena64 ??= new BigUint64Array(this.arena.buffer, this.arena.byteOffset, this.arena.length / 2));
    const b = this.base(pfn) / 2;
    a.fill(value64, b, b + PAGE_HALVES / 2);
  }

  /** Bytes the arena holds (its capacity: slots handed out, live or free, and never-used ones). */
  get arenaBytes(): number {
    return this.arena.byteLength;
  }

  /** @kernel set_memory.c set_memory_decrypted (one page) */
  set_memory_decrypted(pfn: number): number {
    const o = this.mustLive(pfn, 'set_memory_decrypted');
    this.stats.decrypt_calls++;
    o.decrypted = true;
    return 0;
  }

  /** @kernel set_memory.c set_memory_encrypted (one page) */
  set_memory_encrypted(pfn: number): number {
    const o = this.mustLive(pfn, 'set_memory_encrypted');
    this.stats.encrypt_calls++;
    o.decrypted = false;
    return 0;
  }

  /** Take a reference (an SPTE, a root or a slot now points at the object). */
  get_ref(id: number): void {
    this.mustLive(id, 'get_ref').refs++;
  }

  /** Drop a reference taken with get_ref. */
  put_ref(id: number): void {
    const o = this.mustLive(id, 'put_ref');
    if (o.refs <= 0) throw new ShadowMmuError('ESTATE', `put_ref(${hexId(id)}): no reference is held`);
    o.refs--;
  }

  /** Caches mark what they hold, so the leak query can tell "cached" from "lost". */
  set_cached(id: number, cached: boolean): void {
    const o = this.mustLive(id, 'set_cached');
    if (o.cached !== cached) this.cachedCount += cached ? 1 : -1;
    o.cached = cached;
  }

  info(id: number): Readonly<HostObject> | undefined {
    return this.lookup(id);
  }

  isAllocated(id: number): boolean {
    return this.lookup(id) !== undefined;
  }

  /**
   * Every live page and object, in allocation order (an object joins the list's tail exactly
   * when it is allocated, so no sort is needed).
   */
  allocated(): Readonly<HostObject>[] {
    return [...this.liveObjects()];
  }

  /** The live objects, iterated in place (no copy: for the auditor, once per step). */
  *liveObjects(): IterableIterator<Readonly<HostObject>> {
    for (let o = this.liveHead; o; o = o.next) yield o;
  }

  /** Live objects per kind: pages by zone, slab objects by cache name. */
  counts(): Record<string, number> {
    const c: Record<string, number> = {};
    for (let o = this.liveHead; o; o = o.next) c[o.zone] = (c[o.zone] ?? 0) + 1;
    return c;
  }

  /** Free pages left in a zone. */
  freePages(zone: Zone): number {
    return this.zones[zone].free;
  }

  /**
   * The auditor's leak query: every live page/object must be reachable (as the caller decides:
   * a shadow page's spt, a header, a descriptor, a root ...) or held by a cache. Returns the
   * ones that are neither, in allocation order; an empty list means no leak.
   */
  unreachable(isReachable: (o: Readonly<HostObject>) => boolean): Readonly<HostObject>[] {
    return this.allocated().filter((o) => !o.cached && !isReachable(o));
  }

  /**
   * Storage for a new page: the slot when the caller must initialise it, -2 when a never-used
   * (hence already zero) slot was handed out for a zeroed page — that keeps the host from
   * touching, and so committing, memory a sparse table never writes — and null when the arena
   * is full (the zones' pages, at most 2^20, reported as a failed allocation).
   */
  private slotFor(pfn: number, zero: boolean): number | null {
    let s: number | undefined;
    let fresh = false;
    if (zero && this.nextSlot < this.committedSlots) {
      s = this.nextSlot++;
      fresh = true;
    }
    s ??= this.freeSlots.pop();
    if (s === undefined) {
      if (this.nextSlot >= this.committedSlots && !this.grow()) return null;
      s = this.nextSlot++;
      fresh = true;
    }
    this.setSlot(pfn, s);
    return fresh && zero ? -2 : s;
  }

  /** Double the arena (its new slots are zero, never used); views of the old one are dropped. */
  private grow(): boolean {
    const want = Math.min(this.maxSlots, Math.max(FIRST_PAGES, 2 * this.committedSlots));
    if (want <= this.committedSlots) return false;
    const grown = new Uint32Array(want * PAGE_HALVES);
    grown.set(this.arena);
    this.arena = grown;
    this.arena64 = null;
    this.views.length = 0;
    this.committedSlots = want;
    return true;
  }

  private slotOf(pfn: number): number {
    return this.base(pfn) / PAGE_HALVES;
  }

  /** Record pfn -> slot (-1: none), growing the zone's table when pfn is past its end. */
  private setSlot(pfn: number, slot: number): void {
    const normal = pfn >= NORMAL_FIRST_PFN;
    const i = pfn - (normal ? NORMAL_FIRST_PFN : DMA32_FIRST_PFN);
    let t = normal ? this.normalSlot : this.dmaSlot;
    if (i >= t.length) {
      const n = new Int32Array(Math.max(i + 1, t.length * 2, 256));
      n.set(t);
      t = n;
      if (normal) this.normalSlot = t;
      else this.dmaSlot = t;
    }
    t[i] = slot + 1;
  }

  private mustLive(id: number, op: string): Rec {
    const o = this.lookup(id);
    if (!o) {
      throw new ShadowMmuError('ESTATE', `${op}(${hexId(id)}): ${id >= SLAB_ID_BASE ? 'object' : 'page'} is not allocated (double free or stray pointer)`);
    }
    return o;
  }

  private checkReleasable(o: HostObject, op: string): void {
    if (o.refs === 0 && !o.cached && !o.decrypted) return;
    const what = `${op}(${hexId(o.id)}) [${o.site}]`;
    if (o.refs > 0) throw new ShadowMmuError('ESTATE', `${what}: still referenced (${o.refs} reference${o.refs > 1 ? 's' : ''})`);
    if (o.cached) throw new ShadowMmuError('ESTATE', `${what}: still held by a memory cache`);
    throw new ShadowMmuError('ESTATE', `${what}: page is still decrypted (set_memory_encrypted first)`);
  }
}

function hexId(id: number): string {
  return id >= SLAB_ID_BASE ? `slab#${id - SLAB_ID_BASE}` : `pfn 0x${id.toString(16)}`;
}

/** Physical address of a pfn as a plain number (exact below 2^53). */
export function pfnToPa(pfn: number): number {
  return pfn * PAGE_SIZE;
}
