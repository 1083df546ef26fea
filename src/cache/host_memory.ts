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

/** Record flags (HostMemory.rFlags). */
const F_SLAB = 1;
const F_DECRYPTED = 2;
const F_CACHED = 4;
/** No record (list ends, empty slots). */
const NIL = -1;
/** The largest index the 16-bit columns hold (sites, kmem cache names, accounts). */
const TABLE_MAX = 0xffff;
/** Records the tables first hold (they grow when full: growRecords). */
const FIRST_RECORDS = 64;

/** An allocation site: its index in the record tables' site column, and its attempts so far. */
interface Site {
  readonly idx: number;
  readonly name: string;
  attempts: number;
}

/** A 16-bit column's table is full (more distinct sites, cache names or accounts than it indexes). */
function tableFull(what: string, name: string): never {
  throw new ShadowMmuError('ESTATE', `HostMemory: more than ${TABLE_MAX + 1} ${what} (at ${JSON.stringify(name)})`);
}

/** base()'s error, out of line so base itself stays small enough to inline into every SPTE access. */
function notAllocated(pfn: number): never {
  throw new ShadowMmuError('ESTATE', `page ${hexId(pfn)} is not allocated`);
}

/** Slab records per directory chunk (ids are handed out in sequence: a chunk goes when its last object is freed). */
const SLAB_CHUNK = 512;
interface SlabChunk {
  /** Record index of each object of the chunk, NIL when not live. */
  readonly recs: Int32Array;
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

/**
 * A stack of numbers in a typed array (a JS array shrinks its store on pop and regrows it on
 * push, an allocation the alloc/free cycle of a fault made every time).
 */
class NumberStack {
  private a = new Float64Array(64);
  length = 0;
  push(x: number): void {
    if (this.length === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.length++] = x;
  }
  /** The top, or undefined when empty. */
  pop(): number | undefined {
    return this.length === 0 ? undefined : this.a[--this.length];
  }
}

class ZoneState {
  private next: number;
  private readonly freeList = new NumberStack();
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
   * The live objects' records, as columns indexed by a record number (35 bytes a record, no
   * object per allocation): the id, allocation sequence, gfp, reference count, flags (F_*),
   * zone or kmem cache name, site and account as indices into small tables, and the links of
   * one list in allocation order (head oldest). A slab object's fill pattern follows from its
   * gfp (zero with __GFP_ZERO, else the poison); a page record has none. A freed record goes on a free list
   * threaded through rNext. Pages find their record by arena slot (recBySlot), slab objects in
   * chunks by (id - SLAB_ID_BASE) / SLAB_CHUNK.
   */
  private rId = new Float64Array(FIRST_RECORDS);
  private rSeq = new Float64Array(FIRST_RECORDS);
  private rGfp = new Uint16Array(FIRST_RECORDS);
  private rRefs = new Int32Array(FIRST_RECORDS);
  private rFlags = new Uint8Array(FIRST_RECORDS);
  private rZone = new Uint16Array(FIRST_RECORDS);
  private rSite = new Uint16Array(FIRST_RECORDS);
  private rAccount = new Uint16Array(FIRST_RECORDS);
  private rPrev = new Int32Array(FIRST_RECORDS);
  private rNext = new Int32Array(FIRST_RECORDS);
  /** Records ever used (the high-water mark), and the head of the freed ones. */
  private usedRecords = 0;
  private freeRecord = NIL;
  /** Record of each arena slot's page, NIL when the slot is free. */
  private recBySlot = new Int32Array(0);
  private readonly slabChunks = new Map<number, SlabChunk>();
  private liveHead = NIL;
  private liveTail = NIL;
  /** Live pages and objects, and how many of them a cache holds (the auditor's leak check by counts). */
  liveCount = 0;
  cachedCount = 0;
  /** Zone and kmem cache names (rZone), sites (rSite) and accounts (rAccount; 0 is none). */
  private readonly zoneNames: string[] = ['DMA32', 'NORMAL'];
  private readonly zoneIdx = new Map<string, number>([
    ['DMA32', 0],
    ['NORMAL', 1],
  ]);
  private readonly sites: Site[] = [];
  private readonly siteByName = new Map<string, Site>();
  private readonly accounts: (VmAccount | null)[] = [null];
  private readonly accountIdx = new Map<VmAccount, number>();
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
  private readonly freeSlots = new NumberStack();
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

