/**
 * The shadow MMU's page-fault path: mmu.c kvm_mmu_page_fault / kvm_mmu_do_page_fault,
 * paging_tmpl.h FNAME(page_fault) and FNAME(fetch) for a guest with paging, and
 * direct_page_fault / direct_map for a guest without it. One code path per function; the
 * kernels' differences are mmu behaviour traits (src/profiles/traits/mmu.ts) and the role pipeline.
 */
import { mod_pow2 } from '../../bits/u64.js';
import { PFERR_FETCH_MASK, PFERR_PRESENT_MASK, PFERR_RSVD_MASK, PFERR_USER_MASK, PFERR_WRITE_MASK, ACC_ALL, ACC_EXEC_MASK, ACC_USER_MASK, ACC_WRITE_MASK } from '../../guest/constants.js';
import { walk_addr_generic, type GuestWalker } from '../../guest/walker.js';
import { kvm_mmu_child_role, kvm_mmu_get_page_role } from '../../roles/sp-role.js';
import { INVALID_PAGE, KVM_PAGES_PER_HPAGE, PT32E_ROOT_LEVEL } from '../pages/constants.js';
import { kvm_mmu_get_page } from '../pages/get_page.js';
import { kvm_inject_emulated_page_fault } from './inject.js';
import { read_gpte } from './gpte.js';
import { drop_parent_pte, link_shadow_page } from '../pages/link.js';
import type { KvmMmuPage } from '../pages/page.js';
import { drop_spte } from '../pages/rmap.js';
import { root_to_sp } from '../pages/roots.js';
import {
  KVM_PFN_NOSLOT,
  PTE_PREFETCH_NUM,
  RET_PF_CONTINUE,
  RET_PF_EMULATE,
  RET_PF_FIXED,
  RET_PF_INVALID,
  RET_PF_RETRY,
  RET_PF_SPURIOUS,
  RET_PF_WRITE_PROTECTED,
  direct_pte_prefetch,
  mmu_set_spte,
  pte_prefetch,
  write_protected_ret,
} from './set_spte.js';
import { get_mmio_spte_access, get_mmio_spte_gfn, is_large_pte, is_mmio_spte, is_shadow_present_pte } from '../spte/spte.js';
import { check_mmio_spte, mmio_info_in_cache, vcpu_cache_mmio_info } from './mmio.js';
import { kvm_slot_dirty_track_enabled } from '../pages/dirty_log.js';
import { kvm_mmu_max_mapping_level } from '../pages/mapping_level.js';
import type { Kvm } from '../pages/kvm.js';
import { account_nx_huge_page, disallowed_hugepage_adjust } from '../pages/nx_huge_pages.js';
import { mmu_sync_children } from './sync.js';
import type { Vcpu } from '../pages/vcpu.js';
import { ShadowWalkIterator, shadowWalkFrom, shadow_walk_init_using_root, shadow_walk_next, shadow_walk_okay } from './walk.js';
import { make_mmu_pages_available } from '../pages/zap.js';
import { KVMMMU } from '../../trace/table.js';
import { fromHalves } from '../../bits/u64.js';

/**
 * struct kvm_page_fault, the members the shadow paths use. The address is kept as 32-bit halves
 * (`addr` makes the BigInt for the cold users: #PF injection, the MMIO info cache); the fault
 * path reuses one per vCPU (newFault resets it), so a fault allocates none.
 */
export class KvmPageFault {
  addr_lo = 0;
  addr_hi = 0;
  error_code = 0;
  exec = false;
  write = false;
  present = false;
  rsvd = false;
  user = false;
  prefetch = false;
  gfn = 0;
  /** A memslot holds gfn (fault->slot != NULL). */
  slot = false;
  pfn = KVM_PFN_NOSLOT;
  map_writable = false;
  max_level = 3;
  goal_level = 1;
  /** kvm_mmu_max_mapping_level's answer (4K until hugepage_adjust asks). */
  req_level = 1;
  /** An instruction fetch under the NX huge page mitigation: no huge leaf. */
  huge_page_disallowed = false;
  get addr(): bigint {
    return fromHalves(this.addr_lo, this.addr_hi);
  }
}

/** The guest #PF the fault path injected (kvm_inject_emulated_page_fault), if any. */
export interface InjectedFault {
  readonly error_code: number;
  readonly address: bigint;
}

