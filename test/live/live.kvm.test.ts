/**
 * The live runner on this machine's /dev/kvm. These tests need /dev/kvm, a C compiler and
 * tracefs: without them each test says why it could not run and vitest counts it as skipped;
 * with CI_REQUIRE_KVM set (.ci/run sets it where /dev/kvm exists) a missing piece is a failure.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LiveSession, runLiveScenario } from '../../src/live/replay.js';
import { kvmAvailable, LiveUnavailable, RunnerError, runnerBinary } from '../../src/live/runner.js';
import { oracleStep } from '../../src/probe/encode.js';
import { parseProbeScenario } from '../../src/probe/parse.js';
import { getProfile } from '../../src/profiles/index.js';
import { runCli } from '../support/cli.js';
import { GOLDEN_DIR } from '../support/golden.js';

const ROOT = join(__dirname, '..', '..');

function whyNot(): string | null {
  const k = kvmAvailable();
  if (k) return k;
  try {
    runnerBinary();
  } catch (e) {
    if (e instanceof LiveUnavailable) return e.reason;
    throw e;
  }
  try {
    new LiveSession().close();
  } catch (e) {
    if (e instanceof LiveUnavailable) return e.reason;
    throw e;
  }
  return null;
}

const WHY = whyNot();
if (WHY) console.warn(`live KVM tests cannot run here: ${WHY}`);

describe('CI and live KVM', () => {
  it('CI_REQUIRE_KVM: the live tests run', () => {
    if (process.env['CI_REQUIRE_KVM']) expect(WHY, 'CI_REQUIRE_KVM is set but the live runner cannot run').toBeNull();
    expect(typeof (WHY ?? '')).toBe('string');
  });
});

describe.skipIf(WHY !== null)('the live runner on /dev/kvm', () => {
  let session: LiveSession | null = null;
  const live = () => (session ??= new LiveSession());
  afterAll(() => session?.close());

  it('speaks its protocol: memory writes read back, bad commands fail with a message and change nothing', () => {
    const r = live().runner;
    expect(r.one('version', 'version')[0]).toBe('1');
    r.cmd('mem 0x100000');
    r.cmd('w 0x1000 8 0x1122334455667788');
    expect(r.one('r 0x1004 4', 'v')[0]).toBe('0x11223344');
    expect(() => r.cmd('r 0x100000 8')).toThrow(RunnerError);
    expect(() => r.cmd('r 0xffff9 8')).toThrow(/outside guest RAM/);
    expect(() => r.cmd('frobnicate')).toThrow(/unknown command 'frobnicate'/);
    expect(() => r.cmd('sregs 1 2 3')).toThrow(/expected CR0 CR3 CR4 EFER/);
    expect(() => r.cmd('run 10')).toThrow(/no VM/);
    expect(r.one('r 0x1000 8', 'v')[0]).toBe('0x1122334455667788');
  });

  it('runs a guest: the root and the code page at warm-up, a user read through four new shadow pages', () => {
    const [vm] = runLiveScenario(live(), parseProbeScenario(['vm name=t cpl=3 wp=1 nx=1', 'map 0x8080604000 0x300000', 'poke 0x300000 0x1111', 'read 0x8080604000']), { profile: getProfile('v6.18') });
    const [warm, read] = vm!.steps.map((s) => oracleStep(s));
    expect(warm!['exit']).toBe('SHUTDOWN');
    expect((warm!['mmu'] as Record<string, unknown>[])[0]).toEqual({ ev: 'get_page', gfn: '0x100', role: '0x3704', created: 1, root_count: 0, unsync: 0 });
    expect(read!['value']).toBe('0x1111');
    expect(read!['exceptions']).toEqual([[1]]);
    expect((read!['mmu'] as Record<string, unknown>[]).filter((e) => e['ev'] === 'get_page').map((e) => e['role'])).toEqual(['0x3703', '0x3702', '0x3701']);
    expect(vm!.teardownEvents.length).toBeGreaterThan(0);
  });

  it('records what the golden recordings hold, byte for byte (golden/live)', () => {
    const dir = join(GOLDEN_DIR, 'live');
    for (const n of readdirSync(dir).filter((x) => statSync(join(dir, x)).isDirectory())) {
      const vms = runLiveScenario(live(), parseProbeScenario(readFileSync(join(dir, n, 'scenario.kvm'), 'utf8')), { profile: getProfile('v6.18') });
      const got = vms.flatMap((vm, i) => vm.steps.map((s) => JSON.stringify({ vm: i, step: s.step, ...oracleStep(s) })));
      expect(got.join('\n') + '\n', n).toBe(readFileSync(join(dir, n, 'steps.jsonl'), 'utf8'));
    }
  });

  it('kvm diff: every guest scenario of test/scenario/guest and examples agrees with the model (v6.18)', async () => {
    const files = [
      ...readdirSync(join(ROOT, 'test/scenario/guest')).map((f) => join(ROOT, 'test/scenario/guest', f)),
      ...readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.kvm')).map((f) => join(ROOT, 'examples', f)),
    ].filter((f) => f.endsWith('.kvm'));
    expect(files.length).toBeGreaterThanOrEqual(8);
    for (const f of files) {
      const r = await runCli(['kvm', 'diff', f]);
      expect(r.code, `${f}\n${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/agree/);
    }
  });

  it('kvm diff: a patch profile that changes the roles differs from this KVM, exit 1, the first divergence named', async () => {
    const r = await runCli(['kvm', 'diff', join(ROOT, 'examples/rfc-pse-slip.kvm'), '--profile', 'rfc-v1']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/# first divergence: vm 0 step 1/);
    expect(r.stdout).toMatch(/\+kvm_mmu_get_page: sp gen 0 gfn 40000 l2 8-byte q0 direct wux nxe ad/);
    const j = await runCli(['kvm', 'diff', join(ROOT, 'examples/rfc-pse-slip.kvm'), '--profile', 'rfc-v1', '--format', 'json']);
    expect(j.code).toBe(1);
    const o = JSON.parse(j.stdout) as { differs: boolean; pairs: { a: string; b: string; summary: { firstDivergence: { step: number } } }[] };
    expect(o.differs).toBe(true);
    expect([o.pairs[0]!.a, o.pairs[0]!.b, o.pairs[0]!.summary.firstDivergence.step]).toEqual(['rfc-v1', 'kvm', 1]);
  });

  it('kvm run --record keeps the tracefs text, the step records and the scenario', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smmu-rec-'));
    const r = await runCli(['kvm', 'run', join(ROOT, 'test/scenario/guest/long4.kvm'), '--record', dir, '--format', 'jsonl']);
    expect(r.code, r.stderr).toBe(0);
    const trace = readFileSync(join(dir, 'trace.txt'), 'utf8');
    expect(trace).toMatch(/kvm_mmu_get_page: mmu_valid_gen=\(0\) gfn=0x100 \(256\) role=0x3704 \(14084\)/);
    expect(readFileSync(join(dir, 'steps.jsonl'), 'utf8').split('\n').filter(Boolean).length).toBe(r.stdout.split('\n').filter((l) => /"op"/.test(l)).length);
    expect(readFileSync(join(dir, 'scenario.kvm'), 'utf8')).toBe(readFileSync(join(ROOT, 'test/scenario/guest/long4.kvm'), 'utf8'));
  });

  it('kvm fuzz: 500 random VMs, no difference between this KVM and the model', async () => {
    const out = mkdtempSync(join(tmpdir(), 'smmu-kfz-'));
    const r = await runCli(['kvm', 'fuzz', '--seed', '11', '--vms', '500', '--steps', '30', '--out', out, '--format', 'json']);
    const j = JSON.parse(r.stdout) as { vms: number; steps: number; events: number; differences: { what: string; file: string }[] };
    expect(j.vms).toBe(500);
    expect(j.steps).toBeGreaterThan(500 * 25);
    expect(j.events).toBeGreaterThan(50_000);
    expect(j.differences.map((d) => `${d.what} (${d.file})`)).toEqual([]);
    expect(r.code).toBe(0);
  }, 600_000);
});

describe('kvm: a machine that cannot run it', () => {
  it('exits 77 with the reason on one line (no C compiler and nothing cached)', () => {
    const cache = mkdtempSync(join(tmpdir(), 'smmu-nocc-'));
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/shadow-mmu.js'), 'kvm', 'run', join(ROOT, 'test/scenario/guest/long4.kvm')], { encoding: 'utf8', env: { PATH: cache, SHADOW_MMU_CACHE: cache, HOME: cache } });
    expect(r.status).toBe(77);
    expect(r.stderr).toMatch(/^shadow-mmu kvm: cannot run on this machine: (\/dev\/kvm: E\w+|no C compiler \(cc, gcc, clang\) on PATH)\n$/);
    expect(r.stdout).toBe('');
  });

  it('refuses bad input before touching KVM: exit 2, one line', async () => {
    const r = await runCli(['kvm', 'diff', join(ROOT, 'examples/guest-4level.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/JSON scenario: live runs take guests in the kvm-probe language/);
    const u = await runCli(['kvm', 'launch']);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/unknown subcommand "launch"/);
  });
});