  /** A new record at the allocation-order list's tail (a freed one reused first). */
  private record(id: number, slab: boolean, zone: number, site: Site, gfp: Gfp, account: VmAccount | null): number {
    let r = this.freeRecord;
    if (r !== NIL) this.freeRecord = this.rNext[r]!;
    else {
      if (this.usedRecords === this.rId.length) this.growRecords();
      r = this.usedRecords++;
    }
    this.rId[r] = id;
    this.rSeq[r] = ++this.seq;
    this.rGfp[r] = gfp;
    this.rRefs[r] = 0;
    this.rFlags[r] = slab ? F_SLAB : 0;
    this.rZone[r] = zone;
    this.rSite[r] = site.idx;
    this.rAccount[r] = account === null ? 0 : this.accountOf(account);
    this.rNext[r] = NIL;
    const t = this.liveTail;
    this.rPrev[r] = t;
    if (t !== NIL) this.rNext[t] = r;
    else this.liveHead = r;
    this.liveTail = r;
    this.liveCount++;
    return r;
  }

  /** Off the allocation-order list, and onto the free records. */
  private recycle(r: number): void {
    const p = this.rPrev[r]!;
    const n = this.rNext[r]!;
    if (p !== NIL) this.rNext[p] = n;
    else this.liveHead = n;
    if (n !== NIL) this.rPrev[n] = p;
    else this.liveTail = p;
    this.rNext[r] = this.freeRecord;
    this.freeRecord = r;
    this.liveCount--;
  }

  /** Grow every record column: doubling while small, then by a quarter (less slack at 1e5-1e6 pages). */
  private growRecords(): void {
    const l = this.rId.length;
    const n = l < 1 << 16 ? l * 2 : l + (l >>> 2);
    const f64 = (a: Float64Array) => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    const i32 = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    const u16 = (a: Uint16Array) => {
      const b = new Uint16Array(n);
      b.set(a);
      return b;
    };
    this.rId = f64(this.rId);
    this.rSeq = f64(this.rSeq);
    this.rGfp = u16(this.rGfp);
    this.rRefs = i32(this.rRefs);
    const flags = new Uint8Array(n);
    flags.set(this.rFlags);
    this.rFlags = flags;
    this.rZone = u16(this.rZone);
    this.rSite = u16(this.rSite);
    this.rAccount = u16(this.rAccount);
    this.rPrev = i32(this.rPrev);
    this.rNext = i32(this.rNext);
  }

  private accountOf(a: VmAccount): number {
    let k = this.accountIdx.get(a);
    if (k === undefined) {
      k = this.accounts.length;
      if (k > TABLE_MAX) tableFull('accounts', a.name);
      this.accounts.push(a);
      this.accountIdx.set(a, k);
    }
    return k;
  }

  private zoneOf(name: string): number {
    let k = this.zoneIdx.get(name);
    if (k === undefined) {
      k = this.zoneNames.length;
      if (k > TABLE_MAX) tableFull('kmem cache names', name);
      this.zoneNames.push(name);
      this.zoneIdx.set(name, k);
    }
    return k;
  }

  /** The live record of a pfn or slab id, NIL when not live. */
  private lookup(id: number): number {
    if (id >= SLAB_ID_BASE) {
      const n = id - SLAB_ID_BASE;
      const c = this.slabChunks.get(Math.floor(n / SLAB_CHUNK));
      return c === undefined ? NIL : c.recs[n & (SLAB_CHUNK - 1)]!;
    }
    const s = id >= NORMAL_FIRST_PFN ? this.normalSlot[id - NORMAL_FIRST_PFN] : this.dmaSlot[id - DMA32_FIRST_PFN];
    return s === undefined || s <= 0 ? NIL : this.recBySlot[s - 1]!;
  }

