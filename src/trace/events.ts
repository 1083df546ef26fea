/**
 * kvmmmu tracepoint records as the model emits them, typed from the table (./table.ts): an MMU
 * event is `{ event, ...its record }` (the argument of its TP_fast_assign), a walker event is its
 * name, its fields in JSON form and its text. Records carry the binary fields (full role word);
 * ./print.ts prints them as the kernel's text.
 */
import { eventDef, type KvmmmuEventName, type KvmmmuTable, type RawFields, type RecordOf } from './table.js';

export type { PageFields, SetSpteRecord, SpteRequestedRecord } from './table.js';

type NamesFrom<S> = { [N in KvmmmuEventName]: KvmmmuTable[N] extends { readonly source: S } ? N : never }[KvmmmuEventName];

/** The events the shadow MMU emits. */
export type MmuEventName = NamesFrom<'mmu'>;

/** One shadow-MMU event: its name and its record. */
export type TraceEvent = { [N in MmuEventName]: { readonly event: N } & RecordOf<N> }[MmuEventName];

/** An MMU event's binary fields (its TP_fast_assign). */
export function eventRawFields(ev: TraceEvent): RawFields {
  return (eventDef(ev.event).assign as (r: TraceEvent) => RawFields)(ev);
}

export type TraceSink = (ev: TraceEvent) => void;

export const NO_TRACE: TraceSink = () => {};

/** The guest walker's events (paging_tmpl.h FNAME(walk_addr_generic), defined in mmutrace.h). */
export type WalkEventName = NamesFrom<'walker'>;

/** One recorded walker event: its name, fields (64-bit values as hex strings) and its text. */
export interface WalkEvent {
  readonly event: WalkEventName;
  readonly fields: Readonly<Record<string, string | number>>;
  readonly text: string;
}
