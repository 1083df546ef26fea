/**
 * `roles diff`: run one role fn over its whole valid input space (golden/roles README §3.1,
 * §4) under two profiles, compare the outputs field by field by name, and explain the
 * differing inputs as conjunctions of input bits. The outputs come from the eval adapters, so
 * the diff sees exactly what `shadow-mmu eval` computes.
 */
import { ShadowMmuError } from '../bits/errors.js';
import type { Profile } from '../profiles/index.js';
import { rolesEval } from './roles.js';
import { casesOf, DIFF_FNS, type DiffCase } from './roles-space.js';
import type { Json, JsonObject } from './types.js';
import { quote } from '../bits/quote.js';

export { DIFF_FNS } from './roles-space.js';

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

function changesOf(oa: Map<string, Json>, ob: Map<string, Json>, commonOnly: boolean): DiffChange[] {
  const out: DiffChange[] = [];
  const keys = [...oa.keys(), ...[...ob.keys()].filter((k) => !oa.has(k))];
  for (const k of keys) {
    const a = oa.has(k) ? oa.get(k)! : null;
    const b = ob.has(k) ? ob.get(k)! : null;
    if (commonOnly && (a === null || b === null)) continue;
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

/** The eval adapter for `fn` under `p`, flattened, evaluated once per distinct input. */
function evaluator(fn: string, p: Profile): (input: JsonObject) => Map<string, Json> {
  const f = rolesEval.fns?.[fn];
  if (!f) throw new ShadowMmuError('EUSAGE', `roles diff: unknown fn ${quote(fn)}`);
  const memo = new Map<string, Map<string, Json>>();
  return (input) => {
    const key = JSON.stringify(input);
    let out = memo.get(key);
    if (!out) memo.set(key, (out = flatten(f(p, input))));
    return out;
  };
}

export interface DiffOptions {
  /** Compare only fields both layouts have (hides renamed and dropped fields). */
  readonly commonOnly?: boolean;
}

/** Compare `fn` under profiles `a` and `b` over its whole valid input space. */
export function diffRoles(a: Profile, b: Profile, fn: string, opts: DiffOptions = {}): DiffReport {
  if (!DIFF_FNS.includes(fn)) {
    throw new ShadowMmuError('EUSAGE', `roles diff: fn ${quote(fn)} cannot be enumerated; expected one of ${DIFF_FNS.join(', ')}`);
  }
  const ea = evaluator(fn, a);
  const eb = evaluator(fn, b);
  const all: DiffCase[] = [];
  const bySig = new Map<string, { changes: DiffChange[]; ids: number[] }>();
  for (const c of casesOf(fn, a, b)) {
    const id = all.length;
    all.push(c);
    const ch = changesOf(ea(c.inA), eb(c.inB), opts.commonOnly === true);
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
