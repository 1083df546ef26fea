/**
 * Installing leaf SPTEs (mmu.c mmu_set_spte, mark_mmio_spte) and the prefetches that use it
 * (paging_tmpl.h FNAME(pte_prefetch) / FNAME(prefetch_gpte), mmu.c __direct_pte_prefetch,
 * kvm_mmu_prefetch_sptes). SPTE values come from spte.ts make_spte with the vCPU's context.
 */
import { SPTE_ENT_PER_PAGE } from '../pages/constants.js';
import type { Kvm } from '../pages/kvm.js';
import { drop_parent_pte } from '../pages/link.js';
import type { KvmMmuPage } from '../pages/page.js';
import { drop_spte, kvm_mmu_page_get_gfn, kvm_mmu_page_set_access, mmu_spte_update, rmap_add } from '../pages/rmap.js';
import {
  is_executable_pte,
  is_large_pte,
  is_last_spte,
  is_shadow_present_pte,
  get_mmio_spte_generation,
  make_mmio_spte,
  make_spte,
  make_spte_page,
  spte_to_pfn,
  type MakeSptePage,
  type MakeSpteArgs,
  type MakeSpteCtx,
} from '../spte/spte.js';
import { gpte_access, gpte_invalid_for_prefetch, gpte_to_gfn, protect_clean_gpte } from './gpte.js';
import { mmu_try_to_unsync_pages } from '../pages/unsync.js';
import type { Vcpu } from '../pages/vcpu.js';
import { KVMMMU } from '../../trace/table.js';
import { ACC_ALL } from '../../guest/constants.js';
import { kvm_slot_dirty_track_enabled } from '../pages/dirty_log.js';

export const RET_PF_CONTINUE = 0;
export const RET_PF_RETRY = 1;
export const RET_PF_EMULATE = 2;
export const RET_PF_WRITE_PROTECTED = 3;
export const RET_PF_INVALID = 4;
export const RET_PF_FIXED = 5;
export const RET_PF_SPURIOUS = 6;

/** PTE_PREFETCH_NUM */
export const PTE_PREFETCH_NUM = 8;

/** KVM_PFN_NOSLOT as the model keeps it: no memslot backs the gfn (emulated MMIO). */
export const KVM_PFN_NOSLOT = -1;

/** The parts of struct kvm_page_fault mmu_set_spte reads (null for prefetches). */
export interface SetSpteFault {
  readonly write: boolean;
  readonly prefetch: boolean;
  readonly map_writable: boolean;
}

const ctxCache = new WeakMap<Vcpu, { ctx: MakeSpteCtx; args: MakeSpteArgs }>();
/** mmu_set_spte's new SPTE (lo, hi), reused. */
const newSpte = new Uint32Array(2);

/** The vCPU's make_spte context (reused): unsync decisions through mmu_try_to_unsync_pages. */
function spteCtx(vcpu: Vcpu) {
  let c = ctxCache.get(vcpu);
  if (c) return c;
  const kvm = vcpu.kvm;
  // The masks are the VM's, frozen: the sense of make_spte's unsync argument is taken once.
  const synchronizing_arg = kvm.masks.flat.unsync_arg_is_synchronizing === true;
  const ctx: MakeSpteCtx = {
    masks: kvm.masks,
    nx_huge_pages: kvm.nx_huge_pages,
    pml: false,
    warns: kvm.warns,
    kvm_is_mmio_pfn: () => false,
    // make_spte passes can_unsync or synchronizing (the opposite sense), as its kernel names it.
    mmu_try_to_unsync_pages: (gfn, arg, prefetch) => mmu_try_to_unsync_pages(kvm, gfn, synchronizing_arg ? !arg : arg, prefetch),
    kvm_slot_dirty_track_enabled: (gfn) => vcpu.guest !== null && kvm_slot_dirty_track_enabled(vcpu.guest.mem.gfnToMemslot(gfn)),
    mark_page_dirty_in_slot: (gfn) => vcpu.guest?.mem.mark_page_dirty(gfn),
  };
  const args: MakeSpteArgs = {
    level: 1, ad_disabled: false, nested: false, pte_access: 0, gfn: 0, pfn: 0,
    old_lo: 0, old_hi: 0, prefetch: false, can_unsync_or_synchronizing: false, host_writable: true,
  };
  c = { ctx, args };
  ctxCache.set(vcpu, c);
  return c;
}

/**
 * make_spte for a page of the vCPU: writes the new value into `out[0..1]` (a caller's
 * preallocated pair), returns wrprot.
 * `sync` is the sync paths' flag: can_unsync = !sync, or synchronizing = sync.
 */
