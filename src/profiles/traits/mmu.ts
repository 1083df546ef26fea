/**
 * Shadow-page traits: where kvm_mmu_page bookkeeping (mmu.c) differs between the kernels the
 * profiles model. One code path in src/mmu consults these values.
 */
import type { DomainTraits } from './index.js';

export interface MmuTraits {
  /**
   * What a get_page hit tests before the unsync/write-flooding handling: 5.x skips it when the
   * MMU is direct (`mmu->direct_map`), 6.x when the found page is direct (`sp->role.direct`).
   */
  readonly hit_skips_unsync_when: 'mmu_direct' | 'sp_direct';
  /**
   * 5.x kvm_sync_page returns false both on failure and on a clean sync that needed no flush, and
   * get_page then breaks out of the bucket walk and creates a second page with the same gfn and
   * role (fixed in 5.19 by "Don't rebuild page when the page is synced and no tlb flushing is
   * required"). 6.x breaks only when the sync failed.
   */
  readonly noflush_sync_creates_duplicate: boolean;
  /** 6.x counts the miss and commits the local invalid list before allocating (find step). */
  readonly commit_before_alloc: boolean;
  /**
   * pte_list (parent_ptes) descriptor policy. 5.x: add to the first non-full descriptor,
   * appending new ones at the tail; removal fills the hole from the same descriptor.
   * 6.x: new descriptors pushed at the head (tails always full); holes filled from the head.
   */
  readonly pte_list_head_push: boolean;
  /**
   * The RFC's PAE root as a shadow page with role.pae_root, backed by the PAE-root cache; link
   * writes make_pae_pdpte into a pae_root parent and drop restores default_pae_pdpte (when the
   * SPTE module allocated one: rfc-v1 as posted).
   */
  readonly pae_root_shadow_page: boolean;
  /**
   * When the fast PGD switch may use prev_roots. '5.16': shadow root level >= 4 and guest root
   * level >= 4; 'guest-level' (RFC 1/6): guest root level >= 4; 'root-has-sp' (6.x): the current
   * root has a shadow page (special roots are freed first).
   */
  readonly fast_pgd_switch: '5.16' | 'guest-level' | 'root-has-sp';
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
   * The fault, sync and invalidation paths (mmu.c, paging_tmpl.h). '5.16': pf_fixed counted in
   * FNAME(fetch) / direct_map (no pf_taken, pf_emulate, pf_spurious), a write-tracked gfn
   * returns RET_PF_EMULATE, every shadow level resets write flooding and drops large SPTEs,
   * FNAME(sync_page) rebuilds every SPTE (prefetch semantics), INVLPG zaps and re-prefetches
   * the leaf (FNAME(invlpg)), mmu_spte_update flushes on lost A/D or writability, the fault
   * path caps a self-changing mapping at 4K. '6.x': the counters in kvm_mmu_page_fault,
   * RET_PF_WRITE_PROTECTED, kvm_mmu_get_child_sp keeps present non-leaf SPTEs (-EEXIST), a
   * prefetch of the same pfn is spurious, FNAME(sync_spte) leaves unchanged access alone,
   * INVLPG syncs the leaf (kvm_mmu_invalidate_addr), mmu_spte_update flushes only when the
   * SPTE loses MMU-writable.
   */
  readonly fault_path: '5.16' | '6.x';
}

export const mmuTraits: DomainTraits<MmuTraits> = {
  root: {
    hit_skips_unsync_when: 'mmu_direct',
    noflush_sync_creates_duplicate: true,
    commit_before_alloc: false,
    pte_list_head_push: false,
    pae_root_shadow_page: false,
    fast_pgd_switch: '5.16',
    gfn_array_max_level: 5,
    root_has_sp_test: 'levels',
    zapped_root_request: 'KVM_REQ_MMU_RELOAD',
    shadow_roots_drop_error: true,
    mmu_shrinker: true,
    fault_path: '5.16',
  },
  patches: {
    'rfc-pae-root-v1': {
      pae_root_shadow_page: true,
      fast_pgd_switch: 'guest-level',
    },
    'mainline-v6.18': {
      hit_skips_unsync_when: 'sp_direct',
      noflush_sync_creates_duplicate: false,
      commit_before_alloc: true,
      pte_list_head_push: true,
      fast_pgd_switch: 'root-has-sp',
      gfn_array_max_level: 3,
      root_has_sp_test: 'root_to_sp',
      zapped_root_request: 'KVM_REQ_MMU_FREE_OBSOLETE_ROOTS',
      shadow_roots_drop_error: false,
      mmu_shrinker: false,
      fault_path: '6.x',
    },
  },
};
