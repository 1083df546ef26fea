/**
 * `roles diff`: run one role fn over its whole valid input space (golden/roles README §3.1,
 * §4) under two profiles, compare the outputs field by field by name, and explain the
 * differing inputs as conjunctions of input bits. The outputs come from the eval adapters, so
 * the diff sees exactly what `shadow-mmu eval` computes.
 */
import { ShadowMmuError } from '../bits/errors.js';
import { hex32, hex64 } from '../bits/hex.js';
import type { Profile } from '../profiles/index.js';
import {
  calcRootRole,
  HOSTS,
  hostInProfile,
  ROLE_INPUT_BITS,
  validRoleRegs,
  EFER_LMA,
  type HostConfig,
  type RoleRegs,
} from '../roles/index.js';
import { rolesEval } from './roles.js';
import type { Json, JsonObject } from './types.js';

/** One input of the enumerated space: its explanatory features and the `in` per profile. */
interface DiffCase {
  readonly features: Readonly<Record<string, number | string>>;
  readonly inA: JsonObject;
  readonly inB: JsonObject;
}

export interface DiffChange {
  readonly field: string;
  /** null: the field does not exist under that profile (compared as 0). */
  readonly a: Json | null;
  readonly b: Json | null;
}

export interface DiffGroup {
  /** The input conditions that select exactly this group's inputs, e.g. `CR0.PG=1`. */
  readonly when: readonly string[];
  /** false when no conjunction of input bits selects exactly these inputs. */
  readonly exact: boolean;
  readonly count: number;
  readonly changes: readonly DiffChange[];
  /** Up to three example inputs (under profile A). */
  readonly examples: readonly JsonObject[];
}

export interface DiffReport {
  readonly fn: string;
  readonly profiles: readonly [string, string];
  readonly inputs: number;
  readonly differing: number;
  readonly groups: readonly DiffGroup[];
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
    if (opts.pgOnly && !(regs.cr0 & 0x80000000)) continue;
    for (const gm of opts.guestModes ?? [0, 1]) for (const smm of [0, 1]) yield { regs, smm, gm };
  }
}

function hostsFor(a: Profile, b: Profile, names?: readonly string[]): HostConfig[] {
  return HOSTS.filter((h) => (!names || names.includes(h.name)) && hostInProfile(a, h) && hostInProfile(b, h));
}

