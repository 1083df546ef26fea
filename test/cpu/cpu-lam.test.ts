import { describe, expect, it } from 'vitest';
import { X86EMUL_F_FETCH, X86EMUL_F_INVLPG, X86EMUL_F_MSR, X86EMUL_F_IMPLICIT, is_noncanonical_invlpg_address } from '../../src/cpu/canonical.js';
import { cr4Features, cr4ReservedMasks, EFER_LMA, kvm_is_valid_cr4, kvm_vcpu_is_legal_cr3, X86_CR3_LAM_U48, X86_CR3_LAM_U57, X86_CR4_LA57, X86_CR4_LAM_SUP } from '../../src/cpu/cr.js';
import { get_untagged_addr, lamBit, lamCanonicalCheck, lamModeOf, lamModifiedCanonical, untagThenCheck, type LamCtx, type LamMode } from '../../src/cpu/lam.js';
import { getProfile } from '../../src/profiles/index.js';

const v618 = getProfile('v6.18');
const v516 = getProfile('v5.16');
const h = (s: string): bigint => BigInt(s.replace(/_/g, ''));
const PAE = 1n << 5n;

/** The nine configurations of cpu-features.md Appendix A.1. */
function ctxOf(cfg: string, la57: boolean, guest_lam = true): LamCtx {
  let cr3 = 0x12345000n;
  let cr4 = PAE | (la57 ? X86_CR4_LA57 : 0n);
  if (cfg === 'u48') cr3 |= X86_CR3_LAM_U48;
  if (cfg === 'u57') cr3 |= X86_CR3_LAM_U57;
  if (cfg === 'u57u48') cr3 |= X86_CR3_LAM_U57 | X86_CR3_LAM_U48;
  if (cfg === 'sup') cr4 |= X86_CR4_LAM_SUP;
  return { cr3, cr4, efer: EFER_LMA | (1n << 8n), cs_l: true, guest_lam };
}

