/**
 * Fuzzing the shadow-page machinery directly: random JSON op sequences (load and free roots,
 * get_page, link, drop, zap, fast zap, sync, unsync, reclaim, shrink, MOV CR3, allocation
 * failures at every site of the vCPU's caches) on a 64-bit or PAE shadow root, drawn step by step against the
 * live pages, with the auditor after every step. The steps actually run are kept, so a failing
 * case is a JSON op scenario `shadow-mmu run` can replay.
 */
import { ShadowMmuError } from '../bits/errors.js';
import { audit, formatViolation } from '../mmu/index.js';
import type { Profile } from '../profiles/index.js';
import { hasField, roleLayout } from '../roles/layout.js';
import { parseScenario, parseStep, ScenarioRunner } from '../scenario/index.js';
import { Rng } from './gen.js';
import type { FuzzFailure } from './run.js';
import { ddmin } from './shrink.js';


/** The scenario header (no steps) for a 64-bit or PAE shadow root under `profile`. */
export function opsScenarioHeader(profile: Profile, pae: boolean): Record<string, unknown> {
  const l = roleLayout(profile);
  const role: Record<string, number> = pae ? { level: 3, access: 7, cr0_wp: 1 } : { level: 4, access: 7, efer_nx: 1, cr0_wp: 1 };
  if (hasField(l, 'gpte_is_8_bytes')) role['gpte_is_8_bytes'] = 1;
  if (pae && hasField(l, 'pae_root') && profile.mmu.pae_root_shadow_page) role['pae_root'] = 1;
  if (pae && profile.roles.root_efer_nx_forced) role['efer_nx'] = 1;
  return {
    comment: `shadow-mmu fuzz (ops): ${pae ? 'PAE' : '64-bit'} shadow root`,
    profile: profile.name,
    tdp: false,
    host: { vendor: 'intel', cpu: 'intel-46', nr_mmu_pages: 64, dma32_pages: 256, normal_pages: 65536 },
    vcpu: {
      cr3: '0x1000',
      pdptrs: ['0x2001', '0x3001', '0x0', '0x0'],
      mmu: { kind: 'shadow', role, root_level: pae ? 3 : 4, shadow_root_level: pae ? 3 : 4 },
    },
    steps: [],
  };
}

export interface OpsCaseResult {
  readonly steps: number;
  readonly failure: FuzzFailure | null;
  /** The steps run (a replayable JSON op scenario with the header). */
  readonly scenario: Record<string, unknown>;
}

