/**
 * Guest physical memory: memslots (gfn ranges, optionally read-only) over sparse 4 KiB pages.
 * A page gets storage on first write (a page that was never written reads as zero): a slot of
 * 1024 halves in one arena (a Uint32Array, replaced by a copy twice the size when full: no view
 * of it ever leaves this class, so the copy is safe, and a plain typed array indexes faster than
 * one over a resizable buffer), found through its memslot's page directory (512-entry chunks of
 * arena slot + 1), so no Map is consulted per access, and the pages read lately are cached by gfn
 * (64 entries, direct-mapped) with their arena base and memslot.
 * Guest-physical addresses are plain numbers (< 2^52, exact in a double); 64-bit contents move
 * as two 32-bit halves, so no BigInt is used on the read/write path. Little-endian, as x86.
 */
import { ShadowMmuError, badInput } from '../bits/errors.js';

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
/** Largest guest-physical address the model accepts (MAXPHYADDR 52). */
export const GPA_LIMIT = 2 ** 52;
const PAGE_HALVES = PAGE_SIZE / 4;
/** Pages per page-directory chunk of a memslot. */
const DIR_CHUNK = 512;
/** The arena's first size, in pages, and its largest (2^20 pages, 4 GiB). */
const FIRST_PAGES = 4;
const MAX_PAGES = 2 ** 20;
/** Entries of the resident-page cache (a power of two). */
const TC_SIZE = 64;

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  throw new ShadowMmuError('EAUDIT', 'guest memory: the host is not little-endian');
}

/** A 64-bit word as two halves; the walker reuses one of these instead of allocating. */
export interface Word {
  lo: number;
  hi: number;
}

/** struct kvm_memory_slot, reduced to what the walker needs. */
export interface Memslot {
  readonly id: number;
  readonly base_gfn: number;
  readonly npages: number;
  /** KVM_MEM_READONLY: the walker reads it but does not set A/D bits in it. */
  readonly readonly: boolean;
  /** KVM_MEM_LOG_DIRTY_PAGES: one bit per page (32 per word), or null when not logging. */
  dirty_bitmap: Uint32Array | null;
}

export class GuestMemory {
  private readonly slots: Memslot[] = [];
  /** Per memslot (by id): chunks of DIR_CHUNK entries, arena slot + 1 per page (0: never written). */
  private readonly dirs: (Int32Array | undefined)[][] = [];
  /** Every resident page's halves. */
  private arena = new Uint32Array(0);
  private resident = 0;
  /** Where each resident page's directory entry is (chunk, index): what clear() resets, in O(resident pages). */
  private readonly resChunk: Int32Array[] = [];
  private readonly resIdx: number[] = [];
  /** Arena slots handed out so far, and those given back by clear() (reused, zeroed first). */
  private nextSlot = 0;
  private readonly freeSlots: number[] = [];
  /**
   * A direct-mapped cache of resident pages by the gfn's low bits: gfn, arena base and memslot.
   * A page, once it exists, stays at its base until clear(), which empties the cache; a walk
   * reads four or five tables in turn, which a one-entry cache missed on every level.
   */
  private readonly tcGfn = new Float64Array(TC_SIZE).fill(-1);
  private readonly tcBase = new Int32Array(TC_SIZE);
  private readonly tcSlot: (Memslot | undefined)[] = new Array<Memslot | undefined>(TC_SIZE).fill(undefined);
  private last: Memslot | undefined;

  /**
   * @kernel kvm_main.c mark_page_dirty_in_slot
   * KVM wrote the page (a writable SPTE made for it, an A/D bit the walker set, an emulated
   * store): set its bit when its memslot logs dirty pages. Userspace writes do not come here.
   */
  mark_page_dirty(gfn: number): void {
    const s = this.gfnToMemslot(gfn);
    if (!s || s.dirty_bitmap === null) return;
    const rel = gfn - s.base_gfn;
    s.dirty_bitmap[rel >>> 5]! |= 1 << (rel & 31);
  }

