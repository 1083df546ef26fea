/**
 * SPTE encoders and predicates (arch/x86/kvm/mmu/spte.h, spte.c and the SPTE helpers of
 * mmu.c), on 32-bit halves. One code path for every profile: the masks come from
 * spte_masks.ts (per host), the kernel-specific rules from the profile's spte traits.
 *
 * API summary (for the shadow-page code; `m` is a SpteMasks: `kvm_mmu_module_init(profile, cfg,
 * hostZeroPage(mem)).masks` (spte_module.ts, also gives default_pae_pdpte) or
 * `spteMasksFor(profile, cfg)`):
 * - Predicates take (lo, hi): is_shadow_present_pte(lo) (bit 11 only), is_mmio_spte(m, lo, hi),
 *   is_large_pte(lo), is_last_spte(lo, level), is_writable_pte(lo), spte_ad_enabled(hi),
 *   spte_ad_need_write_protect(hi), is_access_track_spte(m, lo, hi), is_executable_pte(m, lo, hi),
 *   is_accessed_spte(m, lo, hi), is_dirty_spte (5.x), is_mmu_writable_spte(m, lo, hi),
 *   spte_can_locklessly_be_made_writable(m, lo, hi, warns), is_removed_spte/is_frozen_spte,
 *   is_ept_ve_possible, spte_needs_atomic_update, spte_to_pfn(lo, hi) -> number,
 *   get_mmio_spte_generation/gfn/access.
 * - Encoders write the new SPTE into `out[off]` (low half) and `out[off + 1]` (high half) — a
 *   page's `HostMemory.words(pfn)` with off = 2 * index, or any scratch Uint32Array:
 *   make_nonleaf_spte(m, child_pa, ad_disabled, out, off);
 *   make_mmio_spte(m, gfn, access, generation, out, off, warns);
 *   make_spte(ctx, args, out, off) -> wrprot (see MakeSpteCtx / MakeSpteArgs);
 *   mark_spte_for_access_track(m, lo, hi, out, off, warns); restore_acc_track_spte(...).
 * - Empty SPTE: SHADOW_NONPRESENT_VALUE = m.nonpresent (0 in 5.x, bit 63 in 6.x); write it with
 *   clear_spte(m, out, off).
 * - BigInt at the edges: `spte64(fn)` runs an encoder into a scratch buffer and returns a bigint;
 *   `split64(v)` gives halves.
 * Everything that can WARN takes a WarnLog (counted, never printed).
 */
import { fromHalves, type Halves } from '../../bits/u64.js';
import type { WarnLog } from '../../cache/warn.js';
import type { SpteMasks } from './spte_masks.js';

export const SPTE_MMU_PRESENT_LO = 1 << 11;
export const PT_PRESENT_LO = 1 << 0;
export const PT_WRITABLE_LO = 1 << 1;
export const PT_USER_LO = 1 << 2;
export const PT_PAGE_SIZE_LO = 1 << 7;
/** SPTE_TDP_AD_* live in bits 53:52 = bits 21:20 of the high half. */
export const SPTE_TDP_AD_SHIFT_HI = 20;
export const SPTE_TDP_AD_MASK_HI = 3 << SPTE_TDP_AD_SHIFT_HI;
export const SPTE_TDP_AD_ENABLED_HI = 0;
export const SPTE_TDP_AD_DISABLED_HI = 1 << SPTE_TDP_AD_SHIFT_HI;
export const SPTE_TDP_AD_WRPROT_ONLY_HI = 2 << SPTE_TDP_AD_SHIFT_HI;
/** SPTE base address bits 51:12 (PT64_BASE_ADDR_MASK / SPTE_BASE_ADDR_MASK). */
export const SPTE_BASE_ADDR_LO = 0xfffff000 | 0;
export const SPTE_BASE_ADDR_HI = 0x000fffff;
/** SHADOW_ACC_TRACK_SAVED_BITS_MASK (EPT R | X = 0b101) and its shift 54 (= 22 in the high half). */
export const SHADOW_ACC_TRACK_SAVED_BITS_MASK = 0x5;
export const SHADOW_ACC_TRACK_SAVED_BITS_SHIFT = 54;
const SAVED_SHIFT_HI = SHADOW_ACC_TRACK_SAVED_BITS_SHIFT - 32;
/** MMIO generation: gen bits 7:0 in SPTE bits 10:3, gen bits 18:8 in SPTE bits 62:52. */
export const MMIO_SPTE_GEN_LOW_MASK_LO = 0x7f8;
export const MMIO_SPTE_GEN_HIGH_MASK_HI = 0x7ff00000;
export const MMIO_SPTE_GEN_MASK = 0x7ffff;
export const SHADOW_NONPRESENT_OR_RSVD_MASK_LEN = 5;
/** REMOVED_SPTE (5.x) low half; 6.x FROZEN_SPTE = SHADOW_NONPRESENT_VALUE | 0x5a0. */
export const REMOVED_SPTE_LO = 0x5a0;
/** VMX_EPT_SUPPRESS_VE_BIT (bit 63) in the high half. */
const SUPPRESS_VE_HI = 0x80000000 | 0;
const ACC_EXEC_MASK = 1;
const ACC_WRITE_MASK = 2;
const PG_LEVEL_4K = 1;

