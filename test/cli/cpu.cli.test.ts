import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'shadow-mmu-cpu-'));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const TABLE = file(
  'table.json',
  JSON.stringify([
    { function: '0x0', eax: '0xd', ebx: '0x756e6547', ecx: '0x6c65746e', edx: '0x49656e69' },
    { function: '0x1', eax: '0x906ea' },
    { function: '0xd', index: 0, flags: 1, eax: '0x2e7' },
  ]),
);
const BAD_JSON = file('bad.json', '{"entries": [ {"function": ');
const BAD_ENTRY = file('bad-entry.json', '[{"function": "0x1ffffffff"}]');
const STATE = file('state.json', JSON.stringify({ fs_base: '0x00ff800000000000', cr4: '0x20' }));

async function oneLineError(argv: string[], re: RegExp): Promise<void> {
  const r = await runCli(argv);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(re);
  expect(r.stdout).toBe('');
}

describe('cpu commands: results', () => {
  it('canonical: K6 of cpu-features.md A.2 (5.16 #GP, 6.18 accepts the MSR write)', async () => {
    const r = await runCli(['canonical', '0x0000_8000_0000_0000', '--profile', 'v5.16', '--profile', 'v6.18', '--format', 'json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.canonical48).toBe(false);
    expect(j.profiles.map((p: { wrmsr_fs_base: string }) => p.wrmsr_fs_base)).toEqual(['#GP', 'ok']);
    expect(j.profiles.map((p: { invlpg: string }) => p.invlpg)).toEqual(['NOP', 'flush']);
  });

  it('lam untag: A.1 L7 (LAM_U48 strips bits 62:48)', async () => {
    const r = await runCli(['lam', 'untag', '0x7eab123456789000', '--cr3', '0x4000000012345000', '--cr4', '0x20', '--profile', 'v6.18', '--format', 'json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).profiles[0]).toMatchObject({ lam_mode: 'LAM_U48', untagged: '0x0000123456789000', canonical: true });
    const t = await runCli(['lam', 'untag', '0x81ff800012345000', '--cr3', '0x1000', '--cr4', '0x10000020', '--la57', '--profile', 'v6.18']);
    expect(t.stdout).toMatch(/LAM_S57/);
  });

  it('lam cr3: the root keeps the LAM bits, the GFN does not', async () => {
    const r = await runCli(['lam', 'cr3', '--cr3', '0x2000000012345000', '--profile', 'v6.18', '--format', 'json']);
    expect(JSON.parse(r.stdout).profiles[0]).toMatchObject({ mov_cr3: 'ok', root_gfn: '0x0000000000012345', root_pgd: '0x2000000012345000' });
  });

  it('tdp-check: the ept_5level thread, kvm@vger.kernel.org 2024-01-10 host loops in mainline, exits with the profile change', async () => {
    const r = await runCli(['tdp-check', '--host', 'ept4-52', '--maxphyaddr', '52', '--memslot', '0xf000000000000:0x10000000', '--format', 'json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout).profiles as { profile: string; on_access: { kind: string } }[];
    expect(j.find((p) => p.profile === 'v6.18')!.on_access.kind).toBe('loop');
    expect(j.find((p) => p.profile === 'v6.18+unmappable-gpa-exit-memory-fault')!.on_access).toMatchObject({ kind: 'exit', exit_reason: 39 });
  });

  it('migrate-check: FS base 57-canonical cannot move to a host without LA57', async () => {
    const r = await runCli(['migrate-check', '--state', STATE, '--src', 'la57', '--dst', 'no-la57', '--profile', 'v6.18']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/cannot move: fs_base breaks it/);
    const ok = await runCli(['migrate-check', '--fs-base', '0x7fff00001000', '--dst', 'ept4', '--profile', 'v6.18']);
    expect(ok.stdout).toMatch(/can move/);
  });

  it('cpuid query/set/caps', async () => {
    const q = await runCli(['cpuid', 'query', '--table', TABLE, '--leaf', '0xe', '--profile', 'v6.18', '--format', 'json']);
    expect(JSON.parse(q.stdout).profiles[0]).toMatchObject({ eax: '0x000002e7', used_max_basic: true });
    const f = await runCli(['cpuid', 'query', '--table', TABLE, '--leaf', '1', '--cpl', '3', '--cpuid-fault', '--profile', 'v5.16']);
    expect(f.stdout).toMatch(/#GP/);
    const s = await runCli(['cpuid', 'set', '--table', TABLE, '--nent', '300', '--profile', 'v5.16']);
    expect(s.stdout).toMatch(/-E2BIG/);
    const n = await runCli(['cpuid', 'caps', '--host', 'npt5', '--no-config-5level', '--profile', 'v5.16', '--profile', 'v6.18', '--format', 'json']);
    // A.5 B7 (5.16 without CONFIG_X86_5LEVEL) vs B13 (6.18 has no such option)
    expect(JSON.parse(n.stdout).profiles.map((p: { l5_required: boolean }) => p.l5_required)).toEqual([false, true]);
    const c = await runCli(['cpuid', 'caps', '--host', 'npt5-no5lvl', '--profile', 'v6.18', '--format', 'json']);
    expect(JSON.parse(c.stdout).profiles[0]).toMatchObject({ l5_required: false, kvm_la57: true, max_tdp_level: 4 });
  });
});

describe('demo section cpu', () => {
  it('is deterministic and shows the seed-002 loop and the explicit exit', async () => {
    const a = await runCli(['demo', '--section', 'cpu']);
    const b = await runCli(['demo', '--section', 'cpu']);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).toMatch(/guest loops on the same fault/);
    expect(a.stdout).toMatch(/KVM_EXIT_MEMORY_FAULT/);
  });
});

describe('cpu commands: bad input is one line on stderr, exit 2', () => {
  it('addresses over 64 bits', async () => {
    await oneLineError(['canonical', '0x10000000000000000'], /does not fit in 64 bits/);
    await oneLineError(['lam', 'untag', '0x1_0000_0000_0000_0000', '--cr3', '0'], /does not fit in 64 bits/);
    await oneLineError(['lam', 'untag', '0x1000', '--cr3', '0x10000000000000000'], /--cr3.*64 bits/);
    await oneLineError(['migrate-check', '--fs-base', '0x10000000000000000', '--dst', 'la57'], /64 bits/);
    await oneLineError(['tdp-check', '--host', 'ept4', '--maxphyaddr', '52', '--memslot', '0x10000000000000000:0x1000'], /64 bits/);
  });
  it('malformed numbers and unknown choices', async () => {
    await oneLineError(['canonical', 'zzz'], /expected a hex/);
    await oneLineError(['canonical'], /exactly one ADDR/);
    await oneLineError(['lam', 'untag', '0x1', '--cr3', '0', '--access', 'teleport'], /--access must be/);
    await oneLineError(['lam', 'frobnicate'], /expected "untag" or "cr3"/);
    await oneLineError(['tdp-check', '--host', 'nosuchhost', '--maxphyaddr', '52'], /cannot read nosuchhost/);
    await oneLineError(['tdp-check', '--host', 'ept4', '--maxphyaddr', '99'], /outside 1..52/);
    await oneLineError(['tdp-check', '--host', 'ept4', '--maxphyaddr', '52', '--memslot', '0x1000'], /BASE:SIZE/);
    await oneLineError(['canonical', '0x1', '--profile', 'v9.99'], /unknown profile/);
    await oneLineError(['tdp-check', '--host', 'ept4', '--maxphyaddr', '52', '--profile', 'v6.18+nope'], /unknown change/);
  });
  it('unknown leaves and malformed CPUID JSON', async () => {
    await oneLineError(['cpuid', 'query', '--table', TABLE, '--leaf', '0x1ffffffff'], /--leaf.*32 bits/);
    await oneLineError(['cpuid', 'query', '--table', TABLE, '--leaf', 'leafy'], /--leaf: expected a hex/);
    await oneLineError(['cpuid', 'query', '--table', BAD_JSON, '--leaf', '1'], /malformed CPUID JSON/);
    await oneLineError(['cpuid', 'query', '--table', BAD_ENTRY, '--leaf', '1'], /function.*32 bits/);
    await oneLineError(['cpuid', 'caps', '--host', BAD_JSON], /malformed JSON/);
    await oneLineError(['cpuid', 'nope'], /expected query, set or caps/);
    await oneLineError(['migrate-check', '--state', BAD_JSON, '--dst', 'la57'], /malformed JSON/);
    await oneLineError(['migrate-check', '--dst', 'la57'], /no registers given/);
  });
  it('--help works for every cpu command', async () => {
    for (const c of ['canonical', 'lam', 'cpuid', 'tdp-check', 'migrate-check']) {
      const r = await runCli([c, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/usage: shadow-mmu/);
    }
  });
});
