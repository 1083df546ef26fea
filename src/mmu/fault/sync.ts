/**
 * Syncing unsync pages below a root (mmu.c kvm_mmu_sync_roots, mmu_sync_children): walk the
 * unsync_child_bitmap in batches, write-protect and sync each unsync level-1 page, clear the
 * path bits; the sync itself is ./get_page.ts sync_page. kvm_mmu_sync_prev_roots frees unsync
 * previous roots.
 */
import { MMIO_GVA_ANY, vcpu_clear_mmio_info } from './mmio.js';
import { PT64_ROOT_4LEVEL } from '../pages/constants.js';
import { kvm_sync_page } from '../pages/get_page.js';
import type { KvmMmuPage } from '../pages/page.js';
import { kvm_mmu_slot_gfn_write_protect } from '../pages/rmap.js';
import { KVM_MMU_ROOT_PREVIOUS, kvm_mmu_free_roots, paeRootTargets, root_to_sp } from '../pages/roots.js';
import { KVM_MMU_NUM_PREV_ROOTS } from '../pages/constants.js';
import { for_each_sp, kvm_unlink_unsync_page, mmu_pages_clear_parents, mmu_unsync_walk, type PageVecEntry } from '../pages/unsync.js';
import type { Vcpu } from '../pages/vcpu.js';
import { kvm_mmu_commit_zap_page } from '../pages/zap.js';

/** @kernel mmu.c kvm_mmu_remote_flush_or_zap */
export function kvm_mmu_remote_flush_or_zap(vcpu: Vcpu, invalid_list: KvmMmuPage[], remote_flush: boolean): boolean {
  if (!remote_flush && invalid_list.length === 0) return false;
  if (invalid_list.length) kvm_mmu_commit_zap_page(vcpu.kvm, invalid_list);
  else vcpu.kvm.kvm_flush_remote_tlbs();
  return true;
}

/** @kernel mmu.c mmu_sync_children: the number of pages synced (the model never yields). */
export function mmu_sync_children(vcpu: Vcpu, parent: KvmMmuPage): number {
  const kvm = vcpu.kvm;
  const invalid_list: KvmMmuPage[] = [];
  const pages: PageVecEntry[] = [];
  let flush = false;
  let synced = 0;
  while (mmu_unsync_walk(kvm, parent, pages)) {
    // kvm_vcpu_write_protect_gfn for every unsync leaf of the batch, before any is synced.
    let prot = false;
    for (const { sp } of for_each_sp(kvm, pages)) prot = kvm_mmu_slot_gfn_write_protect(kvm, sp.gfn, 1) || prot;
    if (prot) {
      kvm_mmu_remote_flush_or_zap(vcpu, invalid_list, true);
      flush = false;
    }
    for (const { sp, parents } of for_each_sp(kvm, pages)) {
      kvm_unlink_unsync_page(kvm, sp);
      const r = kvm_sync_page(vcpu, sp, invalid_list);
      // 5.x: flush |= (bool) kvm_sync_page; 6.x: flush |= kvm_sync_page(...) > 0.
      flush ||= r > 0;
      mmu_pages_clear_parents(kvm, parents);
      synced++;
    }
  }
  kvm_mmu_remote_flush_or_zap(vcpu, invalid_list, flush);
  return synced;
}

/** @kernel mmu.c is_unsync_root */
function is_unsync_root(sp: KvmMmuPage | null): boolean {
  return sp !== null && (sp.unsync || sp.unsync_children > 0);
}

/** @kernel mmu.c kvm_mmu_sync_roots: the number of pages synced. */
export function kvm_mmu_sync_roots(vcpu: Vcpu): number {
  const kvm = vcpu.kvm;
  const mmu = vcpu.mmu;
  if (mmu.ctx.direct_map || mmu.root_hpa < 0) return 0;
  vcpu_clear_mmio_info(vcpu, MMIO_GVA_ANY);
  // 5.16 tests the guest level; 6.x whether the root has a shadow page; the RFC syncs its one root.
  const byLevel = kvm.traits.root_has_sp_test === 'levels' && !kvm.traits.pae_root_shadow_page;
  const root = root_to_sp(kvm, mmu.root_hpa);
  if (root && (byLevel ? mmu.ctx.root_level >= PT64_ROOT_4LEVEL : true)) {
    return is_unsync_root(root) ? mmu_sync_children(vcpu, root) : 0;
  }
  let n = 0;
  if (mmu.pae_root) {
    for (const { pa } of paeRootTargets(mmu.pae_root)) {
      const sp = root_to_sp(kvm, pa);
      if (sp) n += mmu_sync_children(vcpu, sp);
    }
  }
  return n;
}

/** @kernel mmu.c kvm_mmu_sync_prev_roots: unsync previous roots are simply freed. */
export function kvm_mmu_sync_prev_roots(vcpu: Vcpu): void {
  let roots = 0;
  for (let i = 0; i < KVM_MMU_NUM_PREV_ROOTS; i++) {
    if (is_unsync_root(root_to_sp(vcpu.kvm, vcpu.mmu.prev_roots[i]!.hpa))) roots |= KVM_MMU_ROOT_PREVIOUS(i);
  }
  if (roots) kvm_mmu_free_roots(vcpu, roots);
}
