/**
 * Ids kept in the order they were handed out, as a Map keeps its keys: a doubly-linked list over
 * typed arrays, so taking and dropping an id is O(1) and allocates nothing once grown. Dropped ids
 * are handed out again first. Storage for the per-memslot tables (rmap_table.ts, gfn_counts.ts),
 * which keep their per-id data beside it; ours, not a kernel structure.
 */
import { doubled } from '../../bits/typed.js';

export class IdOrder {
  private next: Int32Array = new Int32Array(64);
  private prev: Int32Array = new Int32Array(64);
  private readonly freeIds: number[] = [];
  /** Ids ever made: a new id is this value before take() (the owner extends its arrays to it). */
  made = 0;
  head = -1;
  private tail = -1;
  /** Ids held. */
  size = 0;

  /** An id (a dropped one first, else `made`), linked at the tail. */
  take(): number {
    let id = this.freeIds.pop();
    if (id === undefined) {
      id = this.made++;
      if (id >= this.next.length) {
        this.next = doubled(this.next);
        this.prev = doubled(this.prev);
      }
    }
    this.next[id] = -1;
    this.prev[id] = this.tail;
    if (this.tail >= 0) this.next[this.tail] = id;
    else this.head = id;
    this.tail = id;
    this.size++;
    return id;
  }

  /** Unlink id and keep it for the next take(). */
  drop(id: number): void {
    const p = this.prev[id]!;
    const nx = this.next[id]!;
    if (p >= 0) this.next[p] = nx;
    else this.head = nx;
    if (nx >= 0) this.prev[nx] = p;
    else this.tail = p;
    this.size--;
    this.freeIds.push(id);
  }

  /** The id after `id` in order, or -1 (read it before dropping `id` when iterating). */
  after(id: number): number {
    return this.next[id]!;
  }
}
