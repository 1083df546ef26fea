/**
 * parent_ptes: the rmap of SPTEs pointing at a shadow page (mmu.c pte_list_*). Empty, one SPTE,
 * or a chain of descriptors of PTE_LIST_EXT slots each, taken from mmu_pte_list_desc_cache.
 * descs[0] is the head descriptor. 5.x appends descriptors at the tail and fills a hole from the
 * same descriptor; 6.x pushes descriptors at the head and fills holes from the head.
 */
import { PTE_LIST_EXT } from './constants.js';

export interface PteListDesc {
  /** The cache object backing this descriptor. */
  readonly obj: number;
  readonly sptes: number[];
}

export class PteList {
  /** The single SPTE when not in descriptor form; -1 when empty or in descriptor form. */
  single = -1;
  descs: PteListDesc[] | null = null;

  get empty(): boolean {
    return this.single < 0 && this.descs === null;
  }

  count(): number {
    if (this.descs === null) return this.single < 0 ? 0 : 1;
    let n = 0;
    for (const d of this.descs) n += d.sptes.length;
    return n;
  }

  /**
   * Every SPTE, in the kernel's iteration order (head descriptor first). A method, not
   * [Symbol.iterator]: KvmMmuPage embeds its parent list by extending PteList, and deep equality
   * (vitest's toEqual) walks an iterable's entries before testing identity, which blew up on page
   * graphs.
   */
  *values(): IterableIterator<number> {
    if (this.descs === null) {
      if (this.single >= 0) yield this.single;
      return;
    }
    for (const d of this.descs) yield* d.sptes;
  }

  /** rmap_get_first */
  first(): number {
    if (this.descs === null) return this.single;
    return this.descs[0]!.sptes[0]!;
  }

  has(sptep: number): boolean {
    const descs = this.descs;
    if (descs === null) return this.single === sptep && sptep >= 0;
    for (let d = 0; d < descs.length; d++) {
      const sptes = descs[d]!.sptes;
      for (let k = 0; k < sptes.length; k++) if (sptes[k] === sptep) return true;
    }
    return false;
  }

  /**
   * Appends every SPTE to `out`, in the iterator's order, and returns how many: the auditor's
   * loop over every list each step, without a generator per list.
   */
  fill(out: number[]): number {
    const descs = this.descs;
    if (descs === null) {
      if (this.single < 0) return 0;
      out.push(this.single);
      return 1;
    }
    let n = 0;
    for (let d = 0; d < descs.length; d++) {
      const sptes = descs[d]!.sptes;
      for (let k = 0; k < sptes.length; k++) out.push(sptes[k]!);
      n += sptes.length;
    }
    return n;
  }
}

/**
 * @kernel mmu.c pte_list_add
 * Returns the number of entries already present. `allocDesc` takes a descriptor object from the
 * vCPU's mmu_pte_list_desc_cache.
 */
export function pte_list_add(list: PteList, sptep: number, headPush: boolean, allocDesc: () => number): number {
  if (list.descs === null) {
    if (list.single < 0) {
      list.single = sptep;
      return 0;
    }
    list.descs = [{ obj: allocDesc(), sptes: [list.single, sptep] }];
    list.single = -1;
    return 1;
  }
  if (headPush) {
    const head = list.descs[0]!;
    const count = list.count();
    if (head.sptes.length === PTE_LIST_EXT) list.descs.unshift({ obj: allocDesc(), sptes: [sptep] });
    else head.sptes.push(sptep);
    return count;
  }
  let count = 0;
  for (const d of list.descs) {
    if (d.sptes.length < PTE_LIST_EXT) {
      count += d.sptes.length;
      d.sptes.push(sptep);
      return count;
    }
    count += PTE_LIST_EXT;
  }
  list.descs.push({ obj: allocDesc(), sptes: [sptep] });
  return count;
}

/**
 * @kernel mmu.c pte_list_remove
 * Returns false when sptep is not in the list (the kernel BUGs). `freeDesc` returns an emptied
 * descriptor's object to the host.
 */
export function pte_list_remove(list: PteList, sptep: number, headPush: boolean, freeDesc: (obj: number) => void): boolean {
  if (list.descs === null) {
    if (list.single !== sptep) return false;
    list.single = -1;
    return true;
  }
  for (let di = 0; di < list.descs.length; di++) {
    const d = list.descs[di]!;
    const i = d.sptes.indexOf(sptep);
    if (i < 0) continue;
    // pte_list_desc_remove_entry: fill the hole from the last entry of the same (5.x) or head (6.x) descriptor.
    const src = headPush ? list.descs[0]! : d;
    const last = src.sptes.pop()!;
    if (!(src === d && i === src.sptes.length)) d.sptes[i] = last;
    if (src.sptes.length === 0) {
      list.descs.splice(headPush ? 0 : di, 1);
      freeDesc(src.obj);
      if (list.descs.length === 0) list.descs = null;
    }
    return true;
  }
  return false;
}
