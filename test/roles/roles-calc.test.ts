/**
 * Role computation rules, one test per rule, each citing the reference section
 * (../shared/reference/shadow-mmu.md, rfc-pae-root.md) it checks.
 */
import { describe, expect, it } from 'vitest';
import { getProfile, PROFILE_NAMES, type Profile } from '../../src/profiles/index.js';
import {
  calcRootRole,
  EFER_LMA,
  EFER_LME,
  EFER_NX,
  getField,
  hostByName,
  kvm_calc_shadow_mmu_root_page_role,
  kvm_mmu_calc_root_page_role,
  kvm_mmu_role_as_id,
  sp_has_gptes,
  syncRoleIgnoreMask,
  syncRoleMatches,
  kvm_mmu_child_role,
  has4ByteGpte,
  putRoleField,
  kvm_mmu_get_page_role,
  kvm_mmu_get_tdp_level,
  mmu_alloc_root_role,
  role_regs_to_root_level,
  roleLayout,
  rootRoleWarnings,
  spQuadrant,
  validRoleRegs,
  X86_CR0_PE,
  X86_CR0_PG,
  X86_CR0_WP,
  X86_CR4_LA57,
  X86_CR4_PAE,
  X86_CR4_PSE,
  X86_CR4_SMEP,
  type RoleVcpu,
} from '../../src/roles/index.js';

const P = (n: string) => getProfile(n);
const PG = (X86_CR0_PG | X86_CR0_PE) >>> 0;
const vcpu = (cr0: number, cr4: number, efer: number, host = 'ept4', extra: Partial<RoleVcpu> = {}): RoleVcpu => ({
  cr0,
  cr4,
  efer,
  smm: false,
  guest_mode: false,
  host: hostByName(host),
  ...extra,
});
const LONG = EFER_LME | EFER_LMA;
const f = (p: Profile, w: number, name: string) => getField(roleLayout(p), w, name);

describe('§a.9 example role words', () => {
  it('shadow root, 4-level guest, NX=1 WP=1: 5.16 0x3714, 6.x 0x3704', () => {
    const v = vcpu(PG | X86_CR0_WP, X86_CR4_PAE, LONG | EFER_NX);
    expect(calcRootRole(P('v5.16'), 'shadow', v).word).toBe(0x3714);
    expect(calcRootRole(P('v6.18'), 'shadow', v).word).toBe(0x3704);
  });
  it('TDP root level 4, NX=1 WP=1: 5.16 0x3794, 6.x 0x3784', () => {
    const v = vcpu(PG | X86_CR0_WP, X86_CR4_PAE, LONG | EFER_NX);
    expect(calcRootRole(P('v5.16'), 'tdp', v).word).toBe(0x3794);
    expect(calcRootRole(P('v6.18'), 'tdp', v).word).toBe(0x3784);
  });
  it('non-paging shadow, one of the four PAE-root PDs: 5.16 0x792, 6.x 0x1782', () => {
    const v = vcpu(0, 0, 0);
    const r5 = calcRootRole(P('v5.16'), 'shadow', v);
    const pd5 = kvm_mmu_get_page_role(P('v5.16'), { mmu_role: r5.word, direct_map: true, root_level: 0, shadow_root_level: 3 }, { level: 2, direct: true, access: 7, gaddr: 0x40000000 });
    expect(pd5).toBe(0x792);
    const r6 = calcRootRole(P('v6.18'), 'shadow', v);
    expect(mmu_alloc_root_role(P('v6.18'), r6.word, 2, 0)).toBe(0x1782);
  });
  it('32-bit non-PAE guest (WP=1, NX=0), root PD quadrant 2: 5.16 0x2742, 6.x 0x3752', () => {
    const v = vcpu(PG | X86_CR0_WP, 0, 0);
    const r5 = calcRootRole(P('v5.16'), 'shadow', v);
    const ctx = { mmu_role: r5.word, direct_map: false, root_level: 2, shadow_root_level: 3 };
    expect(kvm_mmu_get_page_role(P('v5.16'), ctx, { level: 2, direct: false, access: 7, gaddr: 0x80000000 })).toBe(0x2742);
    const r6 = calcRootRole(P('v6.18'), 'shadow', v);
    expect(mmu_alloc_root_role(P('v6.18'), r6.word, 2, 2)).toBe(0x3752);
  });
  it('6.x nested NPT, 5-level host, 4-level L1 (CR0 = PG only, NX=1): 0x61705, passthrough', () => {
    const v = vcpu(X86_CR0_PG, X86_CR4_PAE, LONG | EFER_NX, 'npt5', { guest_mode: true });
    const r = calcRootRole(P('v6.18'), 'npt', v);
    expect(r.word).toBe(0x61705);
    expect(f(P('v6.18'), r.word, 'passthrough')).toBe(1);
  });
});

