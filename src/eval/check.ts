/**
 * `eval --check`: each oracle record's expected fields against the model's answer, compared as
 * the oracles define them (hex strings by value; access.c's PDE under its ignore mask; the real-KVM
 * records by outcome, error code, walks, gPTEs, shadow events, root roles and step results).
 */
import { evaluateRecord } from './index.js';
import type { JsonObject } from './types.js';

/** Keys of a real-KVM record that are results, removed before the model sees it. */
const KVM_OUTPUT_KEYS = ['outcome', 'fault', 'exceptions', 'target_walks', 'other_walks', 'shadow', 'gptes_after', 'stats', 'exit', 'exits',
  'root_role', 'root_role_fields', 'emulated', 'steps', 'warmup_get_page', 'access_get_page', 'effective', 'set_sregs_errno'];

const HEX = /^0x[0-9a-fA-F]+$/;

/** Equality as the oracles define it: hex strings by numeric value, objects key by key. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === undefined) a = null;
  if (b === undefined) b = null;
  if (typeof a === 'string' && typeof b === 'string' && HEX.test(a) && HEX.test(b)) return BigInt(a) === BigInt(b);
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => k in b && sameValue((a as JsonObject)[k], (b as JsonObject)[k]));
  }
  return a === b;
}

const big = (v: unknown): bigint => (v === null || v === undefined ? 0n : BigInt(v as string | number));

export interface CheckResult {
  readonly id: string;
  /** The first field that differs (`field: expected X, got Y`), or null when the record matches. */
  readonly diff: string | null;
}

const show = (v: unknown) => {
  const s = JSON.stringify(v ?? null);
  return s.length > 120 ? s.slice(0, 117) + '...' : s;
};
const differ = (field: string, exp: unknown, got: unknown) => `${field}: expected ${show(exp)}, got ${show(got)}`;

function firstDiff(exp: JsonObject, got: JsonObject | undefined, keys: readonly string[]): string | null {
  for (const k of keys) if (!sameValue(exp[k], got?.[k])) return differ(k, exp[k], got?.[k]);
  return null;
}

function accessDiff(exp: JsonObject, out: JsonObject): string | null {
  if (exp['fault'] !== out['fault']) return differ('fault', exp['fault'], out['fault']);
  if (exp['fault'] && big(exp['error_code']) !== big(out['error_code'])) return differ('error_code', exp['error_code'], out['error_code']);
  if (exp['gpa'] !== null && exp['gpa'] !== undefined && big(exp['gpa']) !== big(out['gpa'])) return differ('gpa', exp['gpa'], out['gpa']);
  if ((exp['pte_after'] === null) !== (out['pte_after'] === null) || big(exp['pte_after']) !== big(out['pte_after'])) return differ('pte_after', exp['pte_after'], out['pte_after']);
  const ign = big(exp['pde_after_ignore']);
  if (((big(exp['pde_after']) ^ big(out['pde_after'])) & ~ign) !== 0n) return differ('pde_after', exp['pde_after'], out['pde_after']);
  return null;
}

function stepsDiff(exp: JsonObject, out: JsonObject): string | null {
  const want = exp['steps'] as JsonObject[];
  const got = Array.isArray(out['steps']) ? (out['steps'] as JsonObject[]) : [];
  for (let i = 0; i < want.length; i++) {
    for (const k of ['value', 'exceptions', 'mmu']) if (!sameValue(want[i]![k], got[i]?.[k])) return differ(`steps[${i}].${k}`, want[i]![k], got[i]?.[k]);
  }
  if (got.length !== want.length) return differ('steps.length', want.length, got.length);
  return null;
}

/**
 * Check one record. Returns null for a record with nothing to check (no expected fields: a
 * manifest or environment line); throws ShadowMmuError when the model cannot evaluate it.
 */
export function checkRecord(rec: JsonObject, index: number): CheckResult | null {
  if (typeof rec['fn'] === 'string' && rec['out'] && typeof rec['out'] === 'object') {
    const { out, ...input } = rec;
    const got = evaluateRecord(input)['out'] as JsonObject;
    const exp = out as JsonObject;
    return { id: `${String(rec['profile'])}/${rec['fn']}#${index}`, diff: firstDiff(exp, got, Object.keys(exp)) };
  }
  const id = String(rec['id'] ?? `#${index}`);
  if (rec['expect'] && typeof rec['expect'] === 'object') {
    const { expect, ...input } = rec;
    return { id, diff: accessDiff(expect as JsonObject, evaluateRecord(input)['out'] as JsonObject) };
  }
  const kind = rec['kind'];
  if (kind !== 'walk' && kind !== 'root_role' && kind !== 'root_transition' && kind !== 'write_tracking') return null;
  const input: JsonObject = { ...rec };
  for (const k of KVM_OUTPUT_KEYS) delete input[k];
  const out = evaluateRecord(input)['out'] as JsonObject;
  if (kind === 'walk') {
    const fault = rec['fault'] ? { error_code: (rec['fault'] as JsonObject)['error_code'] } : null;
    const outFault = out['fault'] ? { error_code: (out['fault'] as JsonObject)['error_code'] } : null;
    const d = firstDiff({ outcome: rec['outcome'] ?? null, target_walks: rec['target_walks'] ?? null, gptes_after: rec['gptes_after'] ?? null }, out, ['outcome', 'target_walks', 'gptes_after']);
    if (d) return { id, diff: d };
    if (!sameValue(fault, outFault)) return { id, diff: differ('fault', fault, outFault) };
    return { id, diff: sameValue(rec['shadow'] ?? [], out['shadow'] ?? []) ? null : differ('shadow', rec['shadow'] ?? [], out['shadow']) };
  }
  if (kind === 'root_role') return { id, diff: firstDiff(rec, out, ['root_role', 'warmup_get_page', 'access_get_page']) };
  return { id, diff: stepsDiff(rec, out) };
}
