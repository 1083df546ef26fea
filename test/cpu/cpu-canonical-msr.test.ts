import { describe, expect, it } from 'vitest';
import { is_noncanonical_address, is_noncanonical_invlpg_address, X86EMUL_F_DT_LOAD, X86EMUL_F_WRITE } from '../../src/cpu/canonical.js';
import { kvm_set_msr_canonical, migrateCheck, MSR_FS_BASE, MSR_GS_BASE, MSR_IA32_SYSENTER_EIP, MSR_KERNEL_GS_BASE, MSR_LSTAR } from '../../src/cpu/msr.js';
import { getProfile } from '../../src/profiles/index.js';

const v516 = getProfile('v5.16');
const v618 = getProfile('v6.18');
const h = (s: string): bigint => BigInt(s.replace(/_/g, ''));
const A = h('0x0000_7fff_ffff_f000');
const B = h('0xffff_8000_0000_0000');
const C = h('0x0000_8000_0000_0000');
const D = h('0x00ff_ffff_ffff_f000');
const E = h('0xff00_0000_0000_0000');
const F = h('0x0100_0000_0000_0000');
const G = h('0x8000_0000_0000_0000');
const ENV = {
  H4: { cr4: 0x20n, kvm_la57: false },
  'H5/g4': { cr4: 0x20n, kvm_la57: true },
  'H5/g5': { cr4: 0x1020n, kvm_la57: true },
} as const;

// cpu-features.md Appendix A.2: [row, env, addr, data ok, WRMSR 5.16, WRMSR 6.18, SYSENTER 5.16, SYSENTER 6.18, INVLPG 5.16, INVLPG 6.18]
const K: [string, keyof typeof ENV, bigint, boolean, boolean, boolean, bigint, bigint, 'flush' | 'NOP', 'flush' | 'NOP'][] = [
  ['K1', 'H4', A, true, true, true, A, A, 'flush', 'flush'],
  ['K2', 'H4', C, false, false, false, B, B, 'NOP', 'NOP'],
  ['K3', 'H4', F, false, false, false, 0n, 0n, 'NOP', 'NOP'],
  ['K4', 'H5/g4', A, true, true, true, A, A, 'flush', 'flush'],
  ['K5', 'H5/g4', B, true, true, true, B, B, 'flush', 'flush'],
  ['K6', 'H5/g4', C, false, false, true, B, C, 'NOP', 'flush'],
  ['K7', 'H5/g4', D, false, false, true, h('0xffff_ffff_ffff_f000'), D, 'NOP', 'flush'],
  ['K8', 'H5/g4', E, false, false, true, 0n, E, 'NOP', 'flush'],
  ['K9', 'H5/g4', F, false, false, false, 0n, E, 'NOP', 'NOP'],
  ['K10', 'H5/g4', G, false, false, false, 0n, 0n, 'NOP', 'NOP'],
  ['K11', 'H5/g5', C, true, true, true, C, C, 'flush', 'flush'],
  ['K12', 'H5/g5', E, true, true, true, E, E, 'flush', 'flush'],
  ['K13', 'H5/g5', F, false, false, false, E, E, 'NOP', 'NOP'],
];

describe('48/57-bit canonicality: linear addresses vs MSR writes per profile (cpu-features.md A.2, section 4; the 5-level EPT RFC thread, kvm@vger.kernel.org 2017-03)', () => {
  for (const [row, env, a, data, m516, m618, s516, s618, i516, i618] of K) {
    it(`${row} ${env} 0x${a.toString(16)}`, () => {
      const ctx = ENV[env];
      for (const p of [v516, v618]) expect(!is_noncanonical_address(p, a, ctx, X86EMUL_F_WRITE)).toBe(data);
      expect(kvm_set_msr_canonical(v516, MSR_FS_BASE, a, ctx).rc === 0).toBe(m516);
      expect(kvm_set_msr_canonical(v618, MSR_FS_BASE, a, ctx).rc === 0).toBe(m618);
      expect(kvm_set_msr_canonical(v516, MSR_IA32_SYSENTER_EIP, a, ctx)).toEqual({ rc: 0, written: s516 });
      expect(kvm_set_msr_canonical(v618, MSR_IA32_SYSENTER_EIP, a, ctx)).toEqual({ rc: 0, written: s618 });
      expect(is_noncanonical_invlpg_address(v516, a, ctx) ? 'NOP' : 'flush').toBe(i516);
      expect(is_noncanonical_invlpg_address(v618, a, ctx) ? 'NOP' : 'flush').toBe(i618);
      // LGDT/LIDT bases follow the MSR rule (host width in 6.18)
      expect(!is_noncanonical_address(v618, a, ctx, X86EMUL_F_DT_LOAD)).toBe(m618);
    });
  }

  it('GS_BASE, KERNEL_GS_BASE and LSTAR follow the FS_BASE rule; other MSRs pass through', () => {
    for (const msr of [MSR_GS_BASE, MSR_KERNEL_GS_BASE, MSR_LSTAR]) {
      expect(kvm_set_msr_canonical(v618, msr, C, ENV['H5/g4']).rc).toBe(0);
      expect(kvm_set_msr_canonical(v516, msr, C, ENV['H5/g4']).rc).toBe(1);
    }
    expect(kvm_set_msr_canonical(v516, 0x10, F, ENV.H4)).toEqual({ rc: 0, written: F });
  });
});

describe('the seed-003 migration hazard (A.2 "migration hazard row")', () => {
  it('state written under 6.18 on an LA57 host cannot be restored with KVM_SET_MSRS on a host without LA57', () => {
    for (const a of [C, D, E]) {
      expect(kvm_set_msr_canonical(v618, MSR_FS_BASE, a, ENV['H5/g4']).rc).toBe(0);
      for (const p of [v516, v618]) {
        const r = migrateCheck(p, { cr4: 0x20n, regs: { fs_base: a, lstar: A } }, { label: 'H4', la57: false });
        expect(r).toMatchObject({ ok: false, breaking: 'fs_base' });
      }
    }
  });

  it('SYSENTER_EIP moves but is silently changed; CR4.LA57 cannot move at all', () => {
    const r = migrateCheck(v618, { cr4: 0x20n, regs: { sysenter_eip: C } }, { label: 'H4', la57: false });
    expect(r.registers[0]).toMatchObject({ problem: 'changed', written: B });
    const r2 = migrateCheck(v618, { cr4: 0x1020n, regs: { fs_base: A } }, { label: 'H4', la57: false });
    expect(r2).toMatchObject({ ok: false, breaking: 'cr4', cr4_la57_refused: true });
    expect(migrateCheck(v618, { cr4: 0x20n, regs: { fs_base: C } }, { label: 'H5', la57: true }).ok).toBe(true);
  });
});