describe('§b.1 role_regs_to_root_level', () => {
  it('0 without paging, else 5/4 in long mode, 3 with PAE, 2 otherwise', () => {
    expect(role_regs_to_root_level({ cr0: 0, cr4: X86_CR4_PAE, efer: 0 })).toBe(0);
    expect(role_regs_to_root_level({ cr0: PG, cr4: X86_CR4_PAE | X86_CR4_LA57, efer: LONG })).toBe(5);
    expect(role_regs_to_root_level({ cr0: PG, cr4: X86_CR4_PAE, efer: LONG })).toBe(4);
    expect(role_regs_to_root_level({ cr0: PG, cr4: X86_CR4_PAE, efer: 0 })).toBe(3);
    expect(role_regs_to_root_level({ cr0: PG, cr4: X86_CR4_PSE, efer: 0 })).toBe(2);
  });
});

describe('§b.2 5.x pipeline', () => {
  it('base_only: smep_andnot_wp reads the (zero) extended role, so it is 0', () => {
    const v = vcpu(PG, X86_CR4_PAE | X86_CR4_SMEP, LONG);
    const regs = { cr0: v.cr0, cr4: v.cr4, efer: v.efer };
    const full = kvm_calc_shadow_mmu_root_page_role(P('v5.16'), v, regs, false);
    const base = kvm_calc_shadow_mmu_root_page_role(P('v5.16'), v, regs, true);
    expect(f(P('v5.16'), full.base, 'smep_andnot_wp')).toBe(1);
    expect(f(P('v5.16'), base.base, 'smep_andnot_wp')).toBe(0);
    expect(base.ext).toBe(0);
  });
  it('efer_nx and cr0_wp come from the guest only while paging', () => {
    const r = calcRootRole(P('v5.16'), 'shadow', vcpu(X86_CR0_WP, 0, EFER_NX));
    expect(f(P('v5.16'), r.word, 'efer_nx')).toBe(0);
    expect(f(P('v5.16'), r.word, 'cr0_wp')).toBe(0);
  });
  it('shadow-EPT roles ignore the registers and take smm from root_mmu', () => {
    const r = calcRootRole(P('v5.16'), 'ept', vcpu(PG, X86_CR4_PAE, LONG | EFER_NX, 'ept4', { smm: true }), { level: 5, accessed_dirty: false, execonly: true });
    expect(r.word).toBe(0x01030715);
    expect(r.ext).toBe(0x3);
  });
});

describe('§a.4 / golden README §6.2: bit 4 is not a plain inversion', () => {
  it('paging off: both polarities store 0; paging: v5.16 PG&&PAE, 5.17+ PG&&!PAE', () => {
    for (const regs of validRoleRegs()) {
      const v = vcpu(regs.cr0, regs.cr4, regs.efer);
      const a = calcRootRole(P('v5.16'), 'shadow', v).word;
      const b = calcRootRole(P('rfc-base'), 'shadow', v).word;
      const pg = (regs.cr0 & X86_CR0_PG) !== 0;
      const pae = (regs.cr4 & X86_CR4_PAE) !== 0;
      expect(f(P('v5.16'), a, 'gpte_is_8_bytes')).toBe(pg && pae ? 1 : 0);
      expect(f(P('rfc-base'), b, 'has_4_byte_gpte')).toBe(pg && !pae ? 1 : 0);
      expect((a ^ b) & ~0x10).toBe(0);
    }
  });
});

