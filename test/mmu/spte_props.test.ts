import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PROFILE_NAMES, getProfile } from '../../src/profiles/index.js';
import { WarnLog } from '../../src/cache/warn.js';
import * as S from '../../src/mmu/spte/spte.js';
import { HOSTS, spteMasksFor, type HostConfig, type HostMode } from '../../src/mmu/spte/spte_masks.js';

const CONFIGS: readonly HostConfig[] = [
  ...(['intel-46-l1tf', 'intel-36-l1tf', 'intel-39-l1tf-cache44', 'intel-46'] as const).map((h) => ({ ...HOSTS[h]!, mode: 'vmx' as HostMode, tdp: false, mmio_caching: true })),
  { ...HOSTS['intel-46']!, mode: 'vmx-ept', tdp: true, mmio_caching: true, ept_ad: false, ept_execonly: true },
  { ...HOSTS['intel-46-mktme6']!, mode: 'vmx-ept', tdp: true, mmio_caching: true, ept_ad: true, ept_execonly: false },
  { ...HOSTS['amd-48-sme47']!, mode: 'svm', tdp: true, mmio_caching: true },
];

const arbEnv = fc.record({ profile: fc.constantFrom(...PROFILE_NAMES), cfg: fc.constantFrom(...CONFIGS) });
const out = new Uint32Array(2);

describe('SPTE encoder properties (every profile, several hosts)', () => {
  it('MMIO SPTEs: MMIO, not shadow-present, and gfn/generation/access survive below the PA width', () => {
    fc.assert(
      fc.property(arbEnv, fc.nat({ max: 2 ** 24 - 1 }), fc.nat({ max: 7 }), fc.nat({ max: 0x7ffff }), ({ profile, cfg }, gfn, access, gen) => {
        const m = spteMasksFor(getProfile(profile), cfg);
        S.make_mmio_spte(m, gfn, access, gen, out, 0, new WarnLog());
        expect(S.is_mmio_spte(m, out[0]!, out[1]!)).toBe(true);
        expect(S.is_shadow_present_pte(out[0]!)).toBe(false);
        expect(S.get_mmio_spte_generation(out[0]!, out[1]!)).toBe(gen);
        expect(S.get_mmio_spte_gfn(m, out[0]!, out[1]!)).toBe(gfn);
        expect(S.get_mmio_spte_access(m, out[0]!)).toBe(access & m.mmio_access_mask);
      }),
    );
  });

  it('leaf SPTEs: shadow-present, never MMIO, the pfn comes back, W only with both writable bits', () => {
    fc.assert(
      fc.property(
        arbEnv,
        fc.record({
          level: fc.integer({ min: 1, max: 3 }),
          pte_access: fc.nat({ max: 7 }),
          // Past 2^32 so the halves split of a pfn held as a double is exercised (regression: the
          // low half is taken with an AND, no float modulo).
          pfn: fc.nat({ max: 2 ** 34 - 1 }),
          prefetch: fc.boolean(),
          sync: fc.boolean(),
          host_writable: fc.boolean(),
          refuse: fc.boolean(),
        }),
        ({ profile, cfg }, a) => {
          const m = spteMasksFor(getProfile(profile), cfg);
          // EPT: write without read (ACC_USER is "readable") is an EPT misconfiguration — the
          // MMIO encoding — and KVM never asks for it.
          fc.pre(!((m.x.lo & 4) !== 0 && (a.pte_access & 6) === 2));
          const ctx: S.MakeSpteCtx = {
            masks: m, nx_huge_pages: false, pml: false, warns: new WarnLog(),
            kvm_is_mmio_pfn: () => false,
            mmu_try_to_unsync_pages: () => (a.refuse ? -1 : 0),
            kvm_slot_dirty_track_enabled: () => false,
            mark_page_dirty_in_slot: () => {},
          };
          const ad_disabled = !m.kvm_ad_enabled || (m.accessed.lo | m.accessed.hi) === 0;
          S.make_spte(ctx, {
            level: a.level, ad_disabled, nested: false, pte_access: a.pte_access, gfn: 1, pfn: a.pfn,
            old_lo: 0, old_hi: 0, prefetch: a.prefetch, can_unsync_or_synchronizing: a.sync, host_writable: a.host_writable,
          }, out, 0);
          const [lo, hi] = [out[0]!, out[1]!];
          expect(S.is_shadow_present_pte(lo)).toBe(true);
          expect(S.is_mmio_spte(m, lo, hi)).toBe(false);
          // The base-address mask is bits 51:12, so an SME C-bit in the SPTE shows up in the pfn
          // (as in the kernel without CONFIG_DYNAMIC_PHYSICAL_MASK).
          expect(S.spte_to_pfn(lo, hi)).toBe(a.pfn + S.spte_to_pfn(m.me_bits.lo, m.me_bits.hi));
          expect(S.is_large_pte(lo)).toBe(a.level > 1);
          if (S.is_writable_pte(lo)) {
            expect(a.host_writable && (a.pte_access & 2) !== 0).toBe(true);
            expect(S.is_mmu_writable_spte(m, lo, hi)).toBe(true);
          }
        },
      ),
    );
  });

  it('access tracking then restore gives back an A/D-disabled SPTE (R/X saved, W dropped)', () => {
    fc.assert(
      fc.property(arbEnv, fc.nat({ max: 7 }), fc.nat({ max: 2 ** 28 }), ({ profile, cfg }, rwx, pfn) => {
        const m = spteMasksFor(getProfile(profile), cfg);
        const w = new WarnLog();
        const lo = ((pfn % 0x100000) * 0x1000 + 0x800 + (rwx & 5)) >>> 0;
        const hi = (Math.floor(pfn / 0x100000) | 0x00100000) >>> 0; // A/D disabled
        S.mark_spte_for_access_track(m, lo, hi, out, 0, w);
        S.restore_acc_track_spte(m, out[0]!, out[1]!, out, 0, w);
        if ((m.acc_track.lo | m.acc_track.hi) !== 0) expect([out[0], out[1]]).toEqual([lo, hi]);
        expect(w.count).toBe(0);
      }),
    );
  });
});
