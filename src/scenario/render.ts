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

function brief(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? '0x' + x.toString(16) : x));
}

/** One step as text lines (no trailing newline). */
export function renderStepText(profile: Profile, s: StepResult): string[] {
  const { cr3_check: _c, ...rest } = s.result;
  void _c;
  const out = [`# step ${s.step}: ${s.op}${Object.keys(rest).length ? ' ' + brief(rest) : ''}`];
  for (const ev of s.events) out.push(formatEventText(profile, ev));
  if (s.cr3) out.push(`# cr3 check: ${formatVerdict(s.cr3)}`);
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
