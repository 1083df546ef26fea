/**
 * Model events in the tracefs `fields` form (the option that prints every binary field raw, so a
 * role word appears whole): ` name=0x1f (31)` for 2-, 4- and 8-byte fields, `(1)` or `'A'` for a
 * byte, in TP_STRUCT order (./table.ts).
 */
import type { WalkEvent } from './events.js';
import { TRACE_EVENTS, type TraceField } from './table.js';

export { eventRawFields } from './events.js';

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

/** A walker event's raw fields. */
export function walkRawFields(ev: WalkEvent): Record<string, bigint | number> {
  const o: Record<string, bigint | number> = {};
  for (const [k, v] of Object.entries(ev.fields)) o[k] = typeof v === 'string' ? BigInt(v) : v;
  return o;
}