  /** Add a memslot of `size` bytes at `base` (both page-aligned); overlapping slots are refused. */
  addSlot(base: number, size: number, opts: { readonly?: boolean } = {}): Memslot {
    if (!Number.isSafeInteger(base) || base < 0 || base % PAGE_SIZE !== 0) badInput('memslot.base', `0x${base.toString(16)} is not a page-aligned guest-physical address`);
    if (!Number.isSafeInteger(size) || size <= 0 || size % PAGE_SIZE !== 0) badInput('memslot.size', `${size} is not a positive multiple of 4 KiB`);
    if (base + size > GPA_LIMIT) badInput('memslot', `0x${base.toString(16)}+0x${size.toString(16)} extends past 2^52`);
    const base_gfn = base / PAGE_SIZE;
    const npages = size / PAGE_SIZE;
    for (const s of this.slots) {
      if (base_gfn < s.base_gfn + s.npages && s.base_gfn < base_gfn + npages) {
        badInput('memslot', `gfns 0x${base_gfn.toString(16)}..0x${(base_gfn + npages - 1).toString(16)} overlap slot ${s.id}`);
      }
    }
    const slot: Memslot = { id: this.slots.length, base_gfn, npages, readonly: opts.readonly === true, dirty_bitmap: null };
    this.slots.push(slot);
    this.dirs.push([]);
    return slot;
  }

  get memslots(): readonly Memslot[] {
    return this.slots;
  }

  /** kvm_vcpu_gfn_to_memslot: the slot holding gfn, or undefined (MMIO / no memory). */
  gfnToMemslot(gfn: number): Memslot | undefined {
    const l = this.last;
    if (l !== undefined && gfn >= l.base_gfn && gfn < l.base_gfn + l.npages) return l;
    for (const s of this.slots) {
      if (gfn >= s.base_gfn && gfn < s.base_gfn + s.npages) {
        this.last = s;
        return s;
      }
    }
    return undefined;
  }

  /** Whether gpa lies in a memslot. */
  isRam(gpa: number): boolean {
    return this.gfnToMemslot(Math.floor(gpa / PAGE_SIZE)) !== undefined;
  }

  /** Drop every page's contents (slots stay); arena slots are kept for reuse. */
  clear(): void {
    // The directory chunks stay (emptied), so the next guest's pages do not allocate them again.
    for (let k = 0; k < this.resChunk.length; k++) {
      const chunk = this.resChunk[k]!;
      const i = this.resIdx[k]!;
      this.freeSlots.push(chunk[i]! - 1);
      chunk[i] = 0;
    }
    this.resChunk.length = 0;
    this.resIdx.length = 0;
    this.resident = 0;
    this.tcGfn.fill(-1);
    this.tcSlot.fill(undefined);
  }

  /** Whether the page of gfn holds data (has been written, so a host would have it populated). */
  hasPage(gfn: number): boolean {
    const s = this.gfnToMemslot(gfn);
    return s !== undefined && this.baseIn(s, gfn) >= 0;
  }

  /** Number of pages that hold data (bytes = 4096 x this). */
  get residentPages(): number {
    return this.resident;
  }

  /** The arena base of gfn's page in its memslot, or -1 when the page was never written. */
  private baseIn(s: Memslot, gfn: number): number {
    const off = gfn - s.base_gfn;
    const chunk = this.dirs[s.id]![Math.floor(off / DIR_CHUNK)];
    if (chunk === undefined) return -1;
    const v = chunk[off & (DIR_CHUNK - 1)]!;
    return v > 0 ? (v - 1) * PAGE_HALVES : -1;
  }

  /** The arena base of gfn's page, created (zeroed) on first use. */
  private page(gfn: number, where: string): number {
    const s = this.gfnToMemslot(gfn);
    if (s === undefined) badInput(where, `gpa 0x${(gfn * PAGE_SIZE).toString(16)} is not in any memslot`);
    const off = gfn - s.base_gfn;
    const dir = this.dirs[s.id]!;
    const ci = Math.floor(off / DIR_CHUNK);
    let chunk = dir[ci];
    if (chunk === undefined) dir[ci] = chunk = new Int32Array(DIR_CHUNK);
    const v = chunk[off & (DIR_CHUNK - 1)]!;
    if (v > 0) return (v - 1) * PAGE_HALVES;
    let slot = this.freeSlots.pop();
    if (slot !== undefined) {
      this.arena.fill(0, slot * PAGE_HALVES, (slot + 1) * PAGE_HALVES);
    } else {
      slot = this.nextSlot;
      if ((slot + 1) * PAGE_HALVES > this.arena.length) {
        if (slot + 1 > MAX_PAGES) {
          throw new ShadowMmuError('ENOMEM', `guest memory: ${where} at gpa 0x${(gfn * PAGE_SIZE).toString(16)} needs a page past the model's ${MAX_PAGES} resident guest pages`);
        }
        const grown = new Uint32Array(Math.min(MAX_PAGES, Math.max(FIRST_PAGES, 2 * slot)) * PAGE_HALVES);
        grown.set(this.arena);
        this.arena = grown;
      }
      this.nextSlot++;
    }
    chunk[off & (DIR_CHUNK - 1)] = slot + 1;
    this.resChunk.push(chunk);
    this.resIdx.push(off & (DIR_CHUNK - 1));
    this.resident++;
    return slot * PAGE_HALVES;
  }

