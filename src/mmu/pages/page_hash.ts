/**
 * mmu_page_hash (kvm->arch.mmu_page_hash): 4096 hlist buckets of shadow pages, newest first,
 * kept as compact records instead of links through the page objects. Each hashed page holds a
 * slot; the slot's record is what a hash-chain probe reads (next link, gfn, role, mmu_valid_gen,
 * tdp_mmu_page), 16 bytes in one Int32Array, so walking a chain touches no page object until a
 * probe matches. `pages[slot]` gives the object back. The records are copies: the page object
 * stays what cold code reads, and every write of a copied field after hashAdd goes through here
 * (setRole; gfn, mmu_valid_gen and tdp_mmu_page never change once a page is hashed).
 *
 * Ours, not a kernel structure: the chains have the kernel's order exactly (hlist_add_head,
 * hlist_del), only the storage differs. Freed slots are handed out again first; the records
 * double when full.
 */
import { ShadowMmuError } from '../../bits/errors.js';
import { doubled } from '../../bits/typed.js';
import { hash_64_halves, KVM_MMU_HASH_SHIFT, KVM_NUM_MMU_PAGES } from '../../roles/hash.js';
import type { KvmMmuPage } from './page.js';

/** No slot (an empty bucket, the end of a chain, a page not hashed). */
export const NIL = -1;

/** Int32 words per record, and each word's offset in it. */
export const REC_WORDS = 4;
/** The next slot in the bucket (hlist next), or NIL; on a free slot, the next free one. */
export const R_NEXT = 0;
/** gfn bits 31:0. */
export const R_GFN_LO = 1;
/** role.word (as int32: compare with `role | 0`). */
export const R_ROLE = 2;
/** gfn bits 51:32 << META_GFN_HI_SHIFT | tdp_mmu_page << 8 | mmu_valid_gen. */
export const R_META = 3;

export const META_GEN_MASK = 0xff;
export const META_TDP = 0x100;
export const META_GFN_HI_SHIFT = 9;

const TWO32 = 0x100000000;
/** hash_64_halves and its shift for gfnHash, module-private: V8 folds these, but reads an imported binding through its cell at every use. */
const hash_64 = hash_64_halves;
const HASH_SHIFT = KVM_MMU_HASH_SHIFT;

/** The gfn split into halves for the hash (gfns are < 2^52, exact in a double). */
export function gfnHash(gfn: number): number {
  // Below 2^32 (every gfn of a guest under 16 TiB) the high half is 0: no division.
  return hash_64(gfn >>> 0, gfn < TWO32 ? 0 : Math.floor(gfn / TWO32) >>> 0, HASH_SHIFT);
}

/** gfn bits 51:32 (0 below 4G pages). */
export function gfnHi(gfn: number): number {
  return gfn < TWO32 ? 0 : Math.floor(gfn / TWO32);
}

/** The record's gfn (low half unsigned, high half from the meta word). */
export function recordGfn(rec: Int32Array, o: number): number {
  return (rec[o + R_META]! >>> META_GFN_HI_SHIFT) * TWO32 + (rec[o + R_GFN_LO]! >>> 0);
}

/** The meta word of a page: its gfn's high half, tdp_mmu_page and mmu_valid_gen. */
export function metaOf(sp: KvmMmuPage): number {
  return (gfnHi(sp.gfn) << META_GFN_HI_SHIFT) | (sp.tdp_mmu_page ? META_TDP : 0) | sp.mmu_valid_gen;
}

/**
 * is_obsolete_sp on a record: role.invalid, or a shadow page of another mmu_valid_gen.
 * `o` is the record's offset (slot * REC_WORDS).
 */
export function recordObsolete(rec: Int32Array, o: number, invalid: number, gen: number): boolean {
  const meta = rec[o + R_META]!;
  return (rec[o + R_ROLE]! & invalid) !== 0 || ((meta & META_TDP) === 0 && (meta & META_GEN_MASK) !== gen);
}

/** Whether the record's gfn is the one given as (gfn | 0, gfnHi(gfn)). */
export function recordGfnIs(rec: Int32Array, o: number, lo: number, hi: number): boolean {
  return rec[o + R_GFN_LO] === lo && rec[o + R_META]! >>> META_GFN_HI_SHIFT === hi;
}