/** What kvm_mmu_page_fault returns: one object per vCPU, overwritten by the next fault. */
export interface PageFaultOutcome {
  ret: number;
  inject: InjectedFault | null;
  /** gfn << 12 | offset of the access when the guest walk succeeded, else -1. */
  gpa: number;
}

const TWO32 = 0x100000000;

/** The fault path's per-vCPU scratch: the fault, the shadow walk, the outcome, the prefetch buffer. */
export interface FaultScratch {
  readonly f: KvmPageFault;
  readonly it: ShadowWalkIterator;
  readonly out: PageFaultOutcome;
  readonly buf: Uint32Array;
}
const scratches = new WeakMap<Vcpu, FaultScratch>();
function scratch(vcpu: Vcpu): FaultScratch {
  let s = scratches.get(vcpu);
  if (!s) scratches.set(vcpu, (s = { f: new KvmPageFault(), it: new ShadowWalkIterator(), out: { ret: 0, inject: null, gpa: -1 }, buf: new Uint32Array(2 * PTE_PREFETCH_NUM) }));
  return s;
}

function newFault(f: KvmPageFault, addr_lo: number, addr_hi: number, error_code: number, prefetch: boolean): KvmPageFault {
  f.addr_lo = addr_lo;
  f.addr_hi = addr_hi;
  f.error_code = error_code;
  f.exec = (error_code & PFERR_FETCH_MASK) !== 0;
  f.write = (error_code & PFERR_WRITE_MASK) !== 0;
  f.present = (error_code & PFERR_PRESENT_MASK) !== 0;
  f.rsvd = (error_code & PFERR_RSVD_MASK) !== 0;
  f.user = (error_code & PFERR_USER_MASK) !== 0;
  f.prefetch = prefetch;
  f.gfn = 0;
  f.slot = false;
  f.pfn = KVM_PFN_NOSLOT;
  f.map_writable = false;
  f.max_level = 3;
  f.goal_level = 1;
  f.req_level = 1;
  f.huge_page_disallowed = false;
  return f;
}

/** @kernel mmu.c clear_sp_write_flooding_count */
function clear_sp_write_flooding_count(vcpu: Vcpu, sptep: number): void {
  const sp = vcpu.kvm.sptep_to_sp(sptep);
  if (sp) sp.write_flooding_count = 0;
}

/** @kernel mmu.c drop_large_spte (5.16: with its flush) */
function drop_large_spte(vcpu: Vcpu, sptep: number): void {
  const kvm = vcpu.kvm;
  const lo = kvm.spteLo(sptep);
  if (!is_shadow_present_pte(lo) || !is_large_pte(lo)) return;
  drop_spte(kvm, sptep);
  kvm.kvm_flush_remote_tlbs();
}

/** @kernel mmu.c validate_direct_spte */
function validate_direct_spte(vcpu: Vcpu, sptep: number, direct_access: number): void {
  const kvm = vcpu.kvm;
  const lo = kvm.spteLo(sptep);
  if (!is_shadow_present_pte(lo) || is_large_pte(lo)) return;
  const child = kvm.spte_to_child(lo, kvm.spteHi(sptep))!;
  if (((child.role & kvm.rb.accessMask) >>> kvm.rb.accessShift) === direct_access) return;
  drop_parent_pte(kvm, child, sptep);
  kvm.kvm_flush_remote_tlbs();
}

/**
 * @kernel mmu.c kvm_mmu_get_child_sp
 * A child page for the SPTE at `sptep` (level `level` - 1), or null for -EEXIST (a present
 * non-leaf SPTE is kept). With `large_spte_dropped_before_child_lookup` (5.16's FNAME(fetch) /
 * direct_map) a large SPTE is dropped first, with its flush; otherwise __link_shadow_page drops
 * it. The role comes from the parent's role (CPU-role pipeline) or from the MMU role and the
 * address (5.x kvm_mmu_get_page).
 */