  /**
   * Read an aligned 8-byte word into `out`. Returns false (and leaves `out` alone) when the
   * address is outside every memslot. The walker's hot path.
   */
  read64(gpa: number, out: Word): boolean {
    return this.readPte(gpa, 8, out) !== undefined;
  }

  /**
   * The arena base of gfn's page through the resident-page cache: >= 0, or -1 when the page was
   * never written (it reads as zero), or -2 when gfn is outside every memslot. A resident page
   * is cached, with its memslot in `tcSlot`.
   */
  private residentBase(gfn: number): number {
    const k = gfn & (TC_SIZE - 1);
    if (this.tcGfn[k] === gfn) return this.tcBase[k]!;
    const s = this.gfnToMemslot(gfn);
    if (s === undefined) return -2;
    const b = this.baseIn(s, gfn);
    if (b >= 0) {
      this.tcGfn[k] = gfn;
      this.tcBase[k] = b;
      this.tcSlot[k] = s;
    }
    return b;
  }

  /**
   * Read an aligned guest PTE of `size` (4 or 8) bytes into `out` (hi = 0 for 4 bytes) and return
   * its memslot; undefined (and `out` untouched) outside every memslot. The walker's hot path:
   * one cache probe gives both the entry and the slot's read-only flag.
   */
  readPte(gpa: number, size: number, out: Word): Memslot | undefined {
    const gfn = Math.floor(gpa / PAGE_SIZE);
    const b = this.residentBase(gfn);
    if (b >= 0) {
      const i = b + ((gpa - gfn * PAGE_SIZE) >>> 2);
      const a = this.arena;
      out.lo = a[i]!;
      out.hi = size === 8 ? a[i + 1]! : 0;
      return this.tcSlot[gfn & (TC_SIZE - 1)];
    }
    if (b === -2) return undefined;
    out.lo = 0;
    out.hi = 0;
    return this.gfnToMemslot(gfn);
  }

  /**
   * Read `n` consecutive aligned entries of `size` (4 or 8) bytes, all in one page, into `buf` as
   * lo, hi pairs (hi = 0 for 4-byte entries): what `n` read64 / read32 calls would give, with one
   * page lookup. False (and `buf` untouched) when the page is outside every memslot.
   */
  readEntries(gpa: number, size: number, n: number, buf: Uint32Array): boolean {
    const gfn = Math.floor(gpa / PAGE_SIZE);
    if ((gpa & (size - 1)) !== 0 || gpa - gfn * PAGE_SIZE + n * size > PAGE_SIZE) {
      throw new ShadowMmuError('EAUDIT', `guest memory: readEntries of ${n} ${size}-byte entries at gpa 0x${gpa.toString(16)} is unaligned or crosses a page`);
    }
    const b = this.residentBase(gfn);
    if (b === -2) return false;
    if (b < 0) {
      buf.fill(0, 0, 2 * n);
      return true;
    }
    const a = this.arena;
    let i = b + ((gpa - gfn * PAGE_SIZE) >>> 2);
    if (size === 8) {
      // A whole table (a sync) as one memcpy, ~5x a loop of 1,024 stores; a few entries by hand.
      if (n > 16) buf.set(a.subarray(i, i + 2 * n));
      else for (let k = 0; k < 2 * n; k++) buf[k] = a[i + k]!;
    } else {
      for (let k = 0; k < n; k++) {
        buf[2 * k] = a[i++]!;
        buf[2 * k + 1] = 0;
      }
    }
    return true;
  }

  /** Read an aligned 4-byte word into out.lo (out.hi = 0). False when not RAM. */
  read32(gpa: number, out: Word): boolean {
    return this.readPte(gpa, 4, out) !== undefined;
  }

  /**
   * The page of gfn as 1,024 halves (lo, hi of each 8-byte word), created on first use; writes
   * through it are guest writes. A view of the current arena: take it again after any write that
   * may add a page (the arena grows by replacement). For benches and tests that rewrite a table
   * as a plain array, as a C loop would. Throws outside memslots.
   */
  pageView(gfn: number): Uint32Array {
    const b = this.page(gfn, 'pageView');
    return this.arena.subarray(b, b + PAGE_HALVES);
  }

