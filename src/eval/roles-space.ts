/**
 * The valid input spaces of the role fns (golden/roles README §3.1, §4), as `in` objects in the
 * golden schema plus the features (register bits, flags, host) that `roles diff` explains
 * differences with. Inputs that depend on a computed role (sp_role's MMU context) are built
 * separately under each of the two profiles.
 */
import { ShadowMmuError } from '../bits/errors.js';
import { hex32, hex64 } from '../bits/hex.js';
import type { Profile } from '../profiles/index.js';
import {
  calcRootRole,
  EFER_LMA,
  HOSTS,
  hostInProfile,
  ROLE_INPUT_BITS,
  validRoleRegs,
  X86_CR0_PG,
  type EptInput,
  type HostConfig,
  type MmuKind,
  type RoleRegs,
  type RoleVcpu,
} from '../roles/index.js';
import type { JsonObject } from './types.js';

/** One input of the enumerated space: its explanatory features and the `in` per profile. */
export interface DiffCase {
  readonly features: Readonly<Record<string, number | string>>;
  readonly inA: JsonObject;
  readonly inB: JsonObject;
}

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
];

const regFeatures = (r: RoleRegs): Record<string, number> => {
  const f: Record<string, number> = {};
  for (const b of ROLE_INPUT_BITS) f[`${b.reg.toUpperCase()}.${b.name}`] = r[b.reg] & b.mask ? 1 : 0;
  return f;
};
const regIn = (r: RoleRegs): JsonObject => ({ cr0: hex32(r.cr0), cr4: hex32(r.cr4), efer: hex32(r.efer) });
const hostIn = (h: HostConfig): JsonObject => {
  const o: JsonObject = {
    host: h.name,
    tdp_root_level: h.tdp_root_level,
    max_tdp_level: h.max_tdp_level,
    maxphyaddr: h.maxphyaddr,
    ad_enabled: h.ad_enabled ? 1 : 0,
  };
  if (h.vm_type) {
    o['vm_type'] = h.vm_type;
    o['guest_maxphyaddr'] = h.guest_maxphyaddr;
  }
  return o;
};
const lma = (r: RoleRegs) => (r.efer & EFER_LMA) !== 0;
const same = (features: Record<string, number | string>, input: JsonObject): DiffCase => ({ features, inA: input, inB: input });

function* registerCases(opts: { pgOnly?: boolean; guestModes?: number[] } = {}): Generator<{ regs: RoleRegs; smm: number; gm: number }> {
  for (const regs of validRoleRegs()) {
    if (opts.pgOnly && !(regs.cr0 & X86_CR0_PG)) continue;
    for (const gm of opts.guestModes ?? [0, 1]) for (const smm of [0, 1]) yield { regs, smm, gm };
  }
}

function hostsFor(a: Profile, b: Profile, names?: readonly string[]): HostConfig[] {
  return HOSTS.filter((h) => (!names || names.includes(h.name)) && hostInProfile(a, h) && hostInProfile(b, h));
}

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
    case 'tdp_mmu_page_role':
      // TDP MMU contexts run on 64-bit hosts only (TDP level >= 4).
      for (const h of hostsFor(a, b, ['ept4', 'ept5-noad', 'npt4', 'npt5'])) {
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
  throw new ShadowMmuError('EUSAGE', `roles diff: fn ${JSON.stringify(fn)} cannot be enumerated; expected one of ${DIFF_FNS.join(', ')}`);
}

const GADDRS = [0n, 0x200000n, 0x40000000n, 0xc0200000n, 0xfffffffffffff000n];

/** An MMU context sp_role requests are made in, before its roles are computed. */
interface SpContext {
  readonly kind: string;
  readonly f: Record<string, number | string>;
  readonly vcpu: RoleVcpu;
  readonly mmu: MmuKind;
  readonly ept?: EptInput;
}

/**
 * sp_role inputs: MMU contexts from every shadow root and from TDP (ept4), shadow-NPT (npt4,
 * npt5) and shadow-EPT roots, computed under each profile, times each level of the context,
 * direct (1 only for direct-mapped contexts), access 7, and the README's five addresses.
 */
function* spRoleCases(a: Profile, b: Profile): Generator<DiffCase> {
  const ctx = function* (): Generator<SpContext> {
    // Shadow and shadow-EPT roles read no host state; any configuration will do.
    const none = HOSTS[0]!;
    for (const c of registerCases()) {
      yield { kind: 'shadow', f: { ...regFeatures(c.regs), smm: c.smm, guest_mode: c.gm }, vcpu: { ...c.regs, smm: c.smm === 1, guest_mode: c.gm === 1, host: none }, mmu: 'shadow' };
    }
    for (const h of hostsFor(a, b, ['ept4'])) {
      for (const c of registerCases()) {
        yield { kind: 'tdp', f: { host: h.name, ...regFeatures(c.regs), smm: c.smm, guest_mode: c.gm }, vcpu: { ...c.regs, smm: c.smm === 1, guest_mode: c.gm === 1, host: h }, mmu: 'tdp' };
      }
    }
    for (const h of hostsFor(a, b, ['npt4', 'npt5'])) {
      for (const c of registerCases({ pgOnly: true, guestModes: [1] })) {
        yield { kind: 'shadow_npt', f: { host: h.name, ...regFeatures(c.regs), smm: c.smm }, vcpu: { ...c.regs, smm: c.smm === 1, guest_mode: true, host: h }, mmu: 'npt' };
      }
    }
    for (const level of [4, 5])
      for (const ad of [0, 1])
        for (const smm of [0, 1]) {
          const ept = { level, accessed_dirty: ad === 1, execonly: false };
          yield { kind: 'shadow_ept', f: { ept_level: level, accessed_dirty: ad, smm }, vcpu: { cr0: 0, cr4: 0, efer: 0, smm: smm === 1, guest_mode: true, host: none }, mmu: 'ept', ept };
        }
  };
  for (const c of ctx()) {
    const ra = calcRootRole(a, c.mmu, c.vcpu, c.ept);
    const rb = calcRootRole(b, c.mmu, c.vcpu, c.ept);
    const inCtx = (r: typeof ra): JsonObject => ({
      kind: c.kind,
      mmu_role: hex32(r.word),
      direct_map: r.direct_map ? 1 : 0,
      root_level: r.root_level,
      shadow_root_level: r.shadow_root_level,
    });
    const top = Math.min(ra.shadow_root_level, rb.shadow_root_level);
    for (let level = 1; level <= top; level++) {
      for (const direct of ra.direct_map ? [1] : [0, 1]) {
        for (const g of GADDRS) {
          const req = { level, direct, access: 7, gaddr: hex64(g) };
          yield {
            features: { kind: c.kind, ...c.f, level, direct, gaddr: hex64(g) },
            inA: { ...inCtx(ra), ...req },
            inB: { ...inCtx(rb), ...req },
          };
        }
      }
    }
  }
}

