/**
 * Leaf SPTEs and their reverse maps (mmu.c): the gfn each SPTE of a page maps
 * (kvm_mmu_page_get_gfn / set_translation, backed by the page's gfns / shadowed_translation
 * array), rmap_add / rmap_remove, mmu_spte_set / mmu_spte_update / mmu_spte_clear_track_bits,
 * drop_spte, the page-size statistics, and write-protection through the rmaps
 * (spte_write_protect, rmap_write_protect, kvm_mmu_slot_gfn_write_protect).
 */
import { KVM_PAGES_PER_HPAGE, SPTE_ENT_PER_PAGE } from './constants.js';
import type { Kvm } from './kvm.js';
import type { KvmMmuPage } from './page.js';
import { type PteList, pte_list_add, pte_list_remove } from './pte_list.js';
import {
  PT_WRITABLE_LO,
  clear_spte,
  is_accessed_spte,
  is_dirty_spte,
  is_shadow_present_pte,
  is_writable_pte,
  spte_can_locklessly_be_made_writable,
} from '../spte/spte.js';
import type { Vcpu } from './vcpu.js';

/** KVM_MAX_HUGEPAGE_LEVEL */
export const KVM_MAX_HUGEPAGE_LEVEL = 3;
const TWO32 = 0x100000000;

export { rmapKey, rmapKeyFrame } from './rmap_table.js';

/** Whether the page keeps a per-entry gfn array (5.x gfns, 6.x shadowed_translation). */
function hasTranslation(sp: KvmMmuPage): boolean {
  return sp.gfns >= 0;
}

/**
 * @kernel mmu.c kvm_mmu_page_get_gfn
 * The array entry when the page has one (entry >> 12 when it also holds the access); passthrough and the RFC's
 * level_promoted pages map their own gfn at every index; otherwise the direct formula.
 */
export function kvm_mmu_page_get_gfn(kvm: Kvm, sp: KvmMmuPage, index: number): number {
  if ((sp.role & (kvm.rb.passthrough | kvm.rb.level_promoted)) !== 0) return sp.gfn;
  if (hasTranslation(sp)) {
    const a = kvm.mem.arena;
    const lo = a[sp.gfns_base + 2 * index]!;
    const hi = a[sp.gfns_base + 2 * index + 1]!;
    if (!kvm.traits.rmap_access_in_shadowed_translation) return hi * TWO32 + lo;
    return translation_gfn(lo, hi);
  }
  return sp.gfn + index * KVM_PAGES_PER_HPAGE(kvm.level(sp));
}

/** @kernel mmu.c kvm_mmu_page_get_access: the array's low bits when it holds the access, else role.access. */
export function kvm_mmu_page_get_access(kvm: Kvm, sp: KvmMmuPage, index: number): number {
  if (hasTranslation(sp) && kvm.traits.rmap_access_in_shadowed_translation) return translation_access(kvm.mem.arena[sp.gfns_base + 2 * index]!);
  return (sp.role & kvm.rb.accessMask) >>> kvm.rb.accessShift;
}

/** The gfn of a shadowed_translation entry (gfn << 12 | access) held as halves. */
export function translation_gfn(lo: number, hi: number): number {
  return hi * 0x100000 + (lo >>> 12);
}

/** The access bits of a shadowed_translation entry's low half. */
export function translation_access(lo: number): number {
  return lo & 7;
}

/** A shadowed_translation entry's low half with its access replaced (the gfn bits kept). */
export function translation_with_access(lo: number, access: number): number {
  return ((lo & 0xfffff000) | (access & 7)) >>> 0;
}

/**
 * Where sp's shadowed_translation starts in the host arena when kvm_mmu_page_get_gfn and
 * kvm_mmu_page_get_access both read their answer from it (6.x, a page with the array that is
 * neither passthrough nor level-promoted), else -1: a loop over a page's entries takes it once
 * and decodes with translation_gfn / translation_access.
 */
export function shadowed_translation_base(kvm: Kvm, sp: KvmMmuPage): number {
  const own = (sp.role & (kvm.rb.passthrough | kvm.rb.level_promoted)) !== 0;
  return !own && hasTranslation(sp) && kvm.traits.rmap_access_in_shadowed_translation ? sp.gfns_base : -1;
}

/**
 * @kernel mmu.c kvm_mmu_page_set_translation
 * Stores gfn (gfns[]) or gfn << 12 | access (shadowed_translation); a page without the array WARNs when
 * the values differ from what get would return (recorded in the masks' warn log).
 */
