import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mod_pow2 } from '../../src/bits/u64.js';
import { PROFILE_NAMES, getProfile } from '../../src/profiles/index.js';
import { HOSTS, spteMasksFor, type FlatSpteMasks, type HostConfig, type HostMode, type SpteMasks } from '../../src/mmu/spte/spte_masks.js';

const MODES: readonly { mode: HostMode; tdp: boolean; ept_ad?: boolean; ept_execonly?: boolean }[] = [
  { mode: 'reset', tdp: false },
  { mode: 'vmx', tdp: false },
  { mode: 'vmx-ept', tdp: true, ept_ad: true, ept_execonly: false },
  { mode: 'vmx-ept', tdp: true, ept_ad: false, ept_execonly: true },
  { mode: 'svm', tdp: true },
];

const HALVES = ['host_writable', 'mmu_writable', 'nx', 'x', 'user', 'accessed', 'dirty', 'present', 'me_bits', 'acc_track', 'nonpresent'] as const;

describe('SpteMasks.flat: the hot encoders read the same masks and traits as the {lo, hi} fields', () => {
  it('every profile, host and mode: each flat field equals its source', () => {
    let checked = 0;
    for (const name of PROFILE_NAMES) {
      const profile = getProfile(name);
      for (const [host, h] of Object.entries(HOSTS)) {
        for (const md of MODES) {
          for (const mmio_caching of [false, true]) {
            const cfg: HostConfig = { ...h, ...md, mmio_caching, name: host };
            const m: SpteMasks = spteMasksFor(profile, cfg);
            const f: FlatSpteMasks = m.flat;
            for (const k of HALVES) {
              expect([f[`${k}_lo`], f[`${k}_hi`]], `${name} ${host} ${md.mode} ${k}`).toEqual([m[k].lo, m[k].hi]);
            }
            expect([f.has_memtype, f.memtype_ram, f.memtype_mmio]).toEqual(m.memtype ? [true, m.memtype[0], m.memtype[1]] : [false, 0, 0]);
            const t = m.traits;
            expect(f.unsync_arg_is_synchronizing).toBe(t.make_spte_unsync_arg === 'synchronizing');
            expect(f.synchronized_spte_accessed).toBe(t.synchronized_spte_accessed);
            expect(f.accessed_bit_without_hw_ad).toBe(t.accessed_bit_without_hw_ad);
            expect(f.writable_spte_always_dirty).toBe(t.writable_spte_always_dirty);
            expect(f.make_spte_warns_nonpresent).toBe(t.make_spte_warns_nonpresent);
            expect(f.accessed_test_mask).toBe(t.accessed_test === 'mask');
            expect(f.lockless_writable_needs_host_writable).toBe(t.lockless_writable_needs_host_writable);
            expect(f.invariants_in_lockless_test).toBe(t.writable_invariants === 'in-lockless-test');
            expect(f.invariants_checked_apart).toBe(t.writable_invariants === 'check-spte-writable-invariants');
            expect(f.access_track_clears_accessed).toBe(t.access_track_clears_accessed);
            checked++;
          }
        }
      }
    }
    expect(checked).toBe(PROFILE_NAMES.length * Object.keys(HOSTS).length * MODES.length * 2);
  });
});

describe('mod_pow2', () => {
  it('equals the exact modulo for every integer below 2^53 and every power of two up to 2^52', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 53n - 1n }), fc.integer({ min: 0, max: 52 }), (x, k) => {
        expect(mod_pow2(Number(x), 2 ** k)).toBe(Number(x % 2n ** BigInt(k)));
      }),
      { numRuns: 5000 },
    );
  });

  it('at the edges: 2^31, 2^32 and values whose bit 31 is set', () => {
    expect(mod_pow2(2 ** 32 + 5, 2 ** 31)).toBe(5);
    expect(mod_pow2(2 ** 31 + 7, 2 ** 31)).toBe(7);
    expect(mod_pow2(2 ** 52 - 1, 2 ** 32)).toBe(2 ** 32 - 1);
    expect(mod_pow2(0xffffffff, 4096)).toBe(4095);
  });
});
