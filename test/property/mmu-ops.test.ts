/**
 * Random sequences of shadow-page operations under every profile, 64-bit and PAE guests, with
 * allocation failures injected at every site; the invariant auditor runs after every step.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShadowMmuError } from '../../src/bits/errors.js';
import { audit, formatViolation } from '../../src/mmu/vm/audit.js';
import { createMachine, DEFAULT_HOST } from '../../src/mmu/vm/machine.js';
import { SiteFaults } from '../../src/cache/fault.js';
import { getProfile } from '../../src/profiles/index.js';
import { parseScenario, parseStep, ScenarioRunner } from '../../src/scenario/index.js';
import { PROFILES, scenarioJson, type ProfileName } from '../support/mmu.js';

const SITES = [
  'memory_cache:mmu_pte_list_desc_cache',
  'memory_cache:mmu_shadow_page_cache',
  'memory_cache:mmu_gfn_array_cache',
  'memory_cache:mmu_shadowed_info_cache',
  'memory_cache:mmu_page_header_cache',
  'kvmalloc_array:mmu_pte_list_desc_cache',
  'kvmalloc_array:mmu_shadow_page_cache',
  'kvmalloc_array:mmu_shadowed_info_cache',
  'kvmalloc_array:mmu_page_header_cache',
  'pae_root_cache',
];

type Op =
  | { k: 'load' }
  | { k: 'free'; roots: string }
  | { k: 'get'; gfn: number; level: number; direct: boolean; access: number }
  | { k: 'link'; parent: number; index: number; child: number }
  | { k: 'drop'; parent: number; index: number }
  | { k: 'zap'; page: number }
  | { k: 'zap_all_fast' }
  | { k: 'sync_roots' }
  | { k: 'zap_oldest'; n: number }
  | { k: 'shrink'; n: number }
  | { k: 'cr3'; gfn: number }
  | { k: 'unsync'; gfn: number }
  | { k: 'sync'; gfn: number; result: string }
  | { k: 'fail'; site: number; count: number };

const gfnA = fc.integer({ min: 1, max: 12 });
const opA: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ k: 'load' as const }) },
  { weight: 1, arbitrary: fc.constantFrom('current', 'all', 'prev0').map((roots) => ({ k: 'free' as const, roots })) },
  { weight: 6, arbitrary: fc.record({ k: fc.constant('get' as const), gfn: gfnA, level: fc.integer({ min: 1, max: 4 }), direct: fc.boolean(), access: fc.constantFrom(7, 7, 3, 5) }) },
  { weight: 6, arbitrary: fc.record({ k: fc.constant('link' as const), parent: fc.nat(), index: fc.integer({ min: 0, max: 3 }), child: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('drop' as const), parent: fc.nat(), index: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('zap' as const), page: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ k: 'zap_all_fast' as const }) },
  { weight: 2, arbitrary: fc.constant({ k: 'sync_roots' as const }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('zap_oldest' as const), n: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('shrink' as const), n: fc.integer({ min: 1, max: 8 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('cr3' as const), gfn: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('unsync' as const), gfn: gfnA }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('sync' as const), gfn: gfnA, result: fc.constantFrom('fail', 'clean', 'flush') }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('fail' as const), site: fc.nat(SITES.length - 1), count: fc.integer({ min: 1, max: 3 }) }) },
);

/** Sites whose allocation actually failed in some run. */
const failedSites = new Set<string>();
const seenSites = new Set<string>();

