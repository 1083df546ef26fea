/**
 * `npm run bench -- --native`: the C baselines in bench/native/baselines.c, compiled with the
 * system `cc` at bench time, run round by round interleaved with the same JS cases, and the JS/C
 * ratio per path with min / median / max over the rounds. Both sides are timed the same way (a
 * loop of whole operations for a fixed time per round).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SUITES } from './suites/index.js';
import { FLOORS } from './native/floor.js';

export interface NativeRow {
  path: string;
  units_per_op: number;
  c_ns_per_unit: { min: number; median: number; max: number };
  js_ns_per_unit: { min: number; median: number; max: number };
  ratio: { min: number; median: number; max: number };
  /** Both sides per round, ns per unit (round r of C ran just before round r of JS). */
  c_rounds: number[];
  js_rounds: number[];
  /**
   * The same C loop written in plain JS (bench/native/floor.ts), where there is one: what the
   * language costs; js / floor is what the model adds on top. Absent for paths without a floor.
   */
  floor_ns_per_unit?: { min: number; median: number; max: number };
  model_over_floor?: { min: number; median: number; max: number };
  floor_rounds?: number[];
}

const PAIRS: readonly { c: string; suite: string; js: string; path: string }[] = [
  { c: 'sync0', suite: 'sync', js: 'v6.18: kvm_sync_page x2, 512 SPTEs, 0%', path: 'kvm_sync_page, 0 % changed (v6.18), per SPTE' },
  { c: 'sync100', suite: 'sync', js: 'v6.18: kvm_sync_page x2, 512 SPTEs, 100%', path: 'kvm_sync_page, 100 % changed (v6.18), per SPTE' },
  { c: 'hit100', suite: 'mmu', js: 'get_page hit, 100 pages', path: 'get_page hit, 1e2 pages, per lookup' },
  { c: 'hit1000', suite: 'mmu', js: 'get_page hit, 1000 pages', path: 'get_page hit, 1e3 pages, per lookup' },
  { c: 'hit10000', suite: 'mmu', js: 'get_page hit, 10000 pages', path: 'get_page hit, 1e4 pages, per lookup' },
  { c: 'hit100000', suite: 'mmu', js: 'get_page hit, 100000 pages', path: 'get_page hit, 1e5 pages, per lookup' },
  { c: 'sync10', suite: 'sync', js: 'v6.18: kvm_sync_page x2, 512 SPTEs, 10%', path: 'kvm_sync_page, 10 % changed (v6.18), per SPTE' },
  { c: 'miss100', suite: 'mmu', js: 'get_page miss + zap, 100 pages', path: 'get_page miss + zap, 1e2 pages' },
  { c: 'miss1000', suite: 'mmu', js: 'get_page miss + zap, 1000 pages', path: 'get_page miss + zap, 1e3 pages' },
  { c: 'miss10000', suite: 'mmu', js: 'get_page miss + zap, 10000 pages', path: 'get_page miss + zap, 1e4 pages' },
  { c: 'miss100000', suite: 'mmu', js: 'get_page miss + zap, 100000 pages', path: 'get_page miss + zap, 1e5 pages' },
  { c: 'link', suite: 'mmu', js: 'link_shadow_page + drop_parent_pte', path: 'link_shadow_page + drop_parent_pte, per pair' },
  { c: 'walk4', suite: 'walker', js: 'walk 4-level', path: 'guest walk, 4-level' },
  { c: 'leaf', suite: 'sync', js: 'v6.18: leaf fault on existing tables', path: 'leaf fault on existing tables (v6.18)' },
  { c: 'full', suite: 'sync', js: 'v6.18: full shadow fault', path: 'full fault (3 new pages + leaf + 7) + zap (v6.18)' },
];

function compile(): string | null {
  const src = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'native', 'baselines.c');
  const out = join(mkdtempSync(join(tmpdir(), 'smmu-native-')), 'baselines');
  for (const cc of ['cc', 'gcc', 'clang']) {
    const r = spawnSync(cc, ['-O2', '-o', out, src], { encoding: 'utf8' });
    if (r.status === 0) return out;
  }
  return null;
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! };
};

