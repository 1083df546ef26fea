/**
 * Reading kernel traces: the tracefs `trace` / `trace_pipe` line (`TASK-PID [CPU] FLAGS TS: EVENT:
 * BODY`), the `trace-cmd report` line (the same without flags, event names padded), a bare
 * `EVENT: BODY` (what `shadow-mmu run` prints), and the tracefs `fields` option's raw form
 * (`role=0x3704 (14084) unsync=(0)`). Lines are parsed one at a time, so a trace of any size
 * streams; gzip input is recognised by its magic (../bits/input-stream.ts).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { ShadowMmuError } from '../bits/errors.js';
import { inputChunks } from '../bits/input-stream.js';
import { parseEventText } from './parse.js';
import { TRACE_EVENTS, type EventFields, type TraceEventSpec } from './table.js';

export interface TracePrefix {
  readonly task: string;
  readonly pid: number;
  readonly cpu: number;
  readonly flags: string | null;
  readonly ts: number;
}

export type TraceLine =
  | { readonly kind: 'event'; readonly line: number; readonly event: string; readonly form: 'text' | 'fields'; readonly fields: EventFields; readonly body: string; readonly prefix: TracePrefix | null }
  /** A well-formed line of an event the model does not know (kvm_exit, sched_switch...). */
  | { readonly kind: 'other'; readonly line: number; readonly event: string; readonly prefix: TracePrefix | null }
  | { readonly kind: 'skip'; readonly line: number; readonly why: 'blank' | 'comment' | 'lost' }
  | { readonly kind: 'bad'; readonly line: number; readonly text: string; readonly why: string };

// TASK-PID [CPU] [FLAGS] TIMESTAMP: EVENT: BODY. A task name may hold spaces and dashes.
const PREFIXED = /^\s*(.*?)-(\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(\d+)\]\s+(?:([.a-zA-Z0-9]{4,6})\s+)?(\d+\.\d+):\s+([A-Za-z_][\w]*):\s?(.*)$/;
const BARE = /^([A-Za-z_][\w]*):\s?(.*)$/;
const LOST = /^\s*CPU:\s*\d+\s*\[LOST \d+ EVENTS\]\s*$/;

/** One field of the `fields` form: `0x1f (31)`, `(1)` (a byte that is not printable), `'A'`, `sym+0x10/0x40 (-123)`. */
function fieldValue(text: string, size: number, signed: boolean): bigint | null {
  let m = /^0x([0-9a-fA-F]+) \((-?\d+)\)$/.exec(text);
  if (m) return BigInt('0x' + m[1]);
  m = /^\((-?\d+)\)$/.exec(text);
  if (m) return BigInt.asUintN(size * 8, BigInt(m[1]!));
  m = /^'(.)'$/.exec(text);
  if (m) return BigInt(m[1]!.charCodeAt(0));
  m = /^\S+ \((-?\d+)\)$/.exec(text);
  if (m) return BigInt.asUintN(size * 8, BigInt(m[1]!));
  if (/^-?\d+$/.test(text)) return signed ? BigInt.asUintN(size * 8, BigInt(text)) : BigInt(text);
  return null;
}

/** The `fields` form of a known event; a string saying what is wrong when it does not fit. */
export function parseFieldsForm(spec: TraceEventSpec, body: string): EventFields | string {
  const out: EventFields = {};
  let rest = body.trim();
  const names = spec.fields.map((x) => x.name);
  for (let i = 0; i < spec.fields.length; i++) {
    const fl = spec.fields[i]!;
    if (!rest.startsWith(fl.name + '=')) return `expected field ${fl.name}= (the fields are ${names.join(', ')})`;
    rest = rest.slice(fl.name.length + 1);
    let end = rest.length;
    if (i + 1 < spec.fields.length) {
      end = rest.indexOf(' ' + spec.fields[i + 1]!.name + '=');
      if (end < 0) return `expected field ${spec.fields[i + 1]!.name}= after ${fl.name}`;
    }
    const v = fieldValue(rest.slice(0, end).trim(), fl.size, fl.signed);
    if (v === null) return `field ${fl.name}: cannot read ${JSON.stringify(rest.slice(0, end).trim().slice(0, 40))}`;
    if (fl.signed) {
      const s = BigInt.asIntN(fl.size * 8, v);
      out[fl.name] = Number(s);
    } else out[fl.name] = fl.size === 8 ? v : Number(v);
    rest = rest.slice(end).trimStart();
  }
  if (rest !== '') return `unexpected text after the last field: ${JSON.stringify(rest.slice(0, 40))}`;
  return out;
}

const quote = (s: string) => JSON.stringify(s.length > 80 ? s.slice(0, 77) + '...' : s);

/** Parse one line of a trace (`line` is its 1-based number). */
export function parseTraceLine(text: string, line: number): TraceLine {
  if (text.trim() === '') return { kind: 'skip', line, why: 'blank' };
  if (/^\s*#/.test(text)) return { kind: 'skip', line, why: 'comment' };
  if (LOST.test(text)) return { kind: 'skip', line, why: 'lost' };
  let prefix: TracePrefix | null = null;
  let event: string;
  let body: string;
  const p = PREFIXED.exec(text);
  if (p) {
    prefix = { task: p[1]!.trim(), pid: Number(p[2]), cpu: Number(p[3]), flags: p[4] ?? null, ts: Number(p[5]) };
    event = p[6]!;
    body = p[7]!;
  } else {
    const b = BARE.exec(text.trim());
    if (!b) return { kind: 'bad', line, text, why: `not a trace line: ${quote(text)}` };
    event = b[1]!;
    body = b[2]!;
    if (!TRACE_EVENTS.has(event)) return { kind: 'bad', line, text, why: `not a trace line (no TASK-PID [CPU] TIMESTAMP prefix, and ${event} is not a kvmmmu event): ${quote(text)}` };
  }
  const spec = TRACE_EVENTS.get(event);
  if (!spec) return { kind: 'other', line, event, prefix };
  body = body.trim();
  if (/^[A-Za-z_]\w*=/.test(body)) {
    const r = parseFieldsForm(spec, body);
    if (typeof r === 'string') return { kind: 'bad', line, text, why: `${event}: ${r}` };
    return { kind: 'event', line, event, form: 'fields', fields: r, body, prefix };
  }
  const fields = parseEventText(spec, body);
  if (!fields) return { kind: 'bad', line, text, why: `${event}: the text does not match the event's format: ${quote(body)}` };
  return { kind: 'event', line, event, form: 'text', fields, body, prefix };
}

/** FILE (or `-` for stdin) as a stream; a file that cannot be opened is an input error. */
async function openTrace(file: string, stdin: NodeJS.ReadableStream): Promise<NodeJS.ReadableStream> {
  if (file === '-') return stdin;
  const s = createReadStream(file);
  await new Promise<void>((resolve, reject) => {
    s.once('open', () => resolve());
    s.once('error', (e: NodeJS.ErrnoException) => reject(new ShadowMmuError('EINVAL_INPUT', `trace: cannot read ${file}: ${e.code ?? e.message}`)));
  });
  return s;
}

/** Every line of a trace, parsed, in order; constant memory. */
export async function* readTrace(file: string, stdin: NodeJS.ReadableStream): AsyncGenerator<TraceLine> {
  const input = Readable.from(inputChunks(await openTrace(file, stdin), `trace: ${file}`));
  const rl = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  for await (const text of rl) yield parseTraceLine(text, ++n);
}