export function kvm_mmu_page_set_translation(kvm: Kvm, sp: KvmMmuPage, index: number, gfn: number, access: number): void {
  if (hasTranslation(sp) && (sp.role & kvm.rb.level_promoted) === 0) {
    const w = kvm.mem.arena;
    const o = sp.gfns_base + 2 * index;
    if (!kvm.traits.rmap_access_in_shadowed_translation) {
      w[o] = gfn >>> 0;
      w[o + 1] = Math.floor(gfn / TWO32);
    } else {
      w[o] = (((gfn & 0xfffff) << 12) | (access & 7)) >>> 0;
      w[o + 1] = Math.floor(gfn / 0x100000);
    }
    return;
  }
  if (gfn !== kvm_mmu_page_get_gfn(kvm, sp, index)) kvm.warns.on(true, 'kvm_mmu_page_set_translation', `gfn mismatch in sp ${sp.id}`);
  if (kvm.traits.rmap_access_in_shadowed_translation && access !== kvm_mmu_page_get_access(kvm, sp, index)) {
    kvm.warns.on(true, 'kvm_mmu_page_set_translation', `access mismatch in sp ${sp.id}`);
  }
}

/** @kernel mmu.c kvm_mmu_page_set_access */
export function kvm_mmu_page_set_access(kvm: Kvm, sp: KvmMmuPage, index: number, access: number): void {
  kvm_mmu_page_set_translation(kvm, sp, index, kvm_mmu_page_get_gfn(kvm, sp, index), access);
}

/** @kernel mmu.c gfn_to_rmap (created on first use). */
export function gfn_to_rmap(kvm: Kvm, gfn: number, level: number): PteList {
  return kvm.rmaps.obtain(gfn, level);
}

/** @kernel mmu.c kvm_update_page_stats */
export function kvm_update_page_stats(kvm: Kvm, level: number, delta: number): void {
  if (level === 1) kvm.stat.pages_4k += delta;
  else if (level === 2) kvm.stat.pages_2m += delta;
  else kvm.stat.pages_1g += delta;
}

/**
 * @kernel mmu.c rmap_add
 * Records the translation, counts the page, adds sptep to the gfn's rmap (descriptors from the
 * vCPU's mmu_pte_list_desc_cache).
 */
export function rmap_add(vcpu: Vcpu, sptep: number, gfn: number, access: number): void {
  const kvm = vcpu.kvm;
  const sp = kvm.sptep_to_sp(sptep)!;
  const level = kvm.level(sp);
  kvm_mmu_page_set_translation(kvm, sp, sptep & (SPTE_ENT_PER_PAGE - 1), gfn, access);
  kvm_update_page_stats(kvm, level, 1);
  const n = pte_list_add(gfn_to_rmap(kvm, gfn, level), sptep, kvm.traits.pte_list_head_push, vcpu.mem.alloc_pte_list_desc);
  if (kvm.traits.max_rmap_size_stat && n > kvm.stat.max_mmu_rmap_size) kvm.stat.max_mmu_rmap_size = n;
}

/** @kernel mmu.c rmap_remove */
export function rmap_remove(kvm: Kvm, sptep: number): void {
  const sp = kvm.sptep_to_sp(sptep)!;
  const gfn = kvm_mmu_page_get_gfn(kvm, sp, sptep & (SPTE_ENT_PER_PAGE - 1));
  const id = kvm.rmaps.find(gfn, kvm.level(sp));
  const l = id < 0 ? undefined : kvm.rmaps.list(id);
  const ok = l !== undefined && pte_list_remove(l, sptep, kvm.traits.pte_list_head_push, kvm.free_pte_list_desc);
  if (!ok) kvm.bug(`rmap_remove: sptep ${sptep} (sp ${sp.id}) is not in the rmap of gfn ${gfn.toString(16)} (the kernel BUGs)`);
  // An rmap is kept only while non-empty; its pooled list serves the next gfn_to_rmap.
  if (l.empty) kvm.rmaps.release(id);
}

/** @kernel mmu.c mmu_spte_set: a non-present SPTE becomes `lo:hi`. */
export function mmu_spte_set(kvm: Kvm, sptep: number, lo: number, hi: number): void {
  const w = kvm.arena;
  const off = kvm.spteOff(sptep);
  kvm.warns.on(is_shadow_present_pte(w[off]!), 'mmu_spte_set', 'overwriting a present SPTE');
  w[off] = lo;
  w[off + 1] = hi;
}

/**
 * @kernel mmu.c mmu_spte_update
 * Same pfn, new state bits; returns whether a TLB flush is needed (mmu trait spte_update_flush):
 * 'lost-writable-or-ad' when the old SPTE could be made writable locklessly and the new one is
 * not writable, or lost its A or D state; 'lost-mmu-writable' (leaf_spte_change_needs_tlb_flush)
 * when it loses MMU-writable.
 */