function kvm_mmu_get_child_sp(vcpu: Vcpu, it: ShadowWalkIterator, gfn: number, direct: boolean, access: number): KvmMmuPage | null {
  const kvm = vcpu.kvm;
  if (kvm.traits.large_spte_dropped_before_child_lookup) drop_large_spte(vcpu, it.sptep);
  const lo = kvm.arena[it.off]!;
  if (is_shadow_present_pte(lo) && !is_large_pte(lo)) return null;
  let role: number;
  if (kvm.profile.roles.pipeline === 'cpu_role') {
    const parent = kvm.sptep_to_sp(it.sptep)!;
    role = kvm_mmu_child_role(kvm.profile, parent.role, it.index, direct, access);
  } else {
    role = kvm_mmu_get_page_role(kvm.profile, vcpu.mmu.ctx, { level: it.level - 1, direct, access, gaddr: it.addr });
  }
  return kvm_mmu_get_page(vcpu, gfn, role);
}

/**
 * @kernel paging_tmpl.h FNAME(gpte_changed)
 * Re-reads the walked gPTE at `level` (level 1: the aligned group of 8, buffered in `buf` for
 * pte_prefetch); true when it changed or cannot be read.
 */
function gpte_changed(vcpu: Vcpu, gw: GuestWalker, level: number, buf: Uint32Array): boolean {
  const g = vcpu.guest!;
  const w = g.walk;
  const size = w.pte_size;
  const pte_gpa = gw.pte_gpa[level - 1]!;
  const word = gw.w;
  if (level === 1) {
    const span = PTE_PREFETCH_NUM * size;
    const base = pte_gpa - mod_pow2(pte_gpa, span);
    const index = (pte_gpa - base) / size;
    // The group lies in one page: one read of its PTE_PREFETCH_NUM entries (kvm_vcpu_read_guest_atomic of the span).
    if (!g.mem.readEntries(base, size, PTE_PREFETCH_NUM, buf)) return true;
    return buf[2 * index] !== gw.ptes_lo[0] || buf[2 * index + 1] !== gw.ptes_hi[0];
  }
  if (!read_gpte(w, g.mem, pte_gpa, word)) return true;
  return word.lo !== gw.ptes_lo[level - 1] || word.hi !== gw.ptes_hi[level - 1];
}

/**
 * @kernel mmu.c kvm_mmu_hugepage_adjust
 * The goal level: the largest the host and the gfn's lpage state allow, but 4K in a dirty-logged
 * slot and for an instruction fetch under the NX huge page mitigation.
 */
function kvm_mmu_hugepage_adjust(vcpu: Vcpu, f: KvmPageFault): void {
  f.goal_level = 1;
  f.huge_page_disallowed = f.exec && vcpu.kvm.nx_huge_pages;
  if (f.max_level === 1 || f.pfn === KVM_PFN_NOSLOT) return;
  if (kvm_slot_dirty_track_enabled(vcpu.guest!.mem.gfnToMemslot(f.gfn))) return;
  const req_level = kvm_mmu_max_mapping_level(vcpu.kvm, vcpu.guest!.mem.gfnToMemslot(f.gfn), f.gfn, f.max_level);
  f.req_level = req_level;
  if (req_level === 1 || f.huge_page_disallowed) return;
  f.goal_level = req_level;
  const n = KVM_PAGES_PER_HPAGE(req_level);
  f.pfn -= mod_pow2(f.pfn, n);
}

/** disallowed_hugepage_adjust on the SPTE at `sptep` and the page it points at. */
function nxAdjust(kvm: Kvm, f: KvmPageFault, sptep: number, level: number): void {
  const lo = kvm.spteLo(sptep);
  const child = is_shadow_present_pte(lo) && !is_large_pte(lo) ? kvm.spte_to_child(lo, kvm.spteHi(sptep)) : null;
  disallowed_hugepage_adjust(f, lo, level, child);
}

function trace_spte_requested(vcpu: Vcpu, f: KvmPageFault): void {
  // pfn | (gfn & (KVM_PAGES_PER_HPAGE(goal_level) - 1)), as the tracepoint records it.
  const pfn = f.pfn === KVM_PFN_NOSLOT ? 0 : f.pfn + mod_pow2(f.gfn, KVM_PAGES_PER_HPAGE(f.goal_level));
  if (vcpu.kvm.tracing) vcpu.kvm.emit({ event: KVMMMU.kvm_mmu_spte_requested, gfn: f.gfn, pfn, level: f.goal_level });
}

/**
 * @kernel paging_tmpl.h FNAME(fetch)
 * Links (or finds) the shadow pages for the walked tables, then direct pages below a guest
 * huge page, installs the leaf and prefetches around it.
 */
