/**
 * A run as text (kvmmmu trace lines as `trace-cmd report` prints them after its prefix, with the
 * model's own notes as `#` lines) or as JSON Lines (the same events with full role words, each
 * step's result and journal patches, then the audit).
 */
import type { Profile } from '../profiles/index.js';
import { eventJson, formatEventText } from '../trace/format.js';
import { formatViolation } from '../mmu/audit.js';
import { formatVerdict } from '../mmu/archcheck.js';
import type { RunResult } from './run.js';

function brief(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? '0x' + x.toString(16) : x));
}

export function renderText(profile: Profile, r: RunResult): string {
  const out: string[] = [];
  for (const s of r.steps) {
    const { cr3_check: _c, ...rest } = s.result;
    void _c;
    out.push(`# step ${s.step}: ${s.op}${Object.keys(rest).length ? ' ' + brief(rest) : ''}`);
    for (const ev of s.events) out.push(formatEventText(profile, ev));
    if (s.cr3) out.push(`# cr3 check: ${formatVerdict(s.cr3)}`);
  }
  if (r.violations.length) for (const v of r.violations) out.push(`# ${formatViolation(v)}`);
  else out.push(`# audit: ok after ${r.steps.length} step${r.steps.length === 1 ? '' : 's'}`);
  return out.join('\n') + '\n';
}

export function renderJsonl(r: RunResult): string {
  const out: string[] = [];
  for (const s of r.steps) {
    out.push(brief({ step: s.step, op: s.op, result: s.result }));
    for (const ev of s.events) out.push(brief({ step: s.step, ...eventJson(ev) }));
    if (s.patches.length) out.push(brief({ step: s.step, journal: s.patches }));
  }
  out.push(brief({ audit: r.violations.length ? 'fail' : 'ok', steps: r.steps.length, violations: r.violations }));
  return out.join('\n') + '\n';
}
