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

function shrinkList(sc: Scenario, get: (s: Scenario) => unknown[], set: (s: Scenario, xs: unknown[]) => Scenario, test: (s: Scenario) => boolean, budget: { n: number }): Scenario {
  let cur = sc;
  let chunk = Math.max(1, Math.floor(get(cur).length / 2));
  while (chunk >= 1 && budget.n > 0) {
    let removed = false;
    for (let at = 0; at < get(cur).length && budget.n > 0; ) {
      const xs = get(cur);
      const cand = set(cur, [...xs.slice(0, at), ...xs.slice(at + chunk)]);
      budget.n--;
      if (test(cand)) {
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
  sc = shrinkList(sc, (s) => s.steps, (s, xs) => ({ ...s, steps: xs }), test, budget);
  sc = shrinkList(sc, (s) => s.guest.map, (s, xs) => ({ ...s, guest: { ...s.guest, map: xs } }), test, budget);
  return { scenario: sc, failure: fails(sc, profile, kind, opts) ?? failure };
}
