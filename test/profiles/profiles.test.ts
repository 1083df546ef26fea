import { describe, expect, it } from 'vitest';
import { CHANGES, PROFILE_DEFS, getProfile } from '../../src/profiles/index.js';
import { deepMerge } from '../../src/profiles/compose.js';
import { ShadowMmuError } from '../../src/bits/errors.js';

describe('profiles', () => {
  it('ships the five profiles the issue names', () => {
    expect(PROFILE_DEFS.map((d) => d.name)).toEqual(['v5.16', 'rfc-base', 'rfc-v1', 'rfc-v1-pae', 'v6.18']);
  });

  it('composes base + changes in order', () => {
    expect(getProfile('v5.16').changes).toEqual([]);
    expect(getProfile('rfc-v1').changes).toEqual(['has-4-byte-gpte', 'rfc-pae-root-v1']);
    expect(getProfile('rfc-v1-pae').changes).toEqual(['has-4-byte-gpte', 'rfc-pae-root-v1', 'rfc-pae-root-pae-fix']);
    expect(getProfile('v6.18').general.kernel_version).toBe(618);
    expect(getProfile('rfc-base').general.kernel_version).toBe(517);
  });

  it('composes extra changes from a "+" spec and rejects unknown or repeated ones', () => {
    const p = getProfile('rfc-base+rfc-pae-root-v1');
    expect(p.changes).toEqual(getProfile('rfc-v1').changes);
    expect(() => getProfile('v6.18+no-such-change')).toThrow(ShadowMmuError);
    expect(() => getProfile('rfc-v1+rfc-pae-root-v1')).toThrow(/already part/);
    expect(() => getProfile('v9.99')).toThrow(/unknown profile "v9.99"/);
  });

  it('freezes composed profiles', () => {
    expect(Object.isFrozen(getProfile('v6.18').general)).toBe(true);
  });

  it('every change is documented with a source', () => {
    for (const c of Object.values(CHANGES)) expect(c.source.length).toBeGreaterThan(10);
  });

  it('deepMerge merges plain objects and replaces everything else', () => {
    const a = { x: { y: 1, z: [1, 2] }, w: 3 };
    expect(deepMerge(a, { x: { z: [9] } })).toEqual({ x: { y: 1, z: [9] }, w: 3 });
    expect(a.x.z).toEqual([1, 2]);
  });
});
