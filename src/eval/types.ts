/**
 * The `shadow-mmu eval` contract: one JSON object per line in, the same object with `out` (or
 * `error`) out. Domains contribute handlers; see ./index.ts for the registry.
 */
import type { Profile } from '../profiles/index.js';

export type { Json, JsonObject } from '../bits/json.js';
import type { JsonObject } from '../bits/json.js';

/** A `{profile, fn, in}` record's evaluator: returns the `out` object. */
export type FnEvaluator = (profile: Profile, input: JsonObject) => JsonObject;

/** An `{id, kind, ...}` or access record's evaluator: returns the `out` object. */
export type RecordEvaluator = (record: JsonObject) => JsonObject;

/** The handlers one domain contributes. */
export interface EvalTable {
  /** By `fn` name. A name is served by one domain, unless `when` splits its records. */
  readonly fns?: Readonly<Record<string, FnEvaluator>>;
  /**
   * For a fn name that more than one domain's golden set uses with different inputs (e.g.
   * `tdp_level` in golden/roles and golden/cpu): this table serves only the records for which
   * `when[fn]` holds; the other table serves the rest.
   */
  readonly when?: Readonly<Record<string, (input: JsonObject) => boolean>>;
  /** By record `kind` (kvm records); `access` handles the kvm-unit-tests access records. */
  readonly kinds?: Readonly<Record<string, RecordEvaluator>>;
}
