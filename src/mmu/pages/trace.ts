/** The KVM_MMU_PAGE_FIELDS of a page, for tracepoints. */
import type { PageFields } from '../../trace/events.js';
import type { KvmMmuPage } from './page.js';

export function pageFields(sp: KvmMmuPage): PageFields {
  return { mmu_valid_gen: sp.mmu_valid_gen, gfn: sp.gfn, role: sp.role, root_count: sp.root_count, unsync: sp.unsync };
}