// [row, config, 5-level, input, LAM bit, untagged (KVM 6.18), canonical, seed-004 rule]
const A1: [string, string, boolean, string, number | null, string, boolean, string][] = [
  ['L1', 'off', false, '0x0000_1234_5678_9000', null, '0x0000_1234_5678_9000', true, 'legacy 48-bit'],
  ['L2', 'off', false, '0x7eab_1234_5678_9000', null, '0x7eab_1234_5678_9000', false, 'legacy 48-bit'],
  ['L3', 'off', false, '0x0000_9234_5678_9000', null, '0x0000_9234_5678_9000', false, 'legacy 48-bit'],
  ['L4', 'off', true, '0x00ab_1234_5678_9000', null, '0x00ab_1234_5678_9000', true, 'legacy 57-bit'],
  ['L5', 'off', true, '0x7e00_1234_5678_9000', null, '0x7e00_1234_5678_9000', false, 'legacy 57-bit'],
  ['L6', 'u48', false, '0x0000_1234_5678_9000', 47, '0x0000_1234_5678_9000', true, 'LAM_U48: 63=0, 47=0'],
  ['L7', 'u48', false, '0x7eab_1234_5678_9000', 47, '0x0000_1234_5678_9000', true, 'LAM_U48: 63=0, 47=0'],
  ['L8', 'u48', false, '0x0100_1234_5678_9000', 47, '0x0000_1234_5678_9000', true, 'LAM_U48: 63=0, 47=0'],
  ['L9', 'u48', false, '0x0000_9234_5678_9000', 47, '0x7fff_9234_5678_9000', false, 'LAM_U48: 63=0, 47=0'],
  ['L10', 'u48', true, '0x7eab_1234_5678_9000', 47, '0x0000_1234_5678_9000', true, 'LAM_U48: 63=0, 47=0'],
  ['L11', 'u48', true, '0x00ab_1234_5678_9000', 47, '0x0000_1234_5678_9000', true, 'LAM_U48: 63=0, 47=0'],
  ['L12', 'u48', true, '0x0000_9234_5678_9000', 47, '0x7fff_9234_5678_9000', false, 'LAM_U48: 63=0, 47=0'],
  ['L13', 'u57', false, '0x0000_1234_5678_9000', 56, '0x0000_1234_5678_9000', true, 'LAM_U57+4-lvl: 63=0, 56..47=0'],
  ['L14', 'u57', false, '0x7e00_1234_5678_9000', 56, '0x0000_1234_5678_9000', true, 'LAM_U57+4-lvl: 63=0, 56..47=0'],
  ['L15', 'u57', false, '0x00ab_1234_5678_9000', 56, '0x00ab_1234_5678_9000', false, 'LAM_U57+4-lvl: 63=0, 56..47=0'],
  ['L16', 'u57', false, '0x0000_9234_5678_9000', 56, '0x0000_9234_5678_9000', false, 'LAM_U57+4-lvl: 63=0, 56..47=0'],
  ['L17', 'u57', false, '0x0100_1234_5678_9000', 56, '0x7f00_1234_5678_9000', false, 'LAM_U57+4-lvl: 63=0, 56..47=0'],
  ['L18', 'u57', true, '0x7e00_1234_5678_9000', 56, '0x0000_1234_5678_9000', true, 'LAM_U57+5-lvl: 63=0,56=0'],
  ['L19', 'u57', true, '0x7eab_1234_5678_9000', 56, '0x00ab_1234_5678_9000', true, 'LAM_U57+5-lvl: 63=0,56=0'],
  ['L20', 'u57', true, '0x0000_9234_5678_9000', 56, '0x0000_9234_5678_9000', true, 'LAM_U57+5-lvl: 63=0,56=0'],
  ['L21', 'u57', true, '0x0100_1234_5678_9000', 56, '0x7f00_1234_5678_9000', false, 'LAM_U57+5-lvl: 63=0,56=0'],
  ['L22', 'u57u48', false, '0x7e00_1234_5678_9000', 56, '0x0000_1234_5678_9000', true, 'LAM_U57+4-lvl: 63=0, 56..47=0'],
  ['L23', 'u57u48', false, '0x7eab_1234_5678_9000', 56, '0x00ab_1234_5678_9000', false, 'LAM_U57+4-lvl: 63=0, 56..47=0'],
  ['L24', 'sup', false, '0x7e00_1234_5678_9000', null, '0x7e00_1234_5678_9000', false, 'legacy 48-bit'],
  ['L25', 'off', false, '0xffff_8000_1234_5000', null, '0xffff_8000_1234_5000', true, 'legacy 48-bit'],
  ['L26', 'off', false, '0x8abc_8000_1234_5000', null, '0x8abc_8000_1234_5000', false, 'legacy 48-bit'],
  ['L27', 'off', true, '0xff12_3456_7800_0000', null, '0xff12_3456_7800_0000', true, 'legacy 57-bit'],
  ['L28', 'off', true, '0x81ff_8000_1234_5000', null, '0x81ff_8000_1234_5000', false, 'legacy 57-bit'],
  ['L29', 'u48', false, '0x8abc_8000_1234_5000', null, '0x8abc_8000_1234_5000', false, 'legacy 48-bit'],
  ['L30', 'sup', false, '0xffff_8000_1234_5000', 47, '0xffff_8000_1234_5000', true, 'LAM_S48: 63=1, 47=1'],
  ['L31', 'sup', false, '0x81ff_8000_1234_5000', 47, '0xffff_8000_1234_5000', true, 'LAM_S48: 63=1, 47=1'],
  ['L32', 'sup', false, '0x8abc_8000_1234_5000', 47, '0xffff_8000_1234_5000', true, 'LAM_S48: 63=1, 47=1'],
  ['L33', 'sup', false, '0xfeff_8000_1234_5000', 47, '0xffff_8000_1234_5000', true, 'LAM_S48: 63=1, 47=1'],
  ['L34', 'sup', false, '0xffff_0000_1234_5000', 47, '0x8000_0000_1234_5000', false, 'LAM_S48: 63=1, 47=1'],
  ['L35', 'sup', false, '0xff12_3456_7800_0000', 47, '0x8000_3456_7800_0000', false, 'LAM_S48: 63=1, 47=1'],
  ['L36', 'sup', true, '0x81ff_8000_1234_5000', 56, '0xffff_8000_1234_5000', true, 'LAM_S57: 63=1, 56=1'],
  ['L37', 'sup', true, '0xffff_0000_1234_5000', 56, '0xffff_0000_1234_5000', true, 'LAM_S57: 63=1, 56=1'],
  ['L38', 'sup', true, '0xff12_3456_7800_0000', 56, '0xff12_3456_7800_0000', true, 'LAM_S57: 63=1, 56=1'],
  ['L39', 'sup', true, '0x8abc_8000_1234_5000', 56, '0x80bc_8000_1234_5000', false, 'LAM_S57: 63=1, 56=1'],
  ['L40', 'sup', true, '0xfeff_8000_1234_5000', 56, '0x80ff_8000_1234_5000', false, 'LAM_S57: 63=1, 56=1'],
];