  /** Write an aligned 8-byte word from halves. Throws outside memslots. */
  write64(gpa: number, lo: number, hi: number): void {
    const gfn = Math.floor(gpa / PAGE_SIZE);
    const i = this.page(gfn, 'write64') + ((gpa - gfn * PAGE_SIZE) >>> 2);
    this.arena[i] = lo;
    this.arena[i + 1] = hi;
  }

  /** Write an aligned 4-byte word. Throws outside memslots. */
  write32(gpa: number, v: number): void {
    const gfn = Math.floor(gpa / PAGE_SIZE);
    // page() may replace the arena: take it after the call.
    const i = this.page(gfn, 'write32') + ((gpa - gfn * PAGE_SIZE) >>> 2);
    this.arena[i] = v;
  }

  /**
   * Read `size` (1, 2, 4 or 8) bytes at any alignment (a crossing of a page boundary reads both
   * pages) into `out`. False when any byte is outside memory.
   */
  read(gpa: number, size: 1 | 2 | 4 | 8, out: Word): boolean {
    checkAccess(gpa, size, 'read');
    if ((gpa & (size - 1)) === 0) {
      if (size === 8) return this.read64(gpa, out);
      if (!this.read32(gpa - (gpa & 3), out)) return false;
      const shift = (gpa & 3) * 8;
      out.lo = size === 4 ? out.lo : (out.lo >>> shift) & (size === 1 ? 0xff : 0xffff);
      return true;
    }
    let lo = 0;
    let hi = 0;
    for (let k = 0; k < size; k++) {
      const b = this.byteAt(gpa + k);
      if (b < 0) return false;
      if (k < 4) lo |= b << (8 * k);
      else hi |= b << (8 * (k - 4));
    }
    out.lo = lo >>> 0;
    out.hi = hi >>> 0;
    return true;
  }

  /** Write `size` bytes (little-endian from lo, hi) at any alignment. Throws outside memory. */
  write(gpa: number, size: 1 | 2 | 4 | 8, lo: number, hi: number): void {
    checkAccess(gpa, size, 'write');
    for (let k = 0; k < size; k++) {
      if (!this.isRam(gpa + k)) badInput('write', `gpa 0x${(gpa + k).toString(16)} is not in any memslot`);
    }
    if ((gpa & 7) === 0 && size === 8) return this.write64(gpa, lo, hi);
    if ((gpa & 3) === 0 && size === 4) return this.write32(gpa, lo);
    for (let k = 0; k < size; k++) {
      const b = k < 4 ? (lo >>> (8 * k)) & 0xff : (hi >>> (8 * (k - 4))) & 0xff;
      const a = gpa + k;
      const gfn = Math.floor(a / PAGE_SIZE);
      const off = a - gfn * PAGE_SIZE;
      const i = this.page(gfn, 'write') + (off >>> 2);
      const p = this.arena;
      const sh = (off & 3) * 8;
      p[i] = ((p[i]! & ~(0xff << sh)) | (b << sh)) >>> 0;
    }
  }

  /** BigInt convenience for edges and tests. */
  readBig(gpa: number, size: 1 | 2 | 4 | 8 = 8): bigint {
    const w: Word = { lo: 0, hi: 0 };
    if (!this.read(gpa, size, w)) badInput('read', `gpa 0x${gpa.toString(16)} is not in any memslot`);
    return (BigInt(w.hi >>> 0) << 32n) | BigInt(w.lo >>> 0);
  }

  /** BigInt convenience for edges and tests. */
  writeBig(gpa: number, value: bigint, size: 1 | 2 | 4 | 8 = 8): void {
    const v = BigInt.asUintN(64, value);
    if (size < 8 && v >> BigInt(size * 8) !== 0n) badInput('write', `value 0x${v.toString(16)} does not fit in ${size} bytes`);
    this.write(gpa, size, Number(v & 0xffffffffn) >>> 0, Number(v >> 32n) >>> 0);
  }

  private byteAt(gpa: number): number {
    const gfn = Math.floor(gpa / PAGE_SIZE);
    const s = this.gfnToMemslot(gfn);
    if (s === undefined) return -1;
    const b = this.baseIn(s, gfn);
    if (b < 0) return 0;
    const off = gpa - gfn * PAGE_SIZE;
    return (this.arena[b + (off >>> 2)]! >>> ((off & 3) * 8)) & 0xff;
  }
}

function checkAccess(gpa: number, size: number, where: string): void {
  if (!Number.isSafeInteger(gpa) || gpa < 0 || gpa + size > GPA_LIMIT) badInput(where, `gpa ${gpa} is not a guest-physical address`);
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8) badInput(where, `size ${size} is not 1, 2, 4 or 8`);
}
