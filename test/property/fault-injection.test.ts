/**
 * Every allocation failed, one at a time: for each VM scenario (the examples and generated guests
 * in every paging mode) under each profile, every attempt at every allocation site is made to
 * fail in its own run. The kernel's answer is -ENOMEM and a retried fault; so each run must pass
 * the auditor after every step, give every step the same outcome (bar the extra fault), leave the
 * same shadow-page forest, and free everything at teardown.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { snapState } from '../../src/diff/index.js';
import { genVmScenario, MODES, vmSeed } from '../../src/fuzz/gen.js';
import { createMachine, destroyMachine } from '../../src/mmu/vm/machine.js';
import { audit } from '../../src/mmu/vm/audit.js';
import { ShadowMmuError } from '../../src/bits/errors.js';
import { SiteFaults } from '../../src/cache/fault.js';
import type { HostMemory } from '../../src/cache/host_memory.js';
import { runProbeScenario } from '../../src/probe/replay.js';
import { parseProbeScenario } from '../../src/probe/parse.js';
import { parseScenario, ScenarioRunner } from '../../src/scenario/index.js';
import { formatViolation } from '../../src/mmu/vm/audit.js';
import { getProfile, PROFILE_NAMES } from '../../src/profiles/index.js';
import { parseVmScenario, VmScenarioRunner } from '../../src/scenario/vm.js';

const EX = join(__dirname, '../../examples/diff');
const SCENARIOS: [string, unknown][] = [
  ...['npt5-pml4-write.json', 'unmappable-gpa.json'].map((f) => [f, JSON.parse(readFileSync(join(EX, f), 'utf8'))] as [string, unknown]),
  // One generated guest per paging mode.
  ...MODES.map((m) => [`generated ${m.name}`, genVmScenario(vmSeed(11, 0), 30, [m])] as [string, unknown]),
];

function run(json: unknown, profile: string, fail?: [string, number]) {
  const sc = parseVmScenario(json, 'fault-injection', getProfile(profile));
  const r = new VmScenarioRunner(sc);
  // Attempts made while the VM was created (module init, the vCPU's PAE root) are not failed here:
  // that is KVM_CREATE_VM failing, not a fault.
  const atCreate = new Map(r.machine.mem.attemptsBySite());
  if (fail) r.machine.faults.failAt(fail[0], fail[1]);
  const outcomes: string[] = [];
  const violations: string[] = [];
  sc.steps.forEach((s, i) => {
    const res = r.step(i, s);
    outcomes.push(res.outcome.replace(/ after \d+ fault\(s\)/, ''));
    violations.push(...res.violations.map(formatViolation));
  });
  const sites = new Map(r.machine.mem.attemptsBySite());
  const failed = r.machine.mem.stats.alloc_failures;
  const forest = JSON.stringify(snapState(r.machine, true).nodes.map((n) => ({ ...n, parents: 0 })));
  destroyMachine(r.machine);
  return { outcomes, violations, sites, atCreate, forest, failed, left: r.machine.mem.allocated().length };
}

describe('every allocation failed once', () => {
  for (const [name, json] of SCENARIOS) {
    it(`${name}: under every profile, every attempt at every site`, () => {
      let runs = 0;
      const bad: string[] = [];
      for (const profile of PROFILE_NAMES) {
        const base = run(json, profile);
        expect(base.violations).toEqual([]);
        for (const [site, n] of base.sites) {
          for (let k = base.atCreate.get(site) ?? 0; k < n; k++) {
            runs++;
            const r = run(json, profile, [site, k]);
            const where = `${profile} ${site} attempt ${k}`;
            if (r.failed < 1) bad.push(`${where}: the injected failure did not happen`);
            if (r.violations.length) bad.push(`${where}: audit: ${r.violations[0]}`);
            if (r.left !== base.left) bad.push(`${where}: ${r.left - base.left} object(s) leaked`);
            if (JSON.stringify(r.outcomes) !== JSON.stringify(base.outcomes)) bad.push(`${where}: outcomes ${JSON.stringify(r.outcomes)}`);
            else if (r.forest !== base.forest) bad.push(`${where}: a different shadow-page forest`);
          }
        }
      }
      expect(runs).toBeGreaterThan(10);
      console.log(`fault injection: ${name}: ${runs} runs, each with one failed allocation`);
      expect(bad.slice(0, 5), `${bad.length} of ${runs} runs`).toEqual([]);
    }, 120_000);
  }
});

describe('every allocation failed once: guest scenarios and JSON op scenarios', () => {
  const GUESTS = [
    ...readdirSync(join(__dirname, '../scenario/guest')).map((f) => join(__dirname, '../scenario/guest', f)),
    ...['rfc-pse-slip.kvm', 'sync-rebuild.kvm', 'page-crossing.kvm'].map((f) => join(__dirname, '../../examples', f)),
  ];
  function runGuest(text: string, profile: string, fail?: [string, number]) {
    const mems: HostMemory[] = [];
    let atCreate: Map<string, number> | null = null;
    const vms = runProbeScenario(parseProbeScenario(text), {
      profile: getProfile(profile),
      audit: true,
      onCreate: (vm) => {
        const m = vm.vm!.machine;
        mems.push(m.mem);
        atCreate ??= new Map(m.mem.attemptsBySite());
        if (fail) m.faults.failAt(fail[0], fail[1]);
      },
    });
    return {
      violations: vms.flatMap((v) => v.steps.flatMap((s) => s.violations.map(formatViolation))),
      sites: new Map(mems[0]?.attemptsBySite() ?? []),
      atCreate: atCreate ?? new Map<string, number>(),
      live: mems.map((m) => m.allocated().length).join(','),
      failed: mems.reduce((a, m) => a + m.stats.alloc_failures, 0),
    };
  }

  for (const file of GUESTS) {
    const name = file.split('/').slice(-2).join('/');
    it(`${name}: every attempt at every site, every profile: auditor clean, nothing left behind`, () => {
      const text = readFileSync(file, 'utf8');
      const bad: string[] = [];
      let runs = 0;
      for (const profile of PROFILE_NAMES) {
        const base = runGuest(text, profile);
        expect(base.violations).toEqual([]);
        for (const [site, n] of base.sites) {
          for (let k = base.atCreate.get(site) ?? 0; k < n; k++) {
            runs++;
            const where = `${profile} ${site} attempt ${k}`;
            let r;
            try {
              r = runGuest(text, profile, [site, k]);
            } catch (e) {
              bad.push(`${where}: threw ${(e as Error).message}`);
              continue;
            }
            if (r.failed < 1) bad.push(`${where}: the injected failure did not happen`);
            if (r.violations.length) bad.push(`${where}: audit: ${r.violations[0]}`);
            if (r.live !== base.live) bad.push(`${where}: live objects ${r.live}, without the failure ${base.live}`);
          }
        }
      }
      expect(runs).toBeGreaterThan(0);
      expect(bad.slice(0, 5), `${bad.length} of ${runs} runs`).toEqual([]);
    }, 120_000);
  }

  it('JSON op scenarios: a failed allocation gives the scripted -ENOMEM, the auditor stays clean, teardown frees everything', () => {
    const dir = join(__dirname, '../scenario/data');
    let runs = 0;
    const bad: string[] = [];
    // The JSON op scenarios only: the directory also holds .kvm guest programs (f4-unsync-child.kvm).
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
      const json = JSON.parse(readFileSync(join(dir, f), 'utf8'));
      const go = (fail?: [string, number]) => {
        const sc = parseScenario(json, f);
        const r = new ScenarioRunner(sc);
        const atCreate = new Map(r.m.mem.attemptsBySite());
        if (fail) r.m.faults.failAt(fail[0], fail[1]);
        const violations: string[] = [];
        const errors: string[] = [];
        sc.steps.forEach((s, i) => {
          try {
            violations.push(...r.step(i, s).violations.map(formatViolation));
          } catch (e) {
            // A script step that assumed an earlier one succeeded (link to a root that failed to load).
            if (!(e instanceof ShadowMmuError)) throw e;
            errors.push(e.message);
          }
        });
        return { violations, errors, atCreate, sites: new Map(r.m.mem.attemptsBySite()), live: r.m.mem.allocated().length, failed: r.m.mem.stats.alloc_failures };
      };
      const base = go();
      expect(base.errors).toEqual([]);
      for (const [site, n] of base.sites) {
        for (let k = base.atCreate.get(site) ?? 0; k < n; k++) {
          runs++;
          const r = go([site, k]);
          if (r.failed < 1) bad.push(`${f} ${site} ${k}: no failure`);
          if (r.violations.length) bad.push(`${f} ${site} ${k}: audit: ${r.violations[0]}`);
          if (r.live !== base.live) bad.push(`${f} ${site} ${k}: ${r.live} live objects after teardown, ${base.live} without the failure`);
        }
      }
    }
    expect(runs).toBeGreaterThan(100);
    expect(bad.slice(0, 5), `${bad.length} of ${runs}`).toEqual([]);
  }, 120_000);

  it('an allocation failing while the VM is created is a typed -ENOMEM, never an internal error', () => {
    const sc = parseScenario(JSON.parse(readFileSync(join(__dirname, '../scenario/data/pae-rfc-v1.json'), 'utf8')), 'create');
    let runs = 0;
    let refused = 0;
    for (const profile of PROFILE_NAMES) {
      const p = getProfile(profile);
      const probe = createMachine(p, sc.host, sc.ctx);
      for (const [site, n] of probe.mem.attemptsBySite()) {
        for (let k = 0; k < n; k++) {
          runs++;
          try {
            const m = createMachine(p, sc.host, sc.ctx, new SiteFaults().failAt(site, k));
            expect(audit(m, 'created').map(formatViolation)).toEqual([]);
          } catch (e) {
            expect(e, `${profile} ${site} ${k}`).toBeInstanceOf(ShadowMmuError);
            expect((e as ShadowMmuError).code).toBe('ENOMEM');
            refused++;
          }
        }
      }
    }
    expect(runs).toBeGreaterThan(0);
    console.log(`fault injection at VM creation: ${runs} runs, ${refused} refused with ENOMEM`);
  });
});
