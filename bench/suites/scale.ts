/**
 * Scaling and memory: 1e2..1e5 indirect level-1 shadow pages in one VM (built once per size
 * through kvm_mmu_get_page, as the mmu suite does), then at each size the time per get_page
 * hit, per new shadow page (get_page miss + link_shadow_page below a level-2 parent: the shadow
 * page part of a fault, with the vCPU cache top-ups it needs) and per zap (prepare + commit),
 * timed separately; bytes per shadow page, host bytes (spt + gfns pages, as the kernel) beside
 * the JS bookkeeping (growth after GC of the heap and of every ArrayBuffer but the host arena,
 * divided by the pages); and the page hash's chain-length distribution beside the kernel's (hash_64 of the same gfns into the same 4096
 * buckets, computed independently with BigInt). 1e6 pages (2e6 host pages, an 8 GiB arena and
 * about 9 GiB resident; some two minutes) run only when asked: `--scale-max 1e6`.
 *
 * The BenchSuite form (`--suite scale`) runs hit and new-page + zap batches through the
 * harness; `scaleReport` gives the separated per-operation times and the memory figures.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { jsBytes, type BenchCase, type BenchSuite } from '../harness.js';
import { kvm_mmu_get_page } from '../../src/mmu/pages/get_page.js';
import type { Kvm } from '../../src/mmu/pages/kvm.js';
import { link_shadow_page } from '../../src/mmu/pages/link.js';
import { createMachine, DEFAULT_HOST, type Machine } from '../../src/mmu/vm/machine.js';
import type { KvmMmuPage } from '../../src/mmu/pages/page.js';
import { NIL } from '../../src/mmu/pages/page_hash.js';
import { kvm_mmu_get_page_role } from '../../src/roles/sp-role.js';
import { KVM_NUM_MMU_PAGES } from '../../src/roles/hash.js';
import { kvm_mmu_commit_zap_page, kvm_mmu_prepare_zap_page } from '../../src/mmu/pages/zap.js';
import { getProfile } from '../../src/profiles/index.js';
import { GuestMemory } from '../../src/guest/memory.js';

const P = getProfile('v5.16');
const CTX = { kind: 'shadow' as const, mmu_role: 0x3714, direct_map: false, root_level: 4, shadow_root_level: 4 };
export const SCALE_SIZES = [1e2, 1e3, 1e4, 1e5];
/** Every size the scale suite can run (`--scale-max` picks the largest). */
export const SCALE_MAX_SIZES = [1e2, 1e3, 1e4, 1e5, 1e6];

/** The sizes up to `max` (a power of ten from 1e2 to 1e6), or null when max is not one of them. */
export function scaleSizesUpTo(max: number): number[] | null {
  if (!SCALE_MAX_SIZES.includes(max)) return null;
  return SCALE_MAX_SIZES.filter((n) => n <= max);
}
const BATCH = 512;
/** New pages per create/zap batch (one level-2 parent's first entries). */
const NEW = 64;