describe('§b.3 6.x pipeline', () => {
  it('shadow and TDP roots force efer_nx = 1; the CPU role keeps the guest value', () => {
    const v = vcpu(PG, X86_CR4_PAE, LONG);
    const s = calcRootRole(P('v6.18'), 'shadow', v);
    expect(f(P('v6.18'), s.word, 'efer_nx')).toBe(1);
    expect(f(P('v6.18'), s.cpu_word!, 'efer_nx')).toBe(0);
    expect(f(P('v6.18'), calcRootRole(P('v6.18'), 'tdp', v).word, 'efer_nx')).toBe(1);
    expect(f(P('v6.18'), calcRootRole(P('v6.18'), 'npt', { ...v, host: hostByName('npt4'), guest_mode: true }).word, 'efer_nx')).toBe(0);
  });
  it('shadow root level is max(guest level, 3)', () => {
    expect(calcRootRole(P('v6.18'), 'shadow', vcpu(0, 0, 0)).shadow_root_level).toBe(3);
    expect(calcRootRole(P('v6.18'), 'shadow', vcpu(PG, 0, 0)).shadow_root_level).toBe(3);
    expect(calcRootRole(P('v6.18'), 'shadow', vcpu(PG, X86_CR4_PAE | X86_CR4_LA57, LONG)).shadow_root_level).toBe(5);
  });
});

describe('§b.4 kvm_mmu_get_tdp_level', () => {
  it('forced level wins; 5-level EPT only above MAXPHYADDR 48; TDX uses GuestPhysBits (6.x)', () => {
    expect(kvm_mmu_get_tdp_level(P('v5.16'), hostByName('npt3-32bit-host'))).toBe(3);
    expect(kvm_mmu_get_tdp_level(P('v5.16'), hostByName('ept5-maxpa48'))).toBe(4);
    expect(kvm_mmu_get_tdp_level(P('v5.16'), hostByName('ept5-maxpa49'))).toBe(5);
    expect(kvm_mmu_get_tdp_level(P('v6.18'), hostByName('ept5-tdx-gpaw48'))).toBe(4);
    expect(kvm_mmu_get_tdp_level(P('v6.18'), hostByName('ept5-tdx-gpaw52'))).toBe(5);
    expect(kvm_mmu_get_tdp_level(P('v6.18'), hostByName('ept5-tdx-nogpaw'))).toBe(4);
  });
});

