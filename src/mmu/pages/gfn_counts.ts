/**
 * Per-gfn counters (kvm.write_track: KVM_PAGE_TRACK_WRITE counts, the kernel's per-memslot
 * slot->arch.gfn_write_track; kvm.lpage_disallowed: disallow_lpage, the kernel's per-memslot
 * lpage_info) stored as the kernel does, per memslot and indexed by gfn - base_gfn: chunked
 * Int32Arrays of id + 1 into a pool of counts, so account_shadowed / unaccount_shadowed and the
 * fault path's write-track test consult no Map. A gfn outside every memslot (the model allows
 * one) goes to a Map fallback; a slot's arrays take over its gfns from the Map on first use.
 *
 * Reading is Map<gfn, count>-like (get, has, keys, size, [gfn, count] iteration) in the order a
 * Map would give: gfns in the order their count became non-zero (a doubly-linked list through
 * the ids). The auditor's reports follow that order. Only non-zero counts are held.
 */
import type { Memslot } from '../../guest/memory.js';
import { doubled } from '../../bits/typed.js';
import { IdOrder } from './id_order.js';

const CHUNK = 512;

interface SlotCounts {
  readonly base_gfn: number;
  readonly end_gfn: number;
  readonly dir: (Int32Array | undefined)[];
}

export class GfnCounts {
  /** The memslots the arrays follow (the guest's live array; empty for a VM without one). */
  slots: readonly Memslot[] = [];
  private readonly bySlot: (SlotCounts | undefined)[] = [];
  private last: SlotCounts | null = null;
  private readonly fallback = new Map<number, number>();
  /**
   * Each id's gfn and count, as typed columns grown with the ids (no JS array slot per id, no
   * boxed gfn above 2^31). Where an id's index lives is not stored: find(gfn) computes it.
   */
  private gfnOf = new Float64Array(64);
  private countOf = new Int32Array(64);
  private readonly order = new IdOrder();

  get size(): number {
    return this.order.size;
  }

  private slotFor(gfn: number): SlotCounts | null {
    const l = this.last;
    if (l !== null && gfn >= l.base_gfn && gfn < l.end_gfn) return l;
    const slots = this.slots;
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i]!;
      if (gfn >= s.base_gfn && gfn < s.base_gfn + s.npages) return (this.last = this.bySlot[s.id] ?? this.makeSlot(s));
    }
    return null;
  }

  private makeSlot(s: Memslot): SlotCounts {
    const r: SlotCounts = { base_gfn: s.base_gfn, end_gfn: s.base_gfn + s.npages, dir: [] };
    this.bySlot[s.id] = r;
    for (const [gfn, id] of [...this.fallback]) {
      if (gfn < r.base_gfn || gfn >= r.end_gfn) continue;
      this.fallback.delete(gfn);
      this.place(r, gfn, id);
    }
    return r;
  }

  private place(r: SlotCounts, gfn: number, id: number): void {
    const off = gfn - r.base_gfn;
    const ci = Math.floor(off / CHUNK);
    let chunk = r.dir[ci];
    if (chunk === undefined) r.dir[ci] = chunk = new Int32Array(CHUNK);
    chunk[off - ci * CHUNK] = id + 1;
  }

  /** The id holding gfn's count, or -1. */
  private find(gfn: number): number {
    const r = this.slotFor(gfn);
    if (r === null) return this.fallback.get(gfn) ?? -1;
    const off = gfn - r.base_gfn;
    const ci = Math.floor(off / CHUNK);
    const chunk = r.dir[ci];
    return chunk === undefined ? -1 : chunk[off - ci * CHUNK]! - 1;
  }

  get(gfn: number): number | undefined {
    const id = this.find(gfn);
    return id < 0 ? undefined : this.countOf[id];
  }

  has(gfn: number): boolean {
    return this.find(gfn) >= 0;
  }

  /**
   * Whether any gfn in [base, base + n) has a count: n lookups or one pass over the held gfns,
   * whichever is fewer, so a huge-frame test costs O(min(n, size)), not O(size).
   */
  anyIn(base: number, n: number): boolean {
    if (n <= this.order.size) {
      for (let g = base; g < base + n; g++) if (this.find(g) >= 0) return true;
      return false;
    }
    for (const g of this.keys()) if (g >= base && g < base + n) return true;
    return false;
  }

  /** Set gfn's count (non-zero; 0 is `delete`). */
  set(gfn: number, count: number): this {
    let id = this.find(gfn);
    if (id < 0) {
      id = this.order.take();
      if (id >= this.gfnOf.length) this.grow();
      this.gfnOf[id] = gfn;
      const r = this.slotFor(gfn);
      if (r === null) this.fallback.set(gfn, id);
      else this.place(r, gfn, id);
    }
    this.countOf[id] = count;
    return this;
  }

  private grow(): void {
    this.gfnOf = doubled(this.gfnOf);
    this.countOf = doubled(this.countOf);
  }

  delete(gfn: number): boolean {
    const id = this.find(gfn);
    if (id < 0) return false;
    // Where find found it: the slot's chunk, or (no slot holds the gfn) the Map.
    const r = this.slotFor(gfn);
    if (r === null) {
      this.fallback.delete(gfn);
    } else {
      const off = gfn - r.base_gfn;
      const ci = Math.floor(off / CHUNK);
      r.dir[ci]![off - ci * CHUNK] = 0;
    }
    this.order.drop(id);
    return true;
  }

  /** The gfns, in the order their count became non-zero. */
  *keys(): IterableIterator<number> {
    for (let id = this.order.head; id >= 0; ) {
      const nx = this.order.after(id);
      yield this.gfnOf[id]!;
      id = nx;
    }
  }

  *[Symbol.iterator](): IterableIterator<[number, number]> {
    for (let id = this.order.head; id >= 0; ) {
      const nx = this.order.after(id);
      yield [this.gfnOf[id]!, this.countOf[id]!];
      id = nx;
    }
  }
}
