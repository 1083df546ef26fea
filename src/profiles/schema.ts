/**
 * The trait schema: every trait a profile carries, its domain, its type and (for enumerated
 * strings) its allowed values. It is derived from the trait tables themselves — the root values
 * and every change's patch — so a new trait is in the schema the moment a domain declares it.
 * Patch files (./patch-file.ts) are validated against it; `shadow-mmu profiles --traits` prints it.
 */
import { DOMAINS } from './domains.js';

/** The JSON kind of a trait value. */
export type TraitKind = 'boolean' | 'number' | 'string' | 'null' | 'array' | 'object';

export interface TraitSpec {
  readonly domain: string;
  /** Dotted path inside the domain, e.g. `rfc_pae_root.promoted_test`. */
  readonly path: string;
  /** Kinds seen at this path (a nullable object trait is `null` and `object`). */
  readonly kinds: readonly TraitKind[];
  /** Enumerated values for string traits (every value a shipped change gives it), sorted. */
  readonly values: readonly string[] | null;
  /** For an array trait: a description of its elements (`[string|null, number]`, `number`...). */
  readonly element: string | null;
}

/**
 * String unions whose members no shipped change happens to use: the extra members a patch file
 * may still name. Keyed `domain.path`.
 */
const EXTRA_VALUES: Readonly<Record<string, readonly string[]>> = {};

export function kindOf(v: unknown): TraitKind {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'array';
  const t = typeof v;
  if (t === 'boolean' || t === 'number' || t === 'string') return t;
  return 'object';
}

/** A short structural description of a value, for array elements. */
export function shapeOf(v: unknown): string {
  const k = kindOf(v);
  if (k === 'array') return '[' + (v as unknown[]).map(shapeOf).join(', ') + ']';
  if (k === 'object') return '{' + Object.keys(v as object).sort().join(', ') + '}';
  return k;
}

interface Acc {
  kinds: Set<TraitKind>;
  values: Set<string>;
  elements: Set<string>;
}

function visit(acc: Map<string, Acc>, domain: string, path: string, v: unknown): void {
  const k = kindOf(v);
  if (k === 'object') {
    for (const [key, sub] of Object.entries(v as Record<string, unknown>)) visit(acc, domain, path ? `${path}.${key}` : key, sub);
    if (path === '') return;
  }
  const id = `${domain}.${path}`;
  let a = acc.get(id);
  if (!a) acc.set(id, (a = { kinds: new Set(), values: new Set(), elements: new Set() }));
  a.kinds.add(k);
  if (k === 'string') a.values.add(v as string);
  if (k === 'array') for (const e of v as unknown[]) a.elements.add(shapeOf(e));
}

let cached: readonly TraitSpec[] | null = null;

/** Every leaf trait (and every object-valued trait, for nullable objects), in domain order. */
export function traitSchema(): readonly TraitSpec[] {
  if (cached) return cached;
  const acc = new Map<string, Acc>();
  for (const [dname, traits] of Object.entries(DOMAINS)) {
    visit(acc, dname, '', traits.root);
    for (const patch of Object.values(traits.patches as Record<string, unknown>)) visit(acc, dname, '', patch);
  }
  const out: TraitSpec[] = [];
  for (const [id, a] of acc) {
    const dot = id.indexOf('.');
    const kinds = [...a.kinds].sort();
    const values = a.kinds.has('string') ? [...new Set([...a.values, ...(EXTRA_VALUES[id] ?? [])])].sort() : null;
    const element = a.elements.size ? [...a.elements].sort().join(' | ') : null;
    out.push({ domain: id.slice(0, dot), path: id.slice(dot + 1), kinds, values, element });
  }
  cached = out;
  return out;
}

/** The spec of `domain.path`, if there is such a trait. */
export function traitSpec(domain: string, path: string): TraitSpec | undefined {
  return traitSchema().find((t) => t.domain === domain && t.path === path);
}

/** The value at a dotted path of a domain's traits (undefined when absent). */
export function traitValue(domainValue: unknown, path: string): unknown {
  let v: unknown = domainValue;
  for (const k of path.split('.')) {
    if (kindOf(v) !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}
