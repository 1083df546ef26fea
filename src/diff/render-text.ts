/** The diff as text: a summary first, then unified-diff-like hunks per differing step, then the final state. */
import { eventRole, type EventLine, type PairDiff, type StepDiff } from './compare.js';
import type { DiffEvent } from './model.js';

export interface TextOptions {
  readonly color: boolean;
  /** Event lines of context around a difference inside a step. */
  readonly context: number;
  /** The scenario's name, for the header. */
  readonly scenario: string;
}

const SGR = { red: '\x1b[31m', green: '\x1b[32m', cyan: '\x1b[36m', yellow: '\x1b[33m', bold: '\x1b[1m', off: '\x1b[0m' };

export function renderText(pairs: readonly PairDiff[], opts: TextOptions): string {
  const c = (code: keyof typeof SGR, s: string) => (opts.color ? SGR[code] + s + SGR.off : s);
  const out: string[] = [];
  for (const p of pairs) {
    const s = p.summary;
    out.push(c('bold', `--- ${p.a}`));
    out.push(c('bold', `+++ ${p.b}`));
    out.push(`# ${opts.scenario}: ${s.steps} steps, ${s.stepsDiffer} differ; events only in ${p.a}: ${s.eventsOnlyA}, only in ${p.b}: ${s.eventsOnlyB}; layout-only: ${s.layoutOnlyEvents}; final forest: ${s.forestDiffers} difference(s); counters: ${s.countersDiffer} differ`);
    if (s.firstDivergence) {
      const f = s.firstDivergence;
      out.push(`# first divergence: vm ${f.vm} step ${f.step} (${f.label}): ${f.what}`);
    } else out.push('# the runs agree step for step');
    if (p.layoutOnlyFields.length) out.push(`# role fields only one layout has (not compared): ${p.layoutOnlyFields.join(', ')}`);
    for (const st of p.steps) if (st.differs) out.push(...hunk(p, st, opts, c));
    out.push(...finalState(p, c));
  }
  return out.join('\n') + '\n';
}

type Col = (code: keyof typeof SGR, s: string) => string;

function lineText(l: EventLine, c: Col, common: ReadonlySet<string>): string {
  const role = (e: DiffEvent) => (e.fields ? `   [${eventRole(e, common)}]` : '');
  if (l.op === 'del') return c('red', `-${l.a.text}`) + role(l.a);
  if (l.op === 'ins') return c('green', `+${l.b.text}`) + role(l.b);
  if (l.layoutOnly.length) return c('yellow', `~${l.a.text}`) + `   [layout-only: ${l.layoutOnly.join(', ')}]`;
  return ` ${l.a.text}`;
}

function hunk(p: PairDiff, st: StepDiff, opts: TextOptions, c: Col): string[] {
  const out: string[] = [c('cyan', `@@ vm ${st.vm} step ${st.step}: ${st.label} @@`)];
  if (st.outcomeA !== st.outcomeB) {
    out.push(c('red', `-# outcome: ${st.outcomeA ?? '(step not run)'}`));
    out.push(c('green', `+# outcome: ${st.outcomeB ?? '(step not run)'}`));
  } else if (st.outcomeA) out.push(` # outcome: ${st.outcomeA}`);
  const show = new Array<boolean>(st.lines.length).fill(false);
  st.lines.forEach((l, i) => {
    if (l.op !== 'same') for (let j = Math.max(0, i - opts.context); j <= Math.min(st.lines.length - 1, i + opts.context); j++) show[j] = true;
  });
  let gap = false;
  st.lines.forEach((l, i) => {
    if (!show[i]) {
      gap = true;
      return;
    }
    if (gap) out.push(' ...');
    gap = false;
    out.push(lineText(l, c, new Set(p.commonFields)));
  });
  if (gap) out.push(' ...');
  const sa = new Set(st.changesB);
  const sb = new Set(st.changesA);
  for (const x of st.changesA) if (!sa.has(x)) out.push(c('red', `-# state: ${x}`));
  for (const x of st.changesB) if (!sb.has(x)) out.push(c('green', `+# state: ${x}`));
  if (st.violationsA.join() !== st.violationsB.join()) {
    for (const v of st.violationsA) out.push(c('red', `-# audit: ${v}`));
    for (const v of st.violationsB) out.push(c('green', `+# audit: ${v}`));
  }
  return out;
}

function finalState(p: PairDiff, c: Col): string[] {
  const out: string[] = [];
  for (const f of p.forests) {
    if (!f.onlyA.length && !f.onlyB.length && !f.changed.length) continue;
    out.push(c('cyan', `@@ final forest, vm ${f.vm}${f.name ? ` (${f.name})` : ''}: ${f.same} page(s) the same @@`));
    for (const n of f.onlyA) out.push(c('red', `-page ${n.text}`));
    for (const n of f.onlyB) out.push(c('green', `+page ${n.text}`));
    for (const ch of f.changed) {
      out.push(c('red', `-page ${ch.key}: ${ch.field} ${ch.a || '(none)'}`));
      out.push(c('green', `+page ${ch.key}: ${ch.field} ${ch.b || '(none)'}`));
    }
  }
  const byVm = new Map<number, typeof p.counters>();
  for (const k of p.counters) byVm.set(k.vm, [...(byVm.get(k.vm) ?? []), k]);
  for (const [vm, ks] of byVm) {
    out.push(c('cyan', `@@ final counters, vm ${vm} @@`));
    for (const k of ks) {
      out.push(c('red', `-${k.name} ${k.a ?? '(absent)'}`));
      out.push(c('green', `+${k.name} ${k.b ?? '(absent)'}`));
    }
  }
  return out;
}