describe('§c.4 quadrants', () => {
  it('level 1: address bit 21; level 2: bits 31:30', () => {
    expect(spQuadrant(0x200000, 1)).toBe(1);
    expect(spQuadrant(0x400000, 1)).toBe(0);
    expect(spQuadrant(0xc0000000, 2)).toBe(3);
    expect(spQuadrant(0xfffffffffffff000n, 2)).toBe(3);
  });
  it('6.x children: the quadrant is the parent SPTE index & 1, only with 4-byte gptes', () => {
    const root = mmu_alloc_root_role(P('v6.18'), calcRootRole(P('v6.18'), 'shadow', vcpu(PG, 0, 0)).word, 2, 1);
    expect(f(P('v6.18'), kvm_mmu_child_role(P('v6.18'), root, 511, false, 7), 'quadrant')).toBe(1);
    expect(f(P('v6.18'), kvm_mmu_child_role(P('v6.18'), root, 2, false, 7), 'quadrant')).toBe(0);
  });
  it('kvm_mmu_child_role on masks equals the field-by-field writes, for every profile, parent level, index, access and direct', () => {
    // The reference: the named-field writes of the kernel's function, one put per field.
    const ref = (p: Profile, parent: number, index: number, direct: boolean, access: number): number => {
      const l = roleLayout(p);
      let role = putRoleField(l, parent, 'level', getField(l, parent, 'level') - 1);
      role = putRoleField(l, role, 'access', access);
      role = putRoleField(l, role, 'direct', direct);
      if (l.byName.has('passthrough')) role = putRoleField(l, role, 'passthrough', 0);
      if (has4ByteGpte(p, l, role)) role = putRoleField(l, role, 'quadrant', index & 1);
      return role;
    };
    let seed = 12345;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    let checked = 0;
    for (const name of PROFILE_NAMES) {
      const p = P(name);
      const l = roleLayout(p);
      for (let k = 0; k < 400; k++) {
        // Any named bits set (random), with a level of 2..5.
        const parent = putRoleField(l, rnd() & ~l.padding_mask, 'level', 2 + (k % 4));
        for (const index of [0, 1, 2, 511]) {
          const access = rnd() & 7;
          const direct = (rnd() & 1) === 1;
          expect(kvm_mmu_child_role(p, parent, index, direct, access), `${name} 0x${parent.toString(16)} ${index}`).toBe(ref(p, parent, index, direct, access));
          checked++;
        }
      }
      expect(() => kvm_mmu_child_role(p, putRoleField(l, 0, 'level', 1), 0, false, 7)).toThrow(/no child pages/);
      expect(() => kvm_mmu_child_role(p, putRoleField(l, 0, 'level', 2), 512, false, 7)).toThrow(/0\.\.511/);
      expect(() => kvm_mmu_child_role(p, putRoleField(l, 0, 'level', 2), 0, false, 8)).toThrow(/0\.\.7/);
    }
    expect(checked).toBe(PROFILE_NAMES.length * 1600);
  });
  it('mmu_alloc_root warnings are reported, not thrown', () => {
    const tdp = calcRootRole(P('v6.18'), 'tdp', vcpu(0, 0, 0)).word;
    expect(rootRoleWarnings(P('v6.18'), mmu_alloc_root_role(P('v6.18'), tdp, 4, 1))).toEqual(['quadrant without 4-byte gptes']);
  });
});

describe('§b.5 the RFC, and the rfc-v1-pae argument (rfc-pae-root.md §1)', () => {
  const space = validRoleRegs();
  it('rfc-v1-pae: a shadow root is level_promoted exactly when its level exceeds the guest root level', () => {
    const p = P('rfc-v1-pae');
    for (const regs of space) {
      const r = calcRootRole(p, 'shadow', vcpu(regs.cr0, regs.cr4, regs.efer));
      const promoted = r.root_level > 0 && r.shadow_root_level > r.root_level;
      expect(f(p, r.word, 'level_promoted'), JSON.stringify(regs)).toBe(promoted ? 1 : 0);
    }
  });
  it('a non-PAE guest has 2 levels and its shadow 3', () => {
    const r = calcRootRole(P('rfc-v1-pae'), 'shadow', vcpu(PG, X86_CR4_PSE, 0));
    expect([r.root_level, r.shadow_root_level]).toEqual([2, 3]);
    expect(f(P('rfc-v1-pae'), r.word, 'level_promoted')).toBe(1);
    expect(f(P('rfc-v1'), calcRootRole(P('rfc-v1'), 'shadow', vcpu(PG, X86_CR4_PSE, 0)).word, 'level_promoted')).toBe(0);
  });
  it('rfc-v1 (tests CR4.PSE) disagrees with the levels on exactly 512 of 5632 shadow-root inputs', () => {
    let wrong = 0;
    for (const regs of space)
      for (const smm of [false, true])
        for (const guest_mode of [false, true]) {
          const r = calcRootRole(P('rfc-v1'), 'shadow', vcpu(regs.cr0, regs.cr4, regs.efer, 'ept4', { smm, guest_mode }));
          const promoted = r.root_level > 0 && r.shadow_root_level > r.root_level;
          if (f(P('rfc-v1'), r.word, 'level_promoted') !== (promoted ? 1 : 0)) wrong++;
        }
    expect(wrong).toBe(512);
  });
  it('rfc-v1-pae is rfc-v1 plus one data patch', () => {
    expect(P('rfc-v1').roles.rfc_pae_root).toEqual({ promoted_test: 'pse' });
    expect(P('rfc-v1-pae').roles.rfc_pae_root).toEqual({ promoted_test: 'pae' });
    const { rfc_pae_root: _a, ...restA } = P('rfc-v1').roles;
    const { rfc_pae_root: _b, ...restB } = P('rfc-v1-pae').roles;
    expect(restB).toEqual(restA);
  });
  it('kvm_mmu_get_page clears level_promoted at or below the guest level and pae_root below 3', () => {
    const p = P('rfc-v1-pae');
    const r = calcRootRole(p, 'shadow', vcpu(PG, 0, 0));
    const ctx = { mmu_role: r.word, direct_map: false, root_level: 2, shadow_root_level: 3 };
    const l3 = kvm_mmu_get_page_role(p, ctx, { level: 3, direct: false, access: 7, gaddr: 0 });
    const l2 = kvm_mmu_get_page_role(p, ctx, { level: 2, direct: false, access: 7, gaddr: 0 });
    expect([f(p, l3, 'level_promoted'), f(p, l3, 'pae_root')]).toEqual([1, 1]);
    expect([f(p, l2, 'level_promoted'), f(p, l2, 'pae_root')]).toEqual([0, 0]);
  });
});

