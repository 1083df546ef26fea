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
    // The upstream changes after v5.17 the model distinguishes, by release (those whose release
    // is not pinned, named 6.x, sit where the model's reading puts them). Changes that replace a
    // whole list (vCPU caches, page-role layout) give it as of their release, so order matters.
    changes: [
      'mmu-free-obsolete-roots-5.18',
      'page-fault-stats-5.19',
      'cpu-role-split-5.19',
      'me-value-5.19',
      'sync-noflush-no-duplicate-5.19',
      'find-page-skip-direct-sp-6.0',
      'get-page-decompose-6.0',
      'shadowed-translation-access-6.0',
      'drop-large-spte-in-link-6.0',
      'memory-cache-capacity-6.0',
      'ept-sync-drops-rwx0-6.0',
      'dirty-log-enable-flush-6.1',
      'memory-cache-gfp-custom-6.1',
      'mmio-caching-reevaluated-6.x',
      'root-to-sp-6.x',
      'shadow-roots-propagate-error-6.x',
      'mmu-shrinker-removed-6.x',
      'nx-huge-page-tracking-6.2',
      'pte-list-tail-count-6.4',
      'self-change-mapping-removed-6.4',
      'fetch-flooding-guest-levels-6.4',
      'sync-page-loop-in-mmu-c-6.4',
      'sync-spte-unchanged-access-6.4',
      'invlpg-via-sync-spte-6.4',
      'set-cr4-no-pcid-cpuid-check-6.4',
      'lam-6.8',
      'nested-ept-misconfig-qual-zero-6.10',
      'shadow-nonpresent-value-6.10',
      'guest-phys-bits-6.10',
      'write-protected-ret-6.12',
      'spte-update-flush-lost-writable-6.12',
      'make-spte-synchronizing-6.12',
      'writable-spte-always-dirty-6.12',
      'accessed-without-hw-ad-6.12',
      'writable-invariants-6.x',
      'spte-constant-renames-6.x',
      'memtype-hook-6.x',
      'mmu-set-spte-6.x',
      'cr-post-set-flushes-6.x',
      'cr4-guest-rsvd-includes-kvm-6.x',
      'cpuid-index-lookups-6.x',
      'get-cpuid2-reports-nent-6.x',
      'sgx-xfrm-not-masked-6.x',
      'la57-caps-from-raw-6.x',
      'canonical-host-width-6.x',
      'memslot-max-gfn-6.x',
      'pferr-print-flags-6.x',
      'smap-implicit-access-flag-6.x',
      'x86-5level-unconditional-6.x',
      'passthrough-role-6.x',
      'mirror-role-6.x',
      'tdx-gpaw-6.x',
      'cet-6.18',
      'release-v6.18',
    ],
  },
];