  private addSlab(id: number, r: number): void {
    const n = id - SLAB_ID_BASE;
    const k = Math.floor(n / SLAB_CHUNK);
    let c = this.slabChunks.get(k);
    if (c === undefined) this.slabChunks.set(k, (c = { recs: new Int32Array(SLAB_CHUNK).fill(NIL), live: 0 }));
    c.recs[n & (SLAB_CHUNK - 1)] = r;
    c.live++;
  }

  private dropSlab(id: number): void {
    const n = id - SLAB_ID_BASE;
    const k = Math.floor(n / SLAB_CHUNK);
    const c = this.slabChunks.get(k)!;
    c.recs[n & (SLAB_CHUNK - 1)] = NIL;
    if (--c.live === 0) this.slabChunks.delete(k);
  }

  /** Every attempt passes here first: count it and ask the fault injector. The site, or null when it fails. */
  private attempt(name: string, gfp: Gfp): Site | null {
    if ((gfp & TABLE_MAX) !== gfp) throw new ShadowMmuError('EINVAL_INPUT', `HostMemory: gfp 0x${gfp.toString(16)} at ${JSON.stringify(name)} has bits no GFP flag uses`);
    const nth = this.stats.alloc_attempts++;
    let site = this.siteByName.get(name);
    if (site === undefined) {
      if (this.sites.length > TABLE_MAX) tableFull('allocation sites', name);
      site = { idx: this.sites.length, name, attempts: 0 };
      this.sites.push(site);
      this.siteByName.set(name, site);
    }
    const nthAtSite = site.attempts++;
    if (!gfpAllowsBlocking(gfp)) this.stats.atomic_attempts++;
    // NO_FAULTS never fails: the attempt record is built only for an injector that reads it.
    if (this.faults !== NO_FAULTS && this.faults.shouldFail({ site: name, gfp, nth, nthAtSite })) {
      this.stats.alloc_failures++;
      return null;
    }
    return site;
  }

  /** Attempts made at each site so far, in the order the sites were first tried (tests check every site was failed at least once). */
  attemptsBySite(): ReadonlyMap<string, number> {
    return new Map(this.sites.map((s) => [s.name, s.attempts]));
  }

  /**
   * @kernel page_alloc.c alloc_pages
   * One page, or null (the caller takes its -ENOMEM path). __GFP_DMA32 restricts it to
   * ZONE_DMA32; otherwise NORMAL is tried first and DMA32 is the fallback, as the zonelist does.
   */
  alloc_page(gfp: Gfp, site: string, account: VmAccount | null = null, fill64: bigint | null = null): number | null {
    const at = this.attempt(site, gfp);
    if (at === null) return null;
    let pfn: number | null = null;
    let zone = 0;
    if (!(gfp & __GFP_DMA32)) {
      pfn = this.zones.NORMAL.take();
      zone = 1;
    }
    if (pfn === null) {
      pfn = this.zones.DMA32.take();
      zone = 0;
    }
    if (pfn === null) {
      this.stats.alloc_failures++;
      return null;
    }
    const zero = (gfp & __GFP_ZERO) !== 0;
    const slot = this.slotFor(pfn, zero);
    if (slot === null) {
      (zone === 0 ? this.zones.DMA32 : this.zones.NORMAL).give(pfn);
      this.stats.alloc_failures++;
      return null;
    }
    // A caller that writes the whole page at once (a memory cache's init_value, memset64 right
    // after the allocation) passes it as fill64: the page is written once, not poisoned first.
    if (fill64 !== null) this.fillPage64(pfn, fill64);
    else if (slot >= 0) this.arena.fill(zero ? 0 : POISON_U32, slot * PAGE_HALVES, (slot + 1) * PAGE_HALVES);
    const charged = gfp & __GFP_ACCOUNT ? account : null;
    if (charged) charged.pages++;
    this.recBySlot[this.slotOf(pfn)] = this.record(pfn, false, zone, at, gfp, charged);
    this.stats.pages_allocated++;
    return pfn;
  }

