/**
 * The kvmmmu walker tracepoints (mmutrace.h; shadow-mmu.md §i.2) as the walker emits them:
 * `kvm_mmu_pagetable_walk`, `kvm_mmu_paging_element`, `kvm_mmu_set_accessed_bit`,
 * `kvm_mmu_set_dirty_bit`, `kvm_mmu_walker_error`. Their fields and text are defined in the
 * kvmmmu table (../trace/table.ts); the pferr flag names follow the profile.
 */
import type { Profile } from '../profiles/index.js';
import { KVMMMU } from '../trace/table.js';
import { WALK_KIND, walkEventOf } from '../trace/walk.js';
import type { WalkEvent } from '../trace/events.js';
import type { WalkTracer } from './walker.js';

export type { WalkEvent, WalkEventName } from '../trace/events.js';
export { formatPferrFlags } from '../trace/print.js';

const PAGETABLE_WALK = WALK_KIND[KVMMMU.kvm_mmu_pagetable_walk];
const PAGING_ELEMENT = WALK_KIND[KVMMMU.kvm_mmu_paging_element];
const SET_ACCESSED_BIT = WALK_KIND[KVMMMU.kvm_mmu_set_accessed_bit];
const SET_DIRTY_BIT = WALK_KIND[KVMMMU.kvm_mmu_set_dirty_bit];
const WALKER_ERROR = WALK_KIND[KVMMMU.kvm_mmu_walker_error];

/**
 * A WalkTracer that keeps every event. Recording stores the raw fields (four numbers per event,
 * as the ring buffer does); the kernel text is produced when the events are read.
 */
export class WalkEventLog implements WalkTracer {
  private raw: number[] = [];
  constructor(private readonly profile: Profile) {}

  pagetable_walk(addr_lo: number, addr_hi: number, pferr: number): void {
    this.raw.push(PAGETABLE_WALK, addr_lo, addr_hi, pferr);
  }
  paging_element(pte_lo: number, pte_hi: number, level: number): void {
    this.raw.push(PAGING_ELEMENT, pte_lo, pte_hi, level);
  }
  set_accessed_bit(gpa: number): void {
    this.raw.push(SET_ACCESSED_BIT, gpa, 0, 0);
  }
  set_dirty_bit(gpa: number): void {
    this.raw.push(SET_DIRTY_BIT, gpa, 0, 0);
  }
  walker_error(pferr: number): void {
    this.raw.push(WALKER_ERROR, pferr, 0, 0);
  }

  /** Number of events recorded. */
  get length(): number {
    return this.raw.length >> 2;
  }

  /** Forget the events (the log can be reused). */
  clear(): void {
    this.raw = [];
  }

  /** The events with their fields and kernel text. */
  get events(): WalkEvent[] {
    const out: WalkEvent[] = [];
    const r = this.raw;
    for (let i = 0; i < r.length; i += 4) out.push(walkEventOf(this.profile, r[i]!, r[i + 1]!, r[i + 2]!, r[i + 3]!));
    return out;
  }

  /** The events as ftrace prints them after the prefix: `name: text`, one per line. */
  lines(): string[] {
    return this.events.map((e) => `${e.event}: ${e.text}`);
  }
}
