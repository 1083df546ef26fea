/**
 * The real-KVM shadow-MMU oracles (golden/kvm, KVM 6.18) through the eval registry, compared as
 * ../shared/tools/golden-check compares them: kvmshadow (walk records' `shadow`), kvmroot
 * (root_role records), kvmseq (write_tracking and root_transition steps: value, exceptions, mmu).
 * The kvmwalk comparison of the same walk records is in walker.golden.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { evaluateRecord } from '../../src/eval/index.js';
import { readGolden, sameValue } from '../support/golden.js';

/** The keys golden-check strips from a record before eval sees it. */
const OUTPUT_KEYS = ['outcome', 'fault', 'exceptions', 'target_walks', 'other_walks', 'shadow', 'gptes_after', 'stats', 'exit', 'exits',
  'root_role', 'root_role_fields', 'emulated', 'steps', 'warmup_get_page', 'access_get_page', 'effective', 'set_sregs_errno'];

function outOf(rec: Record<string, unknown>): Record<string, unknown> {
  const input: Record<string, unknown> = { ...rec };
  for (const k of OUTPUT_KEYS) delete input[k];
  return evaluateRecord(input as never)['out'] as Record<string, unknown>;
}

const same = (a: unknown, b: unknown) => sameValue(a ?? null, b ?? null);

function check(file: string, kinds: string[], diff: (rec: Record<string, unknown>, out: Record<string, unknown>) => string[]): void {
  const recs = readGolden(file).filter((r) => kinds.includes(String(r['kind'])));
  const failures: string[] = [];
  for (const rec of recs) {
    let d: string[];
    try {
      d = diff(rec, outOf(rec));
    } catch (e) {
      d = [`threw ${(e as Error).message}`];
    }
    if (d.length) failures.push(`${String(rec['id'])}: ${d.join(', ')}`);
  }
  expect(recs.length).toBeGreaterThan(0);
  expect(failures.slice(0, 5), `${failures.length}/${recs.length} records differ`).toEqual([]);
}

function stepsDiff(rec: Record<string, unknown>, out: Record<string, unknown>): string[] {
  const exp = rec['steps'] as Record<string, unknown>[];
  const got = Array.isArray(out['steps']) ? (out['steps'] as Record<string, unknown>[]) : [];
  const bad: string[] = [];
  if (got.length !== exp.length) bad.push(`steps(${got.length}/${exp.length})`);
  exp.forEach((st, i) => {
    for (const k of ['value', 'exceptions', 'mmu']) {
      if (!same(st[k], got[i]?.[k])) bad.push(`step${i}.${k}: expected ${JSON.stringify(st[k] ?? null)}, got ${JSON.stringify(got[i]?.[k] ?? null)}`);
    }
  });
  return bad;
}

describe('golden/kvm (real KVM 6.18 shadow MMU) through eval', () => {
  it('kvmshadow: walks.jsonl.gz shadow events', () => {
    check('kvm/walks.jsonl.gz', ['walk'], (rec, out) => (same(rec['shadow'] ?? [], out['shadow']) ? [] : [`shadow: expected ${JSON.stringify(rec['shadow'])}, got ${JSON.stringify(out['shadow'])}`]));
  });
  it('kvmroot: roles.jsonl.gz root_role records', () => {
    check('kvm/roles.jsonl.gz', ['root_role'], (rec, out) =>
      ['root_role', 'warmup_get_page', 'access_get_page'].filter((k) => !same(rec[k], out[k])).map((k) => `${k}: expected ${JSON.stringify(rec[k])}, got ${JSON.stringify(out[k])}`),
    );
  });
  it('kvmseq: roles.jsonl.gz root_transition records', () => {
    check('kvm/roles.jsonl.gz', ['root_transition'], stepsDiff);
  });
  it('kvmseq: writes.jsonl.gz write_tracking records', () => {
    check('kvm/writes.jsonl.gz', ['write_tracking'], stepsDiff);
  });
});

/**
 * Beyond what golden-check compares: the executor's replay reproduces every recorded field of
 * the tool's output that the model covers (walks, exits, registers, emulated RIPs, gptes_after,
 * KVM_TRANSLATE; not the stats).
 */
