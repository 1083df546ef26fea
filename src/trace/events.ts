/**
 * kvmmmu tracepoint records (arch/x86/kvm/mmu/mmutrace.h) as the model emits them, and the
 * sink the MMU writes them to. Records carry the binary fields (full role word); ./format.ts
 * prints them as the kernel's text.
 */

/** KVM_MMU_PAGE_FIELDS */
export interface PageFields {
  readonly mmu_valid_gen: number;
  readonly gfn: number;
  readonly role: number;
  readonly root_count: number;
  readonly unsync: boolean;
}

export type TraceEvent =
  | ({ readonly event: 'kvm_mmu_get_page'; readonly created: boolean } & PageFields)
  | ({ readonly event: 'kvm_mmu_sync_page' } & PageFields)
  | ({ readonly event: 'kvm_mmu_unsync_page' } & PageFields)
  | ({ readonly event: 'kvm_mmu_prepare_zap_page' } & PageFields)
  | { readonly event: 'kvm_mmu_zap_all_fast'; readonly mmu_valid_gen: number; readonly mmu_used_pages: number }
  | SpteRequestedEvent
  | SetSpteEvent;

/** kvm_mmu_spte_requested (the fault's gfn, host pfn and goal level, before the shadow walk). */
export interface SpteRequestedEvent {
  readonly event: 'kvm_mmu_spte_requested';
  readonly gfn: number;
  readonly pfn: number;
  readonly level: number;
}

/**
 * kvm_mmu_set_spte (after mmu_set_spte wrote a leaf): the SPTE as halves, its host address
 * (sptep as a physical address), and r/x/u as the tracepoint computes them (u: -1 when the
 * format has no user bit, e.g. EPT).
 */
export interface SetSpteEvent {
  readonly event: 'kvm_mmu_set_spte';
  readonly gfn: number;
  readonly level: number;
  readonly spte_lo: number;
  readonly spte_hi: number;
  readonly sptep_pa: number;
  readonly r: boolean;
  readonly x: boolean;
  readonly u: -1 | 0 | 1;
}

export type TraceSink = (ev: TraceEvent) => void;

export const NO_TRACE: TraceSink = () => {};
