/**
 * A patch under review as a file: a JSON profile change (a name, the profile it applies to by
 * default, and trait values to override), validated against the trait schema. It composes like
 * a built-in change: `--profile v6.18+./my-patch.json`, or `--profile ./my-patch.json` for the
 * file's own base.
 *
 *     { "name": "my-fix", "base": "rfc-v1", "source": "...", "summary": "...",
 *       "traits": { "roles": { "rfc_pae_root": { "promoted_test": "pae" } } } }
 *
 * What a file cannot say is a new rule: a trait the code does not consult yet (see README,
 * "Writing a change the traits cannot express").
 */
import { ShadowMmuError } from '../bits/errors.js';
import { DOMAINS } from './domains.js';
import { kindOf, shapeOf, traitSchema, type TraitSpec } from './schema.js';
import { parseJson } from '../bits/json-input.js';
import { readInput } from '../bits/input-file.js';

export interface PatchFile {
  readonly name: string;
  readonly base: string | null;
  readonly source: string;
  readonly summary: string;
  /** Per domain, a deep partial of its traits. */
  readonly traits: Readonly<Record<string, unknown>>;
  /** The file it was read from (absolute). */
  readonly file: string;
}

/** Whether a `+`-separated part of a profile spec names a file rather than a built-in change. */
export function isPatchFileSpec(part: string): boolean {
  return part.includes('/') || part.endsWith('.json');
}

function fail(file: string, where: string, what: string): never {
  throw new ShadowMmuError('EUNKNOWN_PROFILE', `patch file ${file}: ${where}: ${what}`);
}

function quote(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

function childrenOf(domain: string, path: string): TraitSpec[] {
  const prefix = path ? path + '.' : '';
  return traitSchema().filter((t) => t.domain === domain && t.path.startsWith(prefix) && !t.path.slice(prefix.length).includes('.'));
}

function checkValue(file: string, domain: string, path: string, v: unknown): void {
  const where = `traits.${domain}.${path}`;
  const spec = traitSchema().find((t) => t.domain === domain && t.path === path);
  if (!spec) {
    const parent = path.includes('.') ? path.slice(0, path.lastIndexOf('.')) : '';
    const known = childrenOf(domain, parent).map((t) => t.path.slice(parent ? parent.length + 1 : 0));
    fail(file, where, `unknown trait (known here: ${known.join(', ')})`);
  }
  const k = kindOf(v);
  if (!spec.kinds.includes(k)) fail(file, where, `expected ${spec.kinds.join(' or ')}${spec.values ? ` (${spec.values.join(', ')})` : ''}, got ${k} ${quote(v)}`);
  if (k === 'string' && spec.values && !spec.values.includes(v as string)) {
    fail(file, where, `${quote(v)} is not an allowed value (allowed: ${spec.values.join(', ')})`);
  }
  if (k === 'number' && !Number.isSafeInteger(v)) fail(file, where, `expected an integer, got ${quote(v)}`);
  if (k === 'array' && spec.element) {
    const allowed = spec.element.split(' | ');
    (v as unknown[]).forEach((e, i) => {
      const shape = shapeOf(e);
      const ok = allowed.includes(shape) || (shape.startsWith('[') && allowed.some((a) => matchesTuple(a, shape)));
      if (!ok) fail(file, `${where}[${i}]`, `expected ${spec.element}, got ${quote(e)}`);
    });
  }
  if (k === 'object') {
    const subs = childrenOf(domain, path);
    const given = v as Record<string, unknown>;
    for (const [key, sub] of Object.entries(given)) checkValue(file, domain, `${path}.${key}`, sub);
    // A nullable object (null in some profile) is replaced, not merged: it must be whole.
    if (spec.kinds.includes('null')) {
      const missing = subs.map((s) => s.path.slice(path.length + 1)).filter((n) => !(n in given));
      if (missing.length) fail(file, where, `replaces a trait that may be null, so it must give every field; missing ${missing.join(', ')}`);
    }
  }
}

/** A tuple shape like `[string, number]` also admits `null` where the schema saw `null`. */
function matchesTuple(allowed: string, shape: string): boolean {
  const a = allowed.slice(1, -1).split(', ');
  const s = shape.slice(1, -1).split(', ');
  return a.length === s.length && a.every((x, i) => x === s[i] || (s[i] === 'null' && x === 'string') || (s[i] === 'string' && x === 'null'));
}

/** Validate a parsed patch-file object; `file` names it in errors. */
export function validatePatch(json: unknown, file: string): PatchFile {
  if (kindOf(json) !== 'object') fail(file, '(top level)', 'expected a JSON object with name, base, traits');
  const o = json as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['name', 'base', 'source', 'summary', 'traits', 'comment'].includes(k)) fail(file, k, 'unknown key (expected name, base, source, summary, traits, comment)');
  const name = o['name'];
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) fail(file, 'name', `expected a change name (letters, digits, . _ -), got ${quote(name)}`);
  const base = o['base'] ?? null;
  if (base !== null && typeof base !== 'string') fail(file, 'base', `expected a profile name, got ${quote(base)}`);
  for (const k of ['source', 'summary'] as const) if (o[k] !== undefined && typeof o[k] !== 'string') fail(file, k, `expected a string, got ${quote(o[k])}`);
  const traits = o['traits'];
  if (kindOf(traits) !== 'object') fail(file, 'traits', 'expected an object of domains (' + Object.keys(DOMAINS).join(', ') + ')');
  for (const [domain, patch] of Object.entries(traits as Record<string, unknown>)) {
    if (!(domain in DOMAINS)) fail(file, `traits.${domain}`, `unknown domain (expected ${Object.keys(DOMAINS).join(', ')})`);
    if (kindOf(patch) !== 'object') fail(file, `traits.${domain}`, `expected an object of traits, got ${quote(patch)}`);
    for (const [key, v] of Object.entries(patch as Record<string, unknown>)) checkValue(file, domain, key, v);
  }
  return {
    name,
    base: base as string | null,
    source: typeof o['source'] === 'string' ? o['source'] : `patch file ${file}`,
    summary: typeof o['summary'] === 'string' ? o['summary'] : '',
    traits: traits as Record<string, unknown>,
    file,
  };
}

/** Read and validate a patch file. */
export function loadPatchFile(path: string): PatchFile {
  const text = readInput(path, 'patch file');
  const json = parseJson(text, `patch file ${path}`, 'not JSON');
  return validatePatch(json, path);
}
