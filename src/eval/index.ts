/**
 * The registry behind `shadow-mmu eval`: every domain's handlers, merged, plus the record
 * dispatcher. Each domain adapter is one file in this folder and one line in TABLES.
 */
import { ShadowMmuError } from '../bits/errors.js';
import { jsonTooDeepAt, MAX_JSON_DEPTH } from '../bits/json-input.js';
import { quote, snippet } from '../bits/quote.js';
import { getProfile } from '../profiles/index.js';
import type { EvalTable, FnEvaluator, JsonObject, RecordEvaluator } from './types.js';
import { rolesEval } from './roles.js';
import { spteEval } from './spte.js';
import { cpuEval } from './cpu.js';
import { walkerEval } from './walker.js';
import { kvmEval } from './kvm.js';

export type { EvalTable, FnEvaluator, Json, JsonObject, RecordEvaluator } from './types.js';

const TABLES: readonly EvalTable[] = [rolesEval, cpuEval, walkerEval, spteEval, kvmEval];

function mergeTables(tables: readonly EvalTable[]): {
  fns: Map<string, FnEvaluator>;
  kinds: Map<string, RecordEvaluator>;
} {
  const fns = new Map<string, FnEvaluator>();
  const kinds = new Map<string, RecordEvaluator>();
  const guards = new Map<string, ((input: JsonObject) => boolean) | undefined>();
  for (const t of tables) {
    for (const [k, f] of Object.entries(t.fns ?? {})) {
      const guard = t.when?.[k];
      const prev = fns.get(k);
      if (prev === undefined) {
        fns.set(k, f);
        guards.set(k, guard);
        continue;
      }
      // A shared fn name: the guarded handler takes its records, the other one the rest.
      const prevGuard = guards.get(k);
      if (guard === undefined && prevGuard === undefined) throw new Error(`eval: fn ${k} registered twice`);
      const [g, mine, other] = guard !== undefined ? [guard, f, prev] : [prevGuard!, prev, f];
      fns.set(k, (profile, input) => (g(input) ? mine(profile, input) : other(profile, input)));
      guards.set(k, undefined);
    }
    for (const [k, f] of Object.entries(t.kinds ?? {})) {
      if (kinds.has(k)) throw new Error(`eval: kind ${k} registered twice`);
      kinds.set(k, f);
    }
  }
  return { fns, kinds };
}

const REGISTRY = mergeTables(TABLES);

export function evalFnNames(): string[] {
  return [...REGISTRY.fns.keys()].sort();
}

export function evalKindNames(): string[] {
  return [...REGISTRY.kinds.keys()].sort();
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Evaluate one parsed record. Returns the line to print: for `fn` records the record with `out`
 * set; for `kind`/access records `{id, out}`. Throws ShadowMmuError on bad input.
 */
export function evaluateRecord(rec: unknown): JsonObject {
  if (!isObject(rec)) throw new ShadowMmuError('EINVAL_INPUT', 'record: expected a JSON object');
  if (typeof rec['fn'] === 'string') {
    const fn = rec['fn'];
    const f = REGISTRY.fns.get(fn);
    if (!f) throw new ShadowMmuError('EUNKNOWN_FN', `fn ${quote(fn)} is not known to eval`);
    if (typeof rec['profile'] !== 'string') throw new ShadowMmuError('EINVAL_INPUT', 'record: missing "profile"');
    const input = rec['in'];
    if (!isObject(input)) throw new ShadowMmuError('EINVAL_INPUT', `fn ${fn}: "in" must be an object`);
    const out = f(getProfile(rec['profile']), input);
    const line: JsonObject = {};
    for (const [k, v] of Object.entries(rec)) if (k !== 'out' && k !== 'error') line[k] = v;
    line['out'] = out;
    return line;
  }
  const kind = typeof rec['kind'] === 'string' ? rec['kind'] : 'flags' in rec && 'in' in rec ? 'access' : undefined;
  if (kind === undefined) throw new ShadowMmuError('EINVAL_INPUT', 'record: has neither "fn" nor "kind"');
  const f = REGISTRY.kinds.get(kind);
  if (!f) throw new ShadowMmuError('EUNKNOWN_FN', `record kind ${quote(kind)} is not known to eval`);
  const out = f(rec);
  return { id: rec['id'] ?? null, out };
}

/** Evaluate one input line; never throws. `ok` is false when the line got an error. */
export function evaluateLine(text: string, where = 'line'): { ok: boolean; line: string } {
  const deep = jsonTooDeepAt(text);
  if (deep >= 0) return { ok: false, line: JSON.stringify({ error: `invalid JSON: ${where}: nested deeper than ${MAX_JSON_DEPTH} levels (at offset ${deep})` }) };
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch (e) {
    return { ok: false, line: JSON.stringify({ error: `invalid JSON: ${snippet((e as Error).message, 120)}` }) };
  }
  try {
    return { ok: true, line: JSON.stringify(evaluateRecord(rec)) };
  } catch (e) {
    const msg = e instanceof ShadowMmuError ? e.message : `internal error: ${(e as Error)?.message ?? String(e)}`;
    const base: JsonObject = isObject(rec) ? { ...rec } : {};
    delete base['out'];
    if ('kind' in base || ('flags' in base && !('fn' in base))) {
      return { ok: false, line: JSON.stringify({ id: base['id'] ?? null, error: msg }) };
    }
    base['error'] = msg;
    return { ok: false, line: JSON.stringify(base) };
  }
}
