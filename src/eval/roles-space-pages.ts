/**
 * The `roles diff` input spaces of the shadow-page and TDP-MMU page role fns: MMU contexts
 * computed under each of the two profiles, then the requests made in them (golden/roles README
 * §4: sp_role, sp_root_role, sp_child_role, tdp_mmu_*).
 */
import { hex32, hex64 } from '../bits/hex.js';
import type { Profile } from '../profiles/index.js';
import {
  calcRootRole,
  getField,
  has4ByteGpte,
  HOSTS,
  kvm_mmu_child_role,
  kvm_tdp_mmu_alloc_root_role,
  mmu_alloc_root_role,
  roleLayout,
  rootRoleWarnings,
  tdp_mmu_init_child_sp_role,
  type EptInput,
  type MmuKind,
  type RoleVcpu,
} from '../roles/index.js';
import { hostsFor, lma, regFeatures, registerCases, type DiffCase } from './roles-space-common.js';
import type { JsonObject } from './types.js';

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
export function* spRoleCases(a: Profile, b: Profile): Generator<DiffCase> {
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
export function* spRootCases(a: Profile, b: Profile): Generator<DiffCase> {
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
export function* spChildCases(a: Profile, b: Profile): Generator<DiffCase> {
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
export function* tdpMmuCases(a: Profile, b: Profile, children: boolean): Generator<DiffCase> {
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
