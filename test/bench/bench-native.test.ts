import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('bench --native baselines', () => {
  it('compile with the system cc and print one JSON record per case', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'smmu-nb-')), 'nb');
    const cc = spawnSync('cc', ['-O2', '-Wall', '-Werror', '-o', out, join(__dirname, '../../bench/native/baselines.c')], { encoding: 'utf8' });
    if (cc.error) {
      console.warn(`bench --native: no cc here (${cc.error.message}); the baselines were not compiled`);
      expect(process.env['CI_REQUIRE_TOOLS']).toBeUndefined();
      return;
    }
    expect(cc.stderr).toBe('');
    expect(cc.status).toBe(0);
    const r = spawnSync(out, ['1', '0.01'], { encoding: 'utf8' });
    const recs = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(recs.map((x) => x.case)).toEqual(['sync0', 'sync100', 'hit100', 'hit1000', 'hit10000', 'hit100000']);
    for (const x of recs) expect(x.ns_per_op[0]).toBeGreaterThan(0);
  });
});