/*
 * Module-private names of the exported constants and helpers the per-SPTE code uses (the
 * predicates, make_spte_entry): V8 folds a module-private const into optimized code, but reads
 * an exported binding, even inside its own module, through its cell, with a hole check (and
 * for a function a check of the callee), at every use.
 */
const MMU_PRESENT_LO = SPTE_MMU_PRESENT_LO;
const WRITABLE_LO = PT_WRITABLE_LO;
const PAGE_SIZE_LO = PT_PAGE_SIZE_LO;
const AD_MASK_HI = SPTE_TDP_AD_MASK_HI;
const AD_ENABLED_HI = SPTE_TDP_AD_ENABLED_HI;
const AD_DISABLED_HI = SPTE_TDP_AD_DISABLED_HI;
const BASE_ADDR_LO = SPTE_BASE_ADDR_LO;
const BASE_ADDR_HI = SPTE_BASE_ADDR_HI;
const large_pte = is_large_pte;
const last_spte = is_last_spte;
const writable_pte = is_writable_pte;
const ad_enabled = spte_ad_enabled;
const access_track_spte = mark_spte_for_access_track;

// ---------------------------------------------------------------- halves helpers

/** Split a bigint into a fresh {lo, hi}. */
export function split64(v: bigint): Halves {
  const u = BigInt.asUintN(64, v);
  return { lo: Number(u & 0xffffffffn) >>> 0, hi: Number(u >> 32n) >>> 0 };
}

const scratch = new Uint32Array(2);

/** Run an encoder that writes into (out, off) and return its result as a bigint (edges only). */
export function spte64(encode: (out: Uint32Array, off: number) => unknown): bigint {
  encode(scratch, 0);
  return fromHalves(scratch[0]!, scratch[1]!);
}

/** A page-aligned physical address (a plain number below 2^52) as halves, written to out. */
function paLo(pa: number): number {
  return pa >>> 0;
}
function paHi(pa: number): number {
  return Math.floor(pa / 0x100000000) >>> 0;
}

// ---------------------------------------------------------------- predicates

/** @kernel spte.h is_shadow_present_pte */
export function is_shadow_present_pte(lo: number): boolean {
  return (lo & MMU_PRESENT_LO) !== 0;
}

/** @kernel spte.h is_mmio_spte */
export function is_mmio_spte(m: SpteMasks, lo: number, hi: number): boolean {
  const v = m.mmio_value;
  const k = m.mmio_mask;
  if (((lo & k.lo) >>> 0) !== v.lo || ((hi & k.hi) >>> 0) !== v.hi) return false;
  return mmio_sptes_possible(m);
}

/**
 * is_mmio_spte's VM-wide condition (5.x: likely(shadow_mmio_value); 6.x:
 * likely(enable_mmio_caching)): when false no SPTE is an MMIO SPTE, so a loop may test it once.
 */
export function mmio_sptes_possible(m: SpteMasks): boolean {
  return m.traits.mmio_caching_rederived ? m.mmio_enabled : (m.mmio_value.lo | m.mmio_value.hi) !== 0;
}

/** @kernel spte.h is_large_pte */
export function is_large_pte(lo: number): boolean {
  return (lo & PAGE_SIZE_LO) !== 0;
}

/** @kernel spte.h is_last_spte */
export function is_last_spte(lo: number, level: number): boolean {
  return level === PG_LEVEL_4K || large_pte(lo);
}