  /** @kernel page_alloc.c free_pages */
  free_page(pfn: number): void {
    const r = this.mustLive(pfn, 'free_page');
    if (this.rFlags[r]! & F_SLAB) throw new ShadowMmuError('ESTATE', `free_page(${hexId(pfn)}): object is a ${this.zoneNames[this.rZone[r]!]} slab object, not a page`);
    this.checkReleasable(r, 'free_page');
    const slot = this.slotOf(pfn);
    this.recBySlot[slot] = NIL;
    const account = this.accounts[this.rAccount[r]!];
    if (account) account.pages--;
    const dma32 = this.rZone[r] === 0;
    this.recycle(r);
    this.setSlot(pfn, -1);
    this.freeSlots.push(slot);
    (dma32 ? this.zones.DMA32 : this.zones.NORMAL).give(pfn);
    this.stats.pages_freed++;
  }

  /**
   * @kernel slub.c kmem_cache_alloc
   * One object of the named kmem cache, or null. Its contents are not modelled beyond the fill
   * pattern (zero with __GFP_ZERO, else the poison).
   */
  kmem_cache_alloc(cache: string, gfp: Gfp, site: string, account: VmAccount | null = null): number | null {
    const at = this.attempt(site, gfp);
    if (at === null) return null;
    const id = this.nextSlab++;
    const charged = gfp & __GFP_ACCOUNT ? account : null;
    if (charged) charged.objects++;
    this.addSlab(id, this.record(id, true, this.zoneOf(cache), at, gfp, charged));
    this.stats.objects_allocated++;
    return id;
  }

  /** @kernel slub.c kmem_cache_free */
  kmem_cache_free(cache: string, id: number): void {
    const r = this.mustLive(id, 'kmem_cache_free');
    const slab = (this.rFlags[r]! & F_SLAB) !== 0;
    const zone = this.zoneNames[this.rZone[r]!]!;
    if (!slab || zone !== cache) {
      throw new ShadowMmuError('ESTATE', `kmem_cache_free(${cache}, ${hexId(id)}): object belongs to ${!slab ? 'the page allocator' : zone}`);
    }
    this.checkReleasable(r, 'kmem_cache_free');
    this.dropSlab(id);
    const account = this.accounts[this.rAccount[r]!];
    if (account) account.objects--;
    this.recycle(r);
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
    const r = this.mustLive(pfn, 'set_memory_decrypted');
    this.stats.decrypt_calls++;
    this.rFlags[r]! |= F_DECRYPTED;
    return 0;
  }

  /** @kernel set_memory.c set_memory_encrypted (one page) */
  set_memory_encrypted(pfn: number): number {
    const r = this.mustLive(pfn, 'set_memory_encrypted');
    this.stats.encrypt_calls++;
    this.rFlags[r]! &= ~F_DECRYPTED;
    return 0;
  }

  /** Take a reference (an SPTE, a root or a slot now points at the object). */
  get_ref(id: number): void {
    this.rRefs[this.mustLive(id, 'get_ref')]!++;
  }

  /** Drop a reference taken with get_ref. */
  put_ref(id: number): void {
    const r = this.mustLive(id, 'put_ref');
    if (this.rRefs[r]! <= 0) throw new ShadowMmuError('ESTATE', `put_ref(${hexId(id)}): no reference is held`);
    this.rRefs[r]!--;
  }

  /** Caches mark what they hold, so the leak query can tell "cached" from "lost". */
  set_cached(id: number, cached: boolean): void {
    const r = this.mustLive(id, 'set_cached');
    const was = (this.rFlags[r]! & F_CACHED) !== 0;
    if (was === cached) return;
    this.cachedCount += cached ? 1 : -1;
    this.rFlags[r]! ^= F_CACHED;
  }

