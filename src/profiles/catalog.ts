/**
 * The kernel profiles the model ships: each is a base profile plus named changes. Users can
 * compose more on the command line: `--profile v6.18+some-change`.
 */
import type { ChangeName } from './changes.js';

export interface ProfileDef {
  readonly name: string;
  readonly title: string;
  /** The tree or posting the profile models. */
  readonly source: string;
  readonly base: string | null;
  readonly changes: readonly ChangeName[];
}

export const PROFILE_DEFS: readonly ProfileDef[] = [
  {
    name: 'v5.16',
    title: 'mainline v5.16 (gpte_is_8_bytes)',
    source: 'linux v5.16.10 arch/x86/kvm (role code identical to v5.15/v5.16)',
    base: null,
    changes: [],
  },
  {
    name: 'rfc-base',
    title: 'v5.17-rc5 role code (has_4_byte_gpte): the tree the RFC applies to',
    source: 'linux v5.17-rc5 arch/x86/kvm',
    base: 'v5.16',
    changes: ['has-4-byte-gpte'],
  },
  {
    name: 'rfc-v1',
    title: "Lai Jiangshan's pae_root/level_promoted RFC exactly as posted (tests CR4.PSE)",
    source: '[RFC PATCH 0/6] 2021-12-10 on v5.17-rc5 role code',
    base: 'rfc-base',
    changes: ['rfc-pae-root-v1'],
  },
  {
    name: 'rfc-v1-pae',
    title: 'the same RFC with its promotion test corrected to CR4.PAE',
    source: 'rfc-v1 plus one corrected condition (no golden vectors; argued from the levels)',
    base: 'rfc-v1',
    changes: ['rfc-pae-root-pae-fix'],
  },
  {
    name: 'v6.18',
    title: 'current mainline v6.18 (CPU role vs root role, passthrough, is_mirror, forced efer_nx)',
    source: 'linux v6.18.2 arch/x86/kvm',
    base: 'rfc-base',
    changes: ['mainline-v6.18'],
  },
];
