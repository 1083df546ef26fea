import { describe, expect, it } from 'vitest';
import { getProfile } from '../../src/profiles/index.js';
import { WarnLog } from '../../src/cache/warn.js';
import { fromHalves } from '../../src/bits/u64.js';
import * as S from '../../src/mmu/spte/spte.js';
import { HOSTS, spteMasksFor, type HostConfig, type HostMode } from '../../src/mmu/spte/spte_masks.js';

function host(name: string, mode: HostMode, extra: Partial<HostConfig> = {}): HostConfig {
  return { ...HOSTS[name]!, mode, tdp: mode !== 'vmx', mmio_caching: true, ...extra };
}
const v516 = getProfile('v5.16');
const v618 = getProfile('v6.18');
const out = new Uint32Array(4);
const u64 = (off = 0): bigint => fromHalves(out[off]!, out[off + 1]!);

function ctx(m: ReturnType<typeof spteMasksFor>, opts: { refuse?: boolean; dirtyLog?: boolean } = {}) {
  const calls = { unsync: 0, dirty: 0 };
  const c: S.MakeSpteCtx = {
    masks: m,
    nx_huge_pages: false,
    pml: false,
    warns: new WarnLog(),
    kvm_is_mmio_pfn: () => false,
    mmu_try_to_unsync_pages: () => (calls.unsync++, opts.refuse ? -1 : 0),
    kvm_slot_dirty_track_enabled: () => Boolean(opts.dirtyLog),
    mark_page_dirty_in_slot: () => void calls.dirty++,
  };
  return { c, calls };
}
function args(over: Partial<S.MakeSpteArgs> = {}): S.MakeSpteArgs {
  return {
    level: 1, ad_disabled: false, nested: false, pte_access: 7, gfn: 0x12345, pfn: 0x98765,
    old_lo: 0, old_hi: 0, prefetch: false, can_unsync_or_synchronizing: true, host_writable: true, ...over,
  };
}

describe('spte masks per host', () => {
  it('non-EPT shadow paging: P/U/A/D/NX, reserved-PA MMIO value and the L1TF mask', () => {
    const m = spteMasksFor(v516, host('intel-46-l1tf', 'vmx'));
    const g = m.globals;
    expect(g.shadow_present_mask).toBe(1n);
    expect(g.shadow_nx_mask).toBe(1n << 63n);
    expect(g.shadow_mmio_value).toBe((1n << 51n) | 1n);
    expect(g.shadow_nonpresent_or_rsvd_mask).toBe(((1n << 46n) - 1n) & ~((1n << 41n) - 1n));
    expect(g.warns.count).toBe(0);
  });
  it('EPT without A/D: 5.16 zero A/D masks, 6.18 keeps bits 8/9 and clears kvm_ad_enabled', () => {
    const cfg = host('intel-46', 'vmx-ept', { ept_ad: false, ept_execonly: true });
    expect(spteMasksFor(v516, cfg).globals.shadow_accessed_mask).toBe(0n);
    const g6 = spteMasksFor(v618, cfg).globals;
    expect(g6.shadow_accessed_mask).toBe(1n << 8n);
    expect(g6.kvm_ad_enabled).toBe(false);
    expect(g6.shadow_present_mask).toBe(1n << 63n);
  });
  it('SME: 5.x me mask at reset, 6.x value = mask = C-bit from the SVM set-up', () => {
    const cfg = host('amd-48-sme47', 'svm');
    expect(spteMasksFor(v516, cfg).globals.shadow_me_mask).toBe(1n << 47n);
    const g6 = spteMasksFor(v618, cfg).globals;
    expect([g6.shadow_me_value, g6.shadow_me_mask]).toEqual([1n << 47n, 1n << 47n]);
    // svm_adjust_mmio_mask: reserved bits from x86_phys_bits (43) up to 51, plus P
    expect(g6.shadow_mmio_value).toBe(((1n << 52n) - (1n << 43n)) | 1n);
  });
  it('a 52-bit host disables MMIO caching (6.18 also clears enable_mmio_caching)', () => {
    const cfg = host('intel-52', 'vmx');
    expect(spteMasksFor(v516, cfg).globals.shadow_mmio_value).toBe(0n);
    expect(spteMasksFor(v618, cfg).globals.enable_mmio_caching).toBe(false);
  });
  it('rejects a bad host configuration with a named input error', () => {
    expect(() => spteMasksFor(v516, { ...host('intel-46', 'vmx'), maxphyaddr: 70 })).toThrow(/cfg.maxphyaddr/);
  });
});