  /** The object's record as it is now (a snapshot: ask again after a change), undefined when not live. */
  info(id: number): Readonly<HostObject> | undefined {
    const r = this.lookup(id);
    return r === NIL ? undefined : this.object(r);
  }

  isAllocated(id: number): boolean {
    return this.lookup(id) !== NIL;
  }

  /** Live and not held by a cache (the auditor's per-object check, with no record built). */
  isLiveUncached(id: number): boolean {
    const r = this.lookup(id);
    return r !== NIL && (this.rFlags[r]! & F_CACHED) === 0;
  }

  /** Live and mapped decrypted. */
  isDecrypted(id: number): boolean {
    const r = this.lookup(id);
    return r !== NIL && (this.rFlags[r]! & F_DECRYPTED) !== 0;
  }

  /** Record r as a HostObject (its fields in this order, as JSON output has always had them). */
  private object(r: number): HostObject {
    const f = this.rFlags[r]!;
    const fill = f & F_SLAB && !(this.rGfp[r]! & __GFP_ZERO) ? POISON_U32 : 0;
    return {
      id: this.rId[r]!,
      kind: f & F_SLAB ? 'slab' : 'page',
      zone: this.zoneNames[this.rZone[r]!]!,
      site: this.sites[this.rSite[r]!]!.name,
      gfp: this.rGfp[r]!,
      account: this.accounts[this.rAccount[r]!]!,
      seq: this.rSeq[r]!,
      decrypted: (f & F_DECRYPTED) !== 0,
      refs: this.rRefs[r]!,
      cached: (f & F_CACHED) !== 0,
      fill_lo: fill,
      fill_hi: fill,
    };
  }

  /**
   * Every live page and object, in allocation order (an object joins the list's tail exactly
   * when it is allocated, so no sort is needed).
   */
  allocated(): Readonly<HostObject>[] {
    return [...this.liveObjects()];
  }

  /** The live objects in allocation order, each as a snapshot of its record. */
  *liveObjects(): IterableIterator<Readonly<HostObject>> {
    for (let r = this.liveHead; r !== NIL; r = this.rNext[r]!) yield this.object(r);
  }

  /** Live objects per kind: pages by zone, slab objects by cache name. */
  counts(): Record<string, number> {
    const c: Record<string, number> = {};
    for (let r = this.liveHead; r !== NIL; r = this.rNext[r]!) {
      const z = this.zoneNames[this.rZone[r]!]!;
      c[z] = (c[z] ?? 0) + 1;
    }
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
    const recs = new Int32Array(want).fill(NIL);
    recs.set(this.recBySlot);
    this.recBySlot = recs;
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
      const n = new Int32Array(Math.max(i + 1, t.length < 1 << 16 ? t.length * 2 : t.length + (t.length >>> 2), 256));
      n.set(t);
      t = n;
      if (normal) this.normalSlot = t;
      else this.dmaSlot = t;
    }
    t[i] = slot + 1;
  }

  private mustLive(id: number, op: string): number {
    const r = this.lookup(id);
    if (r === NIL) {
      throw new ShadowMmuError('ESTATE', `${op}(${hexId(id)}): ${id >= SLAB_ID_BASE ? 'object' : 'page'} is not allocated (double free or stray pointer)`);
    }
    return r;
  }

  private checkReleasable(r: number, op: string): void {
    const f = this.rFlags[r]!;
    const refs = this.rRefs[r]!;
    if (refs === 0 && (f & (F_CACHED | F_DECRYPTED)) === 0) return;
    const what = `${op}(${hexId(this.rId[r]!)}) [${this.sites[this.rSite[r]!]!.name}]`;
    if (refs > 0) throw new ShadowMmuError('ESTATE', `${what}: still referenced (${refs} reference${refs > 1 ? 's' : ''})`);
    if (f & F_CACHED) throw new ShadowMmuError('ESTATE', `${what}: still held by a memory cache`);
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
