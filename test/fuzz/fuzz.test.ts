import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { genVmScenario, MODES, vmSeed } from '../../src/fuzz/gen.js';
import { genGuestScenario, GUEST_MODES } from '../../src/fuzz/gen-guest.js';
import { runFuzzCase } from '../../src/fuzz/run.js';
import { shrinkCase } from '../../src/fuzz/shrink.js';
import { getProfile, PROFILE_NAMES } from '../../src/profiles/index.js';
import { runCli } from '../support/cli.js';

describe('fuzz', () => {
  it('a fixed-seed slice over every profile and guest mode: no audit violation, no cross-check failure', async () => {
    const r = await runCli(['fuzz', '--kind', 'vm', '--seed', '7', '--ops', '30000', '--steps-per-vm', '60', '--format', 'json']);
    const j = JSON.parse(r.stdout);
    expect(j.failures).toEqual([]);
    expect(r.code).toBe(0);
    expect(j.steps).toBe(30000);
    expect(j.checks).toBeGreaterThan(1000);
    expect(Object.keys(j.modes).sort()).toEqual(MODES.map((m) => m.name).sort());
    expect(j.profiles).toEqual([...PROFILE_NAMES]);
  }, 120_000);

  it('guests in the kvm-probe language through the instruction executor: a fixed-seed slice, no failure', async () => {
    const r = await runCli(['fuzz', '--kind', 'guest', '--seed', '8', '--ops', '12000', '--steps-per-vm', '60', '--format', 'json']);
    const j = JSON.parse(r.stdout);
    expect(j.failures).toEqual([]);
    expect(r.code).toBe(0);
    expect(j.vms).toBe(200);
    expect(j.steps).toBeGreaterThan(10000);
    expect(j.unsupported).toBeLessThan(10);
    expect(Object.keys(j.modes).sort()).toEqual(GUEST_MODES.map((m) => m.name).sort());
  }, 120_000);

  it('JSON op sequences on the shadow-page machinery (failures injected at cache sites): a fixed-seed slice, no failure; a recorded case replays', async () => {
    const r = await runCli(['fuzz', '--kind', 'ops', '--seed', '9', '--ops', '20000', '--format', 'json']);
    const j = JSON.parse(r.stdout);
    expect(j.failures).toEqual([]);
    expect(r.code).toBe(0);
    expect(j.vms).toBe(200);
    expect(j.steps).toBeGreaterThan(10000);
    expect(Object.keys(j.modes).sort()).toEqual(['ops-64', 'ops-pae']);
    const { runOpsCase, replayOps } = await import('../../src/fuzz/ops.js');
    const rec = runOpsCase(vmSeed(9, 4), getProfile('rfc-v1'), 80);
    expect(rec.failure).toBeNull();
    expect((rec.scenario['steps'] as unknown[]).length).toBe(rec.steps);
    expect(replayOps(rec.scenario)).toBeNull();
    // The recorded steps are a JSON op scenario shadow-mmu run takes as it is.
    const dir = mkdtempSync(join(tmpdir(), 'smmu-ops-'));
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'ops.json'), JSON.stringify(rec.scenario));
    const run = await runCli(['run', join(dir, 'ops.json')]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`# audit: ok after ${rec.steps} steps\n$`));
  }, 120_000);

  it('the same seed gives the same cases however the VMs are split over workers', async () => {
    // Worker threads run the compiled CLI (dist/), as npm test builds it first.
    const { execFileSync } = await import('node:child_process');
    const bin = join(__dirname, '../../bin/shadow-mmu.js');
    const a = execFileSync(process.execPath, [bin, 'fuzz', '--ops', '3000', '--format', 'json'], { encoding: 'utf8' });
    const b = execFileSync(process.execPath, [bin, 'fuzz', '--ops', '3000', '--workers', '3', '--format', 'json'], { encoding: 'utf8' });
    expect(b).toBe(a);
    expect(JSON.parse(a).vms).toBe(30);
    expect(JSON.stringify(genVmScenario(vmSeed(5, 9), 50))).toBe(JSON.stringify(genVmScenario(vmSeed(5, 9), 50)));
    expect(JSON.stringify(genVmScenario(vmSeed(5, 9), 50))).not.toBe(JSON.stringify(genVmScenario(vmSeed(5, 10), 50)));
  }, 60_000);

  it('the cross-check catches shadow tables that allow more than the guest does', () => {
    const sc = {
      regs: { cr0: '0x80010033', cr4: '0x20', efer: '0xd00' },
      table_format: 'pt64-4',
      guest: { map: [{ va: '0x400000', gpa: '0x300000', flags: '0x25' }] },
      steps: [
        { op: 'access', va: '0x400000', access: 'read', cpl: 3 },
        { op: 'access', va: '0x400008', access: 'write', cpl: 3, value: '0x1' },
      ],
    };
    const p = getProfile('v6.18');
    expect(runFuzzCase(sc, p).failure).toBeNull();
    // Make every present leaf SPTE writable behind the model's back: the write now goes through.
    const r = runFuzzCase(sc, p, {
      afterStep: (run, i) => {
        if (i !== 0) return;
        for (const sp of run.machine.kvm.pages) {
          if (run.machine.kvm.level(sp) !== 1) continue;
          for (let k = 0; k < 512; k++) if (sp.spt[2 * k]! & 1) sp.spt[2 * k] = (sp.spt[2 * k]! | 2) >>> 0;
        }
      },
    });
    expect(r.failure).toMatchObject({ step: 1 });
    expect(r.failure!.what).toMatch(/shadow tables allow write of 0x400008 at CPL 3 .* the guest's tables refuse it|writable/);
  });

  it('a failing case shrinks to the steps that matter and replays from its file', async () => {
    const sc = genVmScenario(vmSeed(3, 1), 60);
    const p = getProfile('v5.16');
    // A stand-in bug: the model "fails" once it holds three shadow pages.
    const opts = { afterStep: (run: { machine: { kvm: { pages: { size: number } } } }) => { if (run.machine.kvm.pages.size >= 3) throw new Error('three pages'); } };
    const r = runFuzzCase(sc, p, opts as never);
    expect(r.failure).toMatchObject({ kind: 'error' });
    const small = shrinkCase(sc, p, r.failure!, 2000, opts as never);
    expect((small.scenario['steps'] as unknown[]).length).toBeLessThanOrEqual(2);
    expect((small.scenario['guest'] as { map: unknown[] }).map.length).toBeLessThanOrEqual(2);
    expect(small.failure.what).toMatch(/three pages/);
  });

  it('--replay: a saved scenario, and bad arguments', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smmu-fuzz-'));
    const f = join(dir, 'ok.json');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(f, JSON.stringify(genVmScenario(vmSeed(1, 2), 30)));
    const ok = await runCli(['fuzz', '--replay', f, '--profile', 'rfc-v1']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^ok: 30 steps, \d+ cross-checks\n$/);
    for (const argv of [['fuzz', '--replay', f], ['fuzz', '--ops', '0'], ['fuzz', '--workers', '-2'], ['fuzz', '--profile', 'v9'], ['fuzz', '--replay', join(dir, 'none.json'), '--profile', 'v6.18']]) {
      const e = await runCli(argv);
      expect(e.code, argv.join(' ')).toBe(2);
      expect(e.stderr.trim().split('\n')).toHaveLength(1);
    }
    const g = join(dir, 'ok.kvm');
    writeFileSync(g, genGuestScenario(vmSeed(1, 3), 20));
    const okg = await runCli(['fuzz', '--replay', g, '--profile', 'v6.18']);
    expect(okg.code).toBe(0);
    expect(okg.stdout).toMatch(/^ok: \d+ steps/);
    expect(readdirSync(dir).sort()).toEqual(['ok.json', 'ok.kvm']);
    void readFileSync;
  });
});