/** The enumerated input space of `fn` valid under both profiles. */
function* casesOf(fn: string, a: Profile, b: Profile): Generator<DiffCase> {
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

/**
 * sp_role inputs: MMU contexts from every shadow root and from TDP (ept4), shadow-NPT (npt4,
 * npt5) and shadow-EPT roots, computed under each profile, times each level of the context,
 * direct (1 only for direct-mapped contexts), access 7, and the README's five addresses.
 */
function* spRoleCases(a: Profile, b: Profile): Generator<DiffCase> {
  const ctx = function* (): Generator<{ kind: string; f: Record<string, number | string>; vcpu: Parameters<typeof calcRootRole>[2]; mmu: 'tdp' | 'shadow' | 'npt' | 'ept'; ept?: { level: number; accessed_dirty: boolean; execonly: boolean } }> {
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

/** The compared outputs, flattened: `fields.x`, `ext_fields.y`, scalar keys. Raw words are skipped. */
function flatten(out: JsonObject): Map<string, Json> {
  const m = new Map<string, Json>();
  for (const [k, v] of Object.entries(out)) {
    if (k === 'word' || k === 'ext' || k === 'cpu_word') continue;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [fk, fv] of Object.entries(v)) m.set(fk, fv as Json);
    } else m.set(k, v);
  }
  return m;
}

function changesOf(oa: Map<string, Json>, ob: Map<string, Json>): DiffChange[] {
  const out: DiffChange[] = [];
  const keys = [...oa.keys(), ...[...ob.keys()].filter((k) => !oa.has(k))];
  for (const k of keys) {
    const a = oa.has(k) ? oa.get(k)! : null;
    const b = ob.has(k) ? ob.get(k)! : null;
    if ((a ?? 0) !== (b ?? 0)) out.push({ field: k, a, b });
  }
  return out;
}

const sigOf = (ch: readonly DiffChange[]) => ch.map((c) => `${c.field}:${c.a}>${c.b}`).join(',');

/** Feature order for explanations: bits that follow from others are dropped first. */
const DROP_FIRST = ['EFER.LME', 'CR0.PE', 'EFER.LMA'];
/** Context labels stay in an explanation whenever they are constant in it. */
const KEEP = new Set(['kind', 'host']);

type Conj = [string, number | string][];

/** The enumerated space as bitsets: one per (feature, value), for fast exactness tests. */
class Space {
  readonly words: number;
  private readonly index = new Map<string, Uint32Array>();
  constructor(readonly cases: readonly DiffCase[]) {
    this.words = (cases.length + 31) >>> 5;
    cases.forEach((c, i) => {
      for (const [f, v] of Object.entries(c.features)) {
        const key = `${f}=${v}`;
        let b = this.index.get(key);
        if (!b) this.index.set(key, (b = new Uint32Array(this.words)));
        b[i >>> 5]! |= 1 << (i & 31);
      }
    });
  }
  setOf(ids: readonly number[]): Uint32Array {
    const b = new Uint32Array(this.words);
    for (const i of ids) b[i >>> 5]! |= 1 << (i & 31);
    return b;
  }
  /** Whether every case matching `k` is in `group`. */
  exact(group: Uint32Array, k: Conj): boolean {
    const sets = k.map(([f, v]) => this.index.get(`${f}=${v}`)!);
    for (let w = 0; w < this.words; w++) {
      let m = w === this.words - 1 && this.cases.length & 31 ? (1 << (this.cases.length & 31)) - 1 : -1;
      for (const s of sets) m &= s[w]!;
      if (m & ~group[w]!) return false;
    }
    return true;
  }
}

function constants(space: Space, ids: readonly number[]): Conj {
  const first = space.cases[ids[0]!]!.features;
  const k: Conj = [];
  for (const [f, v] of Object.entries(first)) if (ids.every((i) => space.cases[i]!.features[f] === v)) k.push([f, v]);
  return k;
}

function minimise(space: Space, group: Uint32Array, k: Conj): Conj {
  const rank = (f: string) => {
    const i = DROP_FIRST.indexOf(f);
    return i < 0 ? 99 : i;
  };
  let cur = k;
  for (const [f] of [...k].sort((x, y) => rank(x[0]) - rank(y[0]))) {
    if (KEEP.has(f)) continue;
    const tryK = cur.filter(([g]) => g !== f);
    if (space.exact(group, tryK)) cur = tryK;
  }
  return cur;
}

function partition(space: Space, ids: readonly number[], f: string): number[][] {
  const parts = new Map<number | string | undefined, number[]>();
  for (const i of ids) {
    const v = space.cases[i]!.features[f];
    const p = parts.get(v);
    if (p) p.push(i);
    else parts.set(v, [i]);
  }
  return [...parts.values()];
}

/** Split a same-signature group into parts each selected exactly by a conjunction. */
function explain(space: Space, ids: readonly number[], depth = 0): { k: Conj; exact: boolean; ids: readonly number[] }[] {
  const k = constants(space, ids);
  const set = space.setOf(ids);
  if (space.exact(set, k)) return [{ k: minimise(space, set, k), exact: true, ids }];
  if (depth >= 4) return [{ k, exact: false, ids }];
  // Split on the feature whose values put the most inputs in exactly-explained parts.
  let best: { parts: number[][]; score: number } | undefined;
  for (const f of Object.keys(space.cases[ids[0]!]!.features)) {
    const parts = partition(space, ids, f);
    if (parts.length < 2) continue;
    let score = 0;
    for (const p of parts) if (space.exact(space.setOf(p), constants(space, p))) score += p.length;
    if (!best || score > best.score) best = { parts, score };
  }
  if (!best) return [{ k, exact: false, ids }];
  return best.parts.flatMap((p) => explain(space, p, depth + 1));
}

function evaluator(fn: string, p: Profile): (input: JsonObject) => JsonObject {
  const f = rolesEval.fns?.[fn];
  if (!f) throw new ShadowMmuError('EUSAGE', `roles diff: unknown fn ${JSON.stringify(fn)}`);
  return (input) => f(p, input);
}

/** Compare `fn` under profiles `a` and `b` over its whole valid input space. */
export function diffRoles(a: Profile, b: Profile, fn: string): DiffReport {
  if (!DIFF_FNS.includes(fn)) {
    throw new ShadowMmuError('EUSAGE', `roles diff: fn ${JSON.stringify(fn)} cannot be enumerated; expected one of ${DIFF_FNS.join(', ')}`);
  }
  const ea = evaluator(fn, a);
  const eb = evaluator(fn, b);
  const all: DiffCase[] = [];
  const bySig = new Map<string, { changes: DiffChange[]; ids: number[] }>();
  for (const c of casesOf(fn, a, b)) {
    const id = all.length;
    all.push(c);
    const ch = changesOf(flatten(ea(c.inA)), flatten(eb(c.inB)));
    if (!ch.length) continue;
    const s = sigOf(ch);
    const g = bySig.get(s);
    if (g) g.ids.push(id);
    else bySig.set(s, { changes: ch, ids: [id] });
  }
  const space = new Space(all);
  const groups: DiffGroup[] = [];
  let differing = 0;
  for (const { changes, ids } of bySig.values()) {
    differing += ids.length;
    for (const part of explain(space, ids)) {
      groups.push({
        when: part.k.map(([f, v]) => `${f}=${v}`),
        exact: part.exact,
        count: part.ids.length,
        changes,
        examples: part.ids.slice(0, 3).map((i) => all[i]!.inA),
      });
    }
  }
  groups.sort((x, y) => y.count - x.count || x.when.join(' ').localeCompare(y.when.join(' ')));
  return { fn, profiles: [a.name, b.name], inputs: all.length, differing, groups };
}