/** @kernel spte.h is_writable_pte */
export function is_writable_pte(lo: number): boolean {
  return (lo & WRITABLE_LO) !== 0;
}

/** @kernel spte.h spte_ad_enabled */
export function spte_ad_enabled(hi: number): boolean {
  return (hi & AD_MASK_HI) !== AD_DISABLED_HI;
}

/** @kernel spte.h spte_ad_need_write_protect */
export function spte_ad_need_write_protect(hi: number): boolean {
  return (hi & AD_MASK_HI) !== AD_ENABLED_HI;
}

/** @kernel spte.h is_access_track_spte */
export function is_access_track_spte(m: SpteMasks, lo: number, hi: number): boolean {
  const f = m.flat;
  return !ad_enabled(hi) && ((lo & f.acc_track_lo) | (hi & f.acc_track_hi)) === 0;
}

/** @kernel spte.h is_executable_pte */
export function is_executable_pte(m: SpteMasks, lo: number, hi: number): boolean {
  const lx = (lo & (m.x.lo | m.nx.lo)) >>> 0;
  const hx = (hi & (m.x.hi | m.nx.hi)) >>> 0;
  return lx === m.x.lo && hx === m.x.hi;
}

/** @kernel spte.h spte_to_pfn */
export function spte_to_pfn(lo: number, hi: number): number {
  return (hi & BASE_ADDR_HI) * 0x100000 + ((lo & BASE_ADDR_LO) >>> 12);
}

/** @kernel spte.h is_accessed_spte */
export function is_accessed_spte(m: SpteMasks, lo: number, hi: number): boolean {
  const f = m.flat;
  const has_mask = (f.accessed_lo | f.accessed_hi) !== 0;
  if (f.accessed_test_mask || (has_mask && spte_ad_enabled(hi))) return ((lo & f.accessed_lo) | (hi & f.accessed_hi)) !== 0;
  return !is_access_track_spte(m, lo, hi);
}

/** @kernel spte.h is_dirty_spte (5.x only) */
export function is_dirty_spte(m: SpteMasks, lo: number, hi: number): boolean {
  const f = m.flat;
  if ((f.dirty_lo | f.dirty_hi) !== 0 && spte_ad_enabled(hi)) return ((lo & f.dirty_lo) | (hi & f.dirty_hi)) !== 0;
  return is_writable_pte(lo);
}

/** @kernel spte.h is_mmu_writable_spte (6.x; the MMU-writable software bit) */
export function is_mmu_writable_spte(m: SpteMasks, lo: number, hi: number): boolean {
  const f = m.flat;
  return ((lo & f.mmu_writable_lo) | (hi & f.mmu_writable_hi)) !== 0;
}

function isHostWritable(m: SpteMasks, lo: number, hi: number): boolean {
  const f = m.flat;
  return ((lo & f.host_writable_lo) | (hi & f.host_writable_hi)) !== 0;
}

/**
 * @kernel spte.h spte_can_locklessly_be_made_writable
 * host-writable && MMU-writable (5.16), or MMU-writable alone (5.17; 6.x's is_mmu_writable_spte
 * callers), WARNing when MMU-writable lacks host-writable or W lacks MMU-writable where the
 * invariants are checked here (spte trait writable_invariants 'in-lockless-test').
 */
export function spte_can_locklessly_be_made_writable(m: SpteMasks, lo: number, hi: number, warns: WarnLog): boolean {
  const f = m.flat;
  if (f.lockless_writable_needs_host_writable) return isHostWritable(m, lo, hi) && is_mmu_writable_spte(m, lo, hi);
  if (!f.invariants_in_lockless_test) return is_mmu_writable_spte(m, lo, hi);
  if (is_mmu_writable_spte(m, lo, hi)) {
    warns.on(!isHostWritable(m, lo, hi), 'spte_can_locklessly_be_made_writable', 'MMU-writable SPTE is not host-writable');
    return true;
  }
  warns.on(is_writable_pte(lo), 'spte_can_locklessly_be_made_writable', 'writable SPTE is not MMU-writable');
  return false;
}

/** @kernel spte.h check_spte_writable_invariants (6.x) */
export function check_spte_writable_invariants(m: SpteMasks, lo: number, hi: number, warns: WarnLog): void {
  if (is_mmu_writable_spte(m, lo, hi)) warns.on(!isHostWritable(m, lo, hi), 'check_spte_writable_invariants', 'MMU-writable SPTE is not host-writable');
  else warns.on(is_writable_pte(lo), 'check_spte_writable_invariants', 'writable SPTE is not MMU-writable');
}