describe('LAM untag and canonicality (cpu-features.md Appendix A.1, section 5.2; LAM KVM enabling v7, kvm@vger.kernel.org 2023-04)', () => {
  for (const [row, cfg, la57, input, bit, untagged, canonical, rule] of A1) {
    it(`${row}: ${cfg} ${la57 ? '5' : '4'}-level ${input} -> ${untagged} (${rule})`, () => {
      const ctx = ctxOf(cfg, la57);
      const mode = lamModeOf(v618, h(input), ctx);
      expect(mode === null ? null : lamBit(mode)).toBe(bit);
      const r = untagThenCheck(v618, h(input), ctx, 0);
      expect(r.untagged).toBe(h(untagged));
      expect(r.canonical).toBe(canonical);
      // the seed's modified check (SDM order) agrees with KVM's untag-then-check order
      expect(lamCanonicalCheck(v618, h(input), ctx).canonical).toBe(canonical);
    });
  }

  it('L41: instruction fetches are never untagged (LAM KVM enabling v7, kvm@vger.kernel.org 2023-04)', () => {
    const r = untagThenCheck(v618, h('0x7e00_1234_5678_9000'), ctxOf('u57', false), X86EMUL_F_FETCH);
    expect(r).toEqual({ untagged: h('0x7e00_1234_5678_9000'), canonical: false });
  });

  it('L42: INVLPG operands are never untagged; 6.18 checks them with the host width -> NOP', () => {
    const a = h('0x81ff_8000_1234_5000');
    expect(get_untagged_addr(v618, a, ctxOf('sup', false), X86EMUL_F_INVLPG)).toBe(a);
    expect(is_noncanonical_invlpg_address(v618, a, { cr4: PAE | X86_CR4_LAM_SUP, kvm_la57: true })).toBe(true);
  });

  it('L43: no untagging outside 64-bit mode', () => {
    const a = h('0x7eab_1234_5678_9000');
    expect(get_untagged_addr(v618, a, { ...ctxOf('u48', false), cs_l: false }, 0)).toBe(a);
    expect(get_untagged_addr(v618, a, { ...ctxOf('u48', false), efer: 0n }, 0)).toBe(a);
  });

  it('L44: without guest LAM (or in 5.16) CR3 bit 62 and CR4 bit 28 are refused', () => {
    const cr3 = 0x12345000n | X86_CR3_LAM_U48;
    for (const [p, lam] of [[v618, false], [v516, true], [v516, false]] as const) {
      expect(kvm_vcpu_is_legal_cr3(p, cr3, { maxphyaddr: 52, guest_lam: lam })).toBe(false);
      const f = cr4Features(true, lam);
      expect(kvm_is_valid_cr4(cr4ReservedMasks(p, f, f), PAE | X86_CR4_LAM_SUP)).toBe(false);
    }
    expect(kvm_vcpu_is_legal_cr3(v618, cr3, { maxphyaddr: 52, guest_lam: true })).toBe(true);
    const f = cr4Features(true, true);
    expect(kvm_is_valid_cr4(cr4ReservedMasks(v618, f, f), PAE | X86_CR4_LAM_SUP)).toBe(true);
    // LAM_SUP needs both KVM's and the guest's LAM (section 1.4, C10)
    expect(kvm_is_valid_cr4(cr4ReservedMasks(v618, cr4Features(true, false), f), PAE | X86_CR4_LAM_SUP)).toBe(false);
  });

  it('implicit accesses and MSR values are never untagged (section 5.3)', () => {
    const a = h('0x7e00_1234_5678_9000');
    expect(get_untagged_addr(v618, a, ctxOf('u57', false), X86EMUL_F_IMPLICIT)).toBe(a);
    // MSR writes are not untagged by the caller: the vmx hook itself only skips fetch/implicit/INVLPG,
    // the MSR path never calls it (LAM KVM enabling v7, kvm@vger.kernel.org 2023-04).
    expect(X86EMUL_F_MSR).toBe(16);
  });

  it('bit 63 alone selects user/supervisor, never CPL: a supervisor pointer stays supervisor', () => {
    const s = h('0x8abc_0000_1234_5000');
    expect(get_untagged_addr(v618, s, ctxOf('sup', false), 0) >> 63n).toBe(1n);
    const u = h('0x7fff_8000_1234_5000');
    expect(get_untagged_addr(v618, u, ctxOf('u48', false), 0) >> 63n).toBe(0n);
  });
});

