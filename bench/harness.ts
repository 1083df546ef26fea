/**
 * A small layer over benchmark.js: cases of one suite run interleaved for several rounds (the
 * machine is noisy, so ratios are only meaningful side by side), and each case reports the
 * median ops/s over rounds with its spread. Benchmark.js decompilation is turned off so case
 * bodies keep their closures, and no setup/teardown is used.
 */
import Benchmark from 'benchmark';

Benchmark.support.decompilation = false;

export interface BenchCase {
  readonly name: string;
  /** One operation; it should do real work (e.g. a whole 512-entry table). */
  readonly fn: () => void;
  /** Deterministic work counts for one operation (SPTEs visited, hash probes, ...). */
  readonly counts?: () => Record<string, number>;
  /** Bytes of model memory the case's state holds, where meaningful. */
  readonly bytes?: () => number;
}

export interface BenchSuite {
  readonly name: string;
  readonly cases: readonly BenchCase[];
}

export interface CaseResult {
  suite: string;
  name: string;
  median_hz: number;
  min_hz: number;
  max_hz: number;
  spread_pct: number;
  rounds: number;
  samples: number;
  counts?: Record<string, number>;
  bytes?: number;
}

export interface RunOptions {
  rounds: number;
  maxTime: number;
}

/**
 * The JS side's bytes: the heap plus every ArrayBuffer's backing store (typed-array tables live
 * outside the heap) less the host arena's, which the host-bytes column counts.
 */
export function jsBytes(arenaBytes: number): number {
  const u = process.memoryUsage();
  return u.heapUsed + u.arrayBuffers - arenaBytes;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function runSuite(suite: BenchSuite, opts: RunOptions): CaseResult[] {
  const hz = suite.cases.map(() => [] as number[]);
  const samples = suite.cases.map(() => 0);
  for (let r = 0; r < opts.rounds; r++) {
    // Alternate the order each round so no case always runs first (warm caches, JIT state).
    const order = suite.cases.map((_, i) => i);
    if (r % 2 === 1) order.reverse();
    for (const i of order) {
      const c = suite.cases[i]!;
      const b = new Benchmark(`${suite.name}/${c.name}`, c.fn, { maxTime: opts.maxTime, minSamples: 5 });
      b.run({ async: false });
      if (b.error) throw b.error;
      hz[i]!.push(b.hz);
      samples[i]! += b.stats.sample.length;
    }
  }
  return suite.cases.map((c, i) => {
    const xs = hz[i]!;
    const med = median(xs);
    const min = Math.min(...xs);
    const max = Math.max(...xs);
    const res: CaseResult = {
      suite: suite.name,
      name: c.name,
      median_hz: med,
      min_hz: min,
      max_hz: max,
      spread_pct: med > 0 ? ((max - min) / med) * 100 : 0,
      rounds: xs.length,
      samples: samples[i]!,
    };
    if (c.counts) res.counts = c.counts();
    if (c.bytes) res.bytes = c.bytes();
    return res;
  });
}

export function formatTable(results: readonly CaseResult[]): string {
  const rows = results.map((r) => [
    r.suite,
    r.name,
    Math.round(r.median_hz).toLocaleString('en-US'),
    `±${r.spread_pct.toFixed(1)}%`,
    r.counts ? Object.entries(r.counts).map(([k, v]) => `${k}=${v}`).join(' ') : '',
  ]);
  const head = ['suite', 'case', 'ops/s (median)', 'spread', 'work per op'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 2 || i === 3 ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join('  ');
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
}