export function vcpu_make_spte(vcpu: Vcpu, sp: KvmMmuPage, pte_access: number, gfn: number, pfn: number, old_lo: number, old_hi: number, prefetch: boolean, sync: boolean, host_writable: boolean, out: Uint32Array): boolean {
  const kvm = vcpu.kvm;
  const c = spteCtx(vcpu);
  const a = c.args;
  a.level = kvm.level(sp);
  a.ad_disabled = (sp.role & kvm.rb.ad_disabled) !== 0;
  a.nested = (sp.role & kvm.rb.guest_mode) !== 0;
  a.pte_access = pte_access;
  a.gfn = gfn;
  a.pfn = pfn;
  a.old_lo = old_lo;
  a.old_hi = old_hi;
  a.prefetch = prefetch;
  a.can_unsync_or_synchronizing = kvm.masks.flat.unsync_arg_is_synchronizing ? sync : !sync;
  a.host_writable = host_writable;
  return make_spte(c.ctx, a, out, 0);
}

/**
 * vcpu_make_spte's per-page part (ours): fills `p` for SPTEs of sp made with `prefetch` and the
 * sync flag, and returns the vCPU's make_spte context, so a loop over sp's entries calls
 * make_spte_entry(ctx, p, ...) per SPTE with the same result as vcpu_make_spte.
 */
export function vcpu_make_spte_page(vcpu: Vcpu, sp: KvmMmuPage, prefetch: boolean, sync: boolean, p: MakeSptePage): MakeSpteCtx {
  const kvm = vcpu.kvm;
  const ctx = spteCtx(vcpu).ctx;
  const arg = kvm.masks.flat.unsync_arg_is_synchronizing ? sync : !sync;
  make_spte_page(ctx, kvm.level(sp), (sp.role & kvm.rb.ad_disabled) !== 0, (sp.role & kvm.rb.guest_mode) !== 0, prefetch, arg, p);
  // No memslot with a dirty bitmap: kvm_slot_dirty_track_enabled is false for every gfn.
  let logged = false;
  if (vcpu.guest !== null) for (const s of vcpu.guest.mem.memslots) logged ||= kvm_slot_dirty_track_enabled(s);
  p.dirty_log_possible = logged;
  return ctx;
}

/** Emit kvm_mmu_set_spte for `sptep` holding lo:hi. */
export function trace_set_spte(kvm: Kvm, level: number, gfn: number, sptep: number, lo: number, hi: number): void {
  if (!kvm.tracing) return;
  const m = kvm.masks;
  const r = (m.present.lo | m.present.hi) !== 0 || (lo & 1) !== 0;
  const u: -1 | 0 | 1 = (m.user.lo | m.user.hi) === 0 ? -1 : ((lo & m.user.lo) | (hi & m.user.hi)) !== 0 ? 1 : 0;
  kvm.emit({ event: KVMMMU.kvm_mmu_set_spte, gfn, level, spte_lo: lo, spte_hi: hi, sptep_pa: sptep * 8, r, x: is_executable_pte(m, lo, hi), u });
}

/** @kernel mmu.c mark_mmio_spte: an MMIO SPTE of the memslots' generation. */
export function mark_mmio_spte(vcpu: Vcpu, sptep: number, gfn: number, access: number): void {
  const kvm = vcpu.kvm;
  const off = kvm.spteOff(sptep);
  make_mmio_spte(kvm.masks, gfn, access, kvm.memslots_generation, kvm.arena, off, kvm.warns);
  if (kvm.tracing) {
    const lo = kvm.arena[off]!;
    const hi = kvm.arena[off + 1]!;
    kvm.emit({ event: KVMMMU.mark_mmio_spte, sptep_pa: sptep * 8, gfn, access: lo & ACC_ALL, gen: get_mmio_spte_generation(lo, hi) });
  }
}

/** What a write fault whose SPTE must stay read-only returns (mmu trait write_protected_fault_ret). */
export function write_protected_ret(kvm: Kvm): number {
  return kvm.traits.write_protected_fault_ret === 'RET_PF_WRITE_PROTECTED' ? RET_PF_WRITE_PROTECTED : RET_PF_EMULATE;
}

/** What replace_present_spte did with the present SPTE mmu_set_spte found (NOT_PRESENT: there was none). */
const NOT_PRESENT = -1;
const SPURIOUS_PREFETCH = 0;
const DROPPED = 1;
const RMAPPED = 2;

/**
 * mmu_set_spte's handling of a present SPTE, apart so that mmu_set_spte stays under V8's
 * 460-byte inlining limit: a prefetch of the same pfn is spurious (6.x), a non-leaf SPTE's child
 * is unlinked and a leaf of another pfn dropped (both need a flush), and a leaf of the same pfn
 * stays rmapped.
 */
