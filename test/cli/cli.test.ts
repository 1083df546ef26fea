import { PROFILE_NAMES } from '../../src/profiles/index.js';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

describe('cli', () => {
  it('prints usage for --help and exits 2 without a command', async () => {
    expect((await runCli(['--help'])).code).toBe(0);
    expect((await runCli(['--help'])).stdout).toMatch(/usage: shadow-mmu/);
    const r = await runCli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('shadow-mmu: expected a command (see: shadow-mmu --help)\n');
  });

  it('an unknown command is one line on stderr and exit 2', async () => {
    const r = await runCli(['nope']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/unknown command "nope"/);
  });

  it('bad options are one-line usage errors', async () => {
    const r = await runCli(['profiles', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const f = await runCli(['profiles', '--format', 'xml']);
    expect(f.code).toBe(2);
    expect(f.stderr).toMatch(/--format must be text or json/);
  });

  it('eval: bad lines get "error", others still run, exit 1 at the end', async () => {
    const r = await runCli(['eval'], 'not json\n{"profile":"v5.16","fn":"nope","in":{}}\n\n{"kind":"zzz","id":"a"}\n');
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(lines[0].error).toMatch(/invalid JSON/);
    expect(lines[1]).toMatchObject({ profile: 'v5.16', fn: 'nope' });
    expect(lines[1].error).toMatch(/not known/);
    expect(lines[2]).toEqual({ id: 'a', error: 'record kind "zzz" is not known to eval' });
  });

  it('eval: an unknown profile is a per-line error', async () => {
    const r = await runCli(['eval'], '{"profile":"v0","fn":"nope","in":{}}\n');
    expect(r.code).toBe(1);
  });

  it('profiles lists every profile in text and json', async () => {
    const t = await runCli(['profiles']);
    expect(t.code).toBe(0);
    for (const p of PROFILE_NAMES) expect(t.stdout).toContain(p);
    const j = JSON.parse((await runCli(['profiles', '--format', 'json'])).stdout);
    expect(j.profiles).toHaveLength(5);
  });
});
