/**
 * Syncing an unsync shadow page from the guest's PTEs: paging_tmpl.h FNAME(sync_page) (5.16:
 * rebuild every SPTE with prefetch semantics) and, in 6.x, mmu.c __kvm_sync_page /
 * kvm_sync_spte with FNAME(sync_spte) (leave an SPTE alone when its recorded access did not
 * change). The role check and its ignore mask come from src/roles (syncRoleIgnoreMask).
 * Return: < 0 failed (the caller zaps), 0 synced with no flush needed, > 0 flush needed.
 */
import { SPTE_ENT_PER_PAGE } from '../pages/constants.js';
import { gpte_access, gpte_invalid_for_prefetch, gpte_to_gfn, protect_clean_gpte, read_gpte } from './gpte.js';
import { mmu_spte_clear_no_track } from '../pages/link.js';
import type { KvmMmuPage } from '../pages/page.js';
import { drop_spte, kvm_mmu_page_get_access, kvm_mmu_page_get_gfn, kvm_mmu_page_set_access, mmu_spte_update } from '../pages/rmap.js';
import { mark_mmio_spte, vcpu_make_spte } from './set_spte.js';
import { get_mmio_spte_gfn, is_mmio_spte, spte_to_pfn } from '../spte/spte.js';
import type { Vcpu } from '../pages/vcpu.js';

/** @kernel paging_tmpl.h FNAME(get_level1_sp_gpa): 4-byte gPTEs add the quadrant's half. */
export function get_level1_sp_gpa(vcpu: Vcpu, sp: KvmMmuPage): number {
  const kvm = vcpu.kvm;
  const quadrant = (sp.role & kvm.rb.quadrantMask) >>> 5;
  const four = vcpu.guest!.walk.pte_size === 4;
  return sp.gfn * 4096 + (four ? quadrant * 512 * 4 : 0);
}

/** @kernel mmu.c kvm_sync_page_check (5.16: the role test at the top of FNAME(sync_page)) */
export function kvm_sync_page_check(vcpu: Vcpu, sp: KvmMmuPage): boolean {
  const kvm = vcpu.kvm;
  const bad = (sp.role & kvm.rb.direct) !== 0 || ((sp.role ^ vcpu.mmu.ctx.mmu_role) & ~kvm.rb.sync_role_ign) !== 0;
  return !kvm.warns.on(bad, 'kvm_sync_page_check', `sp ${sp.id} cannot be synced under the current root role`);
}

/** @kernel mmu.c sync_mmio_spte: true when the SPTE was MMIO (dropped or rewritten). */
function sync_mmio_spte(vcpu: Vcpu, sptep: number, gfn: number, access: number): boolean {
  const kvm = vcpu.kvm;
  const off = kvm.spteOff(sptep);
  const lo = kvm.arena[off]!;
  const hi = kvm.arena[off + 1]!;
  if (!is_mmio_spte(kvm.masks, lo, hi)) return false;
  if (gfn !== get_mmio_spte_gfn(kvm.masks, lo, hi)) mmu_spte_clear_no_track(kvm, sptep);
  else mark_mmio_spte(vcpu, sptep, gfn, access);
  return true;
}

/** sync_spte's rebuilt SPTE (lo, hi), reused. */
const newSpte = new Uint32Array(2);

/** Work counters of the sync paths (bench: deterministic counts). */
export const syncWork = { sptes_visited: 0, gptes_read: 0, sptes_rebuilt: 0 };

/**
 * @kernel paging_tmpl.h FNAME(sync_spte)
 * One SPTE of an unsync page against its gPTE (-1 read failure, 1 flush, 0 nothing to do): 6.x
 * FNAME(sync_spte), 5.16 the loop body of FNAME(sync_page), which always rebuilds (mmu traits
 * sync_spte_skips_unchanged_access, sync_spte_drops_nonpresent_access).
 */
export function sync_spte(vcpu: Vcpu, sp: KvmMmuPage, i: number): number {
  const kvm = vcpu.kvm;
  const g = vcpu.guest!;
  const w = g.walk;
  const sptep = sp.pfn * SPTE_ENT_PER_PAGE + i;
  const word = g.walker.w;
  syncWork.gptes_read++;
  if (!read_gpte(w, g.mem, get_level1_sp_gpa(vcpu, sp) + i * w.pte_size, word)) return -1;
  const glo = word.lo;
  const ghi = word.hi;
  if (gpte_invalid_for_prefetch(w, glo, ghi)) {
    drop_spte(kvm, sptep);
    return 1;
  }
  const gfn = gpte_to_gfn(w, glo, ghi);
  let access = ((sp.role & kvm.rb.accessMask) >>> kvm.rb.accessShift) & gpte_access(w, glo, ghi);
  access = protect_clean_gpte(w, access, glo);
  if (sync_mmio_spte(vcpu, sptep, gfn, access)) return 0;
  const m = kvm.masks;
  const noPresent = kvm.traits.sync_spte_drops_nonpresent_access && ((access | m.present.lo) >>> 0) === m.nonpresent.lo && m.present.hi === m.nonpresent.hi;
  if (noPresent || gfn !== kvm_mmu_page_get_gfn(kvm, sp, i)) {
    drop_spte(kvm, sptep);
    return 1;
  }
  if (kvm.traits.sync_spte_skips_unchanged_access && kvm_mmu_page_get_access(kvm, sp, i) === access) return 0;
  if (kvm.traits.rmap_access_in_shadowed_translation) kvm_mmu_page_set_access(kvm, sp, i, access);
  const lo = kvm.arena[sp.spt_base + 2 * i]!;
  const hi = kvm.arena[sp.spt_base + 2 * i + 1]!;
  const host_writable = ((lo & m.host_writable.lo) | (hi & m.host_writable.hi)) !== 0;
  syncWork.sptes_rebuilt++;
  vcpu_make_spte(vcpu, sp, access, gfn, spte_to_pfn(lo, hi), lo, hi, true, true, host_writable, newSpte);
  return mmu_spte_update(kvm, sptep, newSpte[0]!, newSpte[1]!) ? 1 : 0;
}

/** @kernel mmu.c kvm_sync_spte: skips slots holding the empty value (5.16: 0). */
export function kvm_sync_spte(vcpu: Vcpu, sp: KvmMmuPage, i: number): number {
  const m = vcpu.kvm.masks;
  const a = vcpu.kvm.arena;
  syncWork.sptes_visited++;
  if (a[sp.spt_base + 2 * i] === m.nonpresent.lo && a[sp.spt_base + 2 * i + 1] === m.nonpresent.hi) return 0;
  return sync_spte(vcpu, sp, i);
}

/**
 * @kernel mmu.c __kvm_sync_page
 * With sync_page_continues_after_read_failure (6.x) every entry's result is ORed (a failed read
 * leaves a negative value but the loop goes on); otherwise (5.16 FNAME(sync_page)) -1 at the
 * first failed read.
 */
export function __kvm_sync_page(vcpu: Vcpu, sp: KvmMmuPage): number {
  if (!kvm_sync_page_check(vcpu, sp)) return -1;
  const goOn = vcpu.kvm.traits.sync_page_continues_after_read_failure;
  let flush = 0;
  for (let i = 0; i < SPTE_ENT_PER_PAGE; i++) {
    const r = kvm_sync_spte(vcpu, sp, i);
    if (r < 0 && !goOn) return -1;
    if (r < -1) return -1;
    flush |= r;
  }
  return flush;
}
