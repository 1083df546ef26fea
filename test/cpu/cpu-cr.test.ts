import { describe, expect, it } from 'vitest';
import {
  cr4Features,
  cr4ReservedMasks,

  kvm_set_cr3,
  kvm_set_cr4,
  shadowRootOfCr3,
  X86_CR3_LAM_U48,
  X86_CR3_LAM_U57,
  X86_CR3_PCID_NOFLUSH,
  X86_CR4_LA57,
  X86_CR4_LAM_SUP,
  X86_CR4_PCIDE,
  type CrState,
} from '../../src/cpu/cr.js';
import { getProfile } from '../../src/profiles/index.js';

const v516 = getProfile('v5.16');
const v618 = getProfile('v6.18');
const LONG: CrState = { cr0: 0x80050033n, cr3: 0x1000n, cr4: 0x20n, efer: 0x500n };
const all = cr4Features(true, true);

describe('MOV CR4 (cpu-features.md 1.4, 5.4; LAM KVM enabling v7, kvm@vger.kernel.org 2023-04)', () => {
  it('CR4.LA57 cannot change while EFER.LMA = 1, in both profiles', () => {
    for (const p of [v516, v618]) {
      const s = { ...LONG };
      expect(kvm_set_cr4(p, s, cr4ReservedMasks(p, all, all), all, 0x20n | X86_CR4_LA57)).toBe(1);
      expect(s.cr4).toBe(0x20n);
      const legacy = { ...LONG, efer: 0n };
      expect(kvm_set_cr4(p, legacy, cr4ReservedMasks(p, all, all), all, 0x20n | X86_CR4_LA57)).toBe(0);
    }
  });
  it('CR4.LAM_SUP toggles freely with LAM (no long-mode restriction), is reserved in 5.16', () => {
    const s = { ...LONG };
    expect(kvm_set_cr4(v618, s, cr4ReservedMasks(v618, all, all), all, 0x20n | X86_CR4_LAM_SUP)).toBe(0);
    expect(kvm_set_cr4(v618, s, cr4ReservedMasks(v618, all, all), all, 0x20n)).toBe(0);
    expect(kvm_set_cr4(v516, { ...LONG }, cr4ReservedMasks(v516, all, all), all, 0x20n | X86_CR4_LAM_SUP)).toBe(1);
  });
  it('PCIDE needs long mode and CR3[11:0] = 0', () => {
    expect(kvm_set_cr4(v618, { ...LONG, cr3: 0x1001n }, cr4ReservedMasks(v618, all, all), all, 0x20n | X86_CR4_PCIDE)).toBe(1);
    expect(kvm_set_cr4(v618, { ...LONG }, cr4ReservedMasks(v618, all, all), all, 0x20n | X86_CR4_PCIDE)).toBe(0);
  });
});

describe('MOV CR3 with PCID and LAM (cpu-features.md 5.4; golden README finding 9)', () => {
  const ctx = { maxphyaddr: 46, guest_lam: true };
  it('LAM bits are legal only with guest LAM (6.18) and stay in the pgd', () => {
    const cr3 = 0x12345000n | X86_CR3_LAM_U57;
    const s = { ...LONG };
    expect(kvm_set_cr3(v618, s, ctx, cr3)).toEqual({ rc: 0, new_pgd: cr3, invalidate_pcid: 0n, load_pdptrs: false });
    expect(s.cr3).toBe(cr3);
    expect(kvm_set_cr3(v618, { ...LONG }, { ...ctx, guest_lam: false }, cr3).rc).toBe(1);
    expect(kvm_set_cr3(v516, { ...LONG }, ctx, cr3).rc).toBe(1);
  });
  it('NOFLUSH is stripped with PCIDE and skips the flush; without PCIDE bit 63 is reserved', () => {
    const pcide = { ...LONG, cr4: 0x20n | X86_CR4_PCIDE };
    expect(kvm_set_cr3(v618, pcide, ctx, 0x2005n | X86_CR3_PCID_NOFLUSH)).toEqual({ rc: 0, new_pgd: 0x2005n, invalidate_pcid: null, load_pdptrs: false });
    const s = { ...LONG };
    expect(kvm_set_cr3(v618, s, ctx, 0x2000n | X86_CR3_PCID_NOFLUSH).rc).toBe(1);
    expect(s.cr3).toBe(0x1000n);
  });
  it('PAE paging always reloads PDPTEs, even for the same CR3', () => {
    const pae = { cr0: 0x80000011n, cr3: 0x1000n, cr4: 0x20n, efer: 0n };
    expect(kvm_set_cr3(v516, pae, ctx, 0x1000n)).toEqual({ rc: 0, new_pgd: null, invalidate_pcid: 0n, load_pdptrs: true });
  });
});

describe('shadow-paging root of a CR3 (LAM KVM enabling v7, kvm@vger.kernel.org 2023-04; cpu-features.md 5.4)', () => {
  it('6.18: widest base mask for the GFN; LAM bits in pgd and hardware CR3: one root per CR3+LAM', () => {
    const a = shadowRootOfCr3(v618, 0x12345000n | X86_CR3_LAM_U48, 0x20n, true, 0x123456000n);
    const b = shadowRootOfCr3(v618, 0x12345000n | X86_CR3_LAM_U57, 0x20n, true, 0x123456000n);
    expect(a.root_gfn).toBe(0x12345n);
    expect(b.root_gfn).toBe(0x12345n);
    expect(a.pgd).not.toBe(b.pgd);
    expect(a.hw_cr3).toBe(0x123456000n | X86_CR3_LAM_U48);
    expect(shadowRootOfCr3(v618, 0x12345000n | X86_CR3_LAM_U48, 0x20n, false, 0x123456000n).hw_cr3).toBe(0x123456000n);
  });
  it('5.16 shifts the whole CR3; the PCID joins the hardware CR3 under PCIDE', () => {
    expect(shadowRootOfCr3(v516, 0x0010000000001000n, 0x20n, false, 0n).root_gfn).toBe(0x0000010000000001n);
    expect(shadowRootOfCr3(v516, 0x1005n, 0x20n | X86_CR4_PCIDE, false, 0x123456000n).hw_cr3).toBe(0x123456005n);
  });
});

describe('CR4 role bits (LAM KVM enabling v7, kvm@vger.kernel.org 2023-04; cpu-features.md 1.4)', async () => {
  const { cr4ChangeResetsMmu } = await import('../../src/cpu/cr.js');
  const { X86_FEATURES, feature_bit } = await import('../../src/cpu/caps.js');
  it('toggling LA57 resets the MMU context, toggling LAM_SUP does not', () => {
    expect(cr4ChangeResetsMmu(0x20n, 0x20n | X86_CR4_LA57)).toBe(true);
    expect(cr4ChangeResetsMmu(0x20n, 0x20n | X86_CR4_LAM_SUP)).toBe(false);
  });
  it('feature numbers: LA57 16*32+16, LAM 12*32+26, FSGSBASE 9*32+0 (section 1.4; cpuid.c kvm_set_cpu_caps)', () => {
    expect(feature_bit(X86_FEATURES.LA57.number)).toBe(1 << 16);
    expect(feature_bit(X86_FEATURES.LAM.number)).toBe(1 << 26);
    expect(feature_bit(X86_FEATURES.FSGSBASE.number)).toBe(1);
  });
});
