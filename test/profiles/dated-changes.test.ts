/**
 * The named changes are data: each is one upstream change (or a proposal) with a source, each
 * touches at least one trait, and within the v6.18 chain no trait is set by two changes except
 * the whole-list traits whose changes give the list as of their release.
 */
import { describe, expect, it } from 'vitest';
import { CHANGES, PROFILE_DEFS, getProfile, traitValue } from '../../src/profiles/index.js';
import { DOMAINS } from '../../src/profiles/domains.js';

type Patches = Record<string, Record<string, unknown> | undefined>;

/** Dotted leaf paths a patch sets (arrays and nulls are leaves). */
function leaves(v: unknown, prefix = ''): string[] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [prefix];
  return Object.entries(v).flatMap(([k, sub]) => leaves(sub, prefix ? `${prefix}.${k}` : k));
}

function setBy(change: string): string[] {
  return Object.entries(DOMAINS).flatMap(([d, t]) => {
    const patch = (t.patches as Patches)[change];
    return patch === undefined ? [] : leaves(patch).map((l) => `${d}.${l}`);
  });
}

describe('named changes', () => {
  const v618 = PROFILE_DEFS.find((d) => d.name === 'v6.18')!;

  it('v6.18 is rfc-base plus dated upstream changes, each with a source and a summary', () => {
    expect(v618.base).toBe('rfc-base');
    expect(v618.changes.length).toBeGreaterThan(30);
    for (const c of v618.changes) {
      expect(c, c).toMatch(/-v?\d+\.(\d+|x)$/);
      expect(CHANGES[c].source.length, c).toBeGreaterThan(10);
      expect(CHANGES[c].summary.length, c).toBeGreaterThan(10);
    }
    expect(getProfile('v6.18').changes).toEqual([...getProfile('rfc-base').changes, ...v618.changes]);
  });

  it('every change sets at least one trait, and every patch belongs to a named change', () => {
    for (const c of Object.keys(CHANGES)) expect(setBy(c).length, c).toBeGreaterThan(0);
    for (const [d, t] of Object.entries(DOMAINS)) {
      for (const c of Object.keys(t.patches)) expect(Object.keys(CHANGES), `${d} patch ${c}`).toContain(c);
    }
  });

  it('within v6.18 only the whole-list traits are set by more than one change', () => {
    const WHOLE_LISTS = ['cache.vcpu_caches', 'roles.page_role'];
    const by = new Map<string, string[]>();
    for (const c of v618.changes) for (const t of setBy(c)) by.set(t, [...(by.get(t) ?? []), c]);
    const twice = [...by].filter(([t, cs]) => cs.length > 1 && !WHOLE_LISTS.includes(t)).map(([t, cs]) => `${t}: ${cs.join(', ')}`);
    expect(twice).toEqual([]);
  });

  it('each dated change moves v6.18 off rfc-base in the traits it sets', () => {
    const base = getProfile('rfc-base') as unknown as Record<string, unknown>;
    const cur = getProfile('v6.18') as unknown as Record<string, unknown>;
    for (const c of v618.changes) {
      const moved = setBy(c).some((t) => {
        const [d, ...rest] = t.split('.');
        return JSON.stringify(traitValue(base[d!], rest.join('.'))) !== JSON.stringify(traitValue(cur[d!], rest.join('.')));
      });
      expect(moved, c).toBe(true);
    }
  });
});
