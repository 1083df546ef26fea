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
