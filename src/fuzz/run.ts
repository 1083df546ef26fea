/**
 * One fuzz case: a VM scenario run step by step with the auditor after every step (the runner's
 * own) and cross-checks that need no oracle: a native access the shadow tables let through must
 * be one the guest's own tables allow, at the same GPA, and an injected #PF one they refuse —
 * whenever the shadow tables are known to be in step with the guest's (no write behind the MMU's
 * back, none into a guest table since the last MOV CR3, which syncs; under nested EPT since the
 * last INVEPT). EPT exits count as refusals.
 */
import { ShadowMmuError } from '../bits/errors.js';
import * as api from '../mmu/index.js';
import { formatViolation } from '../mmu/index.js';
import type { Profile } from '../profiles/index.js';
import { parseVmScenario, VmScenarioRunner, type VmStep } from '../scenario/vm.js';

export interface FuzzFailure {
  readonly step: number;
  readonly kind: 'audit' | 'cross-check' | 'error' | 'setup';
  readonly what: string;
}

export interface FuzzCaseResult {
  readonly steps: number;
  readonly checks: number;
  readonly failure: FuzzFailure | null;
}

const TABLES_LO = 0x100000;
const TABLES_HI = 0x300000;

/** Run `json` (a VM scenario) under `profile`; stops at the first failure. */
export function runFuzzCase(json: unknown, profile: Profile, opts: { readonly afterStep?: (r: VmScenarioRunner, step: number) => void } = {}): FuzzCaseResult {
  let steps = 0;
  let checks = 0;
  let runner: VmScenarioRunner;
  let parsed: VmStep[];
  try {
    const sc = parseVmScenario(json, 'fuzz', profile);
    parsed = sc.steps;
    runner = new VmScenarioRunner(sc);
  } catch (e) {
    return { steps, checks, failure: { step: -1, kind: 'setup', what: `${(e as Error).message}` } };
  }
  const ept = runner.vm.mmuKind === 'ept';
  let behind = false; // a host write: the shadow tables may legitimately be stale from now on
  let inTables = false; // a guest write into a guest table since the last MOV CR3
  for (let i = 0; i < parsed.length; i++) {
    const s = parsed[i]!;
    let outcome: string;
    try {
      const res = runner.step(i, s);
      steps++;
      if (res.violations.length) return { steps, checks, failure: { step: i, kind: 'audit', what: res.violations.map(formatViolation).join('; ') } };
      outcome = res.outcome;
      opts.afterStep?.(runner, i);
    } catch (e) {
      const msg = e instanceof ShadowMmuError ? e.message : `internal error: ${(e as Error).message}`;
      return { steps, checks, failure: { step: i, kind: 'error', what: `${s.op}: ${msg}` } };
    }
    if (s.op === 'host_write') behind = true;
    // MOV CR3 syncs the shadow tables; under nested EPT only INVEPT does (KVM never syncs nEPT on VM entry).
    else if (s.op === 'set_cr3' && !ept) inTables = false;
    else if (s.op === 'invept') inTables = false;
    else if ((s.op === 'access' || s.op === 'emulate') && s.access === 'write') {
      const m = /gpa ([0-9a-f]+)/.exec(outcome);
      if (m) {
        const gpa = Number.parseInt(m[1]!, 16);
        if (gpa >= TABLES_LO && gpa < TABLES_HI) inTables = true;
      }
    }
    if (s.op !== 'access' || behind || inTables) continue;
    const ok = /^ok gpa ([0-9a-f]+)/.exec(outcome);
    const pf = /^#PF|^exit (EPT_|NPF)/.test(outcome);
    if (!ok && !pf) continue;
    checks++;
    const g = api.gvaToGpa(runner.vm, s.va, s.access, s.cpl, { inject: false, hardware: true });
    if (ok && !g.ok) return { steps, checks, failure: { step: i, kind: 'cross-check', what: `the shadow tables allow ${s.access} of 0x${s.va.toString(16)} at CPL ${s.cpl} (gpa ${ok[1]}) but the guest's tables refuse it (error code 0x${g.error_code.toString(16)})` } };
    if (ok && g.ok && g.gpa !== Number.parseInt(ok[1]!, 16)) return { steps, checks, failure: { step: i, kind: 'cross-check', what: `${s.access} of 0x${s.va.toString(16)}: shadow gpa ${ok[1]}, guest walk gpa ${g.gpa.toString(16)}` } };
    if (pf && g.ok) return { steps, checks, failure: { step: i, kind: 'cross-check', what: `${s.access} of 0x${s.va.toString(16)} at CPL ${s.cpl} got ${outcome} but the guest's tables allow it (gpa ${g.gpa.toString(16)})` } };
  }
  return { steps, checks, failure: null };
}
