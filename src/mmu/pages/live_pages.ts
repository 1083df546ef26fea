/**
 * The VM's live shadow pages in creation order: the model's own bookkeeping (the kernel keeps
 * only active_mmu_pages), which the auditor, the journal and the diff read. A list threaded
 * through the pages themselves, so adding and removing one allocates nothing: the Set it
 * replaces rehashed as it grew and shrank on every fault + zap cycle.
 *
 * Set-like: add, delete, has, size, iteration. Iteration walks a snapshot taken when it starts
 * and skips pages deleted since (a Set does the same for deletions; a page added during an
 * iteration is not visited, where a Set would visit it: no caller adds while iterating).
 */
import type { KvmMmuPage } from './page.js';

export class LivePages {
  private head: KvmMmuPage | null = null;
  private tail: KvmMmuPage | null = null;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** On this list: owned by it and linked from its neighbour (a copy of a page is not). */
  has(sp: KvmMmuPage): boolean {
    return sp.live_owner === this && (sp.live_prev === null ? this.head === sp : sp.live_prev.live_next === sp);
  }

  add(sp: KvmMmuPage): this {
    if (this.has(sp)) return this;
    sp.live_owner = this;
    sp.live_prev = this.tail;
    sp.live_next = null;
    if (this.tail !== null) this.tail.live_next = sp;
    else this.head = sp;
    this.tail = sp;
    this.count++;
    return this;
  }

  delete(sp: KvmMmuPage): boolean {
    if (!this.has(sp)) return false;
    const p = sp.live_prev;
    const n = sp.live_next;
    if (p !== null) p.live_next = n;
    else this.head = n;
    if (n !== null) n.live_prev = p;
    else this.tail = p;
    sp.live_owner = sp.live_prev = sp.live_next = null;
    this.count--;
    return true;
  }

  /** Appends the pages to `out` in creation order (the auditor's per-step copy, with no iterator). */
  fill(out: KvmMmuPage[]): void {
    for (let sp = this.head; sp !== null; sp = sp.live_next) out.push(sp);
  }

  *[Symbol.iterator](): IterableIterator<KvmMmuPage> {
    const snap: KvmMmuPage[] = [];
    this.fill(snap);
    for (const sp of snap) if (this.has(sp)) yield sp;
  }

  values(): IterableIterator<KvmMmuPage> {
    return this[Symbol.iterator]();
  }
}