describe('golden/kvm: the executor replay, field by field', () => {
  const STEP_KEYS = ['args', 'exit', 'exits', 'exceptions', 'cr0', 'cr3', 'cr4', 'efer', 'cpl', 'value', 'translate', 'walks', 'mmu', 'emulated', 'gptes_after', 'set_sregs_errno'];
  it('write_tracking and root_transition steps', async () => {
    const { replayProbe } = await import('../../src/eval/kvm.js');
    const { oracleStep } = await import('../../src/probe/encode.js');
    const failures: string[] = [];
    let n = 0;
    for (const file of ['kvm/roles.jsonl.gz', 'kvm/writes.jsonl.gz']) {
      for (const rec of readGolden(file).filter((r) => Array.isArray(r['scenario']))) {
        const vm = replayProbe(rec['scenario'] as string[])[0]!;
        (rec['steps'] as Record<string, unknown>[]).forEach((st, i) => {
          n++;
          const got = oracleStep(vm.steps[i]!) as Record<string, unknown>;
          for (const k of STEP_KEYS) if (!same(st[k], got[k])) failures.push(`${String(rec['id'])} step ${i} ${k}`);
        });
      }
    }
    expect(n).toBeGreaterThan(80);
    expect(failures.slice(0, 5), `${failures.length} differences`).toEqual([]);
  });
  it('walk records: target and other walks, exceptions, exits, gptes_after', async () => {
    const { replayProbe, walkScenario } = await import('../../src/eval/kvm.js');
    const { oracleStep } = await import('../../src/probe/encode.js');
    const failures: string[] = [];
    const recs = readGolden('kvm/walks.jsonl.gz').filter((r) => r['kind'] === 'walk');
    for (const rec of recs) {
      const vm = replayProbe(walkScenario(rec as never))[0]!;
      const st = oracleStep(vm.steps.at(-1)!) as Record<string, unknown>;
      const walks = st['walks'] as { addr: string }[];
      const va = BigInt(rec['va'] as string);
      const exits = (rec['exits'] as (string | { reason: string })[]).map((x) => (typeof x === 'string' ? x : x.reason));
      const pairs: [string, unknown, unknown][] = [
        ['target_walks', rec['target_walks'], walks.filter((w) => BigInt(w.addr) === va)],
        ['other_walks', rec['other_walks'], walks.filter((w) => BigInt(w.addr) !== va)],
        ['exceptions', rec['exceptions'], st['exceptions']],
        ['exits', exits, st['exits'] ?? [st['exit']]],
        ['gptes_after', rec['gptes_after'], st['gptes_after']],
      ];
      for (const [k, a, b] of pairs) if (!same(a, b)) failures.push(`${String(rec['id'])} ${k}`);
    }
    expect(recs.length).toBeGreaterThan(800);
    expect(failures.slice(0, 5), `${failures.length} differences`).toEqual([]);
  });
});

describe('golden/kvm: the MMU counters per step', () => {
  /** Every counter of every step must match (docs/findings.md S1, S2: both fixed). */
  it('write_tracking and root_transition steps: vm, vm_now, vcpu', async () => {
    const { replayProbe } = await import('../../src/eval/kvm.js');
    const { oracleStep } = await import('../../src/probe/encode.js');
    const failures: string[] = [];
    for (const file of ['kvm/roles.jsonl.gz', 'kvm/writes.jsonl.gz']) {
      for (const rec of readGolden(file).filter((r) => Array.isArray(r['scenario']))) {
        const vm = replayProbe(rec['scenario'] as string[])[0]!;
        (rec['steps'] as Record<string, Record<string, Record<string, number>>>[]).forEach((st, i) => {
          const got = (oracleStep(vm.steps[i]!)['stats'] ?? {}) as Record<string, Record<string, number>>;
          for (const part of ['vm', 'vm_now', 'vcpu']) {
            const e = st['stats']?.[part] ?? {};
            const g = got[part] ?? {};
            for (const k of new Set([...Object.keys(e), ...Object.keys(g)])) {
              if ((e[k] ?? 0) !== (g[k] ?? 0)) failures.push(`${String(rec['id'])} step ${i} ${part}.${k}: expected ${e[k] ?? 0}, got ${g[k] ?? 0}`);
            }
          }
        });
      }
    }
    expect(failures.slice(0, 5), `${failures.length} differences`).toEqual([]);
  });
  it('S2 (fixed): the first KVM_RUN counts the TLB flush KVM_SET_SREGS requested, as KVM does', async () => {
    const { replayProbe } = await import('../../src/eval/kvm.js');
    const { oracleStep } = await import('../../src/probe/encode.js');
    let records = 0;
    for (const file of ['kvm/roles.jsonl.gz', 'kvm/writes.jsonl.gz']) {
      for (const rec of readGolden(file).filter((r) => Array.isArray(r['scenario']))) {
        const vm = replayProbe(rec['scenario'] as string[])[0]!;
        const st = (rec['steps'] as Record<string, Record<string, Record<string, number>>>[])[0]!;
        const got = (oracleStep(vm.steps[0]!)['stats'] ?? {}) as Record<string, Record<string, number>>;
        expect(st['stats']?.['vcpu']?.['tlb_flush']).toBe(1);
        expect(got['vcpu']?.['tlb_flush']).toBe(1);
        records++;
      }
    }
    expect(records).toBeGreaterThan(10);
  });
  it('walk records: the access step', async () => {
    const { replayProbe, walkScenario } = await import('../../src/eval/kvm.js');
    const { oracleStep } = await import('../../src/probe/encode.js');
    const failures: string[] = [];
    for (const rec of readGolden('kvm/walks.jsonl.gz').filter((r) => r['kind'] === 'walk')) {
      const vm = replayProbe(walkScenario(rec as never))[0]!;
      const got = (oracleStep(vm.steps.at(-1)!)['stats'] ?? {}) as Record<string, Record<string, number>>;
      const exp = (rec['stats'] ?? {}) as Record<string, Record<string, number>>;
      for (const part of ['vm', 'vm_now', 'vcpu']) {
        const e = exp[part] ?? {};
        const g = got[part] ?? {};
        for (const k of new Set([...Object.keys(e), ...Object.keys(g)])) {
          if ((e[k] ?? 0) !== (g[k] ?? 0)) failures.push(`${String(rec['id'])} ${part}.${k}: expected ${e[k] ?? 0}, got ${g[k] ?? 0}`);
        }
      }
    }
    expect(failures.slice(0, 5), `${failures.length} differences`).toEqual([]);
  });
});
