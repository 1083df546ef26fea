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
  | { readonly event: 'kvm_mmu_zap_all_fast'; readonly mmu_valid_gen: number; readonly mmu_used_pages: number };

export type TraceSink = (ev: TraceEvent) => void;

export const NO_TRACE: TraceSink = () => {};
