import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SYNC_PROFILES, syncSuite, syncSuiteFor } from '../../bench/suites/sync.js';

describe('bench --profile', () => {
  it('runs the sync and fault cases once per profile spec (built-in or patch file)', () => {
    const patch = join(__dirname, '../../examples/patches/rfc-pae-root-pae-fix.json');
    const s = syncSuiteFor(['v6.18', patch]);
    expect(s.name).toBe('sync');
    expect(s.cases.length).toBe(14);
    expect(s.cases.filter((c) => c.name.startsWith(`${patch}: `)).length).toBe(7);
    // The leaf fault really is a fixed fault under each profile (counts() throws otherwise).
    for (const c of s.cases.filter((x) => x.name.includes('leaf fault'))) expect(c.counts!()).toEqual({ hash_lookups: 0, faults: 1 });
  });

  it('keeps the default pair without --profile', () => {
    expect(SYNC_PROFILES).toEqual(['v5.16', 'v6.18']);
    expect(syncSuite.cases.map((c) => c.name.split(':')[0])).toEqual([...Array(7).fill('v5.16'), ...Array(7).fill('v6.18')]);
  });
});

describe('bench options', () => {
  const RUN = join(__dirname, '../../dist/bench/run.js');
  it('an unknown option is one stderr line with the usage, exit 2 (no stack trace); --help prints the usage', async () => {
    const { spawnSync } = await import('node:child_process');
    const bad = spawnSync(process.execPath, [RUN, '--bogus'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^bench: Unknown option '--bogus'; usage: npm run bench -- /)]);
    const help = spawnSync(process.execPath, [RUN, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: npm run bench -- /);
    expect(help.stdout).toContain('--scale-max');
    const scale = spawnSync(process.execPath, [RUN, '--scale-max', '5e5'], { encoding: 'utf8' });
    expect(scale.status).toBe(2);
    expect(scale.stderr.trim().split('\n')).toEqual(['bench: --scale-max 5e5 is not one of 1e2, 1e3, 1e4, 1e5, 1e6']);
  });
});
