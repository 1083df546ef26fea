/**
 * A fuzz campaign: VM `i` of a run seeded S is genVmScenario(vmSeed(S, i)) under profile
 * i mod P, so the same seed gives the same cases however they are split over workers.
 */
import { getProfile } from '../profiles/index.js';
import { genVmScenario, vmSeed } from './gen.js';
import { genGuestScenario } from './gen-guest.js';
import { runGuestFuzzCase, shrinkGuestCase } from './run-guest.js';
import { runOpsCase, shrinkOps } from './ops.js';
import { runFuzzCase, type FuzzFailure } from './run.js';
import { shrinkCase } from './shrink.js';

export interface CampaignSlice {
  readonly seed: number;
  readonly profiles: readonly string[];
  readonly vms: number;
  readonly stepsPerVm: number;
  /** This slice runs VMs first, first + stride, ... */
  readonly first: number;
  readonly stride: number;
  /** vm: VM scenarios (fault-path facade); guest: kvm-probe guests; ops: JSON op sequences; all: by i mod 3 (vm, guest, ops). */
  readonly kind: 'vm' | 'guest' | 'ops' | 'all';
}

export interface CaseFailure {
  readonly vm: number;
  readonly profile: string;
  readonly seed: number;
  readonly failure: FuzzFailure;
  /** A VM scenario (JSON) or, for a guest case, the guest's text. */
  readonly scenario: Record<string, unknown> | string;
  readonly originalSteps: number;
}

export interface SliceResult {
  vms: number;
  steps: number;
  checks: number;
  failures: CaseFailure[];
  /** Cases per guest mode (the generator's comment names it). */
  modes: Record<string, number>;
  /** Guests that stopped at an instruction the model does not run. */
  unsupported: number;
}

export function runSlice(s: CampaignSlice): SliceResult {
  const profiles = s.profiles.map((p) => getProfile(p));
  const out: SliceResult = { vms: 0, steps: 0, checks: 0, failures: [], modes: {}, unsupported: 0 };
  for (let i = s.first; i < s.vms; i += s.stride) {
    const profile = profiles[i % profiles.length]!;
    const seed = vmSeed(s.seed, i);
    if (s.kind === 'ops' || (s.kind === 'all' && i % 3 === 2)) {
      const r = runOpsCase(seed, profile, s.stepsPerVm);
      const mode = `ops-${/PAE/.test(String(r.scenario['comment'])) ? 'pae' : '64'}`;
      out.modes[mode] = (out.modes[mode] ?? 0) + 1;
      out.vms++;
      out.steps += r.steps;
      if (r.failure) out.failures.push({ vm: i, profile: s.profiles[i % profiles.length]!, seed, failure: r.failure, scenario: shrinkOps(r.scenario, r.failure.kind), originalSteps: s.stepsPerVm });
      continue;
    }
    if (s.kind === 'guest' || (s.kind === 'all' && i % 3 === 1)) {
      const text = genGuestScenario(seed, s.stepsPerVm);
      const mode = /mode (\S+)/.exec(text)![1]!;
      out.modes[mode] = (out.modes[mode] ?? 0) + 1;
      const r = runGuestFuzzCase(text, profile);
      out.vms++;
      out.steps += r.steps;
      if (r.unsupported) out.unsupported++;
      if (r.failure) out.failures.push({ vm: i, profile: s.profiles[i % profiles.length]!, seed, failure: r.failure, scenario: shrinkGuestCase(text, profile, r.failure.kind), originalSteps: s.stepsPerVm });
      continue;
    }
    const sc = genVmScenario(seed, s.stepsPerVm);
    const mode = String(sc['comment']).replace(/^.*mode /, '');
    out.modes[mode] = (out.modes[mode] ?? 0) + 1;
    const r = runFuzzCase(sc, profile);
    out.vms++;
    out.steps += r.steps;
    out.checks += r.checks;
    if (r.failure) {
      const small = shrinkCase(sc, profile, r.failure);
      out.failures.push({ vm: i, profile: s.profiles[i % profiles.length]!, seed, failure: small.failure, scenario: small.scenario, originalSteps: s.stepsPerVm });
    }
  }
  return out;
}