describe('predicates on halves', () => {
  const m = spteMasksFor(v516, host('intel-46-l1tf', 'vmx'));
  it('is_shadow_present_pte is bit 11 and nothing else', () => {
    expect(S.is_shadow_present_pte(0x800)).toBe(true);
    expect(S.is_shadow_present_pte(0x7ff)).toBe(false);
  });
  it('is_mmio_spte matches the MMIO value under the mask', () => {
    expect(S.is_mmio_spte(m, 1, 0x80000)).toBe(true);
    expect(S.is_mmio_spte(m, 0x801, 0)).toBe(false);
  });
  it('spte_to_pfn takes bits 51:12', () => {
    expect(S.spte_to_pfn(0x98765827, 0xfff00001)).toBe(0x198765);
  });
  it('is_last_spte: level 1 or PS', () => {
    expect(S.is_last_spte(0, 1)).toBe(true);
    expect(S.is_last_spte(0, 2)).toBe(false);
    expect(S.is_last_spte(0x80, 2)).toBe(true);
  });
  it('5.17 spte_can_locklessly_be_made_writable warns on W without MMU-writable', () => {
    const m17 = spteMasksFor(getProfile('rfc-base'), host('intel-46', 'vmx'));
    const w = new WarnLog();
    expect(S.spte_can_locklessly_be_made_writable(m17, 0x803, 0, w)).toBe(false);
    expect(w.count).toBe(1);
  });
});

describe('encoders', () => {
  it('make_nonleaf_spte sets bit 11, P, W, U and A for non-EPT', () => {
    const m = spteMasksFor(v516, host('intel-46-l1tf', 'vmx'));
    S.make_nonleaf_spte(m, 0x123456000, false, out, 0);
    expect(u64()).toBe(0x123456827n);
    S.make_nonleaf_spte(m, 0x123456000, true, out, 2);
    expect(u64(2)).toBe(0x0010000123456807n);
  });
  it('make_mmio_spte round-trips gfn, access and generation', () => {
    const m = spteMasksFor(v516, host('intel-46-l1tf', 'vmx'));
    const w = new WarnLog();
    S.make_mmio_spte(m, 0x1234567, 6, 0x7abcd, out, 0, w);
    expect(S.is_mmio_spte(m, out[0]!, out[1]!)).toBe(true);
    expect(S.is_shadow_present_pte(out[0]!)).toBe(false);
    expect(S.get_mmio_spte_gfn(m, out[0]!, out[1]!)).toBe(0x1234567);
    expect(S.get_mmio_spte_generation(out[0]!, out[1]!)).toBe(0x7abcd);
    expect(S.get_mmio_spte_access(m, out[0]!)).toBe(6);
    expect(w.count).toBe(0);
  });
  it('5.x make_mmio_spte warns when MMIO caching is off; 6.18 does not', () => {
    const w = new WarnLog();
    S.make_mmio_spte(spteMasksFor(v516, host('intel-52', 'vmx')), 1, 0, 0, out, 0, w);
    expect(w.count).toBe(1);
    const w6 = new WarnLog();
    S.make_mmio_spte(spteMasksFor(v618, host('intel-52', 'vmx')), 1, 0, 0, out, 0, w6);
    expect(w6.count).toBe(0);
  });
  it('mark_spte_for_access_track saves R/X in bits 54/56 and restore brings them back', () => {
    const m = spteMasksFor(v516, host('intel-46', 'vmx-ept', { ept_ad: false, ept_execonly: false }));
    const w = new WarnLog();
    const lo = 0x00000805; // R | X | bit 11
    const hi = 0x00100000 | 0x06000000; // A/D disabled, host+MMU writable
    S.mark_spte_for_access_track(m, lo, hi, out, 0, w);
    expect(u64() & 7n).toBe(0n);
    expect((u64() >> 54n) & 5n).toBe(5n);
    S.restore_acc_track_spte(m, out[0]!, out[1]!, out, 0, w);
    expect(u64()).toBe(fromHalves(lo, hi));
    expect(w.count).toBe(0);
  });
  it('clear_spte writes SHADOW_NONPRESENT_VALUE: 0 in 5.16, bit 63 in 6.18', () => {
    S.clear_spte(spteMasksFor(v516, host('intel-46', 'vmx')), out, 0);
    expect(u64()).toBe(0n);
    S.clear_spte(spteMasksFor(v618, host('intel-46', 'vmx')), out, 0);
    expect(u64()).toBe(1n << 63n);
  });
});

