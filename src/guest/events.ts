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

const KIND_NAMES: readonly WalkEventName[] = [
  'kvm_mmu_pagetable_walk',
  'kvm_mmu_paging_element',
  'kvm_mmu_set_accessed_bit',
  'kvm_mmu_set_dirty_bit',
  'kvm_mmu_walker_error',
];

/**
 * A WalkTracer that keeps every event. Recording stores the raw fields (four numbers per event,
 * as the ring buffer does); the kernel text is produced when the events are read.
 */
export class WalkEventLog implements WalkTracer {
  private raw: number[] = [];
  constructor(private readonly profile: Profile) {}

  pagetable_walk(addr_lo: number, addr_hi: number, pferr: number): void {
    this.raw.push(0, addr_lo, addr_hi, pferr);
  }
  paging_element(pte_lo: number, pte_hi: number, level: number): void {
    this.raw.push(1, pte_lo, pte_hi, level);
  }
  set_accessed_bit(gpa: number): void {
    this.raw.push(2, gpa, 0, 0);
  }
  set_dirty_bit(gpa: number): void {
    this.raw.push(3, gpa, 0, 0);
  }
  walker_error(pferr: number): void {
    this.raw.push(4, pferr, 0, 0);
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
    for (let i = 0; i < r.length; i += 4) {
      const k = r[i]!;
      const a = r[i + 1]!;
      const b = r[i + 2]!;
      const c = r[i + 3]!;
      const event = KIND_NAMES[k]!;
      switch (k) {
        case 0: {
          const p = c >>> 0;
          out.push({ event, fields: { addr: '0x' + hex64(a, b), pferr: p }, text: `addr ${hex64(a, b)} pferr ${p.toString(16)} ${formatPferrFlags(this.profile, p)}` });
          break;
        }
        case 1:
          out.push({ event, fields: { pte: '0x' + hex64(a, b), level: c }, text: `pte ${hex64(a, b)} level ${c}` });
          break;
        case 2:
        case 3:
          out.push({ event, fields: { gpa: '0x' + a.toString(16) }, text: `gpa ${a.toString(16)}` });
          break;
        default: {
          const p = a >>> 0;
          out.push({ event, fields: { pferr: p }, text: `pferr ${p.toString(16)} ${formatPferrFlags(this.profile, p)}` });
        }
      }
    }
    return out;
  }

  /** The events as ftrace prints them after the prefix: `name: text`, one per line. */
  lines(): string[] {
    return this.events.map((e) => `${e.event}: ${e.text}`);
  }
}
