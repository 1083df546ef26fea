/**
 * The JSON scenario format (documented in README.md): a profile, TDP on/off, the host, the vCPU's
 * MMU context and registers, and a list of steps. Parsing turns it into typed values and rejects
 * anything malformed with a ShadowMmuError naming the place.
 */
import { badInput } from '../bits/errors.js';
import { parseInt_, parseUnsigned } from '../bits/hex.js';
import { getProfile, type Profile } from '../profiles/index.js';
import { encodeRole, roleLayout } from '../roles/layout.js';
import { DEFAULT_HOST, type HostConfig } from '../mmu/index.js';
import type { MmuContext } from '../mmu/index.js';
import { contextFromRegs, parseRegs, type VcpuRegs } from './context.js';
import { quote } from '../bits/quote.js';

export type Step =
  | { op: 'load' }
  | { op: 'topup' }
  | { op: 'sync_roots' }
  | { op: 'free_roots'; roots: number }
  | { op: 'get_page'; name: string | null; gfn: number; level: number; direct: boolean; access: number; gaddr: bigint; role: number | null }
  | { op: 'link'; parent: string; index: number; child: string }
  | { op: 'drop'; parent: string; index: number }
  | { op: 'zap'; page: string }
  | { op: 'zap_all_fast' }
  | { op: 'zap_all' }
  | { op: 'zap_oldest'; n: number }
  | { op: 'shrink'; n: number }
  | { op: 'set_nr_mmu_pages'; n: number }
  | { op: 'set_cr3'; cr3: number }
  | { op: 'set_regs'; regs: VcpuRegs; pdptrs: bigint[] | null }
  | { op: 'unsync'; gfn: number }
  | { op: 'sync_result'; gfn: number; result: number }
  | { op: 'walk'; addr: bigint }
  | { op: 'check_cr3' }
  | { op: 'fail'; site: string; count: number }
  | { op: 'destroy' };

export interface Scenario {
  readonly profile: Profile;
  readonly host: HostConfig;
  readonly ctx: MmuContext;
  /** How set_regs recomputes the context: the MMU kind and roles host (null: ctx was given). */
  readonly mmuKind: string;
  readonly rolesHost: string;
  readonly cr3: number;
  readonly pdptrs: bigint[];
  readonly steps: Step[];
}

type Obj = Record<string, unknown>;

function obj(v: unknown, where: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) badInput(where, 'expected a JSON object');
  return v as Obj;
}

function onlyKeys(o: Obj, where: string, keys: readonly string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) badInput(where, `unknown key ${quote(k)} (expected ${keys.join(', ')})`);
}

function num(o: Obj, k: string, where: string, dflt?: number): number {
  if (o[k] === undefined) {
    if (dflt === undefined) badInput(`${where}.${k}`, 'missing');
    return dflt;
  }
  const v = o[k];
  if (typeof v === 'string') return Number(parseUnsigned(v, `${where}.${k}`, 52));
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) badInput(`${where}.${k}`, `expected a non-negative integer or hex string, got ${quote(v)}`);
  return v;
}

function bool(o: Obj, k: string, where: string, dflt: boolean): boolean {
  const v = o[k];
  if (v === undefined) return dflt;
  if (v === true || v === 1) return true;
  if (v === false || v === 0) return false;
  badInput(`${where}.${k}`, `expected true/false, got ${quote(v)}`);
}

function str(o: Obj, k: string, where: string): string {
  const v = o[k];
  if (typeof v !== 'string' || v === '') badInput(`${where}.${k}`, 'expected a non-empty string');
  return v;
}

function roleWord(profile: Profile, v: unknown, where: string): number {
  if (typeof v === 'string') return Number(parseUnsigned(v, where, 32));
  const o = obj(v, where);
  const fields: Record<string, number> = {};
  for (const [k, x] of Object.entries(o)) {
    if (typeof x !== 'number') badInput(`${where}.${k}`, 'expected a number');
    fields[k] = x;
  }
  return encodeRole(roleLayout(profile), fields);
}

const ROOTS: Record<string, number> = { current: 1, prev0: 2, prev1: 4, prev2: 8, all: 0xf };

