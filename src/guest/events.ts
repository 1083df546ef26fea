/**
 * The kvmmmu walker tracepoints in the kernel's text format (mmutrace.h; shadow-mmu.md §i.2):
 * `kvm_mmu_pagetable_walk`, `kvm_mmu_paging_element`, `kvm_mmu_set_accessed_bit`,
 * `kvm_mmu_set_dirty_bit`, `kvm_mmu_walker_error`. The pferr flag names follow the profile.
 */
import type { Profile } from '../profiles/index.js';
import type { WalkTracer } from './walker.js';

export type WalkEventName =
  | 'kvm_mmu_pagetable_walk'
  | 'kvm_mmu_paging_element'
  | 'kvm_mmu_set_accessed_bit'
  | 'kvm_mmu_set_dirty_bit'
  | 'kvm_mmu_walker_error';

/** One recorded event: its name, raw fields (64-bit values as hex strings) and its text. */
export interface WalkEvent {
  readonly event: WalkEventName;
  readonly fields: Readonly<Record<string, string | number>>;
  readonly text: string;
}

function hex64(lo: number, hi: number): string {
  return hi === 0 ? (lo >>> 0).toString(16) : (hi >>> 0).toString(16) + (lo >>> 0).toString(16).padStart(8, '0');
}

/**
 * @kernel trace_output.c trace_print_flags_seq
 * Names in table order joined by "|", then any bits left over as "0x<hex>".
 */
export function formatPferrFlags(profile: Profile, pferr: number): string {
  let rest = pferr >>> 0;
  const names: string[] = [];
  for (const [name, mask] of profile.walker.pferr_print_flags) {
    if ((rest & mask) === mask && mask !== 0) {
      names.push(name);
      rest = (rest & ~mask) >>> 0;
    }
  }
  if (rest !== 0) names.push('0x' + rest.toString(16));
  return names.join('|');
}

/** A WalkTracer that keeps every event with its kernel text. */
export class WalkEventLog implements WalkTracer {
  readonly events: WalkEvent[] = [];
  constructor(private readonly profile: Profile) {}

  pagetable_walk(addr_lo: number, addr_hi: number, pferr: number): void {
    const p = pferr >>> 0;
    this.events.push({
      event: 'kvm_mmu_pagetable_walk',
      fields: { addr: '0x' + hex64(addr_lo, addr_hi), pferr: p },
      text: `addr ${hex64(addr_lo, addr_hi)} pferr ${p.toString(16)} ${formatPferrFlags(this.profile, p)}`,
    });
  }
  paging_element(pte_lo: number, pte_hi: number, level: number): void {
    this.events.push({
      event: 'kvm_mmu_paging_element',
      fields: { pte: '0x' + hex64(pte_lo, pte_hi), level },
      text: `pte ${hex64(pte_lo, pte_hi)} level ${level}`,
    });
  }
  set_accessed_bit(gpa: number): void {
    this.events.push({ event: 'kvm_mmu_set_accessed_bit', fields: { gpa: '0x' + gpa.toString(16) }, text: `gpa ${gpa.toString(16)}` });
  }
  set_dirty_bit(gpa: number): void {
    this.events.push({ event: 'kvm_mmu_set_dirty_bit', fields: { gpa: '0x' + gpa.toString(16) }, text: `gpa ${gpa.toString(16)}` });
  }
  walker_error(pferr: number): void {
    const p = pferr >>> 0;
    this.events.push({
      event: 'kvm_mmu_walker_error',
      fields: { pferr: p },
      text: `pferr ${p.toString(16)} ${formatPferrFlags(this.profile, p)}`,
    });
  }

  /** The events as ftrace prints them after the prefix: `name: text`, one per line. */
  lines(): string[] {
    return this.events.map((e) => `${e.event}: ${e.text}`);
  }
}
