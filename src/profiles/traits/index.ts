/**
 * The per-domain traits a profile carries. Each domain owns one file here holding its trait
 * type, its values at the root profile (v5.16) and its patch for every change that affects it.
 */
import type { ChangeName } from '../changes.js';
import type { DeepPartial } from '../compose.js';

export interface DomainTraits<T> {
  /** Values at the root of the composition (v5.16). */
  readonly root: T;
  /** Patches by change name; a change that does not affect the domain is absent. */
  readonly patches: Partial<Record<ChangeName, DeepPartial<T>>>;
}
