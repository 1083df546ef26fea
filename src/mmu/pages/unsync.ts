/**
 * Unsync bookkeeping (mmu.c): kvm_unsync_page, mmu_try_to_unsync_pages, the unsync_child_bitmap
 * walk (mmu_unsync_walk, for_each_sp, mmu_pages_clear_parents), kvm_unlink_unsync_page.
 */
import { KVM_PAGE_ARRAY_NR, SPTE_ENT_PER_PAGE } from './constants.js';
import type { Kvm } from './kvm.js';
import { kvm_mmu_mark_parents_unsync } from './link.js';
import { is_last_spte, is_shadow_present_pte } from '../spte/spte.js';
import type { KvmMmuPage } from './page.js';
import { gfnHash, gfnHi, NIL, R_NEXT, R_ROLE, REC_WORDS, recordGfnIs, recordObsolete } from './page_hash.js';
import { pageFields } from './trace.js';
import { KVMMMU } from '../../trace/table.js';

/**
 * The page hash's helpers and record layout under module-private names for
 * mmu_try_to_unsync_pages, which make_spte calls for every SPTE that gains W: V8 folds a
 * module-private const into optimized code, but reads an imported binding through its module
 * cell, with a hole check, at every use.
 */
const gfn_hash = gfnHash;
const gfn_hi = gfnHi;
const NIL_SLOT = NIL;
const NEXT = R_NEXT;
const WORDS = REC_WORDS;

const INVALID_INDEX = -1;

/** @kernel mmu.c kvm_unsync_page */
export function kvm_unsync_page(kvm: Kvm, sp: KvmMmuPage): void {
  kvm.emit({ event: KVMMMU.kvm_mmu_unsync_page, ...pageFields(sp) });
  kvm.stat.mmu_unsync++;
  sp.unsync = true;
  kvm_mmu_mark_parents_unsync(kvm, sp);
}

/** @kernel mmu.c kvm_unlink_unsync_page */
export function kvm_unlink_unsync_page(kvm: Kvm, sp: KvmMmuPage): void {
  if (!sp.unsync) kvm.bug(`kvm_unlink_unsync_page: sp ${sp.id} is not unsync`);
  kvm.emit({ event: KVMMMU.kvm_mmu_sync_page, ...pageFields(sp) });
  sp.unsync = false;
  kvm.stat.mmu_unsync--;
}

/**
 * The page in hash slot s when it is a valid page with guest PTEs at gfn (lo, hi: its halves),
 * else null: the filter of for_each_gfn_valid_sp_with_gptes (5.x for_each_gfn_indirect_valid_sp)
 * on one chain node, tested on the record first and confirmed on the page's own gfn.
 */
function validSpWithGptesAt(kvm: Kvm, s: number, gfn: number, lo: number, hi: number): KvmMmuPage | null {
  const hash = kvm.mmu_page_hash;
  const rec = hash.rec;
  const o = s * REC_WORDS;
  if (!recordGfnIs(rec, o, lo, hi) || recordObsolete(rec, o, kvm.rb.invalid, kvm.mmu_valid_gen)) return null;
  if ((rec[o + R_ROLE]! & (kvm.rb.direct | kvm.rb.passthrough)) !== 0) return null;
  const sp = hash.pages[s]!;
  return sp.gfn === gfn ? sp : null;
}

/** Valid pages with guest PTEs at gfn, in bucket order, from the page hash's records. */
export function gfnValidPagesWithGptes(kvm: Kvm, gfn: number): KvmMmuPage[] {
  const out: KvmMmuPage[] = [];
  const hash = kvm.mmu_page_hash;
  const lo = gfn | 0;
  const hi = gfnHi(gfn);
  for (let s = hash.heads[gfnHash(gfn)]!; s !== NIL; s = hash.rec[s * REC_WORDS + R_NEXT]!) {
    const sp = validSpWithGptesAt(kvm, s, gfn, lo, hi);
    if (sp !== null) out.push(sp);
  }
  return out;
}

/**
 * @kernel mmu.c mmu_try_to_unsync_pages
 * 0: the leaf SPTE may be writable; -EPERM / -EEXIST: make it read-only.
 *
 * The chain is walked here with the filter gfnValidPagesWithGptes uses, not through that
 * function's array: make_spte calls this for every SPTE that gains W, and the array was an
 * allocation per call.
 */
export function mmu_try_to_unsync_pages(kvm: Kvm, gfn: number, can_unsync: boolean, prefetch: boolean): number {
  if ((kvm.write_track.get(gfn) ?? 0) > 0) return -1; // -EPERM
  const hash = kvm.mmu_page_hash;
  const lo = gfn | 0;
  const hi = gfn_hi(gfn);
  for (let s = hash.heads[gfn_hash(gfn)]!; s !== NIL_SLOT; s = hash.rec[s * WORDS + NEXT]!) {
    const sp = validSpWithGptesAt(kvm, s, gfn, lo, hi);
    if (sp === null) continue;
    if (!can_unsync) return -1;
    if (sp.unsync) continue;
    if (prefetch) return -17; // -EEXIST
    if (kvm.level(sp) !== 1) kvm.bug(`mmu_try_to_unsync_pages: sp ${sp.id} at level ${kvm.level(sp)} would go unsync`);
    kvm_unsync_page(kvm, sp);
  }
  return 0;
}

