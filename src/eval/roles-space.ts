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
  getField,
  has4ByteGpte,
  kvm_mmu_child_role,
  kvm_tdp_mmu_alloc_root_role,
  mmu_alloc_root_role,
  roleLayout,
  rootRoleWarnings,
  tdp_mmu_init_child_sp_role,
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
  'sp_root_role',
  'sp_child_role',
  'tdp_mmu_root_role',
  'tdp_mmu_child_role',
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
 * The MMU contexts shadow pages are made in: every shadow root; TDP and shadow NPT on the hosts
 * the README enumerates fully (ept4, ept5-noad, npt3-32bit-host; npt4, npt5, npt3-32bit-host);
 * shadow EPT (levels 4/5, with and without A/D, smm 0/1 where valid). The sparsely sampled
 * hosts only recombine TDP level and ad_disabled, which every profile copies unchanged here.
 */
function* mmuContexts(a: Profile, b: Profile): Generator<SpContext> {
  // Shadow and shadow-EPT roles read no host state; any configuration will do.
  const none = HOSTS[0]!;
  for (const c of registerCases()) {
    yield { kind: 'shadow', f: { ...regFeatures(c.regs), smm: c.smm, guest_mode: c.gm }, vcpu: { ...c.regs, smm: c.smm === 1, guest_mode: c.gm === 1, host: none }, mmu: 'shadow' };
  }
  for (const h of hostsFor(a, b, ['ept4', 'ept5-noad', 'npt3-32bit-host'])) {
    for (const c of registerCases()) {
      if (!h.host_64bit && lma(c.regs)) continue;
      yield { kind: 'tdp', f: { host: h.name, ...regFeatures(c.regs), smm: c.smm, guest_mode: c.gm }, vcpu: { ...c.regs, smm: c.smm === 1, guest_mode: c.gm === 1, host: h }, mmu: 'tdp' };
    }
  }
  for (const h of hostsFor(a, b, ['npt4', 'npt5', 'npt3-32bit-host'])) {
    for (const c of registerCases({ pgOnly: true, guestModes: [1] })) {
      if (!h.host_64bit && lma(c.regs)) continue;
      yield { kind: 'shadow_npt', f: { host: h.name, ...regFeatures(c.regs), smm: c.smm }, vcpu: { ...c.regs, smm: c.smm === 1, guest_mode: true, host: h }, mmu: 'npt' };
    }
  }
  for (const level of [4, 5])
    for (const ad of [0, 1])
      for (const smm of a.roles.pipeline === 'mmu_role' && b.roles.pipeline === 'mmu_role' ? [0, 1] : [0]) {
        const ept = { level, accessed_dirty: ad === 1, execonly: false };
        yield { kind: 'shadow_ept', f: { ept_level: level, accessed_dirty: ad, smm }, vcpu: { cr0: 0, cr4: 0, efer: 0, smm: smm === 1, guest_mode: true, host: none }, mmu: 'ept', ept };
      }
}

/**
 * sp_role inputs: every MMU context computed under each profile, times each level of the
 * context, direct (1 only for direct-mapped contexts), and the README's five addresses (only
 * address 0 for direct-mapped contexts, where no profile computes a quadrant). Access is 7: every
 * profile copies it into the role unchanged, so other values cannot explain a difference.
 */
