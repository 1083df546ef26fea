/**
 * What a diff compares: one scenario's run under one profile, reduced to what carries meaning
 * across kernels. Events keep their decoded role fields so the alignment key can be built from
 * the fields both profiles' layouts have; the shadow-page forest and counters are captured per
 * step (for the journal) and at the end (for the final-state diff).
 */
import type { Profile } from '../profiles/index.js';
import type { RoleFields } from '../roles/layout.js';

export interface DiffEvent {
  readonly event: string;
  /** The line as the kernel prints it under this run's profile. */
  readonly text: string;
  readonly gfn: number | null;
  readonly level: number | null;
  /** The page role word and its decoded fields (page events only). */
  readonly role: number | null;
  readonly fields: RoleFields | null;
  /** The other fields that carry meaning (created, unsync, SPTE flags, ...), as one string. */
  readonly rest: string;
  /** Host-specific fields (pfn, host addresses, generation), compared only with --exact. */
  readonly host: string;
}

export interface NodeState {
  readonly gfn: number;
  readonly level: number;
  readonly role: number;
  readonly fields: RoleFields;
  /** The role as the tracepoint prints it (`l4 8-byte q0 wux nxe ad`). */
  readonly roleText: string;
  readonly unsync: boolean;
  readonly unsync_children: number;
  readonly root_count: number;
  readonly parents: number;
  /** Present non-leaf SPTEs: index -> the child page's position in the node list. */
  readonly links: readonly { readonly index: number; readonly child: number }[];
  /** Present leaf SPTEs: index, target gfn, flags by meaning (pfn masked off). */
  readonly leaves: readonly { readonly index: number; readonly gfn: number; readonly flags: string }[];
  /** Whether a vCPU root (current or cached) points at it. */
  readonly root: boolean;
}

export interface StateSnap {
  readonly nodes: readonly NodeState[];
  readonly counters: Readonly<Record<string, number>>;
}

export interface DiffStep {
  /** VM index (guest scenarios; 0 for op scenarios) and the step's index inside it. */
  readonly vm: number;
  readonly step: number;
  /** The operation as written (`read 0x804000`, `get_page`). */
  readonly label: string;
  /** The outcome with host-specific values removed (exit, exceptions, value; returned data). */
  readonly outcome: string;
  readonly events: readonly DiffEvent[];
  readonly violations: readonly string[];
  /** The state after the step (forest without SPTE detail, counters). */
  readonly after: StateSnap;
}

export interface DiffVm {
  readonly name: string;
  readonly before: StateSnap;
  readonly final: StateSnap;
}

export interface DiffRun {
  readonly profile: Profile;
  readonly kind: 'guest' | 'ops' | 'vm';
  readonly steps: readonly DiffStep[];
  readonly vms: readonly DiffVm[];
}
