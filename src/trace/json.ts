/**
 * kvmmmu events as JSON, derived from the table (./table.ts): the `run --format jsonl` form
 * (binary fields, role as a full 32-bit word), the kvm oracle's encoding, and a walker event's
 * fields.
 */
import { hex32 } from '../bits/hex.js';
import { eventRawFields, type TraceEvent } from './events.js';
import { toBig } from './print.js';
import { eventDef, type JsonEnc, type JsonMember, type RawFields, type RawValue } from './table.js';

/** The kernel's SPTE bits other than the host pfn (the oracle's `spte_flags`). */
const SPTE_FLAGS_MASK = 0xfff0000000000fffn;

function encode(v: RawValue | undefined, enc: JsonEnc): string | number | boolean {
  switch (enc) {
    case 'num':
      return typeof v === 'bigint' ? Number(v) : typeof v === 'boolean' ? Number(v) : (v ?? 0);
    case 'hex':
      return '0x' + toBig(v).toString(16);
    case 'hex32':
      return hex32(Number(toBig(v)));
    case 'bool':
      return Boolean(v);
    case '01':
      return v ? 1 : 0;
    case 'spte_flags':
      return '0x' + (toBig(v) & SPTE_FLAGS_MASK).toString(16);
  }
}

/** The members, in order, made of the binary fields. */
export function jsonMembers(members: readonly JsonMember[], raw: RawFields): Record<string, string | number | boolean> {
  const o: Record<string, string | number | boolean> = {};
  for (const [key, field, enc] of members) o[key] = encode(raw[field], enc);
  return o;
}

/** The event as a JSON object: `event`, then its binary fields (role as a full 32-bit word). */
export function eventJson(ev: TraceEvent): Record<string, unknown> {
  return { event: ev.event, ...jsonMembers(eventDef(ev.event).json ?? [], eventRawFields(ev)) };
}

/** The event in the kvm oracle's encoding (`{ev, ...}`), or null when the oracle does not keep it. */
export function oracleEventJson(ev: TraceEvent): Record<string, string | number> | null {
  const o = eventDef(ev.event).oracle;
  if (!o) return null;
  return { ev: o.ev, ...(jsonMembers(o.members, eventRawFields(ev)) as Record<string, string | number>) };
}