function fetch(vcpu: Vcpu, f: KvmPageFault, gw: GuestWalker, sc: FaultScratch): number {
  const buf = sc.buf;
  const kvm = vcpu.kvm;
  const direct_access = gw.pte_access;
  let top_level = vcpu.guest!.walk.root_level;
  if (top_level === PT32E_ROOT_LEVEL) top_level = 2;
  if (gpte_changed(vcpu, gw, top_level, buf)) return RET_PF_RETRY;
  if (kvm.warns.on(vcpu.mmu.root_hpa === INVALID_PAGE, 'FNAME(fetch)', 'no root')) return RET_PF_RETRY;

  const it = shadow_walk_init_using_root(vcpu, vcpu.mmu.root_hpa, f.addr_lo, f.addr_hi, sc.it);
  for (; shadow_walk_okay(kvm, it); shadow_walk_next(kvm, it)) {
    if (kvm.traits.flooding_count_cleared_on_direct_levels && it.level <= gw.level) break;
    clear_sp_write_flooding_count(vcpu, it.sptep);
    if (it.level === gw.level) break;
    const table_gfn = gw.table_gfn[it.level - 2]!;
    const access = gw.pt_access[it.level - 2]!;
    const sp = kvm_mmu_get_child_sp(vcpu, it, table_gfn, false, access);
    if (sp !== null && sp.unsync_children) mmu_sync_children(vcpu, sp);
    // The RFC checks only levels it walked (a promoted root has no guest entry above the guest's top).
    if (it.level - 1 <= vcpu.guest!.walk.root_level && gpte_changed(vcpu, gw, it.level - 1, buf)) return RET_PF_RETRY;
    if (sp !== null) link_shadow_page(vcpu, it.sptep, sp);
  }

  kvm_mmu_hugepage_adjust(vcpu, f);
  trace_spte_requested(vcpu, f);

  let base_gfn = f.gfn;
  for (; shadow_walk_okay(kvm, it); shadow_walk_next(kvm, it)) {
    if (kvm.traits.flooding_count_cleared_on_direct_levels) clear_sp_write_flooding_count(vcpu, it.sptep);
    // A huge leaf cannot replace existing tables when the leaf could be executable.
    if (kvm.nx_huge_pages) nxAdjust(kvm, f, it.sptep, it.level);
    base_gfn = f.gfn - mod_pow2(f.gfn, KVM_PAGES_PER_HPAGE(it.level));
    if (it.level === f.goal_level) break;
    validate_direct_spte(vcpu, it.sptep, direct_access);
    const sp = kvm_mmu_get_child_sp(vcpu, it, base_gfn, true, direct_access);
    if (sp === null) continue;
    link_shadow_page(vcpu, it.sptep, sp);
    if (f.huge_page_disallowed) account_nx_huge_page(kvm, sp, f.req_level >= it.level);
  }
  if (kvm.warns.on(it.level !== f.goal_level, 'FNAME(fetch)', 'walk ended above the goal level')) return -14;

  const ret = mmu_set_spte(vcpu, it.sptep, gw.pte_access, base_gfn, f.pfn, f);
  if (ret === RET_PF_SPURIOUS) return ret;
  pte_prefetch(vcpu, it.sptep, buf);
  if (!kvm.traits.page_fault_stats_by_outcome) vcpu.stat.pf_fixed++;
  return ret;
}

/** @kernel mmu.c page_fault_handle_page_track */
function page_fault_handle_page_track(vcpu: Vcpu, f: KvmPageFault): boolean {
  if (f.rsvd || !f.present || !f.write) return false;
  return (vcpu.kvm.write_track.get(f.gfn) ?? 0) > 0;
}

/** @kernel mmu.c shadow_page_table_clear_flood */
function shadow_page_table_clear_flood(vcpu: Vcpu, addr_lo: number, addr_hi: number): void {
  const kvm = vcpu.kvm;
  if (vcpu.mmu.root_hpa === INVALID_PAGE) return;
  const it = shadow_walk_init_using_root(vcpu, vcpu.mmu.root_hpa, addr_lo, addr_hi);
  for (; shadow_walk_okay(kvm, it); shadow_walk_next(kvm, it)) clear_sp_write_flooding_count(vcpu, it.sptep);
}