export function parseStep(profile: Profile, v: unknown, i: number): Step {
  const where = `steps[${i}]`;
  const o = obj(v, where);
  const op = str(o, 'op', where);
  const keys = (...ks: string[]) => onlyKeys(o, where, ['op', 'comment', ...ks]);
  switch (op) {
    case 'load':
    case 'topup':
    case 'sync_roots':
    case 'zap_all_fast':
    case 'zap_all':
    case 'check_cr3':
    case 'destroy':
      keys();
      return { op };
    case 'free_roots': {
      keys('roots');
      const r = o['roots'] ?? 'current';
      const list = Array.isArray(r) ? r : [r];
      let mask = 0;
      for (const x of list) {
        if (typeof x !== 'string' || ROOTS[x] === undefined) badInput(`${where}.roots`, `expected ${Object.keys(ROOTS).join('|')} or a list of them`);
        mask |= ROOTS[x]!;
      }
      return { op, roots: mask };
    }
    case 'get_page': {
      keys('name', 'gfn', 'level', 'direct', 'access', 'gaddr', 'role');
      return {
        op,
        name: o['name'] === undefined ? null : str(o, 'name', where),
        gfn: num(o, 'gfn', where),
        level: parseInt_(o['level'], `${where}.level`, 1, 5),
        direct: bool(o, 'direct', where, false),
        access: o['access'] === undefined ? 7 : parseInt_(o['access'], `${where}.access`, 0, 7),
        gaddr: o['gaddr'] === undefined ? 0n : parseUnsigned(o['gaddr'], `${where}.gaddr`),
        role: o['role'] === undefined ? null : roleWord(profile, o['role'], `${where}.role`),
      };
    }
    case 'link':
      keys('parent', 'index', 'child');
      return { op, parent: str(o, 'parent', where), index: parseInt_(o['index'], `${where}.index`, 0, 511), child: str(o, 'child', where) };
    case 'drop':
      keys('parent', 'index');
      return { op, parent: str(o, 'parent', where), index: parseInt_(o['index'], `${where}.index`, 0, 511) };
    case 'zap':
      keys('page');
      return { op, page: str(o, 'page', where) };
    case 'zap_oldest':
    case 'shrink':
    case 'set_nr_mmu_pages':
      keys('n');
      return { op, n: num(o, 'n', where) };
    case 'set_cr3':
      keys('cr3');
      return { op, cr3: num(o, 'cr3', where) };
    case 'set_regs':
      keys('cr0', 'cr4', 'efer', 'smm', 'guest_mode', 'pdptrs');
      return {
        op,
        regs: parseRegs({ cr0: o['cr0'], cr4: o['cr4'], efer: o['efer'], smm: o['smm'], guest_mode: o['guest_mode'] }, where),
        pdptrs: o['pdptrs'] === undefined ? null : parsePdptrs(o['pdptrs'], `${where}.pdptrs`),
      };
    case 'unsync':
      keys('gfn');
      return { op, gfn: num(o, 'gfn', where) };
    case 'sync_result':
      keys('gfn', 'result');
      {
        const r = o['result'];
        const v = r === 'fail' ? -1 : r === 'clean' ? 0 : r === 'flush' ? 1 : null;
        if (v === null) badInput(`${where}.result`, 'expected fail, clean or flush');
        return { op, gfn: num(o, 'gfn', where), result: v };
      }
    case 'walk':
      keys('addr');
      return { op, addr: parseUnsigned(o['addr'], `${where}.addr`) };
    case 'fail':
      keys('site', 'count');
      return { op, site: str(o, 'site', where), count: num(o, 'count', where, 1) };
    default:
      badInput(`${where}.op`, `unknown op ${quote(op)}`);
  }
}

/** A scenario's "steps" value parsed, each step in turn (parseStep); what parseScenario reads by default. */
export type StepsReader = (steps: unknown, profile: Profile) => Step[];

function parseSteps(steps: unknown, profile: Profile, where: string): Step[] {
  if (!Array.isArray(steps)) badInput(`${where}.steps`, 'expected an array');
  return steps.map((s, i) => parseStep(profile, s, i));
}

/**
 * Parse a scenario; `profile`, when given, replaces the file's own (the file must still name one).
 * `readSteps` replaces the parsing of "steps" (a streamed file checks its steps elsewhere), at the
 * same point, so errors come in the same order.
 */