/** @kernel spte.h is_removed_spte (5.x) / is_frozen_spte (6.x) */
export function is_frozen_spte(m: SpteMasks, lo: number, hi: number): boolean {
  return lo === (REMOVED_SPTE_LO | m.nonpresent.lo) && hi >>> 0 === m.nonpresent.hi;
}
export const is_removed_spte = is_frozen_spte;

/** @kernel spte.h is_ept_ve_possible (6.x) */
export function is_ept_ve_possible(m: SpteMasks, lo: number, hi: number): boolean {
  return (m.present.hi & SUPPRESS_VE_HI) !== 0 && (hi & SUPPRESS_VE_HI) === 0 && (lo & 7) !== 6;
}

/** @kernel spte.c spte_needs_atomic_update (6.x) */
export function spte_needs_atomic_update(m: SpteMasks, lo: number, hi: number): boolean {
  if (!is_writable_pte(lo) && is_mmu_writable_spte(m, lo, hi)) return true;
  if (!spte_ad_enabled(hi)) return true;
  return is_writable_pte(lo) && ((lo & m.dirty.lo) | (hi & m.dirty.hi)) === 0;
}

/** @kernel spte.h get_mmio_spte_generation */
export function get_mmio_spte_generation(lo: number, hi: number): number {
  return ((lo & MMIO_SPTE_GEN_LOW_MASK_LO) >>> 3) | (((hi & MMIO_SPTE_GEN_HIGH_MASK_HI) >>> 20) << 8);
}

/** @kernel mmu.c get_mmio_spte_gfn */
export function get_mmio_spte_gfn(m: SpteMasks, lo: number, hi: number): number {
  const r = m.nonpresent_or_rsvd;
  const l = m.nonpresent_or_rsvd_lower_gfn;
  // (spte >> 5) on halves
  const slo = ((lo >>> SHADOW_NONPRESENT_OR_RSVD_MASK_LEN) | (hi << (32 - SHADOW_NONPRESENT_OR_RSVD_MASK_LEN))) >>> 0;
  const shi = hi >>> SHADOW_NONPRESENT_OR_RSVD_MASK_LEN;
  const glo = ((lo & l.lo) | (slo & r.lo)) >>> 0;
  const ghi = ((hi & l.hi) | (shi & r.hi)) >>> 0;
  return ghi * 0x100000 + (glo >>> 12);
}

/** @kernel mmu.c get_mmio_spte_access */
export function get_mmio_spte_access(m: SpteMasks, lo: number): number {
  return (lo & m.mmio_access_mask) >>> 0;
}

// ---------------------------------------------------------------- encoders

/** Write SHADOW_NONPRESENT_VALUE (the empty SPTE of this kernel). */
export function clear_spte(m: SpteMasks, out: Uint32Array, off: number): void {
  out[off] = m.nonpresent.lo;
  out[off + 1] = m.nonpresent.hi;
}

/** @kernel spte.c make_nonleaf_spte */
export function make_nonleaf_spte(m: SpteMasks, child_pa: number, ad_disabled: boolean, out: Uint32Array, off: number): void {
  const f = m.flat;
  let lo = SPTE_MMU_PRESENT_LO | paLo(child_pa) | f.present_lo | PT_WRITABLE_LO | f.user_lo | f.x_lo | f.me_bits_lo;
  let hi = paHi(child_pa) | f.present_hi | f.user_hi | f.x_hi | f.me_bits_hi;
  if (ad_disabled) hi |= SPTE_TDP_AD_DISABLED_HI;
  else {
    lo |= f.accessed_lo;
    hi |= f.accessed_hi;
  }
  out[off] = lo >>> 0;
  out[off + 1] = hi >>> 0;
}

/**
 * @kernel spte.c make_mmio_spte
 * `generation` is the memslots generation (only its low 19 bits are kept).
 */
