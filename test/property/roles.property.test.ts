/** Properties of the role codec: round trips, non-overlapping layouts, golden layouts. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { getProfile, PROFILE_NAMES } from '../../src/profiles/index.js';
import { decodeRole, encodeRole, layoutTable, roleLayout, UNION_NAMES } from '../../src/roles/index.js';
import { goldenFiles, readGolden, sameValue } from '../support/golden.js';

describe('role codec properties', () => {
  for (const name of PROFILE_NAMES) {
    for (const union of UNION_NAMES) {
      const l = roleLayout(getProfile(name), union);
      it(`${name} ${union}: decode(encode(x)) == x`, () => {
        const arb = fc.record(Object.fromEntries(l.fields.map((f) => [f.name, fc.integer({ min: 0, max: 2 ** f.width - 1 })])));
        fc.assert(fc.property(arb, (x) => {
          expect(decodeRole(l, encodeRole(l, x))).toEqual(x);
        }));
      });
      it(`${name} ${union}: encode(decode(w)) == w without padding`, () => {
        fc.assert(fc.property(fc.nat({ max: 0xffffffff }), (w) => encodeRole(l, decodeRole(l, w)) === (w & ~l.padding_mask) >>> 0));
      });
      it(`${name} ${union}: fields do not overlap and fit in 32 bits`, () => {
        let seen = 0;
        for (const f of l.fields) {
          expect((seen & f.mask) >>> 0, f.name).toBe(0);
          expect(f.shift + f.width).toBeLessThanOrEqual(32);
          seen = (seen | f.mask) >>> 0;
        }
        expect((seen | l.padding_mask) >>> 0).toBe(0xffffffff);
      });
    }
  }
  it('layouts match golden role_layout of every profile that has vectors', () => {
    let checked = 0;
    for (const file of goldenFiles('roles', /\.decode\.jsonl\.gz$/)) {
      for (const rec of readGolden(file).filter((r) => r['fn'] === 'role_layout')) {
        const l = roleLayout(getProfile(String(rec['profile'])), (rec['in'] as { union: 'kvm_mmu_page_role' }).union);
        const t = layoutTable(l);
        const got = { size_bytes: t.size_bytes, fields: Object.fromEntries(Object.entries(t.fields).map(([k, f]) => [k, { ...f, mask: '0x' + f.mask.toString(16) }])) };
        expect(sameValue(rec['out'], got)).toBe(true);
        // Declaration order too.
        expect(Object.keys(got.fields)).toEqual(Object.keys((rec['out'] as { fields: object }).fields));
        checked++;
      }
    }
    expect(checked).toBe(8);
  });
});