/** Seed 004 lines 39-49: the modified canonicality check, one table row per mode. */
const SEED004: [LamMode, boolean, string, boolean][] = [
  // LAM_S48: [1][metadata][1] at 63, 47
  ['LAM_S48', false, '0x8000_8000_0000_0000', true],
  ['LAM_S48', false, '0xfabc_8000_0000_0000', true],
  ['LAM_S48', false, '0xffff_0000_0000_0000', false], // bit 47 = 0
  ['LAM_S48', false, '0x7fff_8000_0000_0000', false], // bit 63 = 0
  // LAM_U48: [0][metadata][0] at 63, 47
  ['LAM_U48', false, '0x7fff_7fff_ffff_f000', true],
  ['LAM_U48', false, '0x0000_0000_1000_0000', true],
  ['LAM_U48', false, '0x0000_8000_0000_0000', false],
  ['LAM_U48', true, '0x00ab_1234_5678_9000', true], // LA57 + LAM_U48: effective width 48 (line 55)
  // LAM_S57: [1][metadata][1] at 63, 56
  ['LAM_S57', true, '0x8100_0000_0000_0000', true],
  ['LAM_S57', true, '0xfeff_8000_0000_0000', false],
  // LAM_U57 + 5-level: [0][metadata][0] at 63, 56
  ['LAM_U57', true, '0x7e00_ffff_ffff_f000', true],
  ['LAM_U57', true, '0x0100_0000_0000_0000', false],
  // LAM_U57 + 4-level: [0][metadata][0...0] at 63, 56..47
  ['LAM_U57', false, '0x7e00_7fff_ffff_f000', true],
  ['LAM_U57', false, '0x7e00_8000_0000_0000', false], // bit 47
  ['LAM_U57', false, '0x00ab_0000_0000_0000', false], // bits 55:48
  ['LAM_U57', false, '0x0100_0000_0000_0000', false], // bit 56
];

describe("LAM KVM enabling v7, kvm@vger.kernel.org 2023-04's modified canonicality table (lines 39-49) as a test table", () => {
  for (const [mode, la57, addr, ok] of SEED004) {
    it(`${mode} ${la57 ? '5' : '4'}-level ${addr}: ${ok ? 'canonical' : 'not canonical'}`, () => {
      expect(lamModifiedCanonical(mode, h(addr), la57)).toBe(ok);
    });
  }
});