function timeJs(fn: () => void, secs: number): number {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  do {
    for (let k = 0; k < 16; k++) fn();
    n += 16;
    t = performance.now();
  } while (t - t0 < secs * 1000);
  return ((t - t0) * 1e6) / n;
}

/** Null (with why) when no C compiler exists. */
export function runNative(rounds: number, secs: number): { rows: NativeRow[] } | { skipped: string } {
  const bin = compile();
  if (!bin) return { skipped: 'no C compiler (cc, gcc or clang) on this machine: the native baselines were not run' };
  const cases = PAIRS.map((p) => {
    const c = SUITES.find((s) => s.name === p.suite)!.cases.find((x) => x.name.startsWith(p.js));
    if (!c) throw new Error(`bench --native: no JS case "${p.js}" in suite ${p.suite}`);
    return { p, fn: c.fn };
  });
  const floors = new Map(PAIRS.filter((p) => FLOORS[p.c]).map((p) => [p.c, FLOORS[p.c]!()]));
  for (const { fn } of cases) timeJs(fn, 0.2); // warm-up: build worlds, JIT
  for (const fn of floors.values()) timeJs(fn, 0.2);
  const fl: Record<string, number[]> = {};
  const c: Record<string, number[]> = {};
  const js: Record<string, number[]> = {};
  const units: Record<string, number> = {};
  for (let r = 0; r < rounds; r++) {
    const out = execFileSync(bin, ['1', String(secs), 'all'], { encoding: 'utf8' });
    for (const line of out.trim().split('\n')) {
      const o = JSON.parse(line) as { case: string; units_per_op: number; ns_per_op: number[] };
      (c[o.case] ??= []).push(o.ns_per_op[0]! / o.units_per_op);
      units[o.case] = o.units_per_op;
    }
    for (const { p, fn } of cases) {
      (js[p.c] ??= []).push(timeJs(fn, secs) / units[p.c]!);
      const floor = floors.get(p.c);
      if (floor) (fl[p.c] ??= []).push(timeJs(floor, secs) / units[p.c]!);
    }
  }
  const rows = PAIRS.map((p) => {
    const ratios = js[p.c]!.map((j, i) => j / c[p.c]![i]!);
    return {
      path: p.path,
      units_per_op: units[p.c]!,
      c_ns_per_unit: stats(c[p.c]!),
      js_ns_per_unit: stats(js[p.c]!),
      ratio: stats(ratios),
      c_rounds: c[p.c]!,
      js_rounds: js[p.c]!,
      ...(fl[p.c]
        ? { floor_ns_per_unit: stats(fl[p.c]!), model_over_floor: stats(js[p.c]!.map((j, i) => j / fl[p.c]![i]!)), floor_rounds: fl[p.c]! }
        : {}),
    };
  });
  return { rows };
}

export function formatNative(rows: readonly NativeRow[]): string {
  const f = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(1));
  const perSec = (ns: number) => Math.round(1e9 / ns).toLocaleString('en-US');
  const lines = [['path', 'C ns (median)', 'JS ns (median)', 'JS/C min', 'median', 'max', 'JS per s', 'JS floor ns', 'floor/C', 'JS/floor']];
  for (const r of rows) {
    const fm = r.floor_ns_per_unit?.median;
    lines.push([
      r.path,
      f(r.c_ns_per_unit.median),
      f(r.js_ns_per_unit.median),
      f(r.ratio.min) + 'x',
      f(r.ratio.median) + 'x',
      f(r.ratio.max) + 'x',
      perSec(r.js_ns_per_unit.median),
      fm === undefined ? '-' : f(fm),
      fm === undefined ? '-' : f(fm / r.c_ns_per_unit.median) + 'x',
      r.model_over_floor === undefined ? '-' : f(r.model_over_floor.median) + 'x',
    ]);
  }
  const w = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  return lines.map((l, k) => l.map((x, i) => (i === 0 ? x.padEnd(w[i]!) : x.padStart(w[i]!))).join('  ') + (k === 0 ? '\n' + w.map((n) => '-'.repeat(n)).join('  ') : '')).join('\n');
}
