/**
 * The largest level a gfn may be mapped at: what the host backs it with and what the memslot's
 * large-page state allows. The fault path (kvm_mmu_hugepage_adjust) and the huge-page recovery
 * after dirty logging (kvm_mmu_zap_collapsible_sptes) both ask.
 */
import { mod_pow2 } from '../../bits/u64.js';
import type { Memslot } from '../../guest/memory.js';
import type { Kvm } from './kvm.js';

/**
 * @kernel mmu.c kvm_mmu_max_mapping_level
 * The largest level (up to max_level) at which gfn may be mapped: the host's mapping level (2M
 * with THP, else 4K), lowered while the level's frame does not fit in the memslot or holds a gfn
 * that is shadowed (lpage_info disallow_lpage, counted per gfn in the model).
 */
export function kvm_mmu_max_mapping_level(kvm: Kvm, slot: Memslot | undefined, gfn: number, max_level: number): number {
  let level = Math.min(max_level, kvm.host_thp ? 2 : 1);
  for (; level > 1; level--) {
    const n = 2 ** (9 * (level - 1));
    const base = gfn - mod_pow2(gfn, n);
    if (!slot || base < slot.base_gfn || base + n > slot.base_gfn + slot.npages) continue;
    if (!kvm.lpage_disallowed.anyIn(base, n)) break;
  }
  return level;
}
