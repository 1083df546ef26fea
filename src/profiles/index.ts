/**
 * Kernel profiles: data, not forks. `getProfile('rfc-v1')` returns the composed, frozen profile;
 * `getProfile('v6.18+some-change')` composes extra named changes on top of a shipped profile.
 */
import { ShadowMmuError } from '../bits/errors.js';
import { CHANGES, isChangeName, type ChangeName } from './changes.js';
import { PROFILE_DEFS, type ProfileDef } from './catalog.js';
import { deepFreeze, deepMerge } from './compose.js';
import { DOMAINS } from './domains.js';
import { isPatchFileSpec, loadPatchFile, type PatchFile } from './patch-file.js';
import { quote } from '../bits/quote.js';

export { CHANGES, type ChangeName } from './changes.js';
export { PROFILE_DEFS } from './catalog.js';
export { deepMerge, type DeepPartial } from './compose.js';
export { loadPatchFile, isPatchFileSpec, validatePatch, type PatchFile } from './patch-file.js';
export { traitSchema, traitValue, type TraitSpec } from './schema.js';

type DomainName = keyof typeof DOMAINS;
type DomainValues = { readonly [K in DomainName]: (typeof DOMAINS)[K]['root'] };

export interface ProfileMeta {
  /** The name it was asked for, e.g. `rfc-v1` or `v6.18+foo`. */
  readonly name: string;
  readonly title: string;
  readonly source: string;
  /** Every change applied on top of the root, in order (a patch file's change by its name). */
  readonly changes: readonly string[];
  /** The patch files among the changes, in order. */
  readonly patch_files: readonly PatchFile[];
}

export type Profile = ProfileMeta & DomainValues;

/** Names of the profiles the project ships. */
export const PROFILE_NAMES: readonly string[] = PROFILE_DEFS.map((d) => d.name);

const cache = new Map<string, Profile>();

function findDef(name: string): ProfileDef | undefined {
  return PROFILE_DEFS.find((d) => d.name === name);
}

function changeChain(def: ProfileDef): ChangeName[] {
  const chain: ChangeName[] = [];
  const parent = def.base === null ? undefined : findDef(def.base);
  if (def.base !== null && parent === undefined) {
    throw new ShadowMmuError('EUNKNOWN_PROFILE', `profile ${def.name}: base profile ${def.base} is not defined`);
  }
  if (parent) chain.push(...changeChain(parent));
  chain.push(...def.changes);
  return chain;
}

type AppliedChange = ChangeName | PatchFile;

function compose(meta: Omit<ProfileMeta, 'changes' | 'patch_files'>, changes: readonly AppliedChange[]): Profile {
  const domains: Record<string, unknown> = {};
  for (const [dname, traits] of Object.entries(DOMAINS)) {
    let value: unknown = traits.root;
    for (const c of changes) {
      const patch = typeof c === 'string' ? (traits.patches as Record<string, unknown>)[c] : c.traits[dname];
      if (patch !== undefined) value = deepMerge(value, patch as never);
    }
    domains[dname] = value;
  }
  const names = changes.map((c) => (typeof c === 'string' ? c : c.name));
  const files = changes.filter((c): c is PatchFile => typeof c !== 'string');
  return deepFreeze({ ...meta, changes: names, patch_files: files, ...domains } as unknown as Profile);
}

/**
 * Resolve a profile specification: a shipped profile name, optionally followed by `+change`
 * for each extra named change to apply.
 */
export function getProfile(spec: string): Profile {
  const hit = cache.get(spec);
  if (hit) return hit;
  const parts = spec.split('+');
  let baseName = parts[0] ?? '';
  const extra: AppliedChange[] = [];
  // `--profile ./patch.json`: the file's own base profile plus the file.
  if (isPatchFileSpec(baseName)) {
    const f = loadPatchFile(baseName);
    if (f.base === null) throw new ShadowMmuError('EUNKNOWN_PROFILE', `patch file ${baseName}: has no "base" profile; use --profile BASE+${baseName}`);
    baseName = f.base;
    extra.push(f);
  }
  const def = findDef(baseName);
  if (!def) {
    throw new ShadowMmuError(
      'EUNKNOWN_PROFILE',
      `unknown profile ${quote(baseName)}: expected one of ${PROFILE_NAMES.join(', ')}`,
    );
  }
  const changes: AppliedChange[] = changeChain(def);
  changes.push(...extra);
  const nameOf = (c: AppliedChange) => (typeof c === 'string' ? c : c.name);
  for (const e of parts.slice(1)) {
    let c: AppliedChange;
    if (isPatchFileSpec(e)) c = loadPatchFile(e);
    else if (isChangeName(e)) c = e;
    else {
      throw new ShadowMmuError(
        'EUNKNOWN_PROFILE',
        `profile ${spec}: unknown change ${quote(e)}: expected one of ${Object.keys(CHANGES).join(', ')}, or a patch file (path with / or ending .json)`,
      );
    }
    if (changes.some((x) => nameOf(x) === nameOf(c))) {
      throw new ShadowMmuError('EUNKNOWN_PROFILE', `profile ${spec}: change ${nameOf(c)} is already part of ${baseName}`);
    }
    changes.push(c);
  }
  const added = changes.slice(changeChain(def).length).map(nameOf);
  const p = compose(
    {
      name: spec,
      title: added.length ? `${def.title} + ${added.join(' + ')}` : def.title,
      source: def.source,
    },
    changes,
  );
  // Patch files are read each time they are named (the file may change between runs).
  if (!changes.some((c) => typeof c !== 'string')) cache.set(spec, p);
  return p;
}

/** Whether `spec` resolves (used by argument validation). */
export function isProfile(spec: string): boolean {
  try {
    getProfile(spec);
    return true;
  } catch {
    return false;
  }
}