export function mmu_spte_update(kvm: Kvm, sptep: number, lo: number, hi: number): boolean {
  return mmu_spte_update_at(kvm, kvm.spteOff(sptep), lo, hi);
}

/** mmu_spte_update for the SPTE at arena offset `off` (a caller that holds it: the sync loop). */
export function mmu_spte_update_at(kvm: Kvm, off: number, lo: number, hi: number): boolean {
  const w = kvm.arena;
  const olo = w[off]!;
  const ohi = w[off + 1]!;
  w[off] = lo;
  w[off + 1] = hi;
  if (!is_shadow_present_pte(olo)) return false;
  const m = kvm.masks;
  if (kvm.traits.spte_update_flush === 'lost-mmu-writable') {
    // is_mmu_writable_spte of the old and the new value, written out on the flat masks: called
    // from here it was not inlined into the sync loop (measured), and this test is per SPTE there.
    const f = m.flat;
    return ((olo & f.mmu_writable_lo) | (ohi & f.mmu_writable_hi)) !== 0 && ((lo & f.mmu_writable_lo) | (hi & f.mmu_writable_hi)) === 0;
  }
  return lost_writable_or_ad(kvm, olo, ohi, lo, hi);
}

/**
 * mmu_spte_update's 'lost-writable-or-ad' flush test (5.x), out of line so the 6.x test above
 * stays small enough for the JIT to inline mmu_spte_update_at into a caller's loop.
 */
function lost_writable_or_ad(kvm: Kvm, olo: number, ohi: number, lo: number, hi: number): boolean {
  const m = kvm.masks;
  let flush = spte_can_locklessly_be_made_writable(m, olo, ohi, kvm.warns) && !is_writable_pte(lo);
  if (is_accessed_spte(m, olo, ohi) && !is_accessed_spte(m, lo, hi)) flush = true;
  if (is_dirty_spte(m, olo, ohi) && !is_dirty_spte(m, lo, hi)) flush = true;
  return flush;
}

/** @kernel mmu.c mmu_spte_clear_track_bits: clears the SPTE; returns whether it was present. */
export function mmu_spte_clear_track_bits(kvm: Kvm, sptep: number): boolean {
  const w = kvm.arena;
  const off = kvm.spteOff(sptep);
  const present = is_shadow_present_pte(w[off]!);
  clear_spte(kvm.masks, w, off);
  if (present) kvm_update_page_stats(kvm, kvm.level(kvm.sptep_to_sp(sptep)!), -1);
  return present;
}

/** @kernel mmu.c drop_spte */
export function drop_spte(kvm: Kvm, sptep: number): void {
  if (mmu_spte_clear_track_bits(kvm, sptep)) rmap_remove(kvm, sptep);
}

/** @kernel mmu.c spte_write_protect: returns whether a flush is needed. */
export function spte_write_protect(kvm: Kvm, sptep: number, pt_protect: boolean): boolean {
  const m = kvm.masks;
  let lo = kvm.spteLo(sptep);
  let hi = kvm.spteHi(sptep);
  const canWrite = spte_can_locklessly_be_made_writable(m, lo, hi, kvm.warns);
  if (!is_writable_pte(lo) && !(pt_protect && canWrite)) return false;
  if (pt_protect) {
    lo &= ~m.mmu_writable.lo;
    hi &= ~m.mmu_writable.hi;
  }
  lo &= ~PT_WRITABLE_LO;
  return mmu_spte_update(kvm, sptep, lo >>> 0, hi >>> 0);
}

/** @kernel mmu.c rmap_write_protect */
export function rmap_write_protect(kvm: Kvm, list: PteList, pt_protect: boolean): boolean {
  let flush = false;
  for (const sptep of [...list.values()]) {
    if (kvm.warns.on(!kvm.isPresent(sptep), 'rmap_write_protect', 'non-present SPTE in an rmap')) continue;
    flush = spte_write_protect(kvm, sptep, pt_protect) || flush;
  }
  return flush;
}

/** @kernel mmu.c kvm_mmu_slot_gfn_write_protect: every leaf mapping of gfn from min_level up to 1G. */
export function kvm_mmu_slot_gfn_write_protect(kvm: Kvm, gfn: number, min_level: number): boolean {
  let wp = false;
  for (let level = min_level; level <= KVM_MAX_HUGEPAGE_LEVEL; level++) {
    const id = kvm.rmaps.find(gfn, level);
    if (id >= 0) wp = rmap_write_protect(kvm, kvm.rmaps.list(id), true) || wp;
  }
  return wp;
}
