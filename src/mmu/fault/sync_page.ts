/**
 * Syncing an unsync shadow page from the guest's PTEs: paging_tmpl.h FNAME(sync_page) (5.16:
 * rebuild every SPTE with prefetch semantics) and, in 6.x, mmu.c __kvm_sync_page /
 * kvm_sync_spte with FNAME(sync_spte) (leave an SPTE alone when its recorded access did not
 * change). The role check and its ignore mask come from src/roles (syncRoleIgnoreMask).
 * Return: < 0 failed (the caller zaps), 0 synced with no flush needed, > 0 flush needed.
 */
import { SPTE_ENT_PER_PAGE } from '../pages/constants.js';
import { gpte_access_in, gpte_dirty_mask, gpte_present_mask } from './gpte.js';
import { ShadowMmuError } from '../../bits/errors.js';
import { mmu_spte_clear_no_track } from '../pages/link.js';
import type { KvmMmuPage } from '../pages/page.js';
import {
  drop_spte,
  kvm_mmu_page_get_access,
  kvm_mmu_page_get_gfn,
  kvm_mmu_page_set_access,
  mmu_spte_update_at,
  shadowed_translation_base,
} from '../pages/rmap.js';
import { mark_mmio_spte, vcpu_make_spte_page } from './set_spte.js';
import { get_mmio_spte_gfn, is_mmio_spte, make_spte_entry, mmio_sptes_possible, newMakeSptePage, SPTE_MMU_PRESENT_LO, spte_to_pfn, type MakeSpteCtx } from '../spte/spte.js';
import type { Vcpu } from '../pages/vcpu.js';

/** is_shadow_present_pte's bit, module-private: V8 folds it, but reads an imported binding through its cell. */
const MMU_PRESENT_LO = SPTE_MMU_PRESENT_LO;

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
  return !(bad && kvm.warns.on(true, 'kvm_sync_page_check', `sp ${sp.id} cannot be synced under the current root role`));
}

