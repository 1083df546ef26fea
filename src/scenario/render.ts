/**
 * A run as text (kvmmmu trace lines as `trace-cmd report` prints them after its prefix, with the
 * model's own notes as `#` lines) or as JSON Lines (the same events with full role words, each
 * step's result and journal patches, then the audit).
 */
import type { Profile } from '../profiles/index.js';
import { eventJson } from '../trace/json.js';
import { formatEventText } from '../trace/print.js';
import { formatViolation } from '../mmu/index.js';
import { formatVerdict } from '../mmu/index.js';
import type { RunResult, StepResult } from './run.js';
import type { Violation } from '../mmu/index.js';

const bigintHex = (_k: string, x: unknown) => (typeof x === 'bigint' ? '0x' + x.toString(16) : x);

/**
 * JSON text with bigints as hex. Without a replacer JSON.stringify takes its fast path, and it
 * throws on the first bigint; only then is the replacer needed (it changes nothing else).
 */
function brief(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
    return JSON.stringify(v, bigintHex);
  }
}

/** A step's "# step" line. */
function stepLine(s: StepResult): string {
  const r = s.result;
  // The result but cr3_check (its verdict is the "# cr3 check" line): copied only when it has one.
  let rest: Record<string, unknown> = r;
  let empty = true;
  for (const k in r) {
    empty = false;
    if (k === 'cr3_check') {
      const { cr3_check: _c, ...others } = r;
      void _c;
      rest = others;
      empty = Object.keys(rest).length === 0;
      break;
    }
  }
  return `# step ${s.step}: ${s.op}${empty ? '' : ' ' + brief(rest)}`;
}

/** One step as text lines (no trailing newline). */
export function renderStepText(profile: Profile, s: StepResult): string[] {
  const out = [stepLine(s)];
  for (const ev of s.events) out.push(formatEventText(profile, ev));
  if (s.cr3) out.push(`# cr3 check: ${formatVerdict(s.cr3)}`);
  return out;
}

/** renderStepText's lines joined by newlines, with a trailing one (no array to join). */
export function stepText(profile: Profile, s: StepResult): string {
  let out = stepLine(s) + '\n';
  for (const ev of s.events) out += formatEventText(profile, ev) + '\n';
  if (s.cr3) out += `# cr3 check: ${formatVerdict(s.cr3)}\n`;
  return out;
}

/** The audit line(s) that end a text run. */
export function renderAuditText(steps: number, violations: readonly Violation[]): string[] {
  if (violations.length) return violations.map((v) => `# ${formatViolation(v)}`);
  return [`# audit: ok after ${steps} step${steps === 1 ? '' : 's'}`];
}

export function renderText(profile: Profile, r: RunResult): string {
  const out: string[] = [];
  for (const s of r.steps) out.push(...renderStepText(profile, s));
  out.push(...renderAuditText(r.steps.length, r.violations));
  return out.join('\n') + '\n';
}

/** One step as JSON Lines records (no trailing newline). */
export function renderStepJsonl(s: StepResult): string[] {
  const out = [brief({ step: s.step, op: s.op, result: s.result })];
  for (const ev of s.events) out.push(brief({ step: s.step, ...eventJson(ev) }));
  if (s.patches.length) out.push(brief({ step: s.step, journal: s.patches }));
  return out;
}

export function renderAuditJsonl(steps: number, violations: readonly Violation[]): string {
  return brief({ audit: violations.length ? 'fail' : 'ok', steps, violations });
}

export function renderJsonl(r: RunResult): string {
  const out: string[] = [];
  for (const s of r.steps) out.push(...renderStepJsonl(s));
  out.push(renderAuditJsonl(r.steps.length, r.violations));
  return out.join('\n') + '\n';
}
