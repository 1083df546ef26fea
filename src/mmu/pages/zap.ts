/**
 * Zapping (mmu.c): prepare / commit, children, reclaim of the oldest pages, n_max_mmu_pages,
 * the fast zap of all pages through mmu_valid_gen, and the teardown zap.
 */
import { KVM_MIN_FREE_MMU_PAGES, KVM_REFILL_PAGES, SPTE_ENT_PER_PAGE } from './constants.js';
import type { Kvm } from './kvm.js';
import { drop_parent_pte, mmu_page_zap_pte } from './link.js';
import type { KvmMmuPage } from './page.js';
import { unaccount_shadowed } from './account.js';
import { unaccount_nx_huge_page } from './nx_huge_pages.js';
import { is_mmio_spte } from '../spte/spte.js';
import { pageFields } from './trace.js';
import { for_each_sp, kvm_unlink_unsync_page, mmu_pages_clear_parents, mmu_unsync_walk, type PageVecEntry } from './unsync.js';
import { KVMMMU } from '../../trace/table.js';

/** @kernel mmu.c mmu_zap_unsync_children */
function mmu_zap_unsync_children(kvm: Kvm, parent: KvmMmuPage, invalid_list: KvmMmuPage[]): number {
  if (kvm.level(parent) === 1) return 0;
  // mmu_unsync_walk finds nothing without unsync children: return before making its page vector.
  if (!parent.unsync_children) return 0;
  let zapped = 0;
  const pages: PageVecEntry[] = [];
  while (mmu_unsync_walk(kvm, parent, pages)) {
    for (const { sp, parents } of for_each_sp(kvm, pages)) {
      kvm_mmu_prepare_zap_page(kvm, sp, invalid_list);
      mmu_pages_clear_parents(kvm, parents);
      zapped++;
    }
  }
  return zapped;
}

/** @kernel mmu.c kvm_mmu_page_unlink_children */
function kvm_mmu_page_unlink_children(kvm: Kvm, sp: KvmMmuPage, invalid_list: KvmMmuPage[]): number {
  let zapped = 0;
  // One callback per page, not per entry (mmu_page_zap_pte calls it only for a nested TDP child).
  const prepare_zap = (child: KvmMmuPage) => kvm_mmu_prepare_zap_page(kvm, child, invalid_list);
  const a = kvm.arena;
  const base = sp.spt_base;
  const m = kvm.masks;
  const e_lo = m.nonpresent.lo;
  const e_hi = m.nonpresent.hi;
  // An entry holding the empty value is not present and (unless the MMIO value matches it) not
  // MMIO: mmu_page_zap_pte would do nothing for it.
  const skipEmpty = !is_mmio_spte(m, e_lo, e_hi);
  // Eight entries are tested at once (a JIT does not unroll: one test per entry measured ~2x).
  for (let i = 0; i < SPTE_ENT_PER_PAGE; i += 8) {
    if (skipEmpty && eight_empty(a, base + 2 * i, e_lo, e_hi)) continue;
    for (let j = i; j < i + 8; j++) {
      if (skipEmpty && a[base + 2 * j] === e_lo && a[base + 2 * j + 1] === e_hi) continue;
      zapped += mmu_page_zap_pte(kvm, sp, j, invalid_list, prepare_zap);
    }
  }
  return zapped;
}

/** Whether the eight SPTEs from arena offset o all hold the empty value (lo, hi). */
function eight_empty(a: Uint32Array, o: number, lo: number, hi: number): boolean {
  return (
    ((a[o]! ^ lo) | (a[o + 1]! ^ hi) | (a[o + 2]! ^ lo) | (a[o + 3]! ^ hi) | (a[o + 4]! ^ lo) | (a[o + 5]! ^ hi) | (a[o + 6]! ^ lo) | (a[o + 7]! ^ hi) |
      (a[o + 8]! ^ lo) | (a[o + 9]! ^ hi) | (a[o + 10]! ^ lo) | (a[o + 11]! ^ hi) | (a[o + 12]! ^ lo) | (a[o + 13]! ^ hi) | (a[o + 14]! ^ lo) | (a[o + 15]! ^ hi)) ===
    0
  );
}

/** @kernel mmu.c kvm_mmu_unlink_parents */
function kvm_mmu_unlink_parents(kvm: Kvm, sp: KvmMmuPage): void {
  while (!sp.parent_ptes.empty) drop_parent_pte(kvm, sp, sp.parent_ptes.first());
}

/** Ask every vCPU to drop its roots (5.x kvm_reload_remote_mmus, 6.x KVM_REQ_MMU_FREE_OBSOLETE_ROOTS). */
function requestRootReload(kvm: Kvm): void {
  for (const v of kvm.vcpus) v.requests.add(kvm.traits.zapped_root_request);
}

/** The kernel's `int *nr_zapped` out-parameter of __kvm_mmu_prepare_zap_page. */
export interface ZapCount {
  nr_zapped: number;
}
/** The count the callers here pass (read right after the call: nested zaps write it before the outer one does). */
const zapCount: ZapCount = { nr_zapped: 0 };

