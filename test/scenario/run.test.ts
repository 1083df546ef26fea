/** `shadow-mmu run` on the example scenarios: kernel-format trace text, jsonl, errors, determinism. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const DATA = join(dirname(fileURLToPath(import.meta.url)), 'data');
const RE = /^(kvm_mmu_get_page|kvm_mmu_prepare_zap_page|kvm_mmu_sync_page|kvm_mmu_unsync_page): sp gen (\d+) gfn ([0-9a-f]+) l(\d+) ([48])-byte q(\d+)( direct)? ([-w][-u][-x])( invalid)? (!?)nxe (!?)ad root (\d+) (sync|unsync)( new| existing)?$/;

describe('shadow-mmu run', () => {
  it('prints kvmmmu lines in the kernel text format and ends with the audit', async () => {
    const r = await runCli(['run', join(DATA, 'shadow64.json')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toContain('kvm_mmu_get_page: sp gen 0 gfn 10 l4 8-byte q0 wux nxe ad root 0 sync new');
    expect(lines).toContain('kvm_mmu_zap_all_fast: kvm-mmu-valid-gen 0 used_pages 4');
    expect(lines.at(-1)).toBe('# audit: ok after 17 steps');
    for (const l of lines) if (!l.startsWith('#') && !l.startsWith('kvm_mmu_zap_all_fast')) expect(l).toMatch(RE);
    // The 5.16 duplicate: the second get_page of gfn 13 after a clean sync is "new".
    expect(lines.filter((l) => l.startsWith('kvm_mmu_get_page: sp gen 0 gfn 13 l1'))).toHaveLength(2);
  });

  it('jsonl carries full role words, journal patches and the audit', async () => {
    const r = await runCli(['run', '--format', 'jsonl', join(DATA, 'pae-rfc-v1.json')]);
    expect(r.code).toBe(0);
    const recs = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(recs[1]).toEqual({ step: 0, event: 'kvm_mmu_get_page', mmu_valid_gen: 0, gfn: '0x1', role: '0x00082703', root_count: 0, unsync: false, created: true });
    expect(recs.some((x) => Array.isArray(x['journal']))).toBe(true);
    expect(recs.at(-1)).toEqual({ audit: 'ok', steps: 10, violations: [] });
    const link = recs.find((x) => x['op'] === 'link')!;
    expect((link['result'] as Record<string, string>)['spte']).toBe('0x0000000100028801');
  });

  it('vCPU registers give the MMU context; a reset context finds the old root again (v6.18)', async () => {
    const r = await runCli(['run', join(DATA, 'regs-v6.18.json')]);
    expect(r.code).toBe(0);
    const gp = r.stdout.split('\n').filter((l) => l.startsWith('kvm_mmu_get_page'));
    expect(gp).toEqual([
      'kvm_mmu_get_page: sp gen 0 gfn 100 l4 8-byte q0 wux nxe ad root 0 sync new',
      'kvm_mmu_get_page: sp gen 0 gfn 100 l4 8-byte q0 wux nxe ad root 0 sync new',
      'kvm_mmu_get_page: sp gen 0 gfn 100 l4 8-byte q0 wux nxe ad root 0 sync existing',
    ]);
  });

  it('is deterministic', async () => {
    const a = await runCli(['run', '--format', 'jsonl', join(DATA, 'pae-v5.16.json')]);
    const b = await runCli(['run', '--format', 'jsonl', join(DATA, 'pae-v5.16.json')]);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout.length).toBeGreaterThan(100);
  });

  it('bad input: one line on stderr, exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smmu-'));
    const f = join(dir, 'bad.json');
    writeFileSync(f, JSON.stringify({ profile: 'v5.16', vcpu: { mmu: { role: '0x3714', root_level: 4, shadow_root_level: 4 } }, steps: [{ op: 'frobnicate' }] }));
    const r = await runCli(['run', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('shadow-mmu: steps[0].op: unknown op "frobnicate"\n');
    const n = await runCli(['run', join(dir, 'missing.json')]);
    expect(n.code).toBe(2);
    expect(n.stderr).toMatch(/^shadow-mmu: run: cannot read/);
    const u = await runCli(['run', f, '--format', 'xml']);
    expect(u.code).toBe(2);
  });

  it('a step naming an unknown page is an input error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smmu-'));
    const f = join(dir, 's.json');
    writeFileSync(f, JSON.stringify({ profile: 'v6.18', vcpu: { mmu: { role: '0x3704', root_level: 4, shadow_root_level: 4 } }, steps: [{ op: 'zap', page: 'nope' }] }));
    const r = await runCli(['run', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no page named "nope"/);
  });

  it('the demo section runs and shows the verdicts', async () => {
    const r = await runCli(['demo', '--section', 'mmu']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/intel vmentry-fail \(exit reason 0x80000021, qualification 2\)/);
    expect(r.stdout).toMatch(/all four PDPTEs not present \(0\): intel ok/);
    expect(r.stdout).not.toMatch(/audit: [^o]/);
  });
});

describe('run streams', () => {
  it('streamed text equals the whole-run rendering; without a journal no patches are taken', async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { parseScenario, renderText, runScenario, runScenarioSteps } = await import('../../src/scenario/index.js');
    const { runCli } = await import('../support/cli.js');
    const file = join(__dirname, 'data/shadow64.json');
    const sc = parseScenario(JSON.parse(readFileSync(file, 'utf8')), file);
    const r = await runCli(['run', file]);
    expect(r.stdout).toBe(renderText(sc.profile, runScenario(sc)));
    const steps = [...runScenarioSteps(sc, { journal: false })];
    expect(steps.length).toBe(sc.steps.length);
    expect(steps.every((s) => s.patches.length === 0)).toBe(true);
    expect([...runScenarioSteps(sc)].some((s) => s.patches.length > 0)).toBe(true);
    const j = await runCli(['run', file, '--format', 'jsonl', '--no-journal']);
    expect(j.stdout).not.toContain('"journal"');
  });
});