function* spRoleCases(a: Profile, b: Profile): Generator<DiffCase> {
  const ctx = () => mmuContexts(a, b);
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
        for (const g of ra.direct_map && rb.direct_map ? [0n] : GADDRS) {
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

/**
 * The roots 6.x really allocates for a context (mmu_alloc_direct_roots / mmu_alloc_shadow_roots):
 * one root at the root level, or, under a PAE-shaped or special root, four level-2 roots whose
 * quadrant is their slot when the guest has 4-byte gptes.
 */
function realRoots(p: Profile, rootRole: number, r: { shadow_root_level: number; root_level: number; direct_map: boolean }): { level: number; quadrant: number }[] {
  const fourByte = has4ByteGpte(p, roleLayout(p), rootRole);
  const pae = r.shadow_root_level === 3 || (!r.direct_map && r.root_level > 0 && r.root_level < 4);
  if (!pae) return [{ level: r.shadow_root_level, quadrant: 0 }];
  return [0, 1, 2, 3].map((i) => ({ level: 2, quadrant: fourByte ? i : 0 }));
}

/** One context's roots under both profiles, paired, with features. */
function* rootPairs(a: Profile, b: Profile): Generator<{ c: SpContext; wa: number; wb: number; level: number; quadrant: number; slot: number }> {
  for (const c of mmuContexts(a, b)) {
    const ra = calcRootRole(a, c.mmu, c.vcpu, c.ept);
    const rb = calcRootRole(b, c.mmu, c.vcpu, c.ept);
    const rootsA = realRoots(a, ra.word, ra);
    const rootsB = realRoots(b, rb.word, rb);
    for (let slot = 0; slot < Math.min(rootsA.length, rootsB.length); slot++) {
      const x = rootsA[slot]!;
      const y = rootsB[slot]!;
      if (x.level !== y.level) continue;
      yield { c, wa: mmu_alloc_root_role(a, ra.word, x.level, x.quadrant), wb: mmu_alloc_root_role(b, rb.word, y.level, y.quadrant), level: x.level, quadrant: x.quadrant, slot };
    }
  }
}

/** sp_root_role inputs: each context's root role, every level 1..root level, quadrant 0..3 (no WARN cases). */
function* spRootCases(a: Profile, b: Profile): Generator<DiffCase> {
  for (const c of mmuContexts(a, b)) {
    const ra = calcRootRole(a, c.mmu, c.vcpu, c.ept);
    const rb = calcRootRole(b, c.mmu, c.vcpu, c.ept);
    for (let level = 1; level <= Math.min(ra.shadow_root_level, rb.shadow_root_level); level++) {
      for (let quadrant = 0; quadrant < 4; quadrant++) {
        if (rootRoleWarnings(a, mmu_alloc_root_role(a, ra.word, level, quadrant)).length) continue;
        if (rootRoleWarnings(b, mmu_alloc_root_role(b, rb.word, level, quadrant)).length) continue;
        const req = { level, quadrant };
        yield {
          features: { kind: c.kind, ...c.f, ...req },
          inA: { kind: c.kind, root_role: hex32(ra.word), ...req },
          inB: { kind: c.kind, root_role: hex32(rb.word), ...req },
        };
      }
    }
  }
}

/**
 * sp_child_role inputs: the real roots of each context and their chain of children (same
 * direct, access 7, index 0) down to level 2, each as a parent with direct 0/1 (1 only under a
 * direct parent), access 7 and index 0, 1, 2, 511; 4-byte-gpte children above level 1 (a WARN)
 * are left out.
 */
function* spChildCases(a: Profile, b: Profile): Generator<DiffCase> {
  const la = roleLayout(a);
  const lb = roleLayout(b);
  for (const r of rootPairs(a, b)) {
    let pa = r.wa;
    let pb = r.wb;
    for (let level = r.level; level >= 2; level--) {
      const direct = getField(la, pa, 'direct');
      for (const d of direct ? [1] : [0, 1]) {
        const childA = kvm_mmu_child_role(a, pa, 0, d === 1, 7);
        const childB = kvm_mmu_child_role(b, pb, 0, d === 1, 7);
        if ((has4ByteGpte(a, la, childA) || has4ByteGpte(b, lb, childB)) && level - 1 !== 1) continue;
        for (const idx of [0, 1, 2, 511]) {
          const req = { direct: d, access: 7, spte_index: idx };
          yield {
            features: { kind: r.c.kind, ...r.c.f, root_slot: r.slot, parent_level: level, ...req },
            inA: { kind: r.c.kind, parent: hex32(pa), ...req },
            inB: { kind: r.c.kind, parent: hex32(pb), ...req },
          };
        }
      }
      pa = kvm_mmu_child_role(a, pa, 0, direct === 1, 7);
      pb = kvm_mmu_child_role(b, pb, 0, direct === 1, 7);
      if (has4ByteGpte(a, la, pa) && level - 1 > 1) break;
    }
  }
}

/** tdp_mmu_root_role / tdp_mmu_child_role inputs: TDP roots on 64-bit hosts, mirror 0/1, and their chains. */
function* tdpMmuCases(a: Profile, b: Profile, children: boolean): Generator<DiffCase> {
  const mirrors = roleLayout(a).byName.has('is_mirror') && roleLayout(b).byName.has('is_mirror') ? [0, 1] : [0];
  for (const h of hostsFor(a, b).filter((x) => x.host_64bit)) {
    for (const c of registerCases()) {
      const vcpu = { ...c.regs, smm: c.smm === 1, guest_mode: c.gm === 1, host: h };
      const ra = calcRootRole(a, 'tdp', vcpu).word;
      const rb = calcRootRole(b, 'tdp', vcpu).word;
      const f = { host: h.name, ...regFeatures(c.regs), smm: c.smm, guest_mode: c.gm };
      for (const mirror of mirrors) {
        if (!children) {
          yield { features: { ...f, mirror }, inA: { root_role: hex32(ra), mirror }, inB: { root_role: hex32(rb), mirror } };
          continue;
        }
        let pa = kvm_tdp_mmu_alloc_root_role(a, ra, mirror === 1);
        let pb = kvm_tdp_mmu_alloc_root_role(b, rb, mirror === 1);
        for (let level = getField(roleLayout(a), pa, 'level'); level >= 2; level--) {
          yield { features: { ...f, mirror, parent_level: level }, inA: { parent: hex32(pa) }, inB: { parent: hex32(pb) } };
          pa = tdp_mmu_init_child_sp_role(a, pa);
          pb = tdp_mmu_init_child_sp_role(b, pb);
        }
      }
    }
  }
}
