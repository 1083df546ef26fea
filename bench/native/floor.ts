/**
 * JS floors for `npm run bench -- --native`: the C baselines of baselines.c for sync_page and the
 * get_page hit, written again in plain JS with the same data layout (64-bit entries as 32-bit
 * halves in typed arrays, the page hash as objects on chains) and the same constants inlined.
 * They do what the C loop does and no more (one paging format, no profile, no counters), so the
 * three columns split a ratio in two: C -> floor is what the language costs for this loop,
 * floor -> model is what the model's generality (profiles, formats, traits) costs on top.
 */
import { hash_64_halves, KVM_MMU_HASH_SHIFT } from '../../src/roles/hash.js';

/** sync_op(pct) of baselines.c: per operation, two rounds of (toggle W in pct % of the gPTEs, sync the page). */
function syncFloor(pct: number, hash_64_halves: (lo: number, hi: number, bits: number) => number, KVM_MMU_HASH_SHIFT: number): () => number {
  const P = 1;
  const W = 2;
  const U = 4;
  const A = 0x20;
  const D = 0x40;
  /** Bits 51:46 of the high half (MAXPHYADDR 46): reserved in a level-1 gPTE. */
  const RSVD_L1_HI = 0x000fc000;
  const MMU_PRESENT = 0x800;
  const NX_HI = 0x80000000;
  const gpte = new Uint32Array(1024);
  const gfns = new Uint32Array(1024);
  const spt = new Uint32Array(1024);
  for (let i = 0; i < 512; i++) {
    const gfn = 0x400 + i;
    gpte[2 * i] = ((gfn << 12) | P | W | U | A | D) >>> 0;
    gfns[2 * i] = ((gfn << 12) | 7) >>> 0;
    gfns[2 * i + 1] = Math.floor(gfn / 0x100000);
    spt[2 * i] = (((0x2000000 + gfn) << 12) | P | W | U | A | MMU_PRESENT) >>> 0;
    spt[2 * i + 1] = (0x2000000 + gfn) >>> 20;
  }
  // unsync_refused of baselines.c: the write-track counts and the page hash (empty here).
  const write_track = new Uint32Array(1 << 16);
  const chash: (FloorPage | null)[] = new Array<FloorPage | null>(1 << KVM_MMU_HASH_SHIFT).fill(null);
  const unsync_refused = (gfn: number): boolean => {
    if (write_track[gfn & 0xffff]) return true;
    for (let s: FloorPage | null = chash[hash_64_halves(gfn >>> 0, 0, KVM_MMU_HASH_SHIFT)]!; s !== null; s = s.next) if (s.gfn === gfn) return true;
    return false;
  };
  const slot_dirty_logging = false;
  let dirtied = 0;
  const n = Math.round((512 * pct) / 100);
  const step = n ? 512 / n : 0;
  const sync_spte = (i: number): number => {
    const lo = gpte[2 * i]!;
    const hi = gpte[2 * i + 1]!;
    if (!(lo & P) || !(lo & A) || hi & RSVD_L1_HI) {
      spt[2 * i] = 0;
      spt[2 * i + 1] = 0;
      return 1;
    }
    const gfn = (hi & 0xfffff) * 0x100000 + (lo >>> 12);
    let access = ((lo & 7) ^ (hi >>> 31)) & 7;
    if (!(lo & D)) access &= ~2;
    if (gfn !== gfns[2 * i + 1]! * 0x100000 + (gfns[2 * i]! >>> 12)) {
      spt[2 * i] = 0;
      spt[2 * i + 1] = 0;
      return 1;
    }
    if ((gfns[2 * i]! & 7) === access) return 0;
    gfns[2 * i] = ((gfns[2 * i]! & ~7) | access) >>> 0;
    const olo = spt[2 * i]!;
    if (access & 2 && !(olo & W) && unsync_refused(gfn)) access &= ~2;
    const slo = ((olo & 0xfffff000) | P | A | (access & 4 ? U : 0) | (access & 2 ? W : 0) | 0x800) >>> 0;
    if (slo & W && slot_dirty_logging) dirtied++;
    spt[2 * i] = slo;
    spt[2 * i + 1] = ((spt[2 * i + 1]! & 0xfffff) | (access & 1 ? 0 : NX_HI)) >>> 0;
    return olo & W && !(slo & W) ? 1 : 0;
  };
  const sync_page = (): number => {
    let flush = 0;
    for (let i = 0; i < 512; i++) {
      if (spt[2 * i] === 0 && spt[2 * i + 1] === 0) continue;
      flush |= sync_spte(i);
    }
    return flush;
  };
  // Returns the rounds that asked for a flush (the model's counts() flush_requested).
  return () => {
    let flushes = 0;
    for (let r = 0; r < 2; r++) {
      for (let k = 0; k < n; k++) gpte[2 * Math.floor(k * step)]! ^= W;
      flushes += sync_page();
    }
    // dirtied stays 0 (no dirty logging), as the C case's sink.
    return flushes + dirtied;
  };
}

