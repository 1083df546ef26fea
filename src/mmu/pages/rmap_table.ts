/**
 * Storage of the leaf rmaps (kvm.rmaps): the heads live per memslot and level in chunked Int32Arrays
 * indexed by the frame's offset in the slot, as the kernel's slot->arch.rmap[level - PG_LEVEL_4K]
 * [gfn_to_index(gfn, slot->base_gfn, level)], so finding, creating and dropping an rmap on the fault
 * path consults no Map. A head holds id + 1 of a pooled PteList (0: no rmap); an id freed when its
 * rmap empties is reused by the next rmap created.
 *
 * The model keeps one rmap per rmapKey (gfn frame, level), whatever the memslots: a frame goes to a
 * slot's arrays only when the slot holds all of it; others (no slot yet, or a huge frame across a
 * slot's edge, which the kernel never maps) go to a Map keyed by rmapKey. A slot's arrays are made
 * on its first use, taking over the Map's frames inside it, so where an rmap is stored never
 * changes what it holds.
 *
 * Reading is Map-like (get, has, keys, size, iteration as [key, list]) in the order a Map keyed by
 * rmapKey would give: rmaps in the order they were created, an rmap that emptied and came back
 * counting as new (a doubly-linked list through the ids). The auditor's reports follow that order.
 */
import type { Memslot } from '../../guest/memory.js';
import { KVM_PAGES_PER_HPAGE } from './constants.js';
import { PteList } from './pte_list.js';
import { IdOrder } from './id_order.js';

/**
 * The rmap key of (gfn, level), as gfn_to_rmap indexes it: by the level's huge-page frame
 * (gfn >> 9 * (level - 1)); one key space for every memslot (the model has one address space).
 */
export function rmapKey(gfn: number, level: number): number {
  return Math.floor(gfn / KVM_PAGES_PER_HPAGE(level)) * 4 + (level - 1);
}

/** The first gfn of an rmap key's frame and its level. */
export function rmapKeyFrame(key: number): { gfn: number; level: number } {
  const level = (key & 3) + 1;
  return { gfn: Math.floor(key / 4) * KVM_PAGES_PER_HPAGE(level), level };
}

/** Heads per directory chunk. */
const CHUNK = 512;
/** Levels with rmaps (4K, 2M, 1G: KVM_NR_PAGE_SIZES). */
const LEVELS = 3;
/** 4K pages per frame at level 1, 2, 3. */
const FRAME = [1, 512, 512 * 512];

/** slot->arch.rmap of one memslot: per level, chunks of heads (id + 1; 0 none). */
interface SlotRmaps {
  readonly base_gfn: number;
  readonly end_gfn: number;
  /** Per level: the slot's first frame (base_gfn >> shift), the frame gfn_to_index subtracts. */
  readonly first: number[];
  readonly dirs: (Int32Array | undefined)[][];
}

export class RmapTable {
  /** The memslots the heads follow (the guest's live array; empty for a VM without one). */
  slots: readonly Memslot[] = [];
  private readonly bySlot: (SlotRmaps | undefined)[] = [];
  private last: SlotRmaps | null = null;
  /** Frames no slot holds whole: rmapKey -> id. */
  private readonly fallback = new Map<number, number>();
  /** Pooled lists by id, each one's rmapKey and where its head is (chunk and index; chunk null: the Map). */
  private readonly lists: PteList[] = [];
  private readonly keyOf: number[] = [];
  private readonly chunkOf: (Int32Array | null)[] = [];
  private idxOf = new Int32Array(64);
  /** The ids in creation order (a Map's insertion order). */
  private readonly order = new IdOrder();

  /** Rmaps held (each non-empty). */
  get size(): number {
    return this.order.size;
  }

