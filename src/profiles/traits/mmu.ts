/**
 * Shadow-page traits: where kvm_mmu_page bookkeeping (mmu.c) differs between the kernels the
 * profiles model. One code path in src/mmu consults these values.
 */
import type { DomainTraits } from './index.js';

export interface MmuTraits {
  /**
   * What a get_page hit tests before the unsync/write-flooding handling: 5.x skips it when the
   * MMU is direct (`mmu->direct_map`), 6.x when the found page is direct (`sp->role.direct`;
   * David Matlack, "KVM: x86/mmu: Optimize MMU page cache lookup for all direct SPs", commit
   * bb924ca69f71, v6.0).
   */
  readonly hit_skips_unsync_when: 'mmu_direct' | 'sp_direct';
  /**
   * 5.x kvm_sync_page returns false both on failure and on a clean sync that needed no flush, and
   * get_page then breaks out of the bucket walk and creates a second page with the same gfn and
   * role (fixed in 5.19 by "Don't rebuild page when the page is synced and no tlb flushing is
   * required"). 6.x breaks only when the sync failed.
   */
  readonly noflush_sync_creates_duplicate: boolean;
  /**
   * 6.x counts the miss and commits the local invalid list before allocating (find step; David
   * Matlack, "KVM: x86/mmu: Decompose kvm_mmu_get_page() into separate functions", commit
   * 94c8136448c8, v6.0).
   */
  readonly commit_before_alloc: boolean;
  /**
   * pte_list (parent_ptes) descriptor policy. 5.x: add to the first non-full descriptor,
   * appending new ones at the tail; removal fills the hole from the same descriptor.
   * 6.x: new descriptors pushed at the head (tails always full); holes filled from the head
   * ("KVM: x86/mmu: Track tail count in pte_list_desc to optimize guest fork()", commit
   * 141705b78381, v6.4).
   */
  readonly pte_list_head_push: boolean;
  /**
   * The RFC's PAE root as a shadow page with role.pae_root, backed by the PAE-root cache; link
   * writes make_pae_pdpte into a pae_root parent and drop restores default_pae_pdpte (when the
   * SPTE module allocated one: rfc-v1 as posted).
   */
  readonly pae_root_shadow_page: boolean;
  /**
   * When the fast PGD switch may use prev_roots. 'shadow-and-guest-level' (5.16): shadow root
   * level >= 4 and guest root level >= 4; 'guest-level' (RFC 1/6): guest root level >= 4;
   * 'root-has-sp' (6.x, from the root_to_sp rework): the current root has a shadow page (special
   * roots are freed first, and kvm_mmu_new_pgd does not free the current root again).
   */
  readonly fast_pgd_switch: 'shadow-and-guest-level' | 'guest-level' | 'root-has-sp';
  /**
   * Highest level whose indirect pages get a per-entry gfn array: 5.x `gfns` for every indirect
   * page; 6.x `shadowed_translation` only up to KVM_MAX_HUGEPAGE_LEVEL (3).
   */
  readonly gfn_array_max_level: number;
  /**
   * How kvm_mmu_free_roots / kvm_mmu_sync_roots tell a root with a shadow page from a special
   * root: 5.16 from the levels (shadow >= 4 and guest >= 4 or direct), 6.x by asking whether
   * the root has a shadow page (root_to_sp).
   */
  readonly root_has_sp_test: 'levels' | 'root_to_sp';
  /** What zapping a live root asks of every vCPU: 5.x reload its MMU, 6.x free obsolete roots. */
  readonly zapped_root_request: 'KVM_REQ_MMU_RELOAD' | 'KVM_REQ_MMU_FREE_OBSOLETE_ROOTS';
  /** 5.16 mmu_alloc_shadow_roots drops the error of make_mmu_pages_available and returns 0. */
  readonly shadow_roots_drop_error: boolean;
  /**
   * An MMU shrinker is registered (mmu_shrink_count / mmu_shrink_scan): 5.16 and the RFC's
   * v5.17-rc5 base have one that zaps the oldest pages of one VM; 6.x has none (the pages are
   * accounted as page-table pages instead).
   */
  readonly mmu_shrinker: boolean;
  /**
   * The pf_* counters are kept by outcome: kvm_mmu_page_fault counts pf_taken before the fault
   * and pf_fixed / pf_emulate / pf_spurious from its RET_PF_* value, mmu_set_spte counts
   * pf_mmio_spte_created. Without it only pf_fixed exists, counted by FNAME(fetch) and
   * direct_map (and the other counters are not reported). Sean Christopherson, "KVM: x86/mmu:
   * Expand and clean up page fault stats", commit 1075d41efd59 (v5.19); pf_taken
   * later moved from kvm_mmu_do_page_fault into kvm_mmu_page_fault ("KVM: x86/mmu: Bump pf_taken
   * stat only in the "real" page fault handler", v6.10), which is where the model counts it.
   */
  readonly page_fault_stats_by_outcome: boolean;
  /**
   * Enabling dirty logging on a memslot flushes remote TLBs unconditionally (Junaid Shahid,
   * "kvm: x86: mmu: Always flush TLBs when enabling dirty logging", v6.1), instead of only when
   * kvm_mmu_slot_remove_write_access write-protected an SPTE (5.16).
   */
  readonly dirty_log_enable_always_flushes: boolean;
  /**
   * NX huge pages: a page built below a disallowed huge page is marked nx_huge_page_disallowed
   * only when a huge page was possible there (5.16), and the nonpaging direct map accounts none
   * (5.16's __direct_map accounts for TDP only). Sean Christopherson's NX huge page fixes
   * ("KVM: x86/mmu: Track the NX huge page state even if not possible", "... Properly account
   * NX huge page workaround for nonpaging MMUs", v6.2; commits not pinned) mark every such page
   * and account the nonpaging MMU too.
   */
  readonly nx_huge_page_marked_only_when_possible: boolean;
  /**
   * What a write fault returns when the SPTE has to stay read-only (a write-tracked gfn, or
   * make_spte's wrprot): 'RET_PF_EMULATE' (5.16), or 'RET_PF_WRITE_PROTECTED' (v6.12, Sean
   * Christopherson's "KVM: x86: Fix multiple #PF RO infinite loop bugs" series), which
   * kvm_mmu_page_fault turns into emulation.
   */
  readonly write_protected_fault_ret: 'RET_PF_EMULATE' | 'RET_PF_WRITE_PROTECTED';
  /**
   * FNAME(fetch) and direct_map drop a large SPTE (drop_large_spte, with its flush) before
   * looking up the child page, then get a page only for a non-present SPTE (5.16). Without it
   * kvm_mmu_get_child_sp keeps a present non-leaf SPTE (-EEXIST) and __link_shadow_page drops a
   * large one. Paolo Bonzini, "KVM: x86/mmu: pull call to drop_large_spte() into
   * __link_shadow_page()", commit 0cd8dc739833 (v6.0).
   */
  readonly large_spte_dropped_before_child_lookup: boolean;
  /**
   * FNAME(fetch) resets the write-flooding count at every shadow level down to the goal level,
   * direct pages below a guest huge page included (5.16); without it only the levels that
   * shadow guest tables (down to the walk's level). Probably with Lai Jiangshan's FNAME(fetch)
   * rework, "KVM: x86/mmu: Detect write #PF to shadow pages during FNAME(fetch) walk" (v6.4);
   * commit not pinned here.
   */
  readonly flooding_count_cleared_on_direct_levels: boolean;
  /**
   * FNAME(page_fault) maps at 4K a writable translation whose huge page holds one of the tables
   * the walk used (FNAME(is_self_change_mapping), 5.16). Lai Jiangshan, "KVM: x86/mmu: Remove
   * FNAME(is_self_change_mapping)", commit 9a967700496f (v6.4).
   */
  readonly self_change_mapping_maps_4k: boolean;
  /**
   * mmu_set_spte returns RET_PF_SPURIOUS for a prefetch onto a present leaf SPTE of the same
   * pfn, leaving it alone (6.x; release not pinned here).
   */
  readonly prefetch_same_pfn_is_spurious: boolean;
  /** mmu_set_spte WARNs when a present leaf SPTE changes pfn (6.x; release not pinned here). */
  readonly pfn_change_under_present_spte_warns: boolean;
  /**
   * mmu_set_spte fires kvm_mmu_set_spte after the update, recording the new SPTE; without it
   * (5.16) before the update, recording the old one (6.x; release not pinned here).
   */
  readonly set_spte_traces_new_spte: boolean;
  /**
   * The per-entry array of an indirect page (shadowed_translation) holds gfn << 12 | access:
   * kvm_mmu_page_get_access reads the access from it, kvm_mmu_page_set_translation WARNs on an
   * access mismatch for pages without the array, and mmu_set_spte updates the access of a
   * present SPTE it keeps. Without it the array (gfns) holds the gfn only and the access is
   * role.access. David Matlack, "KVM: x86/mmu: Cache the access bits of shadowed translations",
   * commit 6a97575d5cff (v6.0, the eager page splitting series).
   */
  readonly rmap_access_in_shadowed_translation: boolean;
  /**
   * FNAME(sync_spte) leaves an SPTE whose shadowed access is unchanged alone instead of
   * rebuilding it with prefetch semantics. Lai Jiangshan, "KVM: x86/mmu: Reduce the update to
   * the spte in FNAME(sync_spte)", commit e6722d9211b2 (v6.4).
   */
  readonly sync_spte_skips_unchanged_access: boolean;
  /**
   * FNAME(sync_spte) drops an SPTE whose access would make it SHADOW_NONPRESENT_VALUE (EPT
   * without execute-only and pte_access 0) instead of rebuilding it. Sean Christopherson, "KVM:
   * x86/mmu: Drop RWX=0 SPTEs during ept_sync_page()", commit 9fb3565743d5 (v6.0).
   */
  readonly sync_spte_drops_nonpresent_access: boolean;
  /**
   * __kvm_sync_page goes on after a gPTE that cannot be read (ORing every entry's result)
   * instead of failing at the first one as 5.16 FNAME(sync_page) does. Lai Jiangshan, "KVM:
   * x86/mmu: Move the code out of FNAME(sync_page)'s loop body into mmu.c", commit c3c6c9fc5d24
   * (v6.4).
   */
  readonly sync_page_continues_after_read_failure: boolean;
  /**
   * INVLPG syncs the leaf SPTE of every unsync page on the walk (kvm_mmu_invalidate_addr ->
   * __kvm_mmu_invalidate_addr, through kvm_sync_spte), on the current root unless every root is
   * asked for. Without it 5.16 FNAME(invlpg) zaps the leaf and prefetches it again from the gPTE,
   * and an invalid current root means every root. Lai Jiangshan, "KVM: x86/mmu: Remove
   * FNAME(invlpg) and use FNAME(sync_spte) to update vTLB instead", commit 9fd4a4e3a3d9 (v6.4).
   */
  readonly invlpg_syncs_leaf_spte: boolean;
  /**
   * When mmu_spte_update asks for a TLB flush: 'lost-writable-or-ad' (5.16: the old SPTE could
   * be made writable locklessly and the new one is not writable, or it lost its Accessed or
   * Dirty state) or 'lost-mmu-writable' (leaf_spte_change_needs_tlb_flush: it loses
   * MMU-writable). Sean Christopherson, "KVM: x86/mmu: Don't force flush if SPTE update clears
   * Accessed bit" and "KVM: x86/mmu: Don't flush TLBs when clearing Dirty bit in shadow MMU"
   * (v6.12; commits not pinned here).
   */
  readonly spte_update_flush: 'lost-writable-or-ad' | 'lost-mmu-writable';
  /** rmap_add keeps the max_mmu_rmap_size VM statistic (6.x in the model; release not pinned). */
  readonly max_rmap_size_stat: boolean;
  /**
   * kvm_post_set_cr0 requests KVM_REQ_TLB_FLUSH_GUEST when CR0.PG is cleared (clearing PG
   * flushes the TLB architecturally; 6.x, release not pinned here).
   */
  readonly cr0_pg_clear_flushes_guest_tlb: boolean;
  /**
   * What kvm_post_set_cr4 requests besides an MMU reset: 'reload-on-pcide' (5.16: a PCIDE change
   * without a reset reloads the MMU, a PGE change flushes the guest TLB) or 'targeted-flushes'
   * (6.x: PCIDE 0 -> 1 unloads the MMU; PGE changes or PCIDE 1 -> 0 flush the guest TLB; SMEP
   * set or a PAE change flush the current TLB). Lai Jiangshan's "KVM: X86: Don't reset mmu
   * context when X86_CR4_PCIDE 1->0" and "... when toggling X86_CR4_PGE" (v5.17) and later
   * commits; the model's rfc-base (v5.17-rc5) keeps the 5.16 rule, as it always did.
   */
  readonly post_set_cr4_requests: 'reload-on-pcide' | 'targeted-flushes';
  /**
   * The exit qualification of the EPT Misconfig VM exit nested_ept_inject_page_fault reflects
   * to L1 when L1's EPT entry has reserved bits: 'l0-exit-qualification' (5.x: whatever L0's own
   * exit left in vcpu->arch.exit_qualification, the walk leaves it alone on a misconfiguration)
   * or 'zero' (6.x). Sean Christopherson, "KVM: nVMX: Clear EXIT_QUALIFICATION when injecting an
   * EPT Misconfig", commit 0c4765140351 (v6.10).
   */
  readonly nested_ept_misconfig_exit_qual: 'l0-exit-qualification' | 'zero';
}

