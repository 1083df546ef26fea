/**
 * Walker traits: what differs between kernels in the guest page-table walker
 * (arch/x86/kvm/mmu/paging_tmpl.h, mmu.h permission_fault, mmutrace.h).
 */
import type { DomainTraits } from './index.js';

/** One `__print_flags` entry of the kvmmmu walker events: [name, mask]. */
export type PferrFlag = readonly [name: string, mask: number];

export interface WalkerTraits {
  /**
   * kvm_mmu_trace_pferr_flags in mmutrace.h, in table order (the order names print in).
   * Bits outside the table print as `0x<rest>` after the names (shadow-mmu.md §i.2).
   */
  readonly pferr_print_flags: readonly PferrFlag[];
  /**
   * How permission_fault decides that a supervisor data access may override SMAP with
   * EFLAGS.AC. `cpl`: 5.16, AC counts only when CPL < 3 (a supervisor access at CPL 3 is
   * implicit). `access-flag`: 6.x, AC counts unless the access carries PFERR_IMPLICIT_ACCESS.
   */
  readonly smap_implicit: 'cpl' | 'access-flag';
}

export const walkerTraits: DomainTraits<WalkerTraits> = {
  root: {
    pferr_print_flags: [
      ['P', 0x1],
      ['W', 0x2],
      ['U', 0x4],
      ['RSVD', 0x8],
      ['F', 0x10],
    ],
    smap_implicit: 'cpl',
  },
  patches: {
    'pferr-print-flags-6.x': {
      pferr_print_flags: [
        ['P', 0x1],
        ['W', 0x2],
        ['U', 0x4],
        ['PK', 0x20],
        ['SS', 0x40],
        ['SGX', 0x8000],
        ['RSVD', 0x8],
        ['F', 0x10],
      ],
    },
    'smap-implicit-access-flag-6.x': { smap_implicit: 'access-flag' },
  },
};