/** @kernel mmu.c sync_mmio_spte: true when entry i's SPTE was MMIO (dropped or rewritten). */
function sync_mmio_spte(c: SyncCursor, i: number, gfn: number, access: number): boolean {
  const vcpu = c.vcpu;
  const kvm = vcpu.kvm;
  const sptep = c.sp.pfn * SPTE_ENT_PER_PAGE + i;
  const off = c.sp.spt_base + 2 * i;
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
 * What syncing entries of one shadow page reads again and again, taken once per page instead of
 * once per entry (ours: storage, not kernel logic). The gPTEs are copied in one read of the
 * guest table: the kernel reads each with kvm_vcpu_read_guest_atomic, and nothing in a sync
 * writes guest memory, so the values are the same; a table outside every memslot makes every
 * entry's read fail, as the kernel's per-entry read would.
 */
export class SyncCursor {
  vcpu!: Vcpu;
  sp!: KvmMmuPage;
  /** The gPTEs as (lo, hi) pairs (hi 0 for 4-byte formats), from entry `first` on. */
  readonly gpte = new Uint32Array(SPTE_ENT_PER_PAGE * 2);
  /** The guest table could be read (it lies in a memslot). */
  readable = false;
  /** The first entry copied into gpte (sync_cursor loads `count` entries from it, no others). */
  first = 0;
  /** make_spte's per-page part for the rebuilds (vcpu_make_spte_page, once per kvm_sync_spte). */
  readonly spte_page = newMakeSptePage();
}

const cursor = new SyncCursor();

/** The cursor for entries [first, first + count) of sp: the gPTEs read. */
export function sync_cursor(vcpu: Vcpu, sp: KvmMmuPage, first: number, count: number): SyncCursor {
  const c = cursor;
  const w = vcpu.guest!.walk;
  c.vcpu = vcpu;
  c.sp = sp;
  c.first = first;
  c.readable = vcpu.guest!.mem.readEntries(get_level1_sp_gpa(vcpu, sp) + first * w.pte_size, w.pte_size, count, c.gpte);
  return c;
}

/**
 * @kernel mmu.c kvm_sync_spte
 * Entries [first, end) of the cursor's page, each as kvm_sync_spte does it: an entry holding the
 * empty value (5.16: 0) is skipped, any other goes through FNAME(sync_spte) (below). Returns the
 * entries' results ORed (-1 read failure, 1 flush, 0 nothing to do); with `stop_on_failure`
 * (5.16 FNAME(sync_page)) -1 at the first failed read.
 *
 * FNAME(sync_spte)'s tests are written once per loop on values taken before it (the format's
 * masks, the traits, where the page's arrays are): a JIT does not hoist a load out of a loop, so
 * reading them through the profile objects per entry cost about 4x the whole test. The helpers
 * called are the *_in forms of the gpte.ts functions, which take those values as arguments.
 * Dropping, rebuilding and MMIO SPTEs are out of line (sync_spte_drop, sync_spte_rebuild,
 * sync_mmio_spte).
 */
export function kvm_sync_spte(c: SyncCursor, first: number, end: number, stop_on_failure: boolean): number {
  const vcpu = c.vcpu;
  const sp = c.sp;
  const kvm = vcpu.kvm;
  const m = kvm.masks;
  const w = vcpu.guest!.walk;
  const a = kvm.arena;
  // Every number the loop uses is made an int32 here (| 0): a value read from an object field
  // has no known representation, so each use in the loop re-checked it (Smi tag, or a double
  // compare for 6.x's empty value 0x80000000:0). Arena offsets fit (at most 2^31 halves).
  const spt_base = sp.spt_base | 0;
  const np_lo = m.nonpresent.lo | 0;
  const np_hi = m.nonpresent.hi | 0;
  const g = c.gpte;
  const g_first = c.first | 0;
  // FNAME(prefetch_invalid_gpte): is_present_gpte, the Accessed bit and is_rsvd_bits_set at
  // level 1, whose masks are entry [(gpte >> 7) & 1][0] of the format's table.
  const ept = w.kind === 'ept';
  const pte8 = w.pte_size === 8;
  const present_mask = gpte_present_mask(w) | 0;
  const accessed_mask = w.have_ad ? w.accessed_mask | 0 : 0;
  const rsvd = w.rsvd;
  const rsvd_lo_0 = rsvd.lo[0]! | 0;
  const rsvd_hi_0 = rsvd.hi[0]! | 0;
  const rsvd_lo_1 = rsvd.lo[5]! | 0;
  const rsvd_hi_1 = rsvd.hi[5]! | 0;
  const bad_mt_xwr_lo = rsvd.bad_mt_xwr_lo | 0;
  const bad_mt_xwr_hi = rsvd.bad_mt_xwr_hi | 0;
  // FNAME(protect_clean_gpte) and the role's access bits.
  const dirty_mask = gpte_dirty_mask(w) | 0;
  const role_access = ((sp.role & kvm.rb.accessMask) >>> kvm.rb.accessShift) | 0;
  // The flags tested per entry made booleans here (!!): the test of a field's value, of no known
  // type, is the full ToBoolean at every entry.
  // sync_mmio_spte can only find an MMIO SPTE when the VM makes them.
  const mmio = !!mmio_sptes_possible(m);
  // The "new SPTE would be SHADOW_NONPRESENT_VALUE" test as one compare of (access | present)
  // with the empty value's low half, when the trait holds and the high halves agree.
  const pr_lo = m.present.lo | 0;
  const drops_np = !!kvm.traits.sync_spte_drops_nonpresent_access && (m.present.hi | 0) === np_hi;
  const skips_unchanged = !!kvm.traits.sync_spte_skips_unchanged_access;
  // kvm_mmu_page_get_gfn / get_access decoded in place when both read shadowed_translation.
  const tr_base = shadowed_translation_base(kvm, sp) | 0;
  const tr_own = tr_base >= 0;
  const readable = !!c.readable;
  // FNAME(sync_spte)'s rebuild, written in the loop for the same reasons: the host-writable bit
  // of the old SPTE, where the new access is recorded, and the callees bound to locals.
  const f = m.flat;
  const hw_lo = f.host_writable_lo | 0;
  const hw_hi = f.host_writable_hi | 0;
  const access_in_tr = !!kvm.traits.rmap_access_in_shadowed_translation;
  const page = c.spte_page;
  const out = newSpte;
  const entry = make_spte_entry;
  const to_pfn = spte_to_pfn;
  const update_at = mmu_spte_update_at;
  // mmu_spte_update's 6.x flush test (spte_update_flush 'lost-mmu-writable': the old SPTE was
  // present and MMU-writable, the new one is not) on masks taken once; 5.x's goes through
  // mmu_spte_update_at.
  const lost_mmu_writable = kvm.traits.spte_update_flush === 'lost-mmu-writable';
  const mw_lo = f.mmu_writable_lo | 0;
  const mw_hi = f.mmu_writable_hi | 0;
  // make_spte's context and per-page part, taken at the first rebuild: prefetch semantics,
  // synchronizing, the same for every rebuild of the page.
  let ctx: MakeSpteCtx | null = null;
  // The work counters are kept in locals and added once (a store per entry measured ~10 %).
  let reads = 0;
  let rebuilt = 0;
  let flush = 0;
  const to = end | 0;
  // The per-entry tests are written out here rather than called: the gpte.ts helpers are
  // imports, and V8 reads an imported binding through its module cell, with a TDZ check and a
  // check of the callee, at every call in optimized code.
  for (let i = first | 0; i < to; i++) {
    const off = spt_base + 2 * i;
    if ((a[off]! | 0) === np_lo && (a[off + 1]! | 0) === np_hi) continue;
    // FNAME(sync_spte) from here.
    reads++;
    if (!readable) {
      if (stop_on_failure) {
        syncWork.sptes_visited += i + 1 - first;
        syncWork.gptes_read += reads;
        syncWork.sptes_rebuilt += rebuilt;
        return -1;
      }
      flush |= -1;
      continue;
    }
    const k = 2 * (i - g_first);
    const glo = g[k]! | 0;
    const ghi = g[k + 1]! | 0;
    // FNAME(prefetch_invalid_gpte)
    const ps = (glo & 0x80) !== 0;
    const xwr = glo & 63;
    if (
      (glo & present_mask) === 0 ||
      (glo & accessed_mask) !== accessed_mask ||
      ((glo & (ps ? rsvd_lo_1 : rsvd_lo_0)) | (ghi & (ps ? rsvd_hi_1 : rsvd_hi_0))) !== 0 ||
      (ept && ((xwr < 32 ? bad_mt_xwr_lo >>> xwr : bad_mt_xwr_hi >>> (xwr - 32)) & 1) !== 0)
    ) {
      flush |= sync_spte_drop(c, i);
      continue;
    }
    // gpte_to_gfn, FNAME(gpte_access) (EPT: XWR through its table; else P for exec, XD clearing
    // it), FNAME(protect_clean_gpte).
    const gfn = pte8 ? (ghi & 0xfffff) * 0x100000 + (glo >>> 12) : glo >>> 12;
    let access = role_access & (ept ? gpte_access_in(true, pte8, glo, ghi) : (glo & 7) ^ (pte8 ? ghi >>> 31 : 0));
    if (dirty_mask !== 0 && (glo & dirty_mask) === 0) access &= ~2;
    if (mmio && sync_mmio_spte(c, i, gfn, access)) continue;
    if (drops_np && (access | pr_lo) === np_lo) {
      flush |= sync_spte_drop(c, i);
      continue;
    }
    // shadowed_translation: gfn << 12 | access (translation_gfn, translation_access).
    const tr = tr_base + 2 * i;
    const tlo = tr_own ? a[tr]! | 0 : 0;
    if (gfn !== (tr_own ? a[tr + 1]! * 0x100000 + (tlo >>> 12) : kvm_mmu_page_get_gfn(kvm, sp, i))) {
      flush |= sync_spte_drop(c, i);
      continue;
    }
    if (skips_unchanged && (tr_own ? tlo & 7 : kvm_mmu_page_get_access(kvm, sp, i)) === access) continue;
    // The rebuild: the new access recorded (kvm_mmu_page_set_access; with shadowed_translation
    // the entry's access bits rewritten in place, as translation_with_access: the gfn it would
    // read back and store again is unchanged), then the SPTE made again.
    rebuilt++;
    if (tr_own) a[tr] = ((tlo & 0xfffff000) | (access & 7)) >>> 0;
    else if (access_in_tr) kvm_mmu_page_set_access(kvm, sp, i, access);
    const olo = a[off]!;
    const ohi = a[off + 1]!;
    ctx ??= vcpu_make_spte_page(vcpu, sp, true, true, page);
    entry(ctx, page, access, gfn, to_pfn(olo, ohi), olo, ((olo & hw_lo) | (ohi & hw_hi)) !== 0, out, 0);
    const nlo = out[0]!;
    const nhi = out[1]!;
    if (!lost_mmu_writable) {
      if (update_at(kvm, off, nlo, nhi)) flush |= 1;
      continue;
    }
    // mmu_spte_update_at: the old value read again (make_spte ran in between), then replaced.
    const plo = a[off]! | 0;
    const phi = a[off + 1]! | 0;
    a[off] = nlo;
    a[off + 1] = nhi;
    if ((plo & MMU_PRESENT_LO) !== 0 && ((plo & mw_lo) | (phi & mw_hi)) !== 0 && ((nlo & mw_lo) | (nhi & mw_hi)) === 0) flush |= 1;
  }
  syncWork.sptes_visited += end - first;
  syncWork.gptes_read += reads;
  syncWork.sptes_rebuilt += rebuilt;
  if (kvm.arena !== a) throw new ShadowMmuError('EAUDIT', `kvm_sync_spte: the host arena moved during a sync of sp ${sp.id}`);
  return flush;
}

/** @kernel paging_tmpl.h FNAME(sync_spte) (the drop: the SPTE goes, a flush is needed; the tests are in kvm_sync_spte) */
function sync_spte_drop(c: SyncCursor, i: number): number {
  drop_spte(c.vcpu.kvm, c.sp.pfn * SPTE_ENT_PER_PAGE + i);
  return 1;
}

/**
 * @kernel mmu.c __kvm_sync_page
 * With sync_page_continues_after_read_failure (6.x) every entry's result is ORed (a failed read
 * leaves a negative value but the loop goes on); otherwise (5.16 FNAME(sync_page)) -1 at the
 * first failed read.
 */
export function __kvm_sync_page(vcpu: Vcpu, sp: KvmMmuPage): number {
  if (!kvm_sync_page_check(vcpu, sp)) return -1;
  const c = sync_cursor(vcpu, sp, 0, SPTE_ENT_PER_PAGE);
  return kvm_sync_spte(c, 0, SPTE_ENT_PER_PAGE, !vcpu.kvm.traits.sync_page_continues_after_read_failure);
}
