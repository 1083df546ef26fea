/**
 * The review workbench: one scenario (a guest in the kvm-probe language, or a JSON op scenario)
 * run under several profiles, each with the auditor after every step, and exactly what differs.
 */
import { ShadowMmuError } from '../bits/errors.js';
import type { Profile } from '../profiles/index.js';
import { isGuestScenario } from '../scenario/guest.js';
import { collectGuest, collectOps, collectVm, type CollectOptions } from './collect.js';
import { isVmScenario } from '../scenario/vm.js';
import { compareRuns, type CompareOptions, type PairDiff } from './compare.js';
import type { DiffRun } from './model.js';

export { compareRuns, type PairDiff, type StepDiff, type EventLine, type ForestDiff } from './compare.js';
export { collectGuest, collectOps, collectVm, snapState } from './collect.js';
export type { DiffRun, DiffEvent, NodeState, StateSnap } from './model.js';
export { renderText } from './render-text.js';
export { diffJson } from './render-json.js';
export { renderDot } from './render-dot.js';
export { renderHtml } from './render-html.js';

/** Run `text` (the scenario file's contents) under one profile. */
export function collect(text: string, file: string, profile: Profile, opts: CollectOptions = {}): DiffRun {
  if (isGuestScenario(text)) return collectGuest(text, profile, opts);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ShadowMmuError('EINVAL_INPUT', `${file} is not JSON: ${(e as Error).message}`);
  }
  return isVmScenario(json) ? collectVm(json, file, profile) : collectOps(json, file, profile);
}

export interface DiffResult {
  readonly runs: readonly DiffRun[];
  /** Each profile after the first compared against the first. */
  readonly pairs: readonly PairDiff[];
  readonly differs: boolean;
}

/** Run the scenario under every profile and compare each against the first. */
export function diffScenario(text: string, file: string, profiles: readonly Profile[], opts: CollectOptions & CompareOptions = {}): DiffResult {
  if (profiles.length < 2) throw new ShadowMmuError('EUSAGE', 'diff: give at least two profiles');
  const runs = profiles.map((p) => collect(text, file, p, opts));
  const pairs = runs.slice(1).map((r) => compareRuns(runs[0]!, r, opts));
  return { runs, pairs, differs: pairs.some((p) => p.differs) };
}
