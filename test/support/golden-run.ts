/**
 * Runs golden files through the same evaluator `shadow-mmu eval` uses and reports every
 * mismatch (first few in detail). Used by each domain's golden test.
 */
import { expect } from 'vitest';
import { evaluateRecord } from '../../src/eval/index.js';
import { diffOut, readGolden } from '../support/golden.js';

export interface GoldenReport {
  total: number;
  failures: string[];
}

/** Evaluate `{profile, fn, in, out}` records; `only` restricts to some fns. */
export function runFnGolden(file: string, only?: (fn: string) => boolean): GoldenReport {
  const recs = readGolden(file);
  const failures: string[] = [];
  let total = 0;
  for (const rec of recs) {
    if (only && !only(String(rec['fn']))) continue;
    total++;
    const { out, ...input } = rec;
    let got: Record<string, unknown> | undefined;
    try {
      got = evaluateRecord(input as never)['out'] as Record<string, unknown>;
    } catch (e) {
      failures.push(`${rec['fn']} ${JSON.stringify(rec['in'])}: threw ${(e as Error).message}`);
      continue;
    }
    const d = diffOut(out as Record<string, unknown>, got);
    if (d) failures.push(`${rec['fn']} ${JSON.stringify(rec['in'])}: ${d}`);
  }
  return { total, failures };
}

/** Assert a report is clean, printing the first mismatches. */
export function expectClean(r: GoldenReport): void {
  expect(r.total, 'no records were checked').toBeGreaterThan(0);
  expect(r.failures.slice(0, 5), `${r.failures.length}/${r.total} records differ`).toEqual([]);
}
