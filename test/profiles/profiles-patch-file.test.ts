import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DOMAINS } from '../../src/profiles/domains.js';
import { getProfile, PROFILE_NAMES, traitSchema, validatePatch } from '../../src/profiles/index.js';
import { runCli } from '../support/cli.js';

const FIX = 'examples/patches/rfc-pae-root-pae-fix.json';
const dir = mkdtempSync(join(tmpdir(), 'smmu-patch-'));
function file(name: string, json: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof json === 'string' ? json : JSON.stringify(json));
  return p;
}

describe('patch files', () => {
  it('the RFC fix as a file composes to the same traits as the built-in change', () => {
    const builtin = getProfile('rfc-v1-pae');
    for (const spec of [`rfc-v1+${FIX}`, FIX]) {
      const p = getProfile(spec);
      for (const d of Object.keys(DOMAINS)) expect((p as never)[d], `${spec} ${d}`).toEqual((builtin as never)[d]);
      expect(p.changes.at(-1)).toBe('rfc-pae-root-pae-fix-file');
      expect(p.patch_files).toHaveLength(1);
    }
  });

  it('roles diff against the file gives the built-in change\'s 512 differing roots', async () => {
    const a = await runCli(['roles', 'diff', '--profile', 'rfc-v1', '--profile', 'rfc-v1-pae', '--fn', 'shadow_root_role', '--format', 'json']);
    const b = await runCli(['roles', 'diff', '--profile', 'rfc-v1', '--profile', `rfc-v1+${FIX}`, '--fn', 'shadow_root_role', '--format', 'json']);
    expect(b.code).toBe(a.code);
    const ja = JSON.parse(a.stdout) as { differing: number; groups: unknown[]; profiles: string[] };
    const jb = JSON.parse(b.stdout) as typeof ja;
    expect(ja.differing).toBe(512);
    expect(jb.differing).toBe(512);
    expect(jb.profiles).toEqual(['rfc-v1', `rfc-v1+${FIX}`]);
    expect(jb.groups).toEqual(ja.groups);
  });

  it.each([
    ['unknown trait', { name: 'x', traits: { roles: { rfc_pae_roots: 1 } } }, /traits\.roles\.rfc_pae_roots: unknown trait \(known here: page_role, .*rfc_pae_root/],
    ['bad enum', { name: 'x', traits: { roles: { rfc_pae_root: { promoted_test: 'psx' } } } }, /"psx" is not an allowed value \(allowed: pae, pse\)/],
    ['wrong type', { name: 'x', traits: { mmu: { pte_list_head_push: 'yes' } } }, /traits\.mmu\.pte_list_head_push: expected boolean, got string "yes"/],
    ['unknown domain', { name: 'x', traits: { rolez: {} } }, /traits\.rolez: unknown domain \(expected general, roles/],
    ['partial nullable object', { name: 'x', traits: { roles: { rfc_pae_root: {} } } }, /must give every field; missing promoted_test/],
    ['bad name', { name: 'a b', traits: {} }, /name: expected a change name/],
    ['no traits', { name: 'x' }, /traits: expected an object of domains/],
    ['bad array element', { name: 'x', traits: { roles: { sync_ignore: [1] } } }, /sync_ignore\[0\]: expected string, got 1/],
    ['fractional number', { name: 'x', traits: { general: { kernel_version: 6.5 } } }, /expected an integer, got 6\.5/],
  ])('refuses %s with a message naming the trait', (_n, json, re) => {
    expect(() => validatePatch(json, 'p.json')).toThrow(re);
  });

  it('a bad file is one stderr line and exit 2 from the CLI', async () => {
    const bad = file('bad.json', { name: 'x', traits: { roles: { pipeline: 'cpu' } } });
    const r = await runCli(['profiles', '--traits', '--profile', `v6.18+${bad}`]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('traits.roles.pipeline: "cpu" is not an allowed value (allowed: cpu_role, mmu_role)');
    const nojson = file('nojson.json', '{ not json');
    expect((await runCli(['profiles', '--traits', '--profile', `v6.18+${nojson}`])).stderr).toMatch(/not JSON/);
    const nobase = file('nobase.json', { name: 'y', traits: {} });
    expect((await runCli(['profiles', '--traits', '--profile', nobase])).stderr).toMatch(/has no "base" profile/);
    expect((await runCli(['profiles', '--traits', '--profile', `v6.18+${FIX}+${FIX}`])).stderr).toMatch(/already part of/);
  });
});

describe('profiles --traits', () => {
  it('lists every schema trait with its value in every shipped profile', async () => {
    const r = await runCli(['profiles', '--traits', '--format', 'json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { profiles: string[]; traits: { trait: string; by_profile: Record<string, unknown>; values: string[] | null }[] };
    expect(j.profiles).toEqual(PROFILE_NAMES);
    expect(j.traits.map((t) => t.trait)).toEqual(traitSchema().map((t) => `${t.domain}.${t.path}`));
    const pt = j.traits.find((t) => t.trait === 'roles.rfc_pae_root.promoted_test')!;
    expect(pt.values).toEqual(['pae', 'pse']);
    expect(pt.by_profile).toEqual({ 'v5.16': null, 'rfc-base': null, 'rfc-v1': 'pse', 'rfc-v1-pae': 'pae', 'v6.18': null });
    expect(j.traits.find((t) => t.trait === 'general.kernel_version')!.by_profile['v6.18']).toBe(618);
  });
  it('text form with --profile shows only those profiles', async () => {
    const r = await runCli(['profiles', '--traits', '--profile', 'v5.16', '--profile', 'v6.18']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/pipeline {2}\(string: cpu_role \| mmu_role\)\n {6}v5\.16 {2}"mmu_role"\n {6}v6\.18 {2}"cpu_role"/);
    expect(r.stdout).not.toContain('rfc-v1');
  });
});