export function make_mmio_spte(m: SpteMasks, gfn: number, access: number, generation: number, out: Uint32Array, off: number, warns: WarnLog): void {
  const gen = generation & MMIO_SPTE_GEN_MASK;
  let lo = ((gen << 3) & MMIO_SPTE_GEN_LOW_MASK_LO) >>> 0;
  let hi = (((gen >>> 8) << 20) & MMIO_SPTE_GEN_HIGH_MASK_HI) >>> 0;
  if (!m.traits.mmio_caching_rederived) warns.on((m.mmio_value.lo | m.mmio_value.hi) === 0, 'make_mmio_spte', 'MMIO caching is off (shadow_mmio_value == 0)');
  access &= m.mmio_access_mask;
  lo |= m.mmio_value.lo | access;
  hi |= m.mmio_value.hi;
  // gpa = gfn << PAGE_SHIFT (u64)
  const glo = ((gfn & 0xfffff) * 0x1000) >>> 0;
  const ghi = Math.floor(gfn / 0x100000) >>> 0;
  const r = m.nonpresent_or_rsvd;
  lo |= glo | r.lo;
  hi |= ghi | r.hi;
  // (gpa & rsvd) << 5
  const rlo = (glo & r.lo) >>> 0;
  const rhi = (ghi & r.hi) >>> 0;
  lo |= rlo << SHADOW_NONPRESENT_OR_RSVD_MASK_LEN;
  hi |= (rhi << SHADOW_NONPRESENT_OR_RSVD_MASK_LEN) | (rlo >>> (32 - SHADOW_NONPRESENT_OR_RSVD_MASK_LEN));
  out[off] = lo >>> 0;
  out[off + 1] = hi >>> 0;
}

/** @kernel spte.c mark_spte_for_access_track */
export function mark_spte_for_access_track(m: SpteMasks, lo: number, hi: number, out: Uint32Array, off: number, warns: WarnLog): void {
  const f = m.flat;
  if (spte_ad_enabled(hi)) {
    out[off] = (lo & ~f.accessed_lo) >>> 0;
    out[off + 1] = (hi & ~f.accessed_hi) >>> 0;
    return;
  }
  if (!is_access_track_spte(m, lo, hi)) {
    if (f.invariants_checked_apart) check_spte_writable_invariants(m, lo, hi, warns);
    else {
      warns.on(
        is_writable_pte(lo) && !spte_can_locklessly_be_made_writable(m, lo, hi, warns),
        'mark_spte_for_access_track',
        'writable SPTE is not locklessly dirty-trackable',
      );
    }
    warns.on((hi & (SHADOW_ACC_TRACK_SAVED_BITS_MASK << SAVED_SHIFT_HI)) !== 0, 'mark_spte_for_access_track', 'access-tracking saved bit locations are not zero');
    hi |= (lo & SHADOW_ACC_TRACK_SAVED_BITS_MASK) << SAVED_SHIFT_HI;
    lo &= ~f.acc_track_lo;
    hi &= ~f.acc_track_hi;
    if (f.access_track_clears_accessed) {
      lo &= ~f.accessed_lo;
      hi &= ~f.accessed_hi;
    }
  }
  out[off] = lo >>> 0;
  out[off + 1] = hi >>> 0;
}

/** @kernel mmu.c restore_acc_track_spte (5.x) / spte.h restore_acc_track_spte (6.x) */
export function restore_acc_track_spte(m: SpteMasks, lo: number, hi: number, out: Uint32Array, off: number, warns: WarnLog): void {
  if (m.traits.restore_acc_track_warns) {
    warns.on(spte_ad_enabled(hi), 'restore_acc_track_spte', 'SPTE is A/D-enabled');
    warns.on(!is_access_track_spte(m, lo, hi), 'restore_acc_track_spte', 'SPTE is not access-tracked');
  }
  const saved = (hi >>> SAVED_SHIFT_HI) & SHADOW_ACC_TRACK_SAVED_BITS_MASK;
  lo &= ~m.acc_track.lo;
  hi &= ~m.acc_track.hi;
  hi &= ~(SHADOW_ACC_TRACK_SAVED_BITS_MASK << SAVED_SHIFT_HI);
  lo |= saved;
  out[off] = lo >>> 0;
  out[off + 1] = hi >>> 0;
}

/**
 * What make_spte needs from its surroundings (the vCPU, the VM, the memslot). Reuse one object
 * across calls; it holds no per-SPTE state.
 */