describe('§a.7 / §a.8 role predicates', () => {
  it('sync ignore masks: 5.16 0x76f, v6.18 0x4076f, RFC 0xc076f', () => {
    expect(syncRoleIgnoreMask(P('v5.16'))).toBe(0x76f);
    expect(syncRoleIgnoreMask(P('rfc-base'))).toBe(0x76f);
    expect(syncRoleIgnoreMask(P('v6.18'))).toBe(0x4076f);
    expect(syncRoleIgnoreMask(P('rfc-v1'))).toBe(0xc076f);
    expect(syncRoleMatches(P('v6.18'), 0x00003741, 0x00043704)).toBe(true);
    expect(syncRoleMatches(P('v6.18'), 0x00003741, 0x00003744 | 0x1000000)).toBe(false);
  });
  it('address space 1 iff smm; passthrough and direct pages have no gptes', () => {
    expect(kvm_mmu_role_as_id(P('v5.16'), 0x01000000)).toBe(1);
    expect(kvm_mmu_role_as_id(P('v5.16'), 0x00003704)).toBe(0);
    expect(sp_has_gptes(P('v6.18'), 0x00061705)).toBe(false);
    expect(sp_has_gptes(P('v6.18'), 0x00003784)).toBe(false);
    expect(sp_has_gptes(P('v6.18'), 0x00003704)).toBe(true);
  });
});

describe('§b.2 kvm_mmu_calc_root_page_role (5.x fast PGD switch)', () => {
  it('base-only: with CR4.SMEP=1 and CR0.WP=0 it never equals the MMU root role', () => {
    const v = vcpu(PG, X86_CR4_PAE | X86_CR4_SMEP, LONG | EFER_NX);
    const full = calcRootRole(P('v5.16'), 'shadow', v).word;
    const fast = kvm_mmu_calc_root_page_role(P('v5.16'), v, false);
    expect(fast).not.toBe(full);
    expect((fast ^ full) >>> 0).toBe(0x4000);
    const ok = vcpu(PG | X86_CR0_WP, X86_CR4_PAE | X86_CR4_SMEP, LONG | EFER_NX);
    expect(kvm_mmu_calc_root_page_role(P('v5.16'), ok, false)).toBe(calcRootRole(P('v5.16'), 'shadow', ok).word);
    expect(kvm_mmu_calc_root_page_role(P('v5.16'), ok, true)).toBe(calcRootRole(P('v5.16'), 'tdp', ok).word);
  });
});
