/**
 * A live step's trace, read back: the tracefs lines of the runner's instance (the `fields` form)
 * turned into what the model's step records hold — shadow-MMU events as the model's records
 * (through the table's `record`, the inverse of its TP_fast_assign), walker events, the
 * exceptions KVM injected (kvm_inj_exception) and the RIPs its emulator ran (kvm_emulate_insn).
 */
import type { Profile } from '../profiles/index.js';
import type { TraceEvent, WalkEvent, WalkEventName } from '../trace/events.js';
import { jsonMembers } from '../trace/json.js';
import { printBody } from '../trace/print.js';
import { parseTraceLine } from '../trace/read.js';
import { eventDef, type EventFields, type RawFields } from '../trace/table.js';

export interface LiveTrace {
  events: TraceEvent[];
  walkEvents: WalkEvent[];
  /** For each of `events`, how many walk events came before it. */
  eventWalkPos: number[];
  /** [vector] or [vector, error code], consecutive duplicates collapsed. */
  exceptions: number[][];
  emulated: bigint[];
  /** The tracefs lines as read (the `--record` text). */
  lines: string[];
  /** Lines that were not events of a known form, with why (a parser gap, or lost events). */
  problems: string[];
  /** Kernel-only kvmmmu events (no model record), by name. */
  kernelOnly: Record<string, number>;
}

/** `name=0x1f (31)` and `name=(1)` values of the fields form, for the kvm events the table does not hold. */
function kvField(body: string, name: string): bigint | null {
  const m = new RegExp(`(?:^|\\s)${name}=(?:0x([0-9a-fA-F]+) \\((-?\\d+)\\)|\\((-?\\d+)\\)|(-?\\d+))`).exec(body);
  if (!m) return null;
  if (m[1] !== undefined) return BigInt('0x' + m[1]);
  return BigInt(m[3] ?? m[4]!);
}

function walkEventOfFields(profile: Profile, name: WalkEventName, fields: EventFields): WalkEvent {
  const spec = eventDef(name);
  const raw = fields as RawFields;
  return { event: name, fields: jsonMembers(spec.json ?? [], raw) as Record<string, string | number>, text: printBody(profile, spec, raw) };
}

/** Read one step's lines. */
export function readLiveTrace(profile: Profile, lines: readonly string[]): LiveTrace {
  const t: LiveTrace = { events: [], walkEvents: [], eventWalkPos: [], exceptions: [], emulated: [], lines: [...lines], problems: [], kernelOnly: {} };
  lines.forEach((text, i) => {
    const l = parseTraceLine(text, i + 1);
    if (l.kind === 'skip') {
      if (l.why === 'lost') t.problems.push(`line ${i + 1}: the ring buffer lost events`);
      return;
    }
    if (l.kind === 'bad') {
      t.problems.push(`line ${i + 1}: ${l.why}`);
      return;
    }
    if (l.kind === 'other') {
      const body = text.slice(text.indexOf(l.event + ':') + l.event.length + 1);
      if (l.event === 'kvm_inj_exception') {
        const vec = Number(kvField(body, 'exception') ?? -1n);
        const has = (kvField(body, 'has_error') ?? 0n) !== 0n;
        const ec = Number(kvField(body, 'error_code') ?? 0n);
        const x = has ? [vec, ec] : [vec];
        const prev = t.exceptions[t.exceptions.length - 1];
        // A host interrupt during delivery can log one injection twice: collapse repeats.
        if (!prev || prev.join() !== x.join()) t.exceptions.push(x);
      } else if (l.event === 'kvm_emulate_insn') {
        const rip = kvField(body, 'rip');
        if (rip !== null) t.emulated.push(rip);
      }
      return;
    }
    const spec = eventDef(l.event as Parameters<typeof eventDef>[0]);
    if (spec.source === 'walker') {
      t.walkEvents.push(walkEventOfFields(profile, l.event as WalkEventName, l.fields));
    } else if (spec.source === 'mmu' && spec.record) {
      t.events.push({ event: l.event, ...(spec.record as (f: EventFields) => object)(l.fields) } as TraceEvent);
      t.eventWalkPos.push(t.walkEvents.length);
    } else t.kernelOnly[l.event] = (t.kernelOnly[l.event] ?? 0) + 1;
  });
  return t;
}