export interface MakeSpteCtx {
  readonly masks: SpteMasks;
  /** The nx_huge_pages mitigation (6.x: and the VM is not exempt). */
  nx_huge_pages: boolean;
  /** CPU dirty logging (PML, cpu_dirty_log_size != 0): nested (L2) pages are A/D write-protect-only. */
  pml: boolean;
  readonly warns: WarnLog;
  /** @kernel spte.c kvm_is_mmio_pfn */
  kvm_is_mmio_pfn(pfn: number): boolean;
  /** The MMU's mmu_try_to_unsync_pages (mmu/unsync.ts): 0, or nonzero (-EPERM) to keep the SPTE read-only. */
  mmu_try_to_unsync_pages(gfn: number, can_unsync: boolean, prefetch: boolean): number;
  /** kvm_slot_dirty_track_enabled for the slot of gfn. */
  kvm_slot_dirty_track_enabled(gfn: number): boolean;
  /** mark_page_dirty_in_slot for gfn (guest/memory.ts mark_page_dirty). */
  mark_page_dirty_in_slot(gfn: number): void;
}

/** The per-call inputs of make_spte (reuse one object on hot paths). */
export interface MakeSpteArgs {
  /** sp->role.level, sp->role.ad_disabled, and whether the page is L2's (5.16: the vCPU's MMU is guest_mmu; later: role.guest_mode). */
  level: number;
  ad_disabled: boolean;
  nested: boolean;
  /** ACC_* bits: 1 exec, 2 write, 4 user. */
  pte_access: number;
  gfn: number;
  pfn: number;
  old_lo: number;
  old_hi: number;
  prefetch: boolean;
  /** can_unsync or synchronizing, as the spte trait make_spte_unsync_arg names it. */
  can_unsync_or_synchronizing: boolean;
  host_writable: boolean;
}

/**
 * make_spte's inputs that are the same for every SPTE of one shadow page and one caller (the
 * page's level and role bits, prefetch, the unsync argument) and what make_spte derives from
 * them alone (ours: storage, not kernel logic). make_spte_page fills it, make_spte_entry uses
 * it; a loop over a page's entries (the sync paths) fills it once instead of once per SPTE.
 */
export interface MakeSptePage {
  level: number;
  prefetch: boolean;
  can_unsync_or_synchronizing: boolean;
  /** The bits make_spte sets before it looks at pte_access: MMU-present, present, the A/D mode, Accessed, the huge-page bit. */
  base_lo: number;
  base_hi: number;
  /** Prefetch access-tracks the SPTE (prefetch && !(synchronized_spte_accessed && synchronizing)). */
  access_track: boolean;
  /** The nx_huge_pages mitigation strips exec (level > 4K and the mitigation is on). */
  strip_exec: boolean;
  /** The non-present WARN can fire (make_spte_warns_nonpresent, and the present mask's high half is the empty value's). */
  warn_nonpresent: boolean;
  /**
   * Some SPTE of the page may land in a dirty-logged memslot (true unless the caller knows no
   * memslot logs dirty pages: vcpu_make_spte_page), so the kvm_slot_dirty_track_enabled test is
   * worth asking; when false its answer is false for every gfn.
   */
  dirty_log_possible: boolean;
}

export function newMakeSptePage(): MakeSptePage {
  return { level: 1, prefetch: false, can_unsync_or_synchronizing: false, base_lo: 0, base_hi: 0, access_track: false, strip_exec: false, warn_nonpresent: false, dirty_log_possible: true };
}

/** make_spte's per-page part (see MakeSptePage): no side effects, no WARN. */
export function make_spte_page(ctx: MakeSpteCtx, level: number, ad_disabled: boolean, nested: boolean, prefetch: boolean, can_unsync_or_synchronizing: boolean, p: MakeSptePage): MakeSptePage {
  const f = ctx.masks.flat;
  const synchronizing = f.unsync_arg_is_synchronizing ? can_unsync_or_synchronizing : !can_unsync_or_synchronizing;
  let lo = SPTE_MMU_PRESENT_LO;
  let hi = 0;
  if (ad_disabled) hi |= SPTE_TDP_AD_DISABLED_HI;
  else if (ctx.pml && nested) hi |= SPTE_TDP_AD_WRPROT_ONLY_HI;
  lo |= f.present_lo;
  hi |= f.present_hi;
  const synced_accessed = f.synchronized_spte_accessed && synchronizing;
  // shadow_accessed_mask (5.x: spte_shadow_accessed_mask, nothing for an A/D-disabled SPTE).
  if ((!prefetch || synced_accessed) && (f.accessed_bit_without_hw_ad || spte_ad_enabled(hi))) {
    lo |= f.accessed_lo;
    hi |= f.accessed_hi;
  }
  if (level > PG_LEVEL_4K) lo |= PT_PAGE_SIZE_LO;
  p.level = level;
  p.prefetch = prefetch;
  p.can_unsync_or_synchronizing = can_unsync_or_synchronizing;
  p.base_lo = lo;
  p.base_hi = hi;
  p.access_track = prefetch && !synced_accessed;
  p.strip_exec = level > PG_LEVEL_4K && ctx.nx_huge_pages;
  p.warn_nonpresent = f.make_spte_warns_nonpresent && f.present_hi === f.nonpresent_hi;
  p.dirty_log_possible = true;
  return p;
}

