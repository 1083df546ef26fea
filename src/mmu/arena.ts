/**
 * Every page table of the model (shadow pages' spt, mainline's PAE/PML4/PML5 special roots, the
 * RFC's PAE-root pages) lives in one WordArena, 512 words per page, addressed by slot. An SPTE
 * pointer (`sptep`) is the arena word index `slot * 512 + index`. Hot paths read and write the
 * two 32-bit halves; BigInt only at the edges.
 */
import { ShadowMmuError } from '../bits/errors.js';
import { fromHalves, WordArena } from '../bits/u64.js';
import { SPTE_ENT_PER_PAGE } from './constants.js';

export class SptArena {
  private arena: WordArena;
  /** The arena as 32-bit halves: entry w at [2w] (low) and [2w + 1] (high). */
  u32: Uint32Array;
  private capacity: number;
  private readonly free: number[] = [];
  private next = 0;
  private readonly slotOfPfn = new Map<number, number>();
  private pfnOfSlot: number[] = [];

  constructor(initialPages = 64) {
    this.capacity = initialPages;
    this.arena = new WordArena(initialPages * SPTE_ENT_PER_PAGE);
    this.u32 = this.arena.u32;
  }

  private grow(): void {
    const bigger = new WordArena(this.capacity * 2 * SPTE_ENT_PER_PAGE);
    bigger.u32.set(this.u32);
    this.arena = bigger;
    this.u32 = bigger.u32;
    this.capacity *= 2;
  }

  /** Give host page `pfn` a table slot, every entry set to (lo, hi). */
  attach(pfn: number, lo: number, hi: number): number {
    if (this.slotOfPfn.has(pfn)) throw new ShadowMmuError('ESTATE', `arena: pfn ${pfn.toString(16)} already holds a table`);
    let slot = this.free.pop();
    if (slot === undefined) {
      if (this.next === this.capacity) this.grow();
      slot = this.next++;
    }
    this.slotOfPfn.set(pfn, slot);
    this.pfnOfSlot[slot] = pfn;
    const base = slot * SPTE_ENT_PER_PAGE * 2;
    if (lo === 0 && hi === 0) this.u32.fill(0, base, base + SPTE_ENT_PER_PAGE * 2);
    else for (let i = 0; i < SPTE_ENT_PER_PAGE; i++) {
      this.u32[base + 2 * i] = lo;
      this.u32[base + 2 * i + 1] = hi;
    }
    return slot;
  }

  detach(pfn: number): void {
    const slot = this.slotOfPfn.get(pfn);
    if (slot === undefined) throw new ShadowMmuError('ESTATE', `arena: pfn ${pfn.toString(16)} holds no table`);
    this.slotOfPfn.delete(pfn);
    this.free.push(slot);
  }

  slotOf(pfn: number): number | undefined {
    return this.slotOfPfn.get(pfn);
  }

  pfnOf(slot: number): number {
    return this.pfnOfSlot[slot]!;
  }

  get(sptep: number): bigint {
    return fromHalves(this.u32[2 * sptep]!, this.u32[2 * sptep + 1]!);
  }

  set(sptep: number, v: bigint): void {
    this.u32[2 * sptep] = Number(v & 0xffffffffn);
    this.u32[2 * sptep + 1] = Number((v >> 32n) & 0xffffffffn);
  }

  /** Bytes the arena holds (its whole buffer). */
  get bytes(): number {
    return this.u32.byteLength;
  }

  get slotsInUse(): number {
    return this.slotOfPfn.size;
  }
}

/** The host pfn an SPTE's address bits (51:12) point at, from halves. */
export function spteToPfn(lo: number, hi: number): number {
  return (hi & 0xfffff) * 0x100000 + (lo >>> 12);
}