describe('make_spte', () => {
  it('5.x: an old writable SPTE skips unsync and gets no dirty bit; 6.x sets D', () => {
    const cfg = host('intel-46', 'vmx');
    const old = { old_lo: 0x98765a07, old_hi: 0 };
    const a5 = ctx(spteMasksFor(v516, cfg));
    S.make_spte(a5.c, args(old), out, 0);
    expect(u64() & 0x40n).toBe(0n);
    expect(a5.calls.unsync).toBe(0);
    const a6 = ctx(spteMasksFor(v618, cfg));
    S.make_spte(a6.c, args(old), out, 0);
    expect(u64() & 0x42n).toBe(0x42n);
  });
  it('a refused unsync keeps the SPTE read-only and reports wrprot', () => {
    const a = ctx(spteMasksFor(v516, host('intel-46', 'vmx')), { refuse: true });
    expect(S.make_spte(a.c, args(), out, 0)).toBe(true);
    expect(u64() & 0x402n).toBe(0n);
    expect(a.calls.unsync).toBe(1);
  });
  it('the sync path: 5.x access-tracks (no A), 6.x sets A', () => {
    const cfg = host('intel-46', 'vmx');
    const sync5 = args({ prefetch: true, can_unsync_or_synchronizing: false });
    S.make_spte(ctx(spteMasksFor(v516, cfg)).c, sync5, out, 0);
    expect(u64() & 0x20n).toBe(0n);
    S.make_spte(ctx(spteMasksFor(v618, cfg)).c, { ...sync5, can_unsync_or_synchronizing: true }, out, 0);
    expect(u64() & 0x20n).toBe(0x20n);
  });
  it('writes into a page table at 2 * index and marks dirty-logged gfns', () => {
    const table = new Uint32Array(1024);
    const a = ctx(spteMasksFor(v516, host('intel-46', 'vmx')), { dirtyLog: true });
    S.make_spte(a.c, args(), table, 2 * 511);
    expect(S.is_shadow_present_pte(table[1022]!)).toBe(true);
    expect(S.spte_to_pfn(table[1022]!, table[1023]!)).toBe(0x98765);
    expect(a.calls.dirty).toBe(1);
  });
  it('6.18 warns when an EPT exec-only SPTE would equal SHADOW_NONPRESENT_VALUE', () => {
    const a = ctx(spteMasksFor(v618, host('intel-46', 'vmx-ept', { ept_ad: true, ept_execonly: true })));
    S.make_spte(a.c, args({ pte_access: 0 }), out, 0);
    expect(a.c.warns.count).toBe(1);
  });
  it('EPT memory type: WB|IPAT for RAM, UC for host MMIO', () => {
    const a = ctx(spteMasksFor(v516, host('intel-46', 'vmx-ept', { ept_ad: true, ept_execonly: false })));
    S.make_spte(a.c, args(), out, 0);
    expect(u64() & 0x78n).toBe(0x70n);
    a.c.kvm_is_mmio_pfn = () => true;
    S.make_spte(a.c, args(), out, 0);
    expect(u64() & 0x78n).toBe(0n);
  });
});