/**
 * @kernel mmu.c kvm_mmu_faultin_pfn
 * The host frame of the gfn, faulted in; no memslot: the noslot path (kvm_handle_noslot_fault:
 * the MMIO info cached with the walk's `access`), which emulates at once when MMIO SPTEs cannot
 * be cached.
 */
function kvm_mmu_faultin_pfn(vcpu: Vcpu, f: KvmPageFault, access: number): number {
  const g = vcpu.guest!;
  const slot = g.mem.gfnToMemslot(f.gfn);
  if (slot === undefined) {
    f.slot = false;
    f.pfn = KVM_PFN_NOSLOT;
    f.map_writable = false;
    vcpu_cache_mmio_info(vcpu, f.addr, f.gfn, access & vcpu.kvm.masks.mmio_access_mask);
    if (!vcpu.kvm.masks.globals.enable_mmio_caching) return RET_PF_EMULATE;
    return RET_PF_CONTINUE;
  }
  f.slot = true;
  g.faulted_in.add(f.gfn);
  f.pfn = g.gfn_to_pfn(f.gfn);
  f.map_writable = !slot.readonly;
  return RET_PF_CONTINUE;
}

/** The guest gets #PF from the failed walk (inject.ts kvm_inject_emulated_page_fault). */
function inject(vcpu: Vcpu, gw: GuestWalker, f: KvmPageFault): InjectedFault {
  kvm_inject_emulated_page_fault(vcpu, f.addr, gw.fault_error_code, gw.exit_qualification);
  return { error_code: gw.fault_error_code, address: f.addr };
}

/**
 * @kernel paging_tmpl.h FNAME(is_self_change_mapping) (5.16)
 * A writable translation whose huge page holds one of the tables the walk used.
 */
function is_self_change_mapping(gw: GuestWalker, cr0_wp: boolean, user: boolean): boolean {
  if (!(gw.pte_access & ACC_WRITE_MASK || (!cr0_wp && !user))) return false;
  const n = KVM_PAGES_PER_HPAGE(gw.level);
  for (let level = gw.level; level <= gw.max_level; level++) {
    if (Math.floor(gw.gfn / n) === Math.floor(gw.table_gfn[level - 1]! / n)) return true;
  }
  return false;
}

/** @kernel paging_tmpl.h FNAME(page_fault) */
function paging_page_fault(vcpu: Vcpu, f: KvmPageFault, out: PageFaultOutcome, sc: FaultScratch): number {
  const kvm = vcpu.kvm;
  const g = vcpu.guest!;
  const gw = g.walker;
  const ok = walk_addr_generic(gw, g.walk, g.mem, f.addr_lo, g.walk.long_mode ? f.addr_hi : 0, f.error_code & ~PFERR_RSVD_MASK, g.tracer);
  if (!ok) {
    if (!f.prefetch) out.inject = inject(vcpu, gw, f);
    return RET_PF_RETRY;
  }
  out.gpa = gw.gpa;
  f.gfn = gw.gfn;
  // 5.16 reads the vCPU's own CR0.WP here (is_write_protection): under nested EPT that is L2's,
  // which the model does not hold; it is taken as 1.
  const wp = g.walk.kind === 'ept' ? true : g.walk.cr0_wp;
  f.max_level = kvm.traits.self_change_mapping_maps_4k && is_self_change_mapping(gw, wp, f.user) ? 1 : gw.level;
  f.slot = g.mem.gfnToMemslot(f.gfn) !== undefined;
  if (page_fault_handle_page_track(vcpu, f)) {
    shadow_page_table_clear_flood(vcpu, f.addr_lo, f.addr_hi);
    return write_protected_ret(kvm);
  }
  let r = vcpu.mem.topup(true, vcpu.mmu.ctx.shadow_root_level);
  if (r) return r;
  r = kvm_mmu_faultin_pfn(vcpu, f, gw.pte_access);
  if (r !== RET_PF_CONTINUE) return r;
  // CR0.WP=0: a supervisor write to a read-only gPTE maps it writable and supervisor-only.
  // Not for EPT: PTTYPE_EPT has no CR0.WP (and no U/S) to honour.
  if (g.walk.kind !== 'ept' && f.write && !(gw.pte_access & ACC_WRITE_MASK) && !g.walk.cr0_wp && !f.user && f.slot) {
    gw.pte_access = (gw.pte_access | ACC_WRITE_MASK) & ~ACC_USER_MASK;
    if (g.walk.cr4_smep) gw.pte_access &= ~ACC_EXEC_MASK;
  }
  r = make_mmu_pages_available(kvm);
  if (r) return r;
  if (is_page_fault_stale(vcpu)) return RET_PF_RETRY;
  return fetch(vcpu, f, gw, sc);
}

