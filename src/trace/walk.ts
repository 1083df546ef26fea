/**
 * The guest walker's kvmmmu events from the walker log's records (three numbers each, numbered
 * in the table's order of walker events): fields in JSON form and the TP_printk text, both
 * derived from the table.
 */
import type { Profile } from '../profiles/index.js';
import type { WalkEvent, WalkEventName } from './events.js';
import { jsonMembers } from './json.js';
import { printBody } from './print.js';
import { eventDef, WALKER_EVENTS, type RawFields, type WalkerRecord } from './table.js';

/** The walker log's number for each walker event. */
export const WALK_KIND: Readonly<Record<WalkEventName, number>> = Object.fromEntries(WALKER_EVENTS.map((n, i) => [n, i])) as Record<WalkEventName, number>;

/** The event the walker log recorded as (kind, a, b, c). */
export function walkEventOf(profile: Profile, kind: number, a: number, b: number, c: number): WalkEvent {
  const name = WALKER_EVENTS[kind] as WalkEventName;
  const spec = eventDef(name);
  const raw = (spec.assign as (r: WalkerRecord) => RawFields)([a, b, c]);
  return { event: name, fields: jsonMembers(spec.json ?? [], raw) as Record<string, string | number>, text: printBody(profile, spec, raw) };
}
