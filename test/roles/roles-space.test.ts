/**
 * The input spaces `roles diff` enumerates are the golden README's (§3.1, §4): the sizes it
 * states for the fully enumerated fns, and every shared golden input lies inside.
 */
import { describe, expect, it } from 'vitest';
import { casesOf } from '../../src/eval/roles-space.js';
import { getProfile } from '../../src/profiles/index.js';
import { goldenFiles, readGolden } from '../support/golden.js';

const key = (o: Record<string, unknown>) =>
  JSON.stringify(
    Object.keys(o)
      .sort()
      .map((k) => [k, typeof o[k] === 'string' && /^0x/.test(o[k] as string) ? BigInt(o[k] as string).toString(16) : o[k]]),
  );

const SIZES: Record<string, Record<string, number>> = {
  'v5.16': { shadow_root_role: 5632, shadow_npt_root_role: 2048, shadow_ept_root_role: 16, nested_mmu_role: 2816, root_level: 1408, tdp_level: 168 },
  'v6.18': { shadow_root_role: 5632, shadow_npt_root_role: 2048, shadow_ept_root_role: 8, cpu_role: 5632, tdp_level: 462 },
};

describe('roles diff input spaces', () => {
  for (const [name, sizes] of Object.entries(SIZES)) {
    const p = getProfile(name);
    for (const [fn, n] of Object.entries(sizes)) {
      it(`${name} ${fn}: ${n} inputs, and every shared golden input among them`, () => {
        const space = new Set<string>();
        for (const c of casesOf(fn, p, p)) space.add(key(c.inA));
        expect(space.size).toBe(n);
        const golden = goldenFiles('roles', new RegExp(`^${name.replace('.', '\\.')}\\.`)).flatMap((f) => readGolden(f).filter((r) => r['fn'] === fn));
        expect(golden.length).toBeGreaterThan(0);
        for (const g of golden) expect(space.has(key(g['in'] as Record<string, unknown>)), JSON.stringify(g['in'])).toBe(true);
      });
    }
  }
  it('tdp_root_role: every shared golden input is enumerated (v6.18: all hosts, TDX included)', () => {
    for (const name of ['v6.18']) {
      const p = getProfile(name);
      const space = new Set<string>();
      for (const c of casesOf('tdp_root_role', p, p)) space.add(key(c.inA));
      const golden = readGolden(`roles/${name}.tdp-roots.jsonl.gz`);
      expect(golden.filter((g) => !space.has(key(g['in'] as Record<string, unknown>)))).toEqual([]);
    }
  });
});
