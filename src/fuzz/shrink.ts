/**
 * Shrinking a failing fuzz case: delta debugging over its steps (drop chunks from halves down to
 * single steps while the same kind of failure remains), then over its mapped pages.
 */
import type { Profile } from '../profiles/index.js';
import { runFuzzCase, type FuzzFailure } from './run.js';
import type { VmScenarioRunner } from '../scenario/vm.js';

type Opts = { readonly afterStep?: (r: VmScenarioRunner, step: number) => void };

type Scenario = Record<string, unknown> & { steps: unknown[]; guest: { map: unknown[] } };

function fails(sc: Scenario, profile: Profile, kind: FuzzFailure['kind'], opts: Opts): FuzzFailure | null {
  const r = runFuzzCase(sc, profile, opts);
  return r.failure && r.failure.kind === kind ? r.failure : null;
}

/**
 * Delta debugging over a list: drop chunks (halves down to single elements) while `fails` still
 * holds, within `budget.n` calls. The shrinkers of every fuzz kind share it.
 */
export function ddmin<T>(xs: readonly T[], fails: (xs: T[]) => boolean, budget: { n: number }): T[] {
  let cur = [...xs];
  let chunk = Math.max(1, Math.floor(cur.length / 2));
  while (chunk >= 1 && budget.n > 0) {
    let removed = false;
    for (let at = 0; at < cur.length && budget.n > 0; ) {
      const cand = [...cur.slice(0, at), ...cur.slice(at + chunk)];
      budget.n--;
      if (fails(cand)) {
        cur = cand;
        removed = true;
      } else at += chunk;
    }
    if (!removed) chunk = Math.floor(chunk / 2);
  }
  return cur;
}

/** The smallest scenario found (within `maxRuns` reruns) that fails the same way. */
export function shrinkCase(scenario: Record<string, unknown>, profile: Profile, failure: FuzzFailure, maxRuns = 2000, opts: Opts = {}): { scenario: Record<string, unknown>; failure: FuzzFailure } {
  const kind = failure.kind;
  const test = (s: Scenario) => fails(s, profile, kind, opts) !== null;
  const budget = { n: maxRuns };
  let sc = scenario as Scenario;
  // Steps after the failing one never matter.
  if (failure.step >= 0) sc = { ...sc, steps: sc.steps.slice(0, failure.step + 1) };
  const cur = sc;
  sc = { ...cur, steps: ddmin(cur.steps, (xs) => test({ ...cur, steps: xs }), budget) };
  const mid = sc;
  sc = { ...mid, guest: { ...mid.guest, map: ddmin(mid.guest.map, (xs) => test({ ...mid, guest: { ...mid.guest, map: xs } }), budget) } };
  return { scenario: sc, failure: fails(sc, profile, kind, opts) ?? failure };
}