/**
 * @kernel mmu.c __kvm_mmu_prepare_zap_page
 * Returns whether active_mmu_pages became unstable; the pages zapped go to `out.nr_zapped`
 * (written last, so a nested zap's count never shows through), with no result object.
 */
export function __kvm_mmu_prepare_zap_page(kvm: Kvm, sp: KvmMmuPage, invalid_list: KvmMmuPage[], out: ZapCount): boolean {
  if (kvm.tracing) kvm.emit({ event: KVMMMU.kvm_mmu_prepare_zap_page, ...pageFields(sp) });
  kvm.stat.mmu_shadow_zapped++;
  let nr_zapped = kvm.eager_zap_unsync_children ? mmu_zap_unsync_children(kvm, sp, invalid_list) : 0;
  nr_zapped += kvm_mmu_page_unlink_children(kvm, sp, invalid_list);
  kvm_mmu_unlink_parents(kvm, sp);
  const unstable = nr_zapped > 0;
  const wasInvalid = (sp.role & kvm.rb.invalid) !== 0;
  if (!wasInvalid && kvm.sp_has_gptes(sp)) unaccount_shadowed(kvm, sp);
  if (sp.nx_huge_page_disallowed) unaccount_nx_huge_page(kvm, sp);
  if (sp.unsync) kvm_unlink_unsync_page(kvm, sp);
  let zappedRoot = false;
  if (!sp.root_count) {
    nr_zapped++;
    kvm.activeDel(sp);
    invalid_list.push(sp);
    sp.on = 'invalid';
    kvm.n_used_mmu_pages--;
  } else {
    kvm.activeDel(sp);
    zappedRoot = !kvm.is_obsolete_sp(sp);
  }
  kvm.setRole(sp, (sp.role | kvm.rb.invalid) >>> 0);
  if (zappedRoot) requestRootReload(kvm);
  out.nr_zapped = nr_zapped;
  return unstable;
}

/** @kernel mmu.c kvm_mmu_prepare_zap_page: the number of pages zapped. */
export function kvm_mmu_prepare_zap_page(kvm: Kvm, sp: KvmMmuPage, invalid_list: KvmMmuPage[]): number {
  __kvm_mmu_prepare_zap_page(kvm, sp, invalid_list, zapCount);
  return zapCount.nr_zapped;
}

/** @kernel mmu.c kvm_mmu_free_page */
export function kvm_mmu_free_page(kvm: Kvm, sp: KvmMmuPage): void {
  kvm.hashDel(sp);
  sp.on = null;
  kvm.pageByPfn.delete(sp.pfn);
  if (kvm.traits.pae_root_shadow_page && (sp.role & kvm.rb.pae_root) !== 0) kvm.free_pae_root(sp.pfn);
  else kvm.mem.free_page(sp.pfn);
  if (sp.gfns >= 0) kvm.mem.free_page(sp.gfns);
  kvm.mem.kmem_cache_free('mmu_page_header', sp.header);
  kvm.pages.delete(sp);
  sp.freed = true;
}

/** @kernel mmu.c kvm_mmu_commit_zap_page */
export function kvm_mmu_commit_zap_page(kvm: Kvm, invalid_list: KvmMmuPage[]): void {
  if (invalid_list.length === 0) return;
  kvm.kvm_flush_remote_tlbs();
  for (const sp of invalid_list) {
    if ((sp.role & kvm.rb.invalid) === 0 || sp.root_count) kvm.bug(`kvm_mmu_commit_zap_page: sp ${sp.id} is not an unpinned invalid page`);
    kvm_mmu_free_page(kvm, sp);
  }
  invalid_list.length = 0;
}

/** @kernel mmu.c kvm_mmu_zap_oldest_mmu_pages */
export function kvm_mmu_zap_oldest_mmu_pages(kvm: Kvm, nr_to_zap: number): number {
  if (!kvm.active_head) return 0;
  const invalid_list: KvmMmuPage[] = [];
  let total_zapped = 0;
  restart: for (;;) {
    for (let sp = kvm.active_tail; sp; ) {
      const prev: KvmMmuPage | null = sp.link_prev;
      if (sp.root_count) {
        sp = prev;
        continue;
      }
      const unstable = __kvm_mmu_prepare_zap_page(kvm, sp, invalid_list, zapCount);
      total_zapped += zapCount.nr_zapped;
      if (total_zapped >= nr_to_zap) break restart;
      if (unstable) continue restart;
      sp = prev;
    }
    break;
  }
  kvm_mmu_commit_zap_page(kvm, invalid_list);
  kvm.stat.mmu_recycled += total_zapped;
  return total_zapped;
}

/**
 * @kernel mmu.c mmu_shrink_count
 * What the shrinker reports as freeable: the used shadow pages (the model has one VM, so the
 * global counter is this VM's); 0 when the profile has no MMU shrinker.
 */