/**
 * make_spte's per-SPTE part on a filled MakeSptePage: writes the new leaf SPTE into (out, off),
 * returns wrprot. The bits make_spte_page set are all ORed before anything here clears a bit,
 * so starting from them is the same value. The flags (fields, and host_writable) are tested as
 * `=== true`: V8 knows no type for a field's value, and a plain test of one is a full ToBoolean.
 */
export function make_spte_entry(ctx: MakeSpteCtx, p: MakeSptePage, pte_access: number, gfn: number, pfn: number, old_lo: number, host_writable: boolean, out: Uint32Array, off: number): boolean {
  const f = ctx.masks.flat;
  let wrprot = false;
  let lo = p.base_lo;
  let hi = p.base_hi;

  // WARN when the SPTE would equal SHADOW_NONPRESENT_VALUE (EPT exec-only with no access); the
  // high-half test is the page's (make_spte_page).
  if (p.warn_nonpresent === true) warn_nonpresent_spte(ctx, pte_access);

  if (p.strip_exec === true) pte_access &= ~ACC_EXEC_MASK;

  // x or nx by ACC_EXEC, user by ACC_USER.
  lo |= f.access_lo[pte_access & 7]!;
  hi |= f.access_hi[pte_access & 7]!;
  // The memory type (EPT) and the memory-encryption bits, both by kvm_is_mmio_pfn.
  if (f.mmio_dependent === true) {
    mmio_dependent_bits(ctx, pfn);
    lo |= entry_bits[0]!;
    hi |= entry_bits[1]!;
  }

  if (host_writable === true) {
    lo |= f.host_writable_lo;
    hi |= f.host_writable_hi;
  } else {
    pte_access &= ~ACC_WRITE_MASK;
  }

  lo |= (pfn & 0xfffff) << 12;
  hi |= pfn < 0x100000 ? 0 : Math.floor(pfn / 0x100000);

  if (pte_access & ACC_WRITE_MASK) {
    wrprot = f.writable_spte_always_dirty === true ? writable_spte(ctx, p, gfn, old_lo, lo, hi) : writable_spte_5x(ctx, p, gfn, old_lo, lo, hi);
    lo = entry_bits[0]!;
    hi = entry_bits[1]!;
  }

  out[off] = lo;
  out[off + 1] = hi;
  if (p.access_track === true || p.dirty_log_possible === true) access_track_and_dirty_log(ctx, p, gfn, out, off);
  return wrprot;
}

/** Where the helpers below hand back an SPTE's (lo, hi). */
const entry_bits = new Uint32Array(2);

/*
 * make_spte_entry's rarer parts, apart so that it stays under V8's 460-byte limit for a function
 * it may inline (it was 899 bytes: kvm_sync_spte's rebuild and mmu_set_spte called it).
 */

/** make_spte's WARN_ON_ONCE(spte == SHADOW_NONPRESENT_VALUE), on the low halves (make_spte_page tested the high ones). */
function warn_nonpresent_spte(ctx: MakeSpteCtx, pte_access: number): void {
  const f = ctx.masks.flat;
  ctx.warns.on((pte_access | f.present_lo) === f.nonpresent_lo, 'make_spte', 'SPTE would be SHADOW_NONPRESENT_VALUE');
}

/**
 * make_spte's bits that depend on kvm_is_mmio_pfn, into entry_bits (lo, hi): the memory type
 * (kvm_x86_get_mt_mask) and shadow_me_value for a RAM pfn. kvm_is_mmio_pfn is asked once (6.x
 * caches it the same way).
 */
