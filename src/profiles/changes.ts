/**
 * The named changes profiles are composed from. Each is one kernel change (or patch series)
 * whose behaviour the model distinguishes; the per-domain patches that implement a change live
 * in ./traits/<domain>.ts under the same name. A new patch under review is one entry here, one
 * patch per affected domain, and (where the behaviour is new) one rule the code consults.
 */
export interface ChangeInfo {
  /** Where the change comes from: a kernel release, commit or posted patch. */
  readonly source: string;
  readonly summary: string;
}

export const CHANGES = {
  'has-4-byte-gpte': {
    source: 'v5.17 merge window (kvm_host.h: gpte_is_8_bytes renamed has_4_byte_gpte, sense inverted)',
    summary: 'role bit 4 becomes has_4_byte_gpte: 1 only for 32-bit non-PAE guest tables; direct/TDP pages 0',
  },
  'rfc-pae-root-v1': {
    source: 'Lai Jiangshan, [RFC PATCH 0/6] "KVM: X86: Add and use shadow page with level promoted or acting as pae_root", kvm@vger.kernel.org, 2021-12-10',
    summary: 'role bits level_promoted (18) and pae_root (19); PAE root as a DMA32 shadow page with default_pae_pdpte; shadow roots test CR4.PSE as posted',
  },
  'rfc-pae-root-pae-fix': {
    source: 'this project: the RFC with its shadow-root promotion test corrected from CR4.PSE to CR4.PAE',
    summary: 'level_promoted on shadow roots iff CR0.PG=1, EFER.LMA=0 and CR4.PAE=0 (guest 2 levels, shadow 3)',
  },
  'mainline-v6.18': {
    source: 'mainline v5.19..v6.18 (CPU role vs root role, passthrough, is_mirror, forced efer_nx, TDX GPAW, SHADOW_NONPRESENT_VALUE)',
    summary: 'current mainline behaviour',
  },
  'unmappable-gpa-exit-internal-error': {
    source: 'Sean Christopherson, kvm@vger.kernel.org 2024-01-10 (the ept_5level thread): proposal, not in mainline v6.18',
    summary: 'a guest fault on a GPA the TDP level cannot map (GPA[51:48] with 4-level EPT) exits to userspace with KVM_EXIT_INTERNAL_ERROR (17) instead of looping',
  },
  'unmappable-gpa-exit-memory-fault': {
    source: 'Sean Christopherson, kvm@vger.kernel.org 2024-01-10 (the ept_5level thread): proposal, not in mainline v6.18',
    summary: 'a guest fault on a GPA the TDP level cannot map exits to userspace with KVM_EXIT_MEMORY_FAULT (39) instead of looping',
  },
} as const satisfies Record<string, ChangeInfo>;

export type ChangeName = keyof typeof CHANGES;

export function isChangeName(s: string): s is ChangeName {
  return Object.prototype.hasOwnProperty.call(CHANGES, s);
}