  /** The slot arrays holding the whole frame [fs, fs + n), or null. */
  private slotFor(fs: number, n: number): SlotRmaps | null {
    const l = this.last;
    if (l !== null && fs >= l.base_gfn && fs + n <= l.end_gfn) return l;
    const slots = this.slots;
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i]!;
      if (fs >= s.base_gfn && fs < s.base_gfn + s.npages) {
        if (fs + n > s.base_gfn + s.npages) return null;
        return (this.last = this.bySlot[s.id] ?? this.makeSlot(s));
      }
    }
    return null;
  }

  /** A slot's arrays, first use: the Map's frames inside the slot move into them. */
  private makeSlot(s: Memslot): SlotRmaps {
    const end = s.base_gfn + s.npages;
    const r: SlotRmaps = {
      base_gfn: s.base_gfn,
      end_gfn: end,
      first: FRAME.map((n) => Math.floor(s.base_gfn / n)),
      dirs: [[], [], []],
    };
    this.bySlot[s.id] = r;
    for (const [key, id] of [...this.fallback]) {
      const level = (key & 3) + 1;
      const n = FRAME[level - 1]!;
      const fs = Math.floor(key / 4) * n;
      if (fs < s.base_gfn || fs + n > end) continue;
      this.fallback.delete(key);
      this.place(r, fs, level, id);
    }
    return r;
  }

  /** Store id as the head of (fs, level) in r. */
  private place(r: SlotRmaps, fs: number, level: number, id: number): void {
    const off = fs / FRAME[level - 1]! - r.first[level - 1]!;
    const ci = Math.floor(off / CHUNK);
    const dir = r.dirs[level - 1]!;
    let chunk = dir[ci];
    if (chunk === undefined) dir[ci] = chunk = new Int32Array(CHUNK);
    const i = off - ci * CHUNK;
    chunk[i] = id + 1;
    this.chunkOf[id] = chunk;
    this.idxOf[id] = i;
  }

  /** The id of the rmap of (gfn, level), or -1. */
  find(gfn: number, level: number): number {
    const n = FRAME[level - 1]!;
    const frame = level === 1 ? gfn : Math.floor(gfn / n);
    const fs = level === 1 ? gfn : frame * n;
    const r = this.slotFor(fs, n);
    if (r === null) return this.fallback.get(frame * 4 + (level - 1)) ?? -1;
    const off = frame - r.first[level - 1]!;
    const ci = Math.floor(off / CHUNK);
    const chunk = r.dirs[level - 1]![ci];
    return chunk === undefined ? -1 : chunk[off - ci * CHUNK]! - 1;
  }

  /** The list of an id find or create returned. */
  list(id: number): PteList {
    return this.lists[id]!;
  }

  /** The rmap of (gfn, level), created empty (a pooled list) when there is none. */
  obtain(gfn: number, level: number): PteList {
    const id = this.find(gfn, level);
    return id >= 0 ? this.lists[id]! : this.lists[this.create(gfn, level)]!;
  }

  private create(gfn: number, level: number): number {
    const id = this.order.take();
    if (id === this.lists.length) {
      this.lists.push(new PteList());
      this.keyOf.push(0);
      this.chunkOf.push(null);
      if (id >= this.idxOf.length) {
        const b = new Int32Array(this.idxOf.length * 2);
        b.set(this.idxOf);
        this.idxOf = b;
      }
    }
    const n = FRAME[level - 1]!;
    const frame = Math.floor(gfn / n);
    const key = frame * 4 + (level - 1);
    this.keyOf[id] = key;
    const r = this.slotFor(frame * n, n);
    if (r === null) {
      this.fallback.set(key, id);
      this.chunkOf[id] = null;
    } else this.place(r, frame * n, level, id);
    return id;
  }

  /** Drop an emptied rmap: its head cleared, its list back in the pool. */
  release(id: number): void {
    const chunk = this.chunkOf[id]!;
    if (chunk === null) this.fallback.delete(this.keyOf[id]!);
    else chunk[this.idxOf[id]!] = 0;
    this.chunkOf[id] = null;
    this.order.drop(id);
  }

  /** The rmap of an rmapKey, or undefined. */
  get(key: number): PteList | undefined {
    const level = (key & 3) + 1;
    if (level > LEVELS) return undefined;
    const id = this.find(Math.floor(key / 4) * FRAME[level - 1]!, level);
    return id < 0 ? undefined : this.lists[id];
  }

  has(key: number): boolean {
    return this.get(key) !== undefined;
  }

  /** The keys, in creation order. */
  *keys(): IterableIterator<number> {
    for (let id = this.order.head; id >= 0; ) {
      const nx = this.order.after(id);
      yield this.keyOf[id]!;
      id = nx;
    }
  }

  /** [key, list] of every rmap, in creation order (a Map's entries()). */
  *[Symbol.iterator](): IterableIterator<[number, PteList]> {
    for (let id = this.order.head; id >= 0; ) {
      const nx = this.order.after(id);
      yield [this.keyOf[id]!, this.lists[id]!];
      id = nx;
    }
  }
}
