import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FLOORS } from '../../bench/native/floor.js';
import { syncSuite } from '../../bench/suites/sync.js';

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

  it('the JS floors do the C loops\' work: every hit lookup finds its page; a sync asks for a flush exactly when the model does', () => {
    for (const n of [100, 1000, 10000, 100000]) expect(FLOORS[`hit${n}`]!()()).toBe(512);
    for (const pct of [0, 10, 100]) {
      const floor = FLOORS[`sync${pct}`]!();
      const model = syncSuite.cases.find((c) => c.name.startsWith(`v6.18: kvm_sync_page x2, 512 SPTEs, ${pct}%`))!;
      const want = model.counts!()['flush_requested'];
      for (let k = 0; k < 3; k++) expect(floor(), `sync${pct} op ${k}`).toBe(want);
    }
  });
});
