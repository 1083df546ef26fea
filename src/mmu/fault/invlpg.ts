/**
 * INVLPG with shadow paging: 6.x mmu.c kvm_mmu_invlpg -> kvm_mmu_invalidate_addr ->
 * __kvm_mmu_invalidate_addr (sync the one leaf SPTE of every unsync page on the walk); 5.16
 * kvm_mmu_invalidate_gva -> paging_tmpl.h FNAME(invlpg) (zap the leaf of an unsync page and
 * prefetch it again from the gPTE). Both run on the current root and every valid previous root.
 */
import { isCanonicalHalves } from '../../cpu/canonical.js';
import { INVALID_PAGE, KVM_MMU_NUM_PREV_ROOTS, SPTE_ENT_PER_PAGE } from '../pages/constants.js';
import { read_gpte } from './gpte.js';
import { mmu_page_zap_pte } from '../pages/link.js';
import { prefetch_gpte } from './set_spte.js';
import { is_last_spte, is_shadow_present_pte } from '../spte/spte.js';
import { get_level1_sp_gpa, kvm_sync_spte, sync_cursor } from './sync_page.js';
import type { Vcpu } from '../pages/vcpu.js';
import { shadowWalkFrom, shadow_walk_next, shadow_walk_okay } from './walk.js';

/**
 * @kernel mmu.c __kvm_mmu_invalidate_addr
 * The walk of `addr` on one root. With invlpg_syncs_leaf_spte (6.x) the SPTE of every unsync
 * page on the walk is synced (kvm_sync_spte; zapped when the sync fails). Without it (5.16
 * FNAME(invlpg), reached through kvm_mmu_invalidate_gva) the caches are topped up, an invalid
 * root WARNs, and the leaf SPTE of an unsync page is zapped and prefetched again from its gPTE.
 */
function __kvm_mmu_invalidate_addr(vcpu: Vcpu, addr: bigint, root_hpa: number): void {
  const kvm = vcpu.kvm;
  const g = vcpu.guest!;
  const sync = kvm.traits.invlpg_syncs_leaf_spte;
  if (!sync) vcpu.mem.topup(true, vcpu.mmu.ctx.shadow_root_level);
  if (root_hpa === INVALID_PAGE) {
    kvm.warns.on(!sync, 'FNAME(invlpg)', 'invalid root');
    return;
  }
  const it = shadowWalkFrom(vcpu, root_hpa, addr);
  for (; shadow_walk_okay(kvm, it); shadow_walk_next(kvm, it)) {
    const sp = kvm.sptep_to_sp(it.sptep)!;
    if (sync) {
      if (sp.unsync) {
        const ret = kvm_sync_spte(sync_cursor(vcpu, sp, it.index, 1), it.index, it.index + 1, false);
        if (ret < 0) mmu_page_zap_pte(kvm, sp, it.index, null, () => 0);
        if (ret) kvm.kvm_flush_remote_tlbs();
      }
    } else {
      const old = kvm.spteLo(it.sptep);
      if (is_last_spte(old, it.level)) {
        if (!sp.unsync) break;
        const pte_gpa = get_level1_sp_gpa(vcpu, sp) + (it.sptep & (SPTE_ENT_PER_PAGE - 1)) * g.walk.pte_size;
        mmu_page_zap_pte(kvm, sp, it.index, null, () => 0);
        if (is_shadow_present_pte(old)) kvm.kvm_flush_remote_tlbs();
        const w = g.walker.w;
        if (!read_gpte(g.walk, g.mem, pte_gpa, w)) break;
        prefetch_gpte(vcpu, sp, it.sptep, w.lo, w.hi);
      }
    }
    if (!sp.unsync_children) break;
  }
}

/**
 * @kernel mmu.c kvm_mmu_invalidate_addr (6.x; 5.16 kvm_mmu_invalidate_gva)
 * Sync the walk of `addr` on the current root (`allRoots` false) or on it and every valid
 * previous root. A non-canonical address is a no-op (SDM). 5.16 takes a root and treats an
 * invalid one as "all roots"; the current root is the only one the callers pass.
 */
export function kvm_mmu_invalidate_addr(vcpu: Vcpu, addr: bigint, allRoots: boolean): void {
  const g = vcpu.guest;
  const a = BigInt.asUintN(64, addr);
  const lo = Number(a & 0xffffffffn) >>> 0;
  const hi = Number(a >> 32n) >>> 0;
  // The canonical check is INVLPG's; for guest_mmu (nested NPT / EPT) the address is an L2 GPA.
  if (g && !vcpu.mmu_is_nested && g.walk.long_mode && !isCanonicalHalves(lo, hi, g.walk.cr4_la57 ? 57 : 48)) return;
  // vendor flush_tlb_gva: the model keeps no TLB. A direct MMU has no sync hook.
  if (vcpu.mmu.ctx.direct_map || g === null) return;
  const current = vcpu.mmu.root_hpa;
  // 5.16 kvm_mmu_invalidate_gva takes an invalid root to mean every root.
  if (!allRoots && (vcpu.kvm.traits.invlpg_syncs_leaf_spte || current !== INVALID_PAGE)) {
    __kvm_mmu_invalidate_addr(vcpu, a, current);
    return;
  }
  __kvm_mmu_invalidate_addr(vcpu, a, current);
  for (let i = 0; i < KVM_MMU_NUM_PREV_ROOTS; i++) {
    const hpa = vcpu.mmu.prev_roots[i]!.hpa;
    if (hpa !== INVALID_PAGE) __kvm_mmu_invalidate_addr(vcpu, a, hpa);
  }
}

/**
 * @kernel mmu.c kvm_mmu_invlpg
 * Every root's walk of the address is synced; invlpg counted either way (also for a
 * non-canonical address).
 */
export function kvm_mmu_invlpg(vcpu: Vcpu, addr: bigint): void {
  vcpu.stat.invlpg++;
  kvm_mmu_invalidate_addr(vcpu, addr, true);
}
