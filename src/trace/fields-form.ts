/**
 * Model events in the tracefs `fields` form (the option that prints every binary field raw, so a
 * role word appears whole): ` name=0x1f (31)` for 2-, 4- and 8-byte fields, `(1)` or `'A'` for a
 * byte, in TP_STRUCT order (./table.ts).
 */
import { fromHalves } from '../bits/u64.js';
import type { WalkEvent } from '../guest/events.js';
import type { TraceEvent } from './events.js';
import { TRACE_EVENTS, type TraceField } from './table.js';

function fieldText(fl: TraceField, v: bigint): string {
  const u = BigInt.asUintN(fl.size * 8, v);
  if (fl.size === 1) {
    const c = Number(u);
    if (c >= 0x20 && c < 0x7f) return `'${String.fromCharCode(c)}'`;
    return `(${fl.signed ? Number(BigInt.asIntN(8, u)) : c})`;
  }
  const dec = fl.size === 8 ? BigInt.asIntN(64, u) : BigInt.asIntN(32, u);
  return `0x${u.toString(16)} (${dec})`;
}

/** `EVENT: f1=... f2=...` for the given raw values (missing fields are 0). */
export function formatFieldsForm(event: string, values: Readonly<Record<string, bigint | number | boolean>>): string {
  const spec = TRACE_EVENTS.get(event);
  if (!spec) throw new Error(`formatFieldsForm: ${event} is not in the tracepoint table`);
  const parts = spec.fields.map((fl) => {
    const v = values[fl.name];
    return `${fl.name}=${fieldText(fl, typeof v === 'bigint' ? v : BigInt(typeof v === 'boolean' ? Number(v) : (v ?? 0)))}`;
  });
  return `${event}: ${parts.join(' ')}`;
}

/** A shadow-MMU event's raw fields. */
export function eventRawFields(ev: TraceEvent): Record<string, bigint | number | boolean> {
  switch (ev.event) {
    case 'kvm_mmu_zap_all_fast':
      return { mmu_valid_gen: ev.mmu_valid_gen, mmu_used_pages: ev.mmu_used_pages };
    case 'kvm_mmu_spte_requested':
      return { gfn: BigInt(ev.gfn), pfn: BigInt(ev.pfn), level: ev.level };
    case 'kvm_mmu_set_spte':
      return { gfn: BigInt(ev.gfn), spte: fromHalves(ev.spte_lo, ev.spte_hi), sptep: BigInt(ev.sptep_pa), level: ev.level, r: ev.r, x: ev.x, u: ev.u };
    default: {
      const o: Record<string, bigint | number | boolean> = { mmu_valid_gen: ev.mmu_valid_gen, gfn: BigInt(ev.gfn), role: ev.role >>> 0, root_count: ev.root_count, unsync: ev.unsync };
      if (ev.event === 'kvm_mmu_get_page') o['created'] = ev.created;
      return o;
    }
  }
}

/** A walker event's raw fields. */
export function walkRawFields(ev: WalkEvent): Record<string, bigint | number> {
  const o: Record<string, bigint | number> = {};
  for (const [k, v] of Object.entries(ev.fields)) o[k] = typeof v === 'string' ? BigInt(v) : v;
  return o;
}
