/**
 * Role layouts: the profile's field lists turned into shift/width/mask tables, and the codec
 * (encode, decode, get, set) for `union kvm_mmu_page_role`, `union kvm_mmu_extended_role` and
 * the 64-bit MMU role (5.x `union kvm_mmu_role`, 6.x `union kvm_cpu_role`: base in bits 31:0,
 * ext in 63:32). One table per profile drives encode, decode and the tracepoint text.
 */
import { ShadowMmuError, badInput } from '../bits/errors.js';
import type { Profile } from '../profiles/index.js';
import type { FieldSpec } from '../profiles/traits/roles.js';
import { quote } from '../bits/quote.js';

export type UnionName = 'kvm_mmu_page_role' | 'kvm_mmu_extended_role';
export const UNION_NAMES: readonly UnionName[] = ['kvm_mmu_page_role', 'kvm_mmu_extended_role'];

export interface FieldLayout {
  readonly name: string;
  readonly shift: number;
  readonly width: number;
  /** Mask of the field within the 32-bit word (unsigned). */
  readonly mask: number;
}

export interface RoleLayout {
  readonly union: UnionName;
  readonly size_bytes: number;
  /** Named fields in declaration order. */
  readonly fields: readonly FieldLayout[];
  readonly byName: ReadonlyMap<string, FieldLayout>;
  /** Bits no named field covers (padding): decode drops them, encode never sets them. */
  readonly padding_mask: number;
}

export type RoleFields = Record<string, number>;

function build(union: UnionName, specs: readonly FieldSpec[]): RoleLayout {
  const fields: FieldLayout[] = [];
  let shift = 0;
  let named = 0;
  for (const [name, width] of specs) {
    if (name !== null) {
      const mask = (width === 32 ? 0xffffffff : ((1 << width) - 1) << shift) >>> 0;
      fields.push({ name, shift, width, mask });
      named = (named | mask) >>> 0;
    }
    shift += width;
  }
  if (shift > 32) throw new Error(`${union}: layout is ${shift} bits wide`);
  return {
    union,
    size_bytes: 4,
    fields,
    byName: new Map(fields.map((f) => [f.name, f])),
    padding_mask: ~named >>> 0,
  };
}

const cache = new WeakMap<Profile, Record<UnionName, RoleLayout>>();

/** The layout of `union` under `profile`. */
export function roleLayout(profile: Profile, union: UnionName = 'kvm_mmu_page_role'): RoleLayout {
  let c = cache.get(profile);
  if (!c) {
    c = {
      kvm_mmu_page_role: build('kvm_mmu_page_role', profile.roles.page_role),
      kvm_mmu_extended_role: build('kvm_mmu_extended_role', profile.roles.ext_role),
    };
    cache.set(profile, c);
  }
  return c[union];
}

export function parseUnionName(v: unknown, where: string): UnionName {
  if (v === 'kvm_mmu_page_role' || v === 'kvm_mmu_extended_role') return v;
  badInput(where, `unknown union ${quote(v)}: expected ${UNION_NAMES.join(' or ')}`);
}

/** Every named field of `word` (padding dropped), in declaration order. */
export function decodeRole(layout: RoleLayout, word: number): RoleFields {
  const out: RoleFields = {};
  for (const f of layout.fields) out[f.name] = ((word & f.mask) >>> f.shift) >>> 0;
  return out;
}

/** Build a word from field values; unknown fields or values that do not fit are errors. */
export function encodeRole(layout: RoleLayout, fields: Readonly<Record<string, number>>): number {
  let word = 0;
  for (const [name, value] of Object.entries(fields)) word = setField(layout, word, name, value);
  return word >>> 0;
}

function fieldOf(layout: RoleLayout, name: string): FieldLayout {
  const f = layout.byName.get(name);
  if (!f) {
    throw new ShadowMmuError(
      'EUNKNOWN_FIELD',
      `${layout.union} has no field ${quote(name)} in this profile (fields: ${layout.fields.map((x) => x.name).join(', ')})`,
    );
  }
  return f;
}

/** Whether the profile's layout has the named field (e.g. `pae_root` only under rfc-v1*). */
export function hasField(layout: RoleLayout, name: string): boolean {
  return layout.byName.has(name);
}

export function getField(layout: RoleLayout, word: number, name: string): number {
  const f = fieldOf(layout, name);
  return ((word & f.mask) >>> f.shift) >>> 0;
}

export function setField(layout: RoleLayout, word: number, name: string, value: number): number {
  const f = fieldOf(layout, name);
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** f.width) {
    badInput(`${layout.union}.${name}`, `value ${value} does not fit in ${f.width} bit${f.width > 1 ? 's' : ''}`);
  }
  return ((word & ~f.mask) | ((value << f.shift) & f.mask)) >>> 0;
}

/** The golden `role_layout` shape: {size_bytes, fields: {name: {shift, width, mask}}}. */
export function layoutTable(layout: RoleLayout): {
  size_bytes: number;
  fields: Record<string, { shift: number; width: number; mask: number }>;
} {
  const fields: Record<string, { shift: number; width: number; mask: number }> = {};
  for (const f of layout.fields) fields[f.name] = { shift: f.shift, width: f.width, mask: f.mask };
  return { size_bytes: layout.size_bytes, fields };
}

/**
 * The 64-bit role: 5.x `union kvm_mmu_role` (the MMU's role) or, from 5.19, `union kvm_cpu_role`
 * (the guest's paging mode). Same shape in both: the page role in bits 31:0, the extended role
 * in bits 63:32; field names are the two unions' names prefixed `base.` and `ext.`.
 */
export function role64Name(profile: Profile): 'kvm_mmu_role' | 'kvm_cpu_role' {
  return profile.roles.pipeline === 'cpu_role' ? 'kvm_cpu_role' : 'kvm_mmu_role';
}

export function splitRole64(v: bigint): { base: number; ext: number } {
  const u = BigInt.asUintN(64, v);
  return { base: Number(u & 0xffffffffn) >>> 0, ext: Number(u >> 32n) >>> 0 };
}

export function joinRole64(base: number, ext: number): bigint {
  return (BigInt(ext >>> 0) << 32n) | BigInt(base >>> 0);
}

/** Every named field of a 64-bit role, `base.<field>` then `ext.<field>`. */
export function decodeRole64(profile: Profile, v: bigint): RoleFields {
  const { base, ext } = splitRole64(v);
  const out: RoleFields = {};
  for (const [k, x] of Object.entries(decodeRole(roleLayout(profile, 'kvm_mmu_page_role'), base))) out[`base.${k}`] = x;
  for (const [k, x] of Object.entries(decodeRole(roleLayout(profile, 'kvm_mmu_extended_role'), ext))) out[`ext.${k}`] = x;
  return out;
}

/** Build a 64-bit role from `base.<field>` / `ext.<field>` values. */
export function encodeRole64(profile: Profile, fields: Readonly<Record<string, number>>): bigint {
  const base: Record<string, number> = {};
  const ext: Record<string, number> = {};
  for (const [k, x] of Object.entries(fields)) {
    const m = /^(base|ext)\.(.+)$/.exec(k);
    if (!m) {
      throw new ShadowMmuError('EUNKNOWN_FIELD', `${role64Name(profile)}: field ${quote(k)} must be named base.<field> or ext.<field>`);
    }
    (m[1] === 'base' ? base : ext)[m[2]!] = x;
  }
  return joinRole64(
    encodeRole(roleLayout(profile, 'kvm_mmu_page_role'), base),
    encodeRole(roleLayout(profile, 'kvm_mmu_extended_role'), ext),
  );
}
