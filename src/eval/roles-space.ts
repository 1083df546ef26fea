/**
 * The valid input spaces of the role fns (golden/roles README §3.1, §4), as `in` objects in the
 * golden schema plus the features (register bits, flags, host) that `roles diff` explains
 * differences with. Inputs that depend on a computed role (an MMU context) are built separately
 * under each of the two profiles (./roles-space-pages.ts).
 */
import { ShadowMmuError } from '../bits/errors.js';
import type { Profile } from '../profiles/index.js';
import { hex32 } from '../bits/hex.js';
import { calcRootRole, validRoleRegs } from '../roles/index.js';
import { hostIn, hostsFor, lma, regFeatures, regIn, registerCases, same, type DiffCase } from './roles-space-common.js';
import { spChildCases, spRoleCases, spRootCases, tdpMmuCases } from './roles-space-pages.js';
import { quote } from '../bits/quote.js';

export type { DiffCase } from './roles-space-common.js';

export const DIFF_FNS: readonly string[] = [
  'tdp_root_role',
  'shadow_root_role',
  'shadow_npt_root_role',
  'shadow_ept_root_role',
  'nested_mmu_role',
  'cpu_role',
  'root_level',
  'tdp_level',
  'sp_role',
  'tdp_mmu_page_role',
  'sp_root_role',
  'sp_child_role',
  'tdp_mmu_root_role',
  'tdp_mmu_child_role',
];


/** The enumerated input space of `fn` valid under both profiles. */
export function* casesOf(fn: string, a: Profile, b: Profile): Generator<DiffCase> {
  switch (fn) {
    case 'shadow_root_role':
    case 'cpu_role':
      for (const c of registerCases()) yield same({ ...regFeatures(c.regs), smm: c.smm, guest_mode: c.gm }, { ...regIn(c.regs), smm: c.smm, guest_mode: c.gm });
      return;
    case 'nested_mmu_role':
      for (const c of registerCases({ guestModes: [1] })) yield same({ ...regFeatures(c.regs), smm: c.smm }, { ...regIn(c.regs), smm: c.smm, guest_mode: 1 });
      return;
    case 'root_level':
      for (const regs of validRoleRegs()) yield same(regFeatures(regs), regIn(regs));
      return;
    case 'tdp_root_role':
      for (const h of hostsFor(a, b)) {
        for (const c of registerCases()) {
          if (!h.host_64bit && lma(c.regs)) continue;
          yield same({ host: h.name, ...regFeatures(c.regs), smm: c.smm, guest_mode: c.gm }, { ...regIn(c.regs), smm: c.smm, guest_mode: c.gm, ...hostIn(h) });
        }
      }
      return;
    case 'shadow_npt_root_role':
      for (const h of hostsFor(a, b, ['npt4', 'npt5', 'npt3-32bit-host'])) {
        for (const c of registerCases({ pgOnly: true, guestModes: [1] })) {
          if (!h.host_64bit && lma(c.regs)) continue;
          yield same({ host: h.name, ...regFeatures(c.regs), smm: c.smm }, { ...regIn(c.regs), smm: c.smm, guest_mode: 1, ...hostIn(h) });
        }
      }
      return;
    case 'shadow_ept_root_role': {
      // 6.x KVM warns on SMM here and the role ignores it: only smm=0 is valid under both then.
      const smms = a.roles.pipeline === 'mmu_role' && b.roles.pipeline === 'mmu_role' ? [0, 1] : [0];
      for (const level of [4, 5])
        for (const ad of [0, 1])
          for (const xo of [0, 1])
            for (const smm of smms) {
              const f = { level, accessed_dirty: ad, execonly: xo, smm };
              yield same(f, f);
            }
      return;
    }
    case 'tdp_level': {
      for (const trl of [0, 3, 4, 5])
        for (const max of [4, 5])
          for (let pa = 32; pa <= 52; pa++) {
            const f = { tdp_root_level: trl, max_tdp_level: max, maxphyaddr: pa };
            yield same(f, f);
          }
      if (a.roles.tdx_gpaw_tdp_level && b.roles.tdx_gpaw_tdp_level) {
        for (const max of [4, 5])
          for (let pa = 32; pa <= 52; pa++)
            for (const g of [0, 36, 39, 46, 48, 49, 52]) {
              const f = { tdp_root_level: 0, max_tdp_level: max, maxphyaddr: pa, vm_type: 5, guest_maxphyaddr: g };
              yield same(f, f);
            }
      }
      return;
    }
    case 'sp_role':
      yield* spRoleCases(a, b);
      return;
    case 'sp_root_role':
      yield* spRootCases(a, b);
      return;
    case 'sp_child_role':
      yield* spChildCases(a, b);
      return;
    case 'tdp_mmu_root_role':
      yield* tdpMmuCases(a, b, false);
      return;
    case 'tdp_mmu_child_role':
      yield* tdpMmuCases(a, b, true);
      return;
    case 'tdp_mmu_page_role':
      // TDP MMU contexts run on 64-bit hosts only (TDP level >= 4).
      for (const h of hostsFor(a, b).filter((x) => x.host_64bit)) {
        for (const c of registerCases()) {
          const vcpu = { ...c.regs, smm: c.smm === 1, guest_mode: c.gm === 1, host: h };
          const ra = calcRootRole(a, 'tdp', vcpu);
          const rb = calcRootRole(b, 'tdp', vcpu);
          for (let level = 1; level <= ra.shadow_root_level; level++) {
            const f = { host: h.name, ...regFeatures(c.regs), smm: c.smm, guest_mode: c.gm, level };
            const common = { ad_enabled: h.ad_enabled ? 1 : 0, level };
            yield { features: f, inA: { mmu_role: hex32(ra.word), ...common }, inB: { mmu_role: hex32(rb.word), ...common } };
          }
        }
      }
      return;
  }
  throw new ShadowMmuError('EUSAGE', `roles diff: fn ${quote(fn)} cannot be enumerated; expected one of ${DIFF_FNS.join(', ')}`);
}
