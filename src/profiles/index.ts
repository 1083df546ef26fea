/**
 * Kernel profiles: data, not forks. `getProfile('rfc-v1')` returns the composed, frozen profile;
 * `getProfile('v6.18+some-change')` composes extra named changes on top of a shipped profile.
 */
import { ShadowMmuError } from '../bits/errors.js';
import { CHANGES, isChangeName, type ChangeName } from './changes.js';
import { PROFILE_DEFS, type ProfileDef } from './catalog.js';
import { deepFreeze, deepMerge } from './compose.js';
import { DOMAINS } from './domains.js';

export { CHANGES, type ChangeName } from './changes.js';
export { PROFILE_DEFS } from './catalog.js';
export { deepMerge, type DeepPartial } from './compose.js';

type DomainName = keyof typeof DOMAINS;
type DomainValues = { readonly [K in DomainName]: (typeof DOMAINS)[K]['root'] };

export interface ProfileMeta {
  /** The name it was asked for, e.g. `rfc-v1` or `v6.18+foo`. */
  readonly name: string;
  readonly title: string;
  readonly source: string;
  /** Every change applied on top of the root, in order. */
  readonly changes: readonly ChangeName[];
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

function compose(meta: Omit<ProfileMeta, 'changes'>, changes: readonly ChangeName[]): Profile {
  const domains: Record<string, unknown> = {};
  for (const [dname, traits] of Object.entries(DOMAINS)) {
    let value: unknown = traits.root;
    for (const c of changes) {
      const patch = (traits.patches as Record<string, unknown>)[c];
      if (patch !== undefined) value = deepMerge(value, patch as never);
    }
    domains[dname] = value;
  }
  return deepFreeze({ ...meta, changes: [...changes], ...domains } as unknown as Profile);
}

/**
 * Resolve a profile specification: a shipped profile name, optionally followed by `+change`
 * for each extra named change to apply.
 */
export function getProfile(spec: string): Profile {
  const hit = cache.get(spec);
  if (hit) return hit;
  const [baseName, ...extra] = spec.split('+');
  const def = findDef(baseName ?? '');
  if (!def) {
    throw new ShadowMmuError(
      'EUNKNOWN_PROFILE',
      `unknown profile ${JSON.stringify(baseName)}: expected one of ${PROFILE_NAMES.join(', ')}`,
    );
  }
  const changes = changeChain(def);
  for (const e of extra) {
    if (!isChangeName(e)) {
      throw new ShadowMmuError(
        'EUNKNOWN_PROFILE',
        `profile ${spec}: unknown change ${JSON.stringify(e)}: expected one of ${Object.keys(CHANGES).join(', ')}`,
      );
    }
    if (changes.includes(e)) {
      throw new ShadowMmuError('EUNKNOWN_PROFILE', `profile ${spec}: change ${e} is already part of ${baseName}`);
    }
    changes.push(e);
  }
  const p = compose(
    {
      name: spec,
      title: extra.length ? `${def.title} + ${extra.join(' + ')}` : def.title,
      source: def.source,
    },
    changes,
  );
  cache.set(spec, p);
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