/** @kernel mmu.c clear_unsync_child_bit */
export function clear_unsync_child_bit(kvm: Kvm, sp: KvmMmuPage, idx: number): void {
  if (--sp.unsync_children < 0) kvm.bug(`clear_unsync_child_bit: sp ${sp.id} unsync_children < 0`);
  sp.clearUnsyncChild(idx);
}

export interface PageVecEntry {
  readonly sp: KvmMmuPage;
  readonly idx: number;
}

/** @kernel mmu.c mmu_pages_add: true when the batch is full. */
function mmu_pages_add(pvec: PageVecEntry[], sp: KvmMmuPage, idx: number): boolean {
  if (sp.unsync) for (const e of pvec) if (e.sp === sp) return false;
  pvec.push({ sp, idx });
  return pvec.length === KVM_PAGE_ARRAY_NR;
}

/** @kernel mmu.c __mmu_unsync_walk: unsync leaves found, or -ENOSPC when the batch filled. */
function __mmu_unsync_walk(kvm: Kvm, sp: KvmMmuPage, pvec: PageVecEntry[]): number {
  let nr_unsync_leaf = 0;
  for (let i = 0; i < SPTE_ENT_PER_PAGE; i++) {
    if (!sp.testUnsyncChild(i)) continue;
    const lo = sp.spt[2 * i]!;
    const hi = sp.spt[2 * i + 1]!;
    if (!is_shadow_present_pte(lo) || is_last_spte(lo, kvm.level(sp))) {
      clear_unsync_child_bit(kvm, sp, i);
      continue;
    }
    const child = kvm.spte_to_child(lo, hi);
    if (!child) kvm.bug(`__mmu_unsync_walk: SPTE ${i} of sp ${sp.id} points at no shadow page`);
    if (child.unsync_children) {
      if (mmu_pages_add(pvec, child, i)) return -28;
      const ret = __mmu_unsync_walk(kvm, child, pvec);
      if (!ret) {
        clear_unsync_child_bit(kvm, sp, i);
        continue;
      } else if (ret > 0) nr_unsync_leaf += ret;
      else return ret;
    } else if (child.unsync) {
      nr_unsync_leaf++;
      if (mmu_pages_add(pvec, child, i)) return -28;
    } else {
      clear_unsync_child_bit(kvm, sp, i);
    }
  }
  return nr_unsync_leaf;
}

/** @kernel mmu.c mmu_unsync_walk: fills pvec (parent first); 0 when nothing is unsync below. */
export function mmu_unsync_walk(kvm: Kvm, sp: KvmMmuPage, pvec: PageVecEntry[]): number {
  pvec.length = 0;
  if (!sp.unsync_children) return 0;
  mmu_pages_add(pvec, sp, INVALID_INDEX);
  return __mmu_unsync_walk(kvm, sp, pvec);
}

/** struct mmu_page_path: the parents of the current level-1 page and their SPTE indexes. */
export interface MmuPagePath {
  parent: (KvmMmuPage | null)[];
  idx: number[];
}

function mmu_pages_next(kvm: Kvm, pvec: PageVecEntry[], parents: MmuPagePath, i: number): number {
  let n = i + 1;
  for (; n < pvec.length; n++) {
    const sp = pvec[n]!.sp;
    const level = kvm.level(sp);
    parents.idx[level - 1] = pvec[n]!.idx;
    if (level === 1) break;
    parents.parent[level - 2] = sp;
  }
  return n;
}

function mmu_pages_first(kvm: Kvm, pvec: PageVecEntry[], parents: MmuPagePath): number {
  if (pvec.length === 0) return 0;
  const sp = pvec[0]!.sp;
  const level = kvm.level(sp);
  parents.parent[level - 2] = sp;
  // Also set up a sentinel: the walk stops clearing at the parent of the walk's root.
  parents.parent[level - 1] = null;
  return mmu_pages_next(kvm, pvec, parents, 0);
}

/** for_each_sp: the unsync level-1 pages of a batch, each with its path. */
export function* for_each_sp(kvm: Kvm, pvec: PageVecEntry[]): IterableIterator<{ sp: KvmMmuPage; parents: MmuPagePath }> {
  const parents: MmuPagePath = { parent: new Array(5).fill(null), idx: new Array(5).fill(0) };
  for (let i = mmu_pages_first(kvm, pvec, parents); i < pvec.length; i = mmu_pages_next(kvm, pvec, parents, i)) {
    yield { sp: pvec[i]!.sp, parents };
  }
}

/** @kernel mmu.c mmu_pages_clear_parents */
export function mmu_pages_clear_parents(kvm: Kvm, parents: MmuPagePath): void {
  let level = 0;
  let sp: KvmMmuPage | null;
  do {
    const idx = parents.idx[level]!;
    sp = parents.parent[level] ?? null;
    if (!sp) return;
    clear_unsync_child_bit(kvm, sp, idx);
    level++;
  } while (!sp.unsync_children);
}
