/**
 * `trace diff A B`: two traces (kernel or model) aligned event by event with the alignment the
 * scenario diff uses, keyed on meaning (./decode.ts eventKey): host addresses, pfns, timestamps,
 * pids and generations are ignored unless `exact`.
 */
import type { Profile } from '../profiles/index.js';
import { alignSequences } from './align.js';
import { eventKey } from './decode.js';
import type { TraceLine } from './read.js';

export interface TraceDiffEvent {
  readonly line: number;
  readonly text: string;
  readonly key: string;
}

export function traceDiffEvent(profile: Profile, l: Extract<TraceLine, { kind: 'event' }>, exact: boolean): TraceDiffEvent {
  return { line: l.line, text: `${l.event}: ${l.body}`, key: eventKey(profile, l, exact) };
}

export interface TraceDiffResult {
  readonly eventsA: number;
  readonly eventsB: number;
  readonly onlyA: number;
  readonly onlyB: number;
  readonly firstDivergence: { readonly lineA: number | null; readonly lineB: number | null; readonly text: string } | null;
  readonly hunks: readonly { readonly a: number; readonly b: number; readonly lines: readonly string[] }[];
  readonly differs: boolean;
}

export function diffTraces(a: readonly TraceDiffEvent[], b: readonly TraceDiffEvent[], context: number): TraceDiffResult {
  const ops = alignSequences(a, b, (e) => e.key);
  const rows = ops.map((o) => (o.kind === 'same' ? { t: ' ', e: a[o.a]!, la: a[o.a]!.line, lb: b[o.b]!.line } : o.kind === 'del' ? { t: '-', e: a[o.a]!, la: a[o.a]!.line, lb: null } : { t: '+', e: b[o.b]!, la: null, lb: b[o.b]!.line }));
  const changed = rows.map((r, i) => (r.t !== ' ' ? i : -1)).filter((i) => i >= 0);
  const hunks: { a: number; b: number; lines: string[] }[] = [];
  let i = 0;
  while (i < changed.length) {
    const start = Math.max(0, changed[i]! - context);
    let end = Math.min(rows.length, changed[i]! + context + 1);
    while (i + 1 < changed.length && changed[i + 1]! - context <= end) end = Math.min(rows.length, changed[++i]! + context + 1);
    i++;
    const first = rows.slice(start, end);
    const la = first.find((r) => r.la !== null)?.la ?? 0;
    const lb = first.find((r) => r.lb !== null)?.lb ?? 0;
    hunks.push({ a: la, b: lb, lines: first.map((r) => r.t + r.e.text) });
  }
  const fd = rows.find((r) => r.t !== ' ');
  return {
    eventsA: a.length,
    eventsB: b.length,
    onlyA: rows.filter((r) => r.t === '-').length,
    onlyB: rows.filter((r) => r.t === '+').length,
    firstDivergence: fd ? { lineA: fd.la, lineB: fd.lb, text: fd.t + fd.e.text } : null,
    hunks,
    differs: changed.length > 0,
  };
}

export function renderTraceDiff(nameA: string, nameB: string, r: TraceDiffResult, color: boolean): string {
  const c = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const o = [`--- ${nameA}`, `+++ ${nameB}`, `# ${r.eventsA} vs ${r.eventsB} kvmmmu events; only in A: ${r.onlyA}, only in B: ${r.onlyB}`];
  if (!r.firstDivergence) o.push('# the traces agree event for event');
  else o.push(`# first divergence: ${r.firstDivergence.lineA !== null ? `A line ${r.firstDivergence.lineA}` : `B line ${r.firstDivergence.lineB}`}: ${r.firstDivergence.text}`);
  for (const h of r.hunks) {
    o.push(c('36', `@@ A line ${h.a}, B line ${h.b} @@`));
    for (const l of h.lines) o.push(l[0] === '-' ? c('31', l) : l[0] === '+' ? c('32', l) : l);
  }
  return o.join('\n') + '\n';
}
