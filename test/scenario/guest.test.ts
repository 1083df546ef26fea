/**
 * Guest scenarios (kvm-probe language, test/scenario/guest/*.kvm) for every guest mode under every
 * profile, with the auditor after every step; and `shadow-mmu run` on them.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { getProfile, PROFILE_NAMES } from '../../src/profiles/index.js';
import { mmuEvents, renderGuestText, runGuestScenario, type GuestRun } from '../../src/scenario/guest.js';
import { runCli } from '../support/cli.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), 'guest');
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.kvm')).sort();
const PROFILES = PROFILE_NAMES;

const text = (f: string) => readFileSync(join(DIR, f), 'utf8');
const run = (f: string, p: string): GuestRun => runGuestScenario(text(f), { profile: getProfile(p) });
const stepOf = (r: GuestRun, vm: number, op: string, arg0: string, nth = 0) => r.vms[vm]!.steps.filter((s) => s.op === op && s.args['arg0'] === arg0)[nth]!;

describe('guest scenarios: every mode under every profile, audited after every step', () => {
  it('has a scenario per guest mode', () => {
    expect(FILES).toEqual(['legacy32.kvm', 'long4.kvm', 'long5.kvm', 'nonpaging.kvm', 'pae.kvm']);
  });
  for (const f of FILES) {
    for (const p of PROFILES) {
      it(`${f} under ${p}`, () => {
        const r = run(f, p);
        expect(r.violations).toEqual([]);
        for (const vm of r.vms) {
          expect(vm.steps.length).toBeGreaterThan(1);
          for (const s of vm.steps) expect(s.skipped, `${vm.name} step ${s.step}`).toBe(false);
          // the warm-up creates the root
          expect(vm.steps[0]!.events.some((e) => e.event === 'kvm_mmu_get_page')).toBe(true);
        }
        expect(renderGuestText(r)).toBe(renderGuestText(run(f, p)));
      });
    }
  }

  it('4-level: the first user read faults in three shadow pages and reads the data; a read-only page #PFs', () => {
    const r = run('long4.kvm', 'v6.18');
    const rd = stepOf(r, 0, 'read', '0x8080604000');
    expect(rd.value).toBe(0x1111n);
    expect(rd.exceptions).toEqual([[1]]);
    expect(mmuEvents(rd).filter((e) => e.event === 'kvm_mmu_get_page').map((e) => (e as { gfn: number }).gfn)).toEqual([0x101, 0x102, 0x103]);
    expect(stepOf(r, 0, 'write', '0x8080605000').exceptions).toEqual([[14, 7]]);
  });

  it('the user write of a PTE through an alias of its table unsyncs the last-level shadow page', () => {
    const r = run('long4.kvm', 'v6.18');
    const w = stepOf(r, 0, 'write', '0x10000000028');
    expect(mmuEvents(w).some((e) => e.event === 'kvm_mmu_unsync_page' && e.gfn === 0x103)).toBe(true);
  });

  it('32-bit and PAE guests read their data under every profile', () => {
    for (const p of PROFILES) {
      expect(stepOf(run('legacy32.kvm', p), 0, 'read', '0x00804000').value, p).toBe(0x1111n);
      expect(stepOf(run('pae.kvm', p), 0, 'read', '0x40604000').value, p).toBe(0x1111n);
    }
  });

  it('a guest without paging reads guest-physical memory; one that enables long mode itself then runs at CPL 3', () => {
    const r = run('nonpaging.kvm', 'v6.18');
    expect(stepOf(r, 0, 'read', '0x2000').value).toBe(0x1234n);
    const ll = r.vms[2]!;
    const reads = ll.steps.filter((s) => s.op === 'read' && s.args['arg0'] === '0x400000');
    expect(reads.map((s) => s.value)).toEqual([0xabcdn, 0xabcdn]);
  });
});

describe('shadow-mmu run GUEST.kvm', () => {
  it('prints step summaries, kernel event lines and the audit', async () => {
    const r = await runCli(['run', '--profile', 'v6.18', join(DIR, 'long4.kvm')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toContain('# step 1: read 0x8080604000 -> exit SHUTDOWN, exceptions [[1]], value 0x1111');
    expect(lines.some((l) => l.startsWith('kvm_mmu_get_page: sp gen 0 gfn 101 l3 8-byte q0 wux nxe ad root 0 sync new'))).toBe(true);
    expect(lines.at(-1)).toMatch(/^# audit: ok after \d+ steps$/);
  });
  it('jsonl carries the oracle step objects', async () => {
    const r = await runCli(['run', '--format', 'jsonl', join(DIR, 'pae.kvm')]);
    expect(r.code).toBe(0);
    const recs = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(recs.at(-1)).toEqual({ audit: 'ok', violations: [] });
    expect(recs.find((x) => x['op'] === 'read')).toMatchObject({ value: '0x1111', exceptions: [[1]] });
  });
  it('jsonl carries the step journal: immer patches of the control plane per step, as JSON scenarios do', async () => {
    const r = await runCli(['run', '--format', 'jsonl', join(DIR, 'long4.kvm')]);
    expect(r.code).toBe(0);
    const recs = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const journal = recs.filter((x) => Array.isArray(x['journal'])) as { vm: number; step: number; journal: { op: string; path: (string | number)[]; value?: unknown }[] }[];
    // The warm-up (step 0) creates the root and the code page's chain; the first read the data chain.
    const added = (step: number) => journal.find((j) => j.step === step)!.journal.filter((p) => p.op === 'add' && p.path[0] === 'pages').map((p) => (p.value as { gfn: string }).gfn);
    expect(added(0)).toEqual(['0x100', '0x1fc4', '0x1fc5', '0x1fc6']);
    expect(added(1)).toEqual(['0x101', '0x102', '0x103']);
    expect(journal.find((j) => j.step === 1)!.journal).toContainEqual({ op: 'replace', path: ['kvm', 'n_used_mmu_pages'], value: 7 });
    // A journal record follows its step's record and events, and only steps that changed something have one.
    for (const j of journal) {
      const at = recs.indexOf(j as unknown as Record<string, unknown>);
      expect(recs.slice(0, at).some((x) => x['step'] === j.step && x['op'] !== undefined)).toBe(true);
      expect(j.journal.length).toBeGreaterThan(0);
    }
    const again = await runCli(['run', '--format', 'jsonl', join(DIR, 'long4.kvm')]);
    expect(again.stdout).toBe(r.stdout);
  });
  it('the journal replays: applying every step\'s patches to the creation snapshot gives the state at the end', async () => {
    const { applyPatches } = await import('immer');
    const { snapshot } = await import('../../src/scenario/journal.js');
    const { parseProbeScenario } = await import('../../src/probe/parse.js');
    const { runProbeScenario } = await import('../../src/probe/replay.js');
    const text = readFileSync(join(DIR, 'long4.kvm'), 'utf8');
    const run = runGuestScenario(text, { profile: getProfile('v6.18') });
    let initial: ReturnType<typeof snapshot> | null = null;
    let final: ReturnType<typeof snapshot> | null = null;
    runProbeScenario(parseProbeScenario(text), { profile: getProfile('v6.18'), onCreate: (vm) => (initial = snapshot(vm.vm!.machine)) }, (vm) => (final = snapshot(vm.vm!.machine)));
    expect(initial).not.toBeNull();
    let state = initial!;
    for (const p of run.vms[0]!.journal) state = applyPatches(state, p);
    expect(state).toEqual(final);
  });
  it('a bad guest scenario is one line on stderr, exit 2', async () => {
    const r = await runCli(['run', join(DIR, '..', 'guest.test.ts')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('demo: a guest setting up its tables under two profiles', () => {
  it('the 32-bit PSE guest shows the RFC CR4.PSE test as a concrete root role difference', async () => {
    const { PSE32_SETUP, sideBySide } = await import('../../src/demo/guest-setup.js');
    const r = sideBySide(PSE32_SETUP, 'rfc-v1', 'rfc-v1-pae');
    const diffs = (r.json as { role_diffs: string[]; violations: unknown[] }).role_diffs;
    expect(diffs).toEqual(['  step 8 kvm_mmu_get_page gfn 100: level_promoted 0 (rfc-v1) vs 1 (rfc-v1-pae)']);
    expect((r.json as { violations: unknown[] }).violations).toEqual([]);
  });
});