/** @kernel mmu.c is_page_fault_stale (the root part; the model has no mmu_notifier races). */
function is_page_fault_stale(vcpu: Vcpu): boolean {
  const sp = root_to_sp(vcpu.kvm, vcpu.mmu.root_hpa);
  if (sp && vcpu.kvm.is_obsolete_sp(sp)) return true;
  return !sp && vcpu.requests.has('KVM_REQ_MMU_FREE_OBSOLETE_ROOTS');
}

/** @kernel mmu.c direct_map */
function direct_map(vcpu: Vcpu, f: KvmPageFault, sc: FaultScratch): number {
  const kvm = vcpu.kvm;
  kvm_mmu_hugepage_adjust(vcpu, f);
  trace_spte_requested(vcpu, f);
  const it = shadow_walk_init_using_root(vcpu, vcpu.mmu.root_hpa, f.addr_lo, f.addr_hi, sc.it);
  let base_gfn = f.gfn;
  for (; shadow_walk_okay(kvm, it); shadow_walk_next(kvm, it)) {
    if (kvm.nx_huge_pages) nxAdjust(kvm, f, it.sptep, it.level);
    base_gfn = f.gfn - mod_pow2(f.gfn, KVM_PAGES_PER_HPAGE(it.level));
    if (it.level === f.goal_level) break;
    const sp = kvm_mmu_get_child_sp(vcpu, it, base_gfn, true, ACC_ALL);
    if (sp === null) continue;
    link_shadow_page(vcpu, it.sptep, sp);
    // 5.16's __direct_map accounted NX huge page splits for TDP only.
    if (f.huge_page_disallowed && !kvm.traits.nx_huge_page_marked_only_when_possible) account_nx_huge_page(kvm, sp, f.req_level >= it.level);
  }
  if (kvm.warns.on(it.level !== f.goal_level, 'direct_map', 'walk ended above the goal level')) return -14;
  const ret = mmu_set_spte(vcpu, it.sptep, ACC_ALL, base_gfn, f.pfn, f);
  if (ret === RET_PF_SPURIOUS) return ret;
  direct_pte_prefetch(vcpu, it.sptep);
  if (!kvm.traits.page_fault_stats_by_outcome) vcpu.stat.pf_fixed++;
  return ret;
}

/** @kernel mmu.c direct_page_fault (nonpaging_page_fault: max level 2M; no fast path modelled) */
function direct_page_fault(vcpu: Vcpu, f: KvmPageFault, out: PageFaultOutcome, sc: FaultScratch): number {
  const kvm = vcpu.kvm;
  f.gfn = Math.floor((f.addr_hi * TWO32 + f.addr_lo) / 4096);
  f.max_level = 2;
  out.gpa = f.addr_hi * TWO32 + f.addr_lo;
  if (page_fault_handle_page_track(vcpu, f)) return write_protected_ret(kvm);
  let r = vcpu.mem.topup(false, vcpu.mmu.ctx.shadow_root_level);
  if (r) return r;
  r = kvm_mmu_faultin_pfn(vcpu, f, ACC_ALL);
  if (r !== RET_PF_CONTINUE) return r;
  if (is_page_fault_stale(vcpu)) return RET_PF_RETRY;
  r = make_mmu_pages_available(kvm);
  if (r) return r;
  return direct_map(vcpu, f, sc);
}

/**
 * @kernel mmu.c handle_mmio_page_fault
 * A reserved-bit fault: an MMIO-info cache hit, or an MMIO SPTE of the current generation, goes
 * to the emulator (the SPTE's gfn and access cached); a stale generation is RET_PF_INVALID (the
 * caller takes the ordinary fault path, which rebuilds the SPTE); anything else is retried.
 */