/** A global gc(), exposing it when node was started without --expose-gc. */
function gcFn(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

export interface ScaleWorld {
  readonly m: Machine;
  readonly n: number;
  readonly role1: number;
  readonly parent: KvmMmuPage;
  /** Heap growth (after GC) while the n pages were built, bytes. */
  readonly heapBytes: number;
  next: number;
}

const worlds = new Map<number, ScaleWorld>();


/** n level-1 pages at gfns 1..n, plus a level-2 parent for the create batches. */
export function scaleWorld(n: number): ScaleWorld {
  let w = worlds.get(n);
  if (w) return w;
  const gc = gcFn();
  // Twice: the first collection's sweep of the last world finishes only in the next one, and
  // memoryUsage counts what is not yet swept (a 1e2 world measured -1.2 GB after a 1e5 one).
  gc();
  gc();
  const heap0 = jsBytes(0);
  const m = createMachine(P, { ...DEFAULT_HOST, nr_mmu_pages: n * 2 + 4 * NEW + 64, normal_pages: n * 3 + 8192 }, CTX);
  // The guest's memory: one memslot over every gfn the world uses (2^32 pages, backed lazily),
  // as a guest's page tables always lie in a memslot. The per-memslot tables (lpage_info,
  // write tracking, rmaps) then follow it, as in the kernel.
  const guestMem = new GuestMemory();
  guestMem.addSlot(0, 2 ** 44);
  m.kvm.followMemslots(guestMem.memslots);
  const role1 = kvm_mmu_get_page_role(P, CTX, { level: 1, direct: false, access: 7, gaddr: 0n });
  for (let g = 1; g <= n; g++) {
    if (g % 32 === 1) m.vcpu.mem.topup(true, 4);
    kvm_mmu_get_page(m.vcpu, g, role1);
  }
  gc();
  gc();
  const heapBytes = jsBytes(m.mem.arenaBytes) - heap0;
  const role2 = kvm_mmu_get_page_role(P, CTX, { level: 2, direct: false, access: 7, gaddr: 0n });
  m.vcpu.mem.topup(true, 4);
  const parent = kvm_mmu_get_page(m.vcpu, 2 ** 30, role2);
  w = { m, n, role1, parent, heapBytes, next: 2 ** 31 };
  worlds.set(n, w);
  return w;
}

/** Drop the worlds (the next size's memory figure should not carry the last one's garbage). */
export function dropScaleWorlds(): void {
  worlds.clear();
}

function hitBatch(w: ScaleWorld, off: number): void {
  for (let k = 0; k < BATCH; k++) kvm_mmu_get_page(w.m.vcpu, 1 + ((off + k * 7919) % w.n), w.role1);
}

function createBatch(w: ScaleWorld, out: KvmMmuPage[]): void {
  const { m } = w;
  for (let i = 0; i < NEW; i++) {
    if (i % 8 === 0) m.vcpu.mem.topup(true, 4);
    const sp = kvm_mmu_get_page(m.vcpu, w.next++, w.role1);
    link_shadow_page(m.vcpu, m.kvm.sptep(w.parent, i), sp);
    out.push(sp);
  }
}

function zapBatch(kvm: Kvm, made: KvmMmuPage[]): void {
  const list: KvmMmuPage[] = [];
  for (const sp of made) kvm_mmu_prepare_zap_page(kvm, sp, list);
  kvm_mmu_commit_zap_page(kvm, list);
  made.length = 0;
}

/** Buckets per chain length (index = length) of the model's page hash. */
export function chainHistogram(kvm: Kvm): number[] {
  const h: number[] = [];
  for (let b = 0; b < KVM_NUM_MMU_PAGES; b++) {
    let len = 0;
    for (let s = kvm.mmu_page_hash.head(b); s !== NIL; s = kvm.mmu_page_hash.next(s)) len++;
    h[len] = (h[len] ?? 0) + 1;
  }
  return Array.from(h, (x) => x ?? 0);
}

/** The kernel's: hash_64(gfn, 12) = (gfn * GOLDEN_RATIO_64 mod 2^64) >> 52, in BigInt. */
export function kernelChainHistogram(gfns: Iterable<number>): number[] {
  const count = new Array<number>(KVM_NUM_MMU_PAGES).fill(0);
  for (const g of gfns) {
    const b = Number((BigInt.asUintN(64, BigInt(g) * 0x61c8864680b583ebn)) >> 52n);
    count[b]!++;
  }
  const h: number[] = [];
  for (const c of count) h[c] = (h[c] ?? 0) + 1;
  return Array.from(h, (x) => x ?? 0);
}

export interface ScaleRow {
  pages: number;
  get_page_hit_ns: number;
  new_page_ns: number;
  zap_ns: number;
  host_bytes_per_page: number;
  js_bytes_per_page: number;
  chain_histogram: number[];
  kernel_chain_histogram: number[];
  chains_match: boolean;
  /** Per round, for the spread. */
  rounds: { get_page_hit_ns: number[]; new_page_ns: number[]; zap_ns: number[] };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** The separated times (median over rounds, each round maxTime seconds per measure) and memory per size. */
export function scaleReport(rounds: number, maxTime: number, sizes = SCALE_SIZES): ScaleRow[] {
  const rows: ScaleRow[] = [];
  for (const n of sizes) {
    dropScaleWorlds();
    const w = scaleWorld(n);
    const kvm = w.m.kvm;
    const hist = chainHistogram(kvm);
    const pagesHost = [...kvm.pages].filter((sp) => sp.gfn >= 1 && sp.gfn <= n);
    const hostPages = pagesHost.reduce((a, sp) => a + 1 + (sp.gfns >= 0 ? 1 : 0), 0);
    const kernelHist = kernelChainHistogram(pagesHost.map((sp) => sp.gfn).concat([w.parent.gfn]));
    const r = { get_page_hit_ns: [] as number[], new_page_ns: [] as number[], zap_ns: [] as number[] };
    const made: KvmMmuPage[] = [];
    let off = 0;
    for (let round = 0; round < rounds; round++) {
      let t0 = performance.now();
      let k = 0;
      do {
        hitBatch(w, off++);
        k++;
      } while (performance.now() - t0 < maxTime * 1000);
      r.get_page_hit_ns.push(((performance.now() - t0) * 1e6) / (k * BATCH));
      let tc = 0;
      let tz = 0;
      let batches = 0;
      const tEnd = performance.now() + maxTime * 1000;
      while (performance.now() < tEnd) {
        t0 = performance.now();
        createBatch(w, made);
        const t1 = performance.now();
        zapBatch(kvm, made);
        tz += performance.now() - t1;
        tc += t1 - t0;
        batches++;
      }
      r.new_page_ns.push((tc * 1e6) / (batches * NEW));
      r.zap_ns.push((tz * 1e6) / (batches * NEW));
    }
    rows.push({
      pages: n,
      get_page_hit_ns: median(r.get_page_hit_ns),
      new_page_ns: median(r.new_page_ns),
      zap_ns: median(r.zap_ns),
      host_bytes_per_page: (hostPages * 4096) / n,
      js_bytes_per_page: w.heapBytes / n,
      chain_histogram: hist,
      kernel_chain_histogram: kernelHist,
      chains_match: JSON.stringify(hist) === JSON.stringify(kernelHist),
      rounds: r,
    });
  }
  dropScaleWorlds();
  return rows;
}

export function formatScale(rows: readonly ScaleRow[]): string {
  const f = (x: number) => (x < 100 ? x.toFixed(1) : Math.round(x).toLocaleString('en-US'));
  const spread = (xs: number[]) => {
    const m = median(xs);
    return m > 0 ? `±${(((Math.max(...xs) - Math.min(...xs)) / m) * 100).toFixed(0)}%` : '';
  };
  const head = ['pages', 'get_page hit ns', 'new page ns', 'zap ns', 'host B/page', 'JS B/page', 'longest chain', 'chains = kernel'];
  const lines = [head];
  for (const r of rows) {
    lines.push([
      r.pages.toLocaleString('en-US'),
      `${f(r.get_page_hit_ns)} ${spread(r.rounds.get_page_hit_ns)}`,
      `${f(r.new_page_ns)} ${spread(r.rounds.new_page_ns)}`,
      `${f(r.zap_ns)} ${spread(r.rounds.zap_ns)}`,
      f(r.host_bytes_per_page),
      f(r.js_bytes_per_page),
      String(r.chain_histogram.length - 1),
      r.chains_match ? 'yes' : 'NO',
    ]);
  }
  const wd = head.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  return lines.map((l, k) => l.map((x, i) => (i === 0 ? x.padEnd(wd[i]!) : x.padStart(wd[i]!))).join('  ') + (k === 0 ? '\n' + wd.map((n) => '-'.repeat(n)).join('  ') : '')).join('\n');
}

function hitCase(n: number): BenchCase {
  let off = 0;
  return {
    name: `get_page hit, ${n} pages (x${BATCH})`,
    fn() {
      hitBatch(scaleWorld(n), off++);
    },
    counts: () => ({ lookups: BATCH, pages: n }),
  };
}

function newZapCase(n: number): BenchCase {
  const made: KvmMmuPage[] = [];
  return {
    name: `${NEW} new pages (get_page miss + link) and their zap, ${n} pages`,
    fn() {
      const w = scaleWorld(n);
      createBatch(w, made);
      zapBatch(w.m.kvm, made);
    },
    counts: () => ({ created: NEW, zapped: NEW, pages: n }),
    bytes: () => scaleWorld(n).heapBytes + n * 4096 * 2,
  };
}

/** The scale suite's harness cases for the given sizes. */
export function scaleSuiteFor(sizes: readonly number[]): BenchSuite {
  return { name: 'scale', cases: sizes.flatMap((n) => [hitCase(n), newZapCase(n)]) };
}

export const scaleSuite: BenchSuite = scaleSuiteFor(SCALE_SIZES);
