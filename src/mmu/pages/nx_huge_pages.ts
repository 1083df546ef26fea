/**
 * The NX huge page mitigation (kvm.nx_huge_pages=Y, for the iTLB multihit erratum): huge SPTEs
 * are never executable, so an instruction fetch from a huge guest page is mapped with 4K SPTEs;
 * the shadow pages built for that are marked nx_huge_page_disallowed and, where a huge page
 * would otherwise have been possible, listed (kvm->arch.possible_nx_huge_pages, counted in
 * nx_lpage_splits) for the recovery worker to zap so that the huge mapping can come back.
 */
import type { Kvm } from './kvm.js';
import type { KvmMmuPage } from './page.js';
import { is_large_pte, is_shadow_present_pte } from '../spte/spte.js';

/** The fault's NX-huge-page state (struct kvm_page_fault's members). */
export interface NxFault {
  readonly gfn: number;
  pfn: number;
  goal_level: number;
  req_level: number;
  huge_page_disallowed: boolean;
}

/** @kernel mmu.c track_possible_nx_huge_page */
function track_possible_nx_huge_page(kvm: Kvm, sp: KvmMmuPage): void {
  if (sp.possible_nx_huge_page) return;
  kvm.nx_lpage_splits++;
  kvm.possible_nx_huge_pages.push(sp);
  sp.possible_nx_huge_page = true;
}

/** @kernel mmu.c untrack_possible_nx_huge_page */
function untrack_possible_nx_huge_page(kvm: Kvm, sp: KvmMmuPage): void {
  if (!sp.possible_nx_huge_page) return;
  kvm.nx_lpage_splits--;
  kvm.possible_nx_huge_pages.splice(kvm.possible_nx_huge_pages.indexOf(sp), 1);
  sp.possible_nx_huge_page = false;
}

/**
 * @kernel mmu.c account_nx_huge_page
 * A page built because a huge page was disallowed. Until v6.2 (Sean Christopherson, "KVM:
 * x86/mmu: Track the NX huge page state even if not possible") the page was marked only when a
 * huge page was possible (nx_huge_page_marked_only_when_possible).
 */
export function account_nx_huge_page(kvm: Kvm, sp: KvmMmuPage, nx_huge_page_possible: boolean): void {
  if (kvm.traits.nx_huge_page_marked_only_when_possible && !nx_huge_page_possible) return;
  sp.nx_huge_page_disallowed = true;
  if (nx_huge_page_possible) track_possible_nx_huge_page(kvm, sp);
}

/** @kernel mmu.c unaccount_nx_huge_page */
export function unaccount_nx_huge_page(kvm: Kvm, sp: KvmMmuPage): void {
  sp.nx_huge_page_disallowed = false;
  untrack_possible_nx_huge_page(kvm, sp);
}

/**
 * @kernel mmu.c disallowed_hugepage_adjust
 * A small SPTE already exists where the fault would make a huge one, and its page was built for
 * an NX-disallowed huge page: go down another level (the huge leaf could be executable).
 */
export function disallowed_hugepage_adjust(f: NxFault, lo: number, cur_level: number, child: KvmMmuPage | null): void {
  if (cur_level > 1 && cur_level === f.goal_level && is_shadow_present_pte(lo) && !is_large_pte(lo) && child !== null && child.nx_huge_page_disallowed) {
    const page_mask = 2 ** (9 * (cur_level - 1)) - 2 ** (9 * (cur_level - 2));
    f.pfn += f.gfn % (page_mask + 2 ** (9 * (cur_level - 2))) - (f.gfn % 2 ** (9 * (cur_level - 2)));
    f.goal_level--;
  }
}
