/**
 * Every allocation failed, one at a time: for each VM scenario (the examples and generated guests
 * in every paging mode) under each profile, every attempt at every allocation site is made to
 * fail in its own run. The kernel's answer is -ENOMEM and a retried fault; so each run must pass
 * the auditor after every step, give every step the same outcome (bar the extra fault), leave the
 * same shadow-page forest, and free everything at teardown.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { snapState } from '../../src/diff/index.js';
import { genVmScenario, MODES, vmSeed } from '../../src/fuzz/gen.js';
import { destroyMachine } from '../../src/mmu/machine.js';
import { formatViolation } from '../../src/mmu/audit.js';
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