export function mmu_shrink_count(kvm: Kvm): number {
  return kvm.traits.mmu_shrinker ? kvm.n_used_mmu_pages : 0;
}

/**
 * @kernel mmu.c mmu_shrink_scan
 * One VM per scan: skipped when it has no used pages (the model never leaves zapped obsolete
 * pages uncommitted between operations, so that list is always empty), else up to nr_to_scan of
 * its oldest pages zapped. Returns the pages freed; 0 when the profile has no MMU shrinker.
 */
export function mmu_shrink_scan(kvm: Kvm, nr_to_scan: number): number {
  if (!kvm.traits.mmu_shrinker) return 0;
  if (!kvm.n_used_mmu_pages) return 0;
  return kvm_mmu_zap_oldest_mmu_pages(kvm, nr_to_scan);
}

/** @kernel mmu.c kvm_mmu_available_pages */
export function kvm_mmu_available_pages(kvm: Kvm): number {
  return kvm.n_max_mmu_pages > kvm.n_used_mmu_pages ? kvm.n_max_mmu_pages - kvm.n_used_mmu_pages : 0;
}

/** @kernel mmu.c make_mmu_pages_available: 0 or -ENOSPC. */
export function make_mmu_pages_available(kvm: Kvm): number {
  const avail = kvm_mmu_available_pages(kvm);
  if (avail >= KVM_MIN_FREE_MMU_PAGES) return 0;
  kvm_mmu_zap_oldest_mmu_pages(kvm, KVM_REFILL_PAGES - avail);
  if (!kvm_mmu_available_pages(kvm)) return -28;
  return 0;
}

/** @kernel mmu.c kvm_mmu_change_mmu_pages */
export function kvm_mmu_change_mmu_pages(kvm: Kvm, goal: number): void {
  if (kvm.n_used_mmu_pages > goal) {
    kvm_mmu_zap_oldest_mmu_pages(kvm, kvm.n_used_mmu_pages - goal);
    goal = kvm.n_used_mmu_pages;
  }
  kvm.n_max_mmu_pages = goal;
}

/** @kernel mmu.c kvm_zap_obsolete_pages (the model never yields, so the batch counter never fires). */
export function kvm_zap_obsolete_pages(kvm: Kvm): void {
  const invalid_list: KvmMmuPage[] = [];
  restart: for (;;) {
    for (let sp = kvm.active_tail; sp; ) {
      const prev: KvmMmuPage | null = sp.link_prev;
      if (!kvm.is_obsolete_sp(sp)) break;
      if ((sp.role & kvm.rb.invalid) !== 0) {
        sp = prev;
        continue;
      }
      if (__kvm_mmu_prepare_zap_page(kvm, sp, invalid_list, zapCount)) continue restart;
      sp = prev;
    }
    break;
  }
  kvm_mmu_commit_zap_page(kvm, invalid_list);
}

/** @kernel mmu.c kvm_mmu_zap_all_fast */
export function kvm_mmu_zap_all_fast(kvm: Kvm): void {
  kvm.emit({ event: KVMMMU.kvm_mmu_zap_all_fast, mmu_valid_gen: kvm.mmu_valid_gen, mmu_used_pages: kvm.n_used_mmu_pages });
  kvm.mmu_valid_gen = kvm.mmu_valid_gen ? 0 : 1;
  requestRootReload(kvm);
  kvm_zap_obsolete_pages(kvm);
}

/** @kernel mmu.c kvm_mmu_zap_all (VM teardown: head first). */
export function kvm_mmu_zap_all(kvm: Kvm): void {
  const invalid_list: KvmMmuPage[] = [];
  restart: for (;;) {
    for (let sp = kvm.active_head; sp; ) {
      const next: KvmMmuPage | null = sp.link_next;
      if ((sp.role & kvm.rb.invalid) !== 0) {
        sp = next;
        continue;
      }
      if (__kvm_mmu_prepare_zap_page(kvm, sp, invalid_list, zapCount)) continue restart;
      sp = next;
    }
    break;
  }
  kvm_mmu_commit_zap_page(kvm, invalid_list);
}

/**
 * @kernel mmu.c kvm_recover_nx_huge_pages
 * One run of the recovery worker: zap the oldest ceil(nx_lpage_splits / ratio) listed pages
 * (ratio 0: none), then flush.
 */
export function kvm_recover_nx_huge_pages(kvm: Kvm, ratio: number): number {
  const to_zap = ratio ? Math.ceil(kvm.nx_lpage_splits / ratio) : 0;
  const invalid: KvmMmuPage[] = [];
  let n = 0;
  for (; n < to_zap && kvm.possible_nx_huge_pages.length; n++) {
    const sp = kvm.possible_nx_huge_pages[0]!;
    kvm.warns.on(!sp.nx_huge_page_disallowed, 'kvm_recover_nx_huge_pages', 'a listed page is not NX-disallowed');
    kvm_mmu_prepare_zap_page(kvm, sp, invalid);
  }
  kvm_mmu_commit_zap_page(kvm, invalid);
  return n;
}