function mmio_dependent_bits(ctx: MakeSpteCtx, pfn: number): void {
  const f = ctx.masks.flat;
  const isMmio = ctx.kvm_is_mmio_pfn(pfn);
  let lo = 0;
  let hi = 0;
  if (f.has_memtype === true) lo |= isMmio ? f.memtype_mmio : f.memtype_ram;
  if (!isMmio) {
    lo |= f.me_bits_lo;
    hi |= f.me_bits_hi;
  }
  entry_bits[0] = lo;
  entry_bits[1] = hi;
}

/**
 * 6.x make_spte for a writable access: writable, MMU-writable and dirty together, unless a
 * newly writable leaf's gfn may not go unsync (mmu_try_to_unsync_pages), which write-protects
 * it. The new (lo, hi) go to entry_bits; returns wrprot.
 */
function writable_spte(ctx: MakeSpteCtx, p: MakeSptePage, gfn: number, old_lo: number, lo: number, hi: number): boolean {
  const f = ctx.masks.flat;
  let wrprot = false;
  if ((!last_spte(old_lo, p.level) || !writable_pte(old_lo)) && ctx.mmu_try_to_unsync_pages(gfn, p.can_unsync_or_synchronizing, p.prefetch) !== 0) {
    wrprot = true;
  } else {
    lo |= WRITABLE_LO | f.mmu_writable_lo | f.dirty_lo;
    hi |= f.mmu_writable_hi | f.dirty_hi;
  }
  entry_bits[0] = lo;
  entry_bits[1] = hi;
  return wrprot;
}

/**
 * 5.x make_spte for a writable access: PT_WRITABLE and the MMU-writable bit, taken back when
 * mmu_try_to_unsync_pages refuses, and the dirty bit unless the old SPTE was already writable.
 * The new (lo, hi) go to entry_bits; returns wrprot.
 */
function writable_spte_5x(ctx: MakeSpteCtx, p: MakeSptePage, gfn: number, old_lo: number, lo: number, hi: number): boolean {
  const f = ctx.masks.flat;
  let wrprot = false;
  let dirty = true;
  lo |= WRITABLE_LO | f.mmu_writable_lo;
  hi |= f.mmu_writable_hi;
  if (writable_pte(old_lo)) {
    dirty = false;
  } else if (ctx.mmu_try_to_unsync_pages(gfn, p.can_unsync_or_synchronizing, p.prefetch) !== 0) {
    wrprot = true;
    dirty = false;
    lo &= ~(WRITABLE_LO | f.mmu_writable_lo);
    hi &= ~f.mmu_writable_hi;
  }
  if (dirty && ad_enabled(hi)) {
    lo |= f.dirty_lo;
    hi |= f.dirty_hi;
  }
  entry_bits[0] = lo;
  entry_bits[1] = hi;
  return wrprot;
}

/**
 * The end of make_spte on the SPTE already in (out, off): a prefetched SPTE marked for access
 * tracking, then mark_page_dirty_in_slot for a writable SPTE in a dirty-logged slot (with the
 * huge-page WARN).
 */
function access_track_and_dirty_log(ctx: MakeSpteCtx, p: MakeSptePage, gfn: number, out: Uint32Array, off: number): void {
  if (p.access_track === true) access_track_spte(ctx.masks, out[off]!, out[off + 1]!, out, off, ctx.warns);
  // The reserved-bit WARN (shadow_zero_check) is not modelled: its masks come from the MMU's
  // reserved-bit tables, which the golden vectors leave all-zero too.
  if (p.dirty_log_possible === true && writable_pte(out[off]!) && ctx.kvm_slot_dirty_track_enabled(gfn)) {
    ctx.warns.on(p.level > PG_LEVEL_4K, 'make_spte', 'dirty-logged huge page made writable');
    ctx.mark_page_dirty_in_slot(gfn);
  }
}

const onePage = newMakeSptePage();

/**
 * @kernel spte.c make_spte
 * Writes the new leaf SPTE into (out, off); returns wrprot (the SPTE was kept read-only
 * because its gfn is shadowed and could not be unsynced). The per-page part and the per-SPTE
 * part are make_spte_page and make_spte_entry.
 */
export function make_spte(ctx: MakeSpteCtx, a: MakeSpteArgs, out: Uint32Array, off: number): boolean {
  make_spte_page(ctx, a.level, a.ad_disabled, a.nested, a.prefetch, a.can_unsync_or_synchronizing, onePage);
  return make_spte_entry(ctx, onePage, a.pte_access, a.gfn, a.pfn, a.old_lo, a.host_writable, out, off);
}