export function parseScenario(v: unknown, where = 'scenario', profileOverride?: Profile, readSteps?: StepsReader): Scenario {
  const o = obj(v, where);
  onlyKeys(o, where, ['profile', 'tdp', 'host', 'vcpu', 'steps', 'comment']);
  const fileProfile = getProfile(str(o, 'profile', where));
  const profile = profileOverride ?? fileProfile;
  const h = o['host'] === undefined ? {} : obj(o['host'], `${where}.host`);
  onlyKeys(h, `${where}.host`, ['vendor', 'cpu', 'tdp_level', 'dma32_pages', 'normal_pages', 'nr_mmu_pages']);
  const vendor = h['vendor'] ?? DEFAULT_HOST.vendor;
  if (vendor !== 'intel' && vendor !== 'amd') badInput(`${where}.host.vendor`, 'expected intel or amd');
  const host: HostConfig = {
    vendor,
    tdp: bool(o, 'tdp', where, false),
    tdp_level: num(h, 'tdp_level', `${where}.host`, DEFAULT_HOST.tdp_level),
    cpu: h['cpu'] === undefined ? (vendor === 'amd' ? 'amd-48' : DEFAULT_HOST.cpu) : str(h, 'cpu', `${where}.host`),
    dma32_pages: num(h, 'dma32_pages', `${where}.host`, DEFAULT_HOST.dma32_pages),
    normal_pages: num(h, 'normal_pages', `${where}.host`, DEFAULT_HOST.normal_pages),
    nr_mmu_pages: num(h, 'nr_mmu_pages', `${where}.host`, DEFAULT_HOST.nr_mmu_pages),
  };
  const vc = obj(o['vcpu'], `${where}.vcpu`);
  onlyKeys(vc, `${where}.vcpu`, ['cr3', 'pdptrs', 'mmu', 'regs', 'mmu_kind', 'roles_host']);
  const mmuKind = vc['mmu_kind'] === undefined ? (host.tdp ? (vendor === 'amd' ? 'npt' : 'tdp') : 'shadow') : str(vc, 'mmu_kind', `${where}.vcpu`);
  const rolesHost = vc['roles_host'] === undefined ? (vendor === 'amd' ? 'npt4' : 'ept4') : str(vc, 'roles_host', `${where}.vcpu`);
  const pdptrs = parsePdptrs(vc['pdptrs'] ?? [], `${where}.vcpu.pdptrs`);
  const common = { profile, host, mmuKind, rolesHost, cr3: vc['cr3'] === undefined ? 0 : num(vc, 'cr3', `${where}.vcpu`), pdptrs };
  const parsed = readSteps ? readSteps(o['steps'], profile) : parseSteps(o['steps'], profile, where);
  if (vc['mmu'] === undefined) {
    if (vc['regs'] === undefined) badInput(`${where}.vcpu`, 'give either mmu (the MMU context) or regs (cr0, cr4, efer)');
    const ctx = contextFromRegs(profile, mmuKind, rolesHost, parseRegs(vc['regs'], `${where}.vcpu.regs`));
    return { ...common, ctx, steps: parsed };
  }
  const m = obj(vc['mmu'], `${where}.vcpu.mmu`);
  onlyKeys(m, `${where}.vcpu.mmu`, ['kind', 'role', 'direct_map', 'root_level', 'shadow_root_level']);
  const kind = m['kind'] ?? (host.tdp ? 'tdp' : 'shadow');
  if (kind !== 'tdp' && kind !== 'shadow' && kind !== 'shadow_npt' && kind !== 'shadow_ept') badInput(`${where}.vcpu.mmu.kind`, 'expected tdp, shadow, shadow_npt or shadow_ept');
  const ctx: MmuContext = {
    kind,
    mmu_role: roleWord(profile, m['role'], `${where}.vcpu.mmu.role`),
    direct_map: bool(m, 'direct_map', `${where}.vcpu.mmu`, kind === 'tdp'),
    root_level: parseInt_(m['root_level'], `${where}.vcpu.mmu.root_level`, 0, 5),
    shadow_root_level: parseInt_(m['shadow_root_level'], `${where}.vcpu.mmu.shadow_root_level`, 2, 5),
  };
  return { ...common, ctx, steps: parsed };
}

function parsePdptrs(pd: unknown, where: string): bigint[] {
  if (!Array.isArray(pd) || pd.length > 4) badInput(where, 'expected up to 4 PDPTRs');
  return [0, 1, 2, 3].map((i) => (pd[i] === undefined ? 0n : parseUnsigned(pd[i], `${where}[${i}]`)));
}