export const mmuTraits: DomainTraits<MmuTraits> = {
  root: {
    hit_skips_unsync_when: 'mmu_direct',
    noflush_sync_creates_duplicate: true,
    commit_before_alloc: false,
    pte_list_head_push: false,
    pae_root_shadow_page: false,
    fast_pgd_switch: 'shadow-and-guest-level',
    gfn_array_max_level: 5,
    root_has_sp_test: 'levels',
    zapped_root_request: 'KVM_REQ_MMU_RELOAD',
    shadow_roots_drop_error: true,
    mmu_shrinker: true,
    page_fault_stats_by_outcome: false,
    dirty_log_enable_always_flushes: false,
    nx_huge_page_marked_only_when_possible: true,
    write_protected_fault_ret: 'RET_PF_EMULATE',
    large_spte_dropped_before_child_lookup: true,
    flooding_count_cleared_on_direct_levels: true,
    self_change_mapping_maps_4k: true,
    prefetch_same_pfn_is_spurious: false,
    pfn_change_under_present_spte_warns: false,
    set_spte_traces_new_spte: false,
    rmap_access_in_shadowed_translation: false,
    sync_spte_skips_unchanged_access: false,
    sync_spte_drops_nonpresent_access: false,
    sync_page_continues_after_read_failure: false,
    invlpg_syncs_leaf_spte: false,
    spte_update_flush: 'lost-writable-or-ad',
    max_rmap_size_stat: false,
    cr0_pg_clear_flushes_guest_tlb: false,
    post_set_cr4_requests: 'reload-on-pcide',
    nested_ept_misconfig_exit_qual: 'l0-exit-qualification',
  },
  patches: {
    'rfc-pae-root-v1': {
      pae_root_shadow_page: true,
      fast_pgd_switch: 'guest-level',
    },
    'mmu-free-obsolete-roots-5.18': { zapped_root_request: 'KVM_REQ_MMU_FREE_OBSOLETE_ROOTS' },
    'page-fault-stats-5.19': { page_fault_stats_by_outcome: true },
    'dirty-log-enable-flush-6.1': { dirty_log_enable_always_flushes: true },
    'nx-huge-page-tracking-6.2': { nx_huge_page_marked_only_when_possible: false },
    'sync-noflush-no-duplicate-5.19': { noflush_sync_creates_duplicate: false },
    'find-page-skip-direct-sp-6.0': { hit_skips_unsync_when: 'sp_direct' },
    'get-page-decompose-6.0': { commit_before_alloc: true },
    'shadowed-translation-access-6.0': { gfn_array_max_level: 3, rmap_access_in_shadowed_translation: true },
    'drop-large-spte-in-link-6.0': { large_spte_dropped_before_child_lookup: false },
    'ept-sync-drops-rwx0-6.0': { sync_spte_drops_nonpresent_access: true },
    'root-to-sp-6.x': { fast_pgd_switch: 'root-has-sp', root_has_sp_test: 'root_to_sp' },
    'shadow-roots-propagate-error-6.x': { shadow_roots_drop_error: false },
    'mmu-shrinker-removed-6.x': { mmu_shrinker: false },
    'pte-list-tail-count-6.4': { pte_list_head_push: true },
    'self-change-mapping-removed-6.4': { self_change_mapping_maps_4k: false },
    'fetch-flooding-guest-levels-6.4': { flooding_count_cleared_on_direct_levels: false },
    'sync-page-loop-in-mmu-c-6.4': { sync_page_continues_after_read_failure: true },
    'sync-spte-unchanged-access-6.4': { sync_spte_skips_unchanged_access: true },
    'invlpg-via-sync-spte-6.4': { invlpg_syncs_leaf_spte: true },
    'write-protected-ret-6.12': { write_protected_fault_ret: 'RET_PF_WRITE_PROTECTED' },
    'spte-update-flush-lost-writable-6.12': { spte_update_flush: 'lost-mmu-writable' },
    'mmu-set-spte-6.x': {
      prefetch_same_pfn_is_spurious: true,
      pfn_change_under_present_spte_warns: true,
      set_spte_traces_new_spte: true,
      max_rmap_size_stat: true,
    },
    'cr-post-set-flushes-6.x': { cr0_pg_clear_flushes_guest_tlb: true, post_set_cr4_requests: 'targeted-flushes' },
    'nested-ept-misconfig-qual-zero-6.10': { nested_ept_misconfig_exit_qual: 'zero' },
  },
};