function handle_mmio_page_fault(vcpu: Vcpu, addr: bigint): number {
  const kvm = vcpu.kvm;
  const direct = vcpu.mmu.ctx.direct_map;
  if (mmio_info_in_cache(vcpu, addr, direct)) return RET_PF_EMULATE;
  if (vcpu.mmu.root_hpa === INVALID_PAGE) return RET_PF_RETRY;
  const it = shadowWalkFrom(vcpu, vcpu.mmu.root_hpa, addr);
  let lo = 0;
  let hi = 0;
  for (; shadow_walk_okay(kvm, it); shadow_walk_next(kvm, it)) {
    lo = kvm.spteLo(it.sptep);
    hi = kvm.spteHi(it.sptep);
  }
  if (!is_mmio_spte(kvm.masks, lo, hi)) return RET_PF_RETRY;
  const gfn = get_mmio_spte_gfn(kvm.masks, lo, hi);
  const access = get_mmio_spte_access(kvm.masks, lo);
  if (!check_mmio_spte(vcpu, lo, hi)) return RET_PF_INVALID;
  const a = direct ? 0n : addr;
  if (kvm.tracing) kvm.emit({ event: KVMMMU.handle_mmio_page_fault, addr: a, gfn, access });
  vcpu_cache_mmio_info(vcpu, a, gfn, access);
  return RET_PF_EMULATE;
}

/**
 * @kernel mmu.c kvm_mmu_page_fault
 * Returns the RET_PF_* value the caller acts on (EMULATE: run the emulator), the #PF the guest
 * gets when its own walk failed, and the walked gpa. 6.x counts pf_taken / pf_fixed /
 * pf_emulate / pf_spurious here and turns RET_PF_WRITE_PROTECTED into emulation
 * (kvm_mmu_write_protect_fault, no event pending for reinjection).
 */
export function kvm_mmu_page_fault(vcpu: Vcpu, cr2_lo: number, cr2_hi: number, error_code: number): PageFaultOutcome {
  const kvm = vcpu.kvm;
  const sc = scratch(vcpu);
  const out = sc.out;
  out.inject = null;
  out.gpa = -1;
  if (kvm.warns.on(vcpu.mmu.root_hpa === INVALID_PAGE, 'kvm_mmu_page_fault', 'no valid root')) return done(out, RET_PF_RETRY, -1);
  let r = RET_PF_INVALID;
  if (error_code & PFERR_RSVD_MASK) {
    r = handle_mmio_page_fault(vcpu, fromHalves(cr2_lo, cr2_hi));
    // An MMIO SPTE: straight to the emulator (no pf_* counter, as the kernel's `goto emulate`).
    if (r === RET_PF_EMULATE) return done(out, r, -1);
  }
  if (r === RET_PF_INVALID) {
    if (kvm.traits.page_fault_stats_by_outcome) vcpu.stat.pf_taken++;
    r = kvm_mmu_do_page_fault(vcpu, cr2_lo, cr2_hi, error_code, false, out, sc);
  }
  if (r < 0) return done(out, r, out.gpa);
  if (r === RET_PF_WRITE_PROTECTED) r = RET_PF_EMULATE;
  if (kvm.traits.page_fault_stats_by_outcome) {
    if (r === RET_PF_FIXED) vcpu.stat.pf_fixed++;
    else if (r === RET_PF_EMULATE) vcpu.stat.pf_emulate++;
    else if (r === RET_PF_SPURIOUS) vcpu.stat.pf_spurious++;
  }
  return done(out, r, out.gpa);
}

function done(out: PageFaultOutcome, ret: number, gpa: number): PageFaultOutcome {
  out.ret = ret;
  out.gpa = gpa;
  return out;
}

/** @kernel mmu_internal.h kvm_mmu_do_page_fault (the shadow MMU's page_fault hook) */
export function kvm_mmu_do_page_fault(vcpu: Vcpu, cr2_lo: number, cr2_hi: number, error_code: number, prefetch: boolean, out: PageFaultOutcome, sc: FaultScratch = scratch(vcpu)): number {
  const f = newFault(sc.f, cr2_lo, cr2_hi, error_code, prefetch);
  if (vcpu.mmu.ctx.direct_map) return direct_page_fault(vcpu, f, out, sc);
  if (vcpu.guest === null) return vcpu.kvm.bug('kvm_mmu_page_fault: the vCPU has no guest memory');
  return paging_page_fault(vcpu, f, out, sc);
}
