/**
 * One guest fuzz case: a kvm-probe-language guest run on the model as KVM runs it, the auditor
 * after every step. A guest that rewrote its own code mappings until the CPU fetched an
 * instruction the model does not run stops there: that is the model's limit, not a failure.
 */
import { ShadowMmuError } from '../bits/errors.js';
import { formatViolation } from '../mmu/index.js';
import type { Profile } from '../profiles/index.js';
import { PROBE_STEP_OPS, tokenizeLine } from '../probe/parse.js';
import { runGuestScenario } from '../scenario/guest.js';
import type { FuzzCaseResult } from './run.js';
import { ddmin } from './shrink.js';

export interface GuestCaseResult extends FuzzCaseResult {
  /** Stopped at an instruction the model does not run. */
  readonly unsupported: boolean;
}

export function runGuestFuzzCase(text: string, profile: Profile): GuestCaseResult {
  try {
    const r = runGuestScenario(text, { profile });
    const steps = r.vms.reduce((a, v) => a + v.steps.length, 0);
    if (r.violations.length) {
      const v = r.violations[0]!;
      const at = Number(/step (\d+)/.exec(v.step)?.[1] ?? -1);
      return { steps, checks: 0, unsupported: false, failure: { step: at, kind: 'audit', what: r.violations.map(formatViolation).join('; ') } };
    }
    return { steps, checks: 0, unsupported: false, failure: null };
  } catch (e) {
    const msg = e instanceof ShadowMmuError ? e.message : `internal error: ${(e as Error).message}`;
    if (e instanceof ShadowMmuError && /is not one the model runs/.test(msg)) return { steps: 0, checks: 0, unsupported: true, failure: null };
    return { steps: 0, checks: 0, unsupported: false, failure: { step: 0, kind: 'error', what: msg } };
  }
}

/** Delta debugging over the step lines (configuration lines stay): the smallest guest failing the same way. */
export function shrinkGuestCase(text: string, profile: Profile, kind: string, maxRuns = 1000): string {
  const lines = text.split('\n');
  const isStep = (l: string, i: number) => {
    const c = tokenizeLine(l, i + 1);
    return c !== null && PROBE_STEP_OPS.has(c.op);
  };
  const setup = lines.filter((l, i) => !isStep(l, i));
  const steps = lines.filter((l, i) => isStep(l, i));
  const build = (xs: string[]) => [...setup.filter((l) => l !== ''), ...xs].join('\n') + '\n';
  return build(ddmin(steps, (xs) => runGuestFuzzCase(build(xs), profile).failure?.kind === kind, { n: maxRuns }));
}
