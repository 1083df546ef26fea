/**
 * The walker oracles through the eval registry, in-process: every shared access.c record
 * (golden/access, compared as golden-check compares them) and every kvm walk record.
 */
import { describe, expect, it } from 'vitest';
import { evaluateRecord } from '../../src/eval/index.js';
import { goldenFiles, readGolden, sameValue } from '../support/golden.js';

const big = (v: unknown): bigint => (v === null || v === undefined ? 0n : BigInt(v as string));

/** golden-check's access comparison: fault, error code when faulting, gpa, PTE, PDE under the mask. */
function accessDiff(exp: Record<string, unknown>, out: Record<string, unknown>): string | null {
  if (exp['fault'] !== out['fault']) return 'fault';
  if (exp['fault'] && big(exp['error_code']) !== big(out['error_code'])) return 'error_code';
  if (exp['gpa'] !== null && big(exp['gpa']) !== big(out['gpa'])) return 'gpa';
  if ((exp['pte_after'] === null) !== (out['pte_after'] === null) || big(exp['pte_after']) !== big(out['pte_after'])) return 'pte_after';
  const ign = big(exp['pde_after_ignore']);
  if (((big(exp['pde_after']) ^ big(out['pde_after'])) & ~ign) !== 0n) return 'pde_after';
  return null;
}

describe('golden/access (kvm-unit-tests access.c) through eval', () => {
  const folders = ['l4', 'l5', 'smep-ext-l4'];
  for (const folder of folders) {
    for (const file of goldenFiles(`access/${folder}`, /\.jsonl\.gz$/)) {
      it(file, () => {
        const recs = readGolden(file);
        const failures: string[] = [];
        for (const rec of recs) {
          const { expect: exp, ...input } = rec;
          const out = evaluateRecord(input as never)['out'] as Record<string, unknown>;
          const d = accessDiff(exp as Record<string, unknown>, out);
          if (d && failures.length < 5) failures.push(`${String(rec['id'])}: ${d}: expected ${JSON.stringify(exp)}, got ${JSON.stringify(out)}`);
          else if (d) failures.push(String(rec['id']));
        }
        expect(recs.length).toBeGreaterThan(1000);
        expect(failures.slice(0, 5), `${failures.length}/${recs.length} records differ`).toEqual([]);
      });
    }
  }
});

describe('golden/kvm walks (real KVM 6.18) through eval', () => {
  it('walks.jsonl.gz: outcome, fault, target_walks, gptes_after', () => {
    const recs = readGolden('kvm/walks.jsonl.gz').filter((r) => r['kind'] === 'walk');
    const failures: string[] = [];
    const OUTPUTS = ['outcome', 'fault', 'exceptions', 'target_walks', 'other_walks', 'shadow', 'gptes_after', 'stats', 'exit', 'exits', 'root_role', 'emulated'];
    for (const rec of recs) {
      const input: Record<string, unknown> = { ...rec };
      for (const k of OUTPUTS) delete input[k];
      const out = evaluateRecord(input as never)['out'] as Record<string, unknown>;
      const fault = rec['fault'] ? { error_code: (rec['fault'] as { error_code: number }).error_code } : null;
      for (const [k, v] of Object.entries({ outcome: rec['outcome'], fault, target_walks: rec['target_walks'], gptes_after: rec['gptes_after'] })) {
        if (!sameValue(v, out[k])) failures.push(`${String(rec['id'])} ${k}: expected ${JSON.stringify(v)}, got ${JSON.stringify(out[k])}`);
      }
    }
    expect(recs.length).toBeGreaterThan(100);
    expect(failures.slice(0, 5), `${failures.length} differences`).toEqual([]);
  });
});