interface FloorPage {
  next: FloorPage | null;
  readonly gfn: number;
  readonly role: number;
}

/** hit_op(n) of baselines.c: 512 lookups among n pages hashed by hash_64(gfn, 12), compared on gfn and role. */
function hitFloor(n: number, hash_64_halves: (lo: number, hi: number, bits: number) => number, KVM_MMU_HASH_SHIFT: number): () => number {
  const hash: (FloorPage | null)[] = new Array<FloorPage | null>(1 << KVM_MMU_HASH_SHIFT).fill(null);
  for (let g = 1; g <= n; g++) {
    const s: FloorPage = { next: null, gfn: g, role: 0x3701 };
    const b = hash_64_halves(g, 0, KVM_MMU_HASH_SHIFT);
    s.next = hash[b]!;
    hash[b] = s;
  }
  let off = 0;
  // Returns the lookups that found their page (all 512).
  return () => {
    let found = 0;
    for (let k = 0; k < 512; k++) {
      const gfn = 1 + ((off + k * 7919) % n);
      let s: FloorPage | null = hash[hash_64_halves(gfn, 0, KVM_MMU_HASH_SHIFT)]!;
      while (s !== null && !(s.gfn === gfn && s.role === 0x3701)) s = s.next;
      if (s !== null) found++;
    }
    off = (off + 1) % n;
    return found;
  };
}

/**
 * A fresh copy of a floor factory (its own compiled code): closures made by one factory share
 * their optimised code, which then cannot treat each closure's captured values as constants —
 * measured: a second sync floor from the same factory ran at 8.1 ns per SPTE, a first at 5.0.
 * The C loops get their constants compiled in; so does each floor, by being compiled apart.
 */
function fresh<F extends (...args: never[]) => unknown>(factory: F): F {
  return new Function(`return (${factory.toString()});`)() as F;
}

/** The floors by C case name (units per operation as the C case counts them). */
export const FLOORS: Readonly<Record<string, () => () => number>> = {
  sync0: () => fresh(syncFloor)(0, hash_64_halves, KVM_MMU_HASH_SHIFT),
  sync10: () => fresh(syncFloor)(10, hash_64_halves, KVM_MMU_HASH_SHIFT),
  sync100: () => fresh(syncFloor)(100, hash_64_halves, KVM_MMU_HASH_SHIFT),
  hit100: () => fresh(hitFloor)(100, hash_64_halves, KVM_MMU_HASH_SHIFT),
  hit1000: () => fresh(hitFloor)(1000, hash_64_halves, KVM_MMU_HASH_SHIFT),
  hit10000: () => fresh(hitFloor)(10000, hash_64_halves, KVM_MMU_HASH_SHIFT),
  hit100000: () => fresh(hitFloor)(100000, hash_64_halves, KVM_MMU_HASH_SHIFT),
};