/** Run `nsteps` random operations and audit after each. */
export function runOpsCase(seed: number, profile: Profile, nsteps: number): OpsCaseResult {
  const rng = new Rng(seed);
  const pae = rng.chance(0.3);
  const header = opsScenarioHeader(profile, pae);
  const ran: Record<string, unknown>[] = [];
  const sc = parseScenario(header, 'fuzz-ops');
  const r = new ScenarioRunner(sc);
  // The fault-injection keys of this profile's vCPU caches (the PAE-root cache where it has one),
  // but not the atomic fallbacks: when those fail too, kvm_mmu_memory_cache_alloc's BUG_ON fires.
  const sites = r.m.caches.allocSites().filter((x) => !x.startsWith('memory_cache_atomic:'));
  const names: string[] = [];
  const live = () => names.filter((n) => r.pageNamed(n) !== undefined);
  let n = 0;
  const draw = (): Record<string, unknown> | null => {
    const k = rng.int(100);
    const l = live();
    if (k < 10) return { op: 'load' };
    if (k < 13) return { op: 'free_roots', roots: rng.pick(['current', 'all', 'prev0']) };
    if (k < 35) {
      const name = `p${names.length}`;
      names.push(name);
      return { op: 'get_page', name, gfn: 1 + rng.int(12), level: 1 + rng.int(pae ? 2 : 3), direct: rng.chance(0.3), access: rng.pick([7, 7, 3, 5]), gaddr: String((1 + rng.int(12)) * 2 ** 30) };
    }
    if (k < 55 && l.length) return { op: 'link', parent: rng.chance(0.2) ? 'root' : rng.pick(l), index: rng.int(4), child: rng.pick(l) };
    if (k < 62 && l.length) return { op: 'drop', parent: rng.pick(l), index: rng.int(4) };
    if (k < 68 && l.length) return { op: 'zap', page: rng.pick(l) };
    if (k < 70) return { op: 'zap_all_fast' };
    if (k < 75) return { op: 'sync_roots' };
    if (k < 78) return { op: 'zap_oldest', n: 1 + rng.int(4) };
    if (k < 80) return { op: 'shrink', n: 1 + rng.int(8) };
    if (k < 84) return { op: 'set_cr3', cr3: (1 + rng.int(4)) * 4096 };
    if (k < 90) return { op: 'unsync', gfn: 1 + rng.int(12) };
    if (k < 93) return { op: 'sync_result', gfn: 1 + rng.int(12), result: rng.pick(['fail', 'clean', 'flush']) };
    if (k < 97) return { op: 'fail', site: rng.pick(sites), count: 1 + rng.int(3) };
    return { op: 'topup' };
  };
  for (let i = 0; i < nsteps; i++) {
    const s = draw();
    if (!s) continue;
    try {
      const res = r.step(n, parseStep(sc.profile, s, n));
      ran.push(s);
      n++;
      if (res.violations.length) return { steps: n, scenario: { ...header, steps: ran }, failure: { step: n - 1, kind: 'audit', what: res.violations.map(formatViolation).join('; ') } };
    } catch (e) {
      // A refused operation (linking where a level cannot be linked, a present slot, a root
      // that failed to load) leaves the model unchanged; anything else is a failure.
      if (!(e instanceof ShadowMmuError) || (e.code !== 'ESTATE' && e.code !== 'EINVAL_INPUT')) {
        ran.push(s);
        return { steps: n, scenario: { ...header, steps: ran }, failure: { step: n, kind: 'error', what: `${String(s['op'])}: ${(e as Error).message}` } };
      }
      // Refused steps are not recorded, so they must have changed nothing.
      const v = audit(r.m, `after refused ${String(s['op'])}`);
      if (v.length) {
        ran.push(s);
        return { steps: n, scenario: { ...header, steps: ran }, failure: { step: n, kind: 'audit', what: v.map(formatViolation).join('; ') } };
      }
    }
  }
  return { steps: n, scenario: { ...header, steps: ran }, failure: null };
}

/** Run a recorded op scenario, skipping steps the model refuses; the failure, if any. */
export function replayOps(scenario: Record<string, unknown>): FuzzFailure | null {
  const sc = parseScenario({ ...scenario, steps: [] }, 'fuzz-ops');
  const r = new ScenarioRunner(sc);
  let n = 0;
  for (const s of scenario['steps'] as Record<string, unknown>[]) {
    try {
      const res = r.step(n, parseStep(sc.profile, s, n));
      n++;
      if (res.violations.length) return { step: n - 1, kind: 'audit', what: res.violations.map(formatViolation).join('; ') };
    } catch (e) {
      if (!(e instanceof ShadowMmuError) || (e.code !== 'ESTATE' && e.code !== 'EINVAL_INPUT')) return { step: n, kind: 'error', what: `${String(s['op'])}: ${(e as Error).message}` };
    }
  }
  return null;
}

/** Delta debugging over the recorded steps: the smallest op scenario failing the same way. */
export function shrinkOps(scenario: Record<string, unknown>, kind: FuzzFailure['kind'], maxRuns = 1000): Record<string, unknown> {
  const steps = ddmin(scenario['steps'] as Record<string, unknown>[], (xs) => replayOps({ ...scenario, steps: xs })?.kind === kind, { n: maxRuns });
  return { ...scenario, steps };
}