function replace_present_spte(kvm: Kvm, sptep: number, level: number, pfn: number, prefetch: boolean, olo: number, ohi: number): number {
  const t = kvm.traits;
  if (t.prefetch_same_pfn_is_spurious && prefetch && is_last_spte(olo, level) && pfn === spte_to_pfn(olo, ohi)) return SPURIOUS_PREFETCH;
  if (level > 1 && !is_large_pte(olo)) {
    drop_parent_pte(kvm, kvm.spte_to_child(olo, ohi)!, sptep);
    return DROPPED;
  }
  if (pfn !== spte_to_pfn(olo, ohi)) {
    kvm.warns.on(t.pfn_change_under_present_spte_warns, 'mmu_set_spte', 'pfn changed under a present SPTE');
    drop_spte(kvm, sptep);
    return DROPPED;
  }
  return RMAPPED;
}

/**
 * mmu_set_spte's mmu_spte_update of a changed SPTE with its kvm_mmu_set_spte tracepoint: 6.x
 * traces the new SPTE after the update, 5.x the old one before it. Returns whether the update
 * needs a flush.
 */
function update_traced(kvm: Kvm, level: number, gfn: number, sptep: number, olo: number, ohi: number, nlo: number, nhi: number): boolean {
  if (kvm.traits.set_spte_traces_new_spte) {
    const flush = mmu_spte_update(kvm, sptep, nlo, nhi);
    trace_set_spte(kvm, level, gfn, sptep, nlo, nhi);
    return flush;
  }
  trace_set_spte(kvm, level, gfn, sptep, olo, ohi);
  return mmu_spte_update(kvm, sptep, nlo, nhi);
}

/** mmu_set_spte for a gfn in no memslot: an MMIO SPTE (mark_mmio_spte), counted in 6.x's pf_mmio_spte_created. */
function set_mmio_spte(vcpu: Vcpu, sptep: number, gfn: number, pte_access: number): number {
  if (vcpu.kvm.traits.page_fault_stats_by_outcome) vcpu.stat.pf_mmio_spte_created++;
  mark_mmio_spte(vcpu, sptep, gfn, pte_access);
  return RET_PF_EMULATE;
}

/**
 * @kernel mmu.c mmu_set_spte
 * Returns RET_PF_FIXED, RET_PF_SPURIOUS, RET_PF_EMULATE (MMIO) or, for a write kept read-only,
 * write_protected_ret.
 */
export function mmu_set_spte(vcpu: Vcpu, sptep: number, pte_access: number, gfn: number, pfn: number, fault: SetSpteFault | null): number {
  const kvm = vcpu.kvm;
  const sp = kvm.sptep_to_sp(sptep)!;
  const level = kvm.level(sp);
  let ret = RET_PF_FIXED;
  let present = NOT_PRESENT;
  const prefetch = !fault || fault.prefetch;

  if (pfn === KVM_PFN_NOSLOT) return set_mmio_spte(vcpu, sptep, gfn, pte_access);
  let olo = kvm.spteLo(sptep);
  let ohi = kvm.spteHi(sptep);
  if (is_shadow_present_pte(olo)) {
    present = replace_present_spte(kvm, sptep, level, pfn, prefetch, olo, ohi);
    if (present === SPURIOUS_PREFETCH) return RET_PF_SPURIOUS;
    olo = kvm.spteLo(sptep);
    ohi = kvm.spteHi(sptep);
  }
  const wrprot = vcpu_make_spte(vcpu, sp, pte_access, gfn, pfn, olo, ohi, prefetch, false, !fault || fault.map_writable, newSpte);
  const nlo = newSpte[0]!;
  const nhi = newSpte[1]!;
  let flush = present === DROPPED;
  if (nlo === olo && nhi === ohi) ret = RET_PF_SPURIOUS;
  else if (update_traced(kvm, level, gfn, sptep, olo, ohi, nlo, nhi)) flush = true;
  if (wrprot && fault !== null && fault.write) ret = write_protected_ret(kvm);
  if (flush) kvm.kvm_flush_remote_tlbs();
  if (present !== RMAPPED) {
    if (ret === RET_PF_SPURIOUS) warn_spurious_new_spte(kvm);
    rmap_add(vcpu, sptep, gfn, pte_access);
  } else if (kvm.traits.rmap_access_in_shadowed_translation) {
    kvm_mmu_page_set_access(kvm, sp, sptep & (SPTE_ENT_PER_PAGE - 1), pte_access);
  }
  return ret;
}

/** mmu_set_spte's WARN_ON_ONCE(ret == RET_PF_SPURIOUS) for an SPTE that was not rmapped. */
function warn_spurious_new_spte(kvm: Kvm): void {
  kvm.warns.on(true, 'mmu_set_spte', 'spurious fault on a new SPTE');
}