function runOps(p: ProfileName, pae: boolean, ops: Op[]): void {
  const sc = parseScenario(scenarioJson(p, { pae, cr3: '0x1000', nr_mmu_pages: 64 }), 'prop');
  const r = new ScenarioRunner(sc);
  const { kvm, vcpu, mem } = r.m;
  const scheduled = new Map<string, number[]>();
  const names: string[] = [];
  const maxLevel = pae ? 3 : 4;
  let i = 0;
  const step = (s: Record<string, unknown>) => {
    const res = r.step(i, parseStep(sc.profile, s, i));
    i++;
    expect(res.violations.map(formatViolation)).toEqual([]);
    return res;
  };
  const live = () => names.filter((n) => r.pageNamed(n) !== undefined);
  const levelOf = (n: string) => (n === 'root' ? kvm.level(kvm.to_shadow_page(vcpu.mmu.root_hpa)!) : kvm.level(r.pageNamed(n)!));
  for (const op of ops) {
    try {
      switch (op.k) {
        case 'load':
          step({ op: 'load' });
          break;
        case 'free':
          step({ op: 'free_roots', roots: op.roots });
          break;
        case 'get': {
          const level = Math.min(op.level, maxLevel - 1);
          if (step({ op: 'topup' }).result['ret'] !== '0') break;
          const name = `p${names.length}`;
          step({ op: 'get_page', name, gfn: op.gfn, level, direct: op.direct, access: op.access, gaddr: String(op.gfn * 2 ** 30) });
          names.push(name);
          break;
        }
        case 'link': {
          const l = live();
          if (!l.length) break;
          const parent = op.parent % (l.length + 1) === l.length && vcpu.mmu.root_hpa >= 0 && kvm.to_shadow_page(vcpu.mmu.root_hpa) ? 'root' : l[op.parent % l.length]!;
          const fits = l.filter((n) => levelOf(n) === levelOf(parent) - 1);
          const child = fits.length ? fits[op.child % fits.length]! : l[op.child % l.length]!;
          if (step({ op: 'topup' }).result['ret'] !== '0') break;
          step({ op: 'link', parent, index: op.index, child });
          break;
        }
        case 'drop': {
          const l = live();
          if (!l.length) break;
          step({ op: 'drop', parent: l[op.parent % l.length]!, index: op.index });
          break;
        }
        case 'zap': {
          const l = live();
          if (!l.length) break;
          step({ op: 'zap', page: l[op.page % l.length]! });
          break;
        }
        case 'zap_all_fast':
          step({ op: 'zap_all_fast' });
          break;
        case 'sync_roots':
          step({ op: 'sync_roots' });
          break;
        case 'zap_oldest':
          step({ op: 'zap_oldest', n: op.n });
          break;
        case 'shrink':
          step({ op: 'shrink', n: op.n });
          break;
        case 'cr3':
          step({ op: 'set_cr3', cr3: op.gfn * 4096 });
          break;
        case 'unsync':
          step({ op: 'unsync', gfn: op.gfn });
          break;
        case 'sync':
          step({ op: 'sync_result', gfn: op.gfn, result: op.result });
          break;
        case 'fail': {
          const site = SITES[op.site]!;
          const n = mem.attemptsBySite().get(site) ?? 0;
          scheduled.set(site, [...(scheduled.get(site) ?? []), ...Array.from({ length: op.count }, (_, k) => n + k)]);
          step({ op: 'fail', site, count: op.count });
          break;
        }
      }
    } catch (e) {
      // Refused operations (ESTATE: linking a level that cannot be linked there, a present
      // slot, a dropped slot that links nothing) leave the model unchanged; the audit proves it.
      if (!(e instanceof ShadowMmuError)) throw e;
      expect(e.code === 'ESTATE' || e.code === 'EINVAL_INPUT').toBe(true);
      expect(audit(r.m, `after refused ${op.k}`).map(formatViolation)).toEqual([]);
    }
  }
  for (const [site, n] of mem.attemptsBySite()) {
    seenSites.add(site);
    if ((scheduled.get(site) ?? []).some((k) => k < n)) failedSites.add(site);
  }
  step({ op: 'destroy' });
  expect(mem.allocated()).toEqual([]);
}


describe('random shadow-page operation sequences, audited after every step', () => {
  for (const p of PROFILES) {
    for (const pae of [false, true]) {
      it(`${p} ${pae ? 'PAE' : '64-bit'} guest`, () => {
        fc.assert(
          fc.property(fc.option(fc.nat(SITES.length - 1)), fc.array(opA, { minLength: 5, maxLength: 40 }), (pre, ops) =>
            runOps(p, pae, pre === null ? ops : [{ k: 'fail', site: pre, count: 1 }, { k: 'load' }, ...ops]),
          ),
          { numRuns: 30, seed: 0x5eed + PROFILES.indexOf(p) * 2 + (pae ? 1 : 0) },
        );
      });
    }
  }

  it('every allocation site the model reached was failed at least once', () => {
    const missing = [...seenSites].filter((s) => !failedSites.has(s) && !s.startsWith('memory_cache_atomic:') && s !== 'default_pae_pdpte' && s !== 'pae_root');
    expect(missing).toEqual([]);
    expect(failedSites.size).toBeGreaterThan(4);
  });

  it('failing the creation-time sites: pae_root (vCPU create) and default_pae_pdpte (module init)', () => {
    const ctx = { kind: 'shadow' as const, mmu_role: 0x2703, direct_map: false, root_level: 3, shadow_root_level: 3 };
    expect(() => createMachine(getProfile('v5.16'), DEFAULT_HOST, ctx, new SiteFaults().failAt('pae_root', 0))).toThrow(/pae_root page could not be allocated/);
    expect(() => createMachine(getProfile('rfc-v1'), DEFAULT_HOST, ctx, new SiteFaults().failAt('default_pae_pdpte', 0))).toThrow(/kvm_mmu_module_init failed/);
  });

  it('an empty cache falls back to an atomic allocation; if that fails too the kernel BUGs', () => {
    const sc = parseScenario(scenarioJson('v6.18'), 'atomic');
    const r = new ScenarioRunner(sc);
    r.step(0, parseStep(sc.profile, { op: 'get_page', gfn: 1, level: 1 }, 0)); // no top-up: atomic fallback
    expect(r.m.caches.warns.count).toBeGreaterThan(0);
    r.step(1, parseStep(sc.profile, { op: 'fail', site: 'memory_cache_atomic:mmu_page_header_cache', count: 1 }, 1));
    expect(() => r.step(2, parseStep(sc.profile, { op: 'get_page', gfn: 2, level: 1 }, 2))).toThrow(ShadowMmuError);
  });
});