export class PageHash {
  /** Bucket heads: the newest page's slot, NIL when empty. */
  readonly heads: Int32Array = new Int32Array(KVM_NUM_MMU_PAGES).fill(NIL);
  /** The records, REC_WORDS per slot (replaced when it grows: read it again after hashAdd). */
  rec: Int32Array;
  /** hlist pprev as the previous slot in the bucket, NIL for a bucket's head. */
  prev: Int32Array;
  /** The page a slot holds, null when free. */
  readonly pages: (KvmMmuPage | null)[] = [];
  /** Free slots, chained through R_NEXT, the last freed first. */
  private freeHead = NIL;
  /** Slots in use. */
  used = 0;

  constructor(slots = 64) {
    this.rec = new Int32Array(slots * REC_WORDS);
    this.prev = new Int32Array(slots);
  }

  /** Slots the records have room for. */
  get capacity(): number {
    return this.prev.length;
  }

  /** hlist_add_head of sp into its gfn's bucket: sp takes a slot (hash_slot). */
  add(sp: KvmMmuPage): void {
    const gen = sp.mmu_valid_gen;
    const hi = gfnHi(sp.gfn);
    if (gen !== (gen & META_GEN_MASK) || hi >= 1 << (31 - META_GFN_HI_SHIFT)) {
      throw new ShadowMmuError('ESTATE', `hlist_add_head: sp ${sp.id} gfn ${sp.gfn.toString(16)} gen ${gen} does not fit a record`);
    }
    const s = this.takeSlot();
    const b = gfnHash(sp.gfn);
    const rec = this.rec;
    const o = s * REC_WORDS;
    const head = this.heads[b]!;
    rec[o + R_NEXT] = head;
    rec[o + R_GFN_LO] = sp.gfn | 0;
    rec[o + R_ROLE] = sp.role | 0;
    rec[o + R_META] = metaOf(sp);
    this.prev[s] = NIL;
    if (head !== NIL) this.prev[head] = s;
    this.heads[b] = s;
    this.pages[s] = sp;
    sp.hash_slot = s;
  }

  /** hlist_del of sp (hashed): its slot is free again and sp.hash_slot NIL. */
  del(sp: KvmMmuPage): void {
    const s = sp.hash_slot;
    if (s === NIL || this.pages[s] !== sp) throw new ShadowMmuError('ESTATE', `hlist_del: sp ${sp.id} is not hashed`);
    const rec = this.rec;
    const o = s * REC_WORDS;
    const next = rec[o + R_NEXT]!;
    const prev = this.prev[s]!;
    if (prev !== NIL) rec[prev * REC_WORDS + R_NEXT] = next;
    else this.heads[gfnHash(recordGfn(rec, o))] = next;
    if (next !== NIL) this.prev[next] = prev;
    this.pages[s] = null;
    sp.hash_slot = NIL;
    rec[o + R_GFN_LO] = rec[o + R_ROLE] = rec[o + R_META] = 0;
    rec[o + R_NEXT] = this.freeHead;
    this.prev[s] = NIL;
    this.freeHead = s;
    this.used--;
  }

  /** The record takes sp.role again (after the role changed: the invalid bit). */
  setRole(sp: KvmMmuPage): void {
    if (sp.hash_slot !== NIL) this.rec[sp.hash_slot * REC_WORDS + R_ROLE] = sp.role | 0;
  }

  /** Whether slot s holds sp with the record add(sp) would write for sp's fields now. */
  recordAgrees(s: number, sp: KvmMmuPage): boolean {
    const o = s * REC_WORDS;
    const rec = this.rec;
    return this.pages[s] === sp && sp.hash_slot === s && rec[o + R_GFN_LO] === (sp.gfn | 0) && rec[o + R_ROLE] === (sp.role | 0) && rec[o + R_META] === metaOf(sp);
  }

  /** The first slot of bucket b, NIL when empty. */
  head(b: number): number {
    return this.heads[b]!;
  }

  /** The slot after s in its bucket, NIL at the end. */
  next(s: number): number {
    return this.rec[s * REC_WORDS + R_NEXT]!;
  }

  /** The pages of bucket b, newest first (cold callers; probes walk the records). */
  *bucket(b: number): IterableIterator<KvmMmuPage> {
    for (let s = this.heads[b]!; s !== NIL; s = this.rec[s * REC_WORDS + R_NEXT]!) yield this.pages[s]!;
  }

  private takeSlot(): number {
    let s = this.freeHead;
    if (s !== NIL) {
      this.freeHead = this.rec[s * REC_WORDS + R_NEXT]!;
    } else {
      s = this.pages.length;
      if (s >= this.capacity) this.grow();
      this.pages.push(null);
    }
    this.used++;
    return s;
  }

  private grow(): void {
    this.rec = doubled(this.rec);
    this.prev = doubled(this.prev);
  }
}