/** Whether the host has the guest frame populated (kvm_prefetch_pages / gfn_to_page_many_atomic). */
function host_page_present(vcpu: Vcpu, gfn: number): boolean {
  const g = vcpu.guest!;
  if (g.mem.gfnToMemslot(gfn) === undefined) return false;
  return g.faulted_in.has(gfn) || g.mem.hasPage(gfn);
}

/**
 * @kernel mmu.c kvm_mmu_prefetch_sptes
 * Maps up to n consecutive resident frames from gfn at sptep.. with prefetch semantics; false
 * when no slot or the first frame is not resident.
 */
export function kvm_mmu_prefetch_sptes(vcpu: Vcpu, gfn: number, sptep: number, n: number, access: number): boolean {
  const g = vcpu.guest!;
  if (g.mem.gfnToMemslot(gfn) === undefined) return false;
  let nr = 0;
  while (nr < n && host_page_present(vcpu, gfn + nr)) nr++;
  if (nr <= 0) return false;
  for (let i = 0; i < nr; i++) mmu_set_spte(vcpu, sptep + i, access, gfn + i, g.gfn_to_pfn(gfn + i), null);
  return true;
}

/** @kernel paging_tmpl.h FNAME(prefetch_gpte): false stops the prefetch loop. */
export function prefetch_gpte(vcpu: Vcpu, sp: KvmMmuPage, sptep: number, lo: number, hi: number): boolean {
  const kvm = vcpu.kvm;
  const w = vcpu.guest!.walk;
  if (gpte_invalid_for_prefetch(w, lo, hi)) {
    drop_spte(kvm, sptep);
    return false;
  }
  const gfn = gpte_to_gfn(w, lo, hi);
  let access = ((sp.role & kvm.rb.accessMask) >>> kvm.rb.accessShift) & gpte_access(w, lo, hi);
  access = protect_clean_gpte(w, access, lo);
  return kvm_mmu_prefetch_sptes(vcpu, gfn, sptep, 1, access);
}

/** @kernel mmu.c __direct_pte_prefetch */
export function __direct_pte_prefetch(vcpu: Vcpu, sp: KvmMmuPage, sptep: number): void {
  const kvm = vcpu.kvm;
  const base = sp.pfn * SPTE_ENT_PER_PAGE;
  const first = (sptep - base) & ~(PTE_PREFETCH_NUM - 1);
  const access = (sp.role & kvm.rb.accessMask) >>> kvm.rb.accessShift;
  let start = -1;
  let i = first;
  for (; i < first + PTE_PREFETCH_NUM; i++) {
    const s = base + i;
    if (is_shadow_present_pte(kvm.arena[sp.spt_base + 2 * i]!) || s === sptep) {
      if (start < 0) continue;
      if (!kvm_mmu_prefetch_sptes(vcpu, kvm_mmu_page_get_gfn(kvm, sp, start), base + start, i - start, access)) return;
      start = -1;
    } else if (start < 0) {
      start = i;
    }
  }
  if (start >= 0) kvm_mmu_prefetch_sptes(vcpu, kvm_mmu_page_get_gfn(kvm, sp, start), base + start, i - start, access);
}

/** @kernel mmu.c direct_pte_prefetch (the direct MMU's fault path) */
export function direct_pte_prefetch(vcpu: Vcpu, sptep: number): void {
  const kvm = vcpu.kvm;
  const sp = kvm.sptep_to_sp(sptep)!;
  if ((sp.role & kvm.rb.ad_disabled) !== 0) return;
  if (kvm.level(sp) > 1) return;
  __direct_pte_prefetch(vcpu, sp, sptep);
}

/**
 * @kernel paging_tmpl.h FNAME(pte_prefetch)
 * The aligned group of 8 around the faulting SPTE of a level-1 page, from the guest PTEs
 * (`gptes`: the 8 entries FNAME(gpte_changed) buffered, as lo/hi pairs).
 */
export function pte_prefetch(vcpu: Vcpu, sptep: number, gptes: Uint32Array): void {
  const kvm = vcpu.kvm;
  const sp = kvm.sptep_to_sp(sptep)!;
  if (kvm.level(sp) > 1) return;
  if ((sp.role & kvm.rb.direct) !== 0) return __direct_pte_prefetch(vcpu, sp, sptep);
  const base = sp.pfn * SPTE_ENT_PER_PAGE;
  const first = (sptep - base) & ~(PTE_PREFETCH_NUM - 1);
  for (let i = 0; i < PTE_PREFETCH_NUM; i++) {
    const s = base + first + i;
    if (s === sptep) continue;
    if (is_shadow_present_pte(kvm.arena[sp.spt_base + 2 * (first + i)]!)) continue;
    if (!prefetch_gpte(vcpu, sp, s, gptes[2 * i]!, gptes[2 * i + 1]!)) break;
  }
}
