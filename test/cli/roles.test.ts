import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const oneLineError = (r: { code: number; stderr: string; stdout: string }) => {
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
};

describe('shadow-mmu roles', () => {
  it('decode: fields and tracepoint text, text and json', async () => {
    const t = await runCli(['roles', 'decode', '0x00061705', '--profile', 'v6.18']);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/passthrough=1/);
    expect(t.stdout).toMatch(/trace: l5 8-byte q0 wux nxe ad/);
    const j = JSON.parse((await runCli(['roles', 'decode', '0x00080783', '--profile', 'rfc-v1', '--format', 'json'])).stdout);
    expect(j.fields).toMatchObject({ level: 3, direct: 1, pae_root: 1 });
    const x = JSON.parse((await runCli(['roles', 'decode', '0xd', '--union', 'ext', '--profile', 'v5.16', '--format', 'json'])).stdout);
    expect(x.fields).toMatchObject({ valid: 1, cr0_pg: 1, cr4_pae: 1 });
  });

  it('encode: FIELD=VALUE to a word; unknown field / too wide / missing profile are one-line errors', async () => {
    const j = JSON.parse((await runCli(['roles', 'encode', 'level=4', 'direct=1', 'access=7', 'gpte_is_8_bytes=1', '--profile', 'v5.16', '--format', 'json'])).stdout);
    expect(j.word).toBe('0x00000794');
    const bad = await runCli(['roles', 'encode', 'pae_root=1', '--profile', 'v6.18']);
    oneLineError(bad);
    expect(bad.stderr).toMatch(/no field "pae_root"/);
    oneLineError(await runCli(['roles', 'encode', 'level=16', '--profile', 'v6.18']));
    oneLineError(await runCli(['roles', 'encode', 'level=4']));
    oneLineError(await runCli(['roles', 'encode', 'level', '--profile', 'v6.18']));
  });

  it('calc: root role, decoded, and the guest CPU role', async () => {
    const t = await runCli(['roles', 'calc', '--mmu', 'shadow', '--cr0', '0x80010001', '--cr4', '0x20', '--efer', '0x800', '--profile', 'v6.18']);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/root role {3}0x00003703 {2}l3 8-byte q0 wux nxe ad/);
    expect(t.stdout).toMatch(/cpu role {4}0x00003703/);
    const j = JSON.parse(
      (await runCli(['roles', 'calc', '--mmu', 'tdp', '--cr0', '0x80000001', '--cr4', '0x1020', '--efer', '0x500', '--host', 'ept5-noad', '--profile', 'v5.16', '--format', 'json'])).stdout,
    );
    expect(j.root_role.word).toBe('0x00010795');
    expect(j.root_level).toBe(5);
    expect(j.host).toBe('ept5-noad');
    const npt = JSON.parse((await runCli(['roles', 'calc', '--mmu', 'npt', '--cr0', '0x80000001', '--cr4', '0x20', '--efer', '0x500', '--host', 'npt5', '--profile', 'v6.18', '--format', 'json'])).stdout);
    expect(npt.root_role.fields.passthrough).toBe(1);
  });

  it('calc: bad registers, hosts and kinds are one-line errors', async () => {
    oneLineError(await runCli(['roles', 'calc', '--mmu', 'shadow', '--cr0', '0x80000000', '--cr4', '0', '--efer', '0', '--profile', 'v6.18']));
    oneLineError(await runCli(['roles', 'calc', '--mmu', 'tdp', '--cr0', '0', '--cr4', '0', '--efer', '0', '--host', 'nope', '--profile', 'v6.18']));
    oneLineError(await runCli(['roles', 'calc', '--mmu', 'xyz', '--cr0', '0', '--cr4', '0', '--efer', '0', '--profile', 'v6.18']));
    oneLineError(await runCli(['roles', 'calc', '--mmu', 'tdp', '--cr4', '0', '--efer', '0', '--profile', 'v6.18']));
    oneLineError(await runCli(['roles', 'calc', '--mmu', 'tdp', '--cr0', 'zz', '--cr4', '0', '--efer', '0', '--profile', 'v6.18']));
    oneLineError(await runCli(['roles', 'calc', '--mmu', 'npt', '--cr0', '0', '--cr4', '0', '--efer', '0', '--profile', 'v6.18']));
    oneLineError(await runCli(['roles', 'nope']));
  });

  it('diff rfc-v1 vs rfc-v1-pae: exactly the 512 shadow roots where CR4.PSE was tested instead of CR4.PAE', async () => {
    const j = JSON.parse((await runCli(['roles', 'diff', '--profile', 'rfc-v1', '--profile', 'rfc-v1-pae', '--fn', 'shadow_root_role', '--format', 'json'])).stdout);
    expect(j.inputs).toBe(5632);
    expect(j.differing).toBe(512);
    const groups = j.groups.map((g: { when: string[]; count: number; changes: { field: string; a: number; b: number }[] }) => ({
      when: [...g.when].sort().join(' '),
      count: g.count,
      changes: g.changes,
    }));
    expect(groups).toContainEqual({ when: 'CR0.PG=1 CR4.PAE=0 CR4.PSE=1', count: 256, changes: [{ field: 'level_promoted', a: 0, b: 1 }] });
    expect(groups).toContainEqual({ when: 'CR0.PG=1 CR4.PAE=1 CR4.PSE=0 EFER.LMA=0', count: 256, changes: [{ field: 'level_promoted', a: 1, b: 0 }] });
    const t = await runCli(['roles', 'diff', '--profile', 'rfc-v1', '--profile', 'rfc-v1-pae', '--fn', 'shadow_root_role']);
    expect(t.stdout).toMatch(/512 of 5632 inputs differ, in 2 groups/);
  });

  it('diff v5.16 vs v6.18: forced efer_nx for every paging-off shadow root, and the rest', async () => {
    const j = JSON.parse((await runCli(['roles', 'diff', '--profile', 'v5.16', '--profile', 'v6.18', '--fn', 'shadow_root_role', '--format', 'json'])).stdout);
    expect(j.differing).toBe(5632);
    expect(j.groups[0]).toMatchObject({ when: ['CR0.PG=0'], count: 4096, changes: [{ field: 'efer_nx', a: 0, b: 1 }] });
    const nx = j.groups.filter((g: { changes: { field: string }[] }) => g.changes.some((c) => c.field === 'efer_nx'));
    expect(nx.reduce((s: number, g: { count: number }) => s + g.count, 0)).toBe(4096 + 768);
  });

  it('diff --common-fields: v5.16 vs v6.18 shadow roots differ only by the forced efer_nx', async () => {
    const j = JSON.parse((await runCli(['roles', 'diff', '--profile', 'v5.16', '--profile', 'v6.18', '--fn', 'shadow_root_role', '--common-fields', '--format', 'json'])).stdout);
    expect(j.differing).toBe(4096 + 768);
    expect(j.groups.map((g: { when: string[]; count: number }) => [g.when.join(' '), g.count])).toEqual([
      ['CR0.PG=0', 4096],
      ['CR0.PG=1 EFER.NX=0', 768],
    ]);
  });

  it('diff: needs two profiles and an enumerable fn', async () => {
    oneLineError(await runCli(['roles', 'diff', '--profile', 'v5.16', '--fn', 'shadow_root_role']));
    oneLineError(await runCli(['roles', 'diff', '--profile', 'v5.16', '--profile', 'v6.18', '--fn', 'decode']));
    oneLineError(await runCli(['roles', 'diff', '--profile', 'v5.16', '--profile', 'v6.18', '--fn', 'cpu_role']));
  });

  it('eval: a role fn of the other pipeline, or a bad input, is a per-line error naming it', async () => {
    const lines = [
      '{"profile":"v6.18","fn":"sp_role","in":{}}',
      '{"profile":"v5.16","fn":"cpu_role","in":{"cr0":"0x0","cr4":"0x0","efer":"0x0","smm":0,"guest_mode":0}}',
      '{"profile":"v5.16","fn":"shadow_root_role","in":{"cr0":"zz","cr4":"0x0","efer":"0x0","smm":0,"guest_mode":0}}',
      '{"profile":"v5.16","fn":"root_level","in":{"cr0":"0x80000001","cr4":"0x20","efer":"0x0"}}',
    ];
    const r = await runCli(['eval'], lines.join('\n') + '\n');
    expect(r.code).toBe(1);
    const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(out[0].error).toMatch(/sp_role models 5.x kernel code; profile v6.18 does not have it/);
    expect(out[1].error).toMatch(/cpu_role models 5.19\+ kernel code/);
    expect(out[2].error).toMatch(/in.cr0/);
    expect(out[3].out).toEqual({ root_level: 3 });
  });
});
