/**
 * `eval` throughput per oracle family: every record of the shipped golden files of one family
 * (test/golden/roles, spte, cpu, access, kvm), run through checkRecord — what `shadow-mmu eval
 * --check` does per record: evaluate, then compare with the expected fields. Files are read and
 * parsed once, outside the timed body; one operation is the next CHUNK records of the family,
 * round-robin, so slow families (kvm scenario replays) still give short operations. records/s =
 * ops/s x records per op (`evalRates`). A record that does not match fails the case.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { BenchCase, BenchSuite, CaseResult } from '../harness.js';
import { checkRecord } from '../../src/eval/check.js';
import type { JsonObject } from '../../src/eval/types.js';

/** dist/bench/suites -> <root>/test/golden (and bench/suites when run from source). */
function goldenDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of [['..', '..', '..'], ['..', '..']]) {
    const d = join(here, ...up, 'test', 'golden');
    try {
      if (statSync(d).isDirectory()) return d;
    } catch {
      // not this layout
    }
  }
  throw new Error('bench eval: test/golden not found');
}

export const EVAL_FAMILIES = ['roles', 'spte', 'cpu', 'access', 'kvm'] as const;
const CHUNK = 32;

function jsonlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...jsonlFiles(p));
    else if (/\.jsonl(\.gz)?$/.test(e)) out.push(p);
  }
  return out;
}

const loaded = new Map<string, JsonObject[]>();
const KVM_KINDS = ['walk', 'root_role', 'root_transition', 'write_tracking'];

/** Whether checkRecord has something to compare in rec (its own test, without evaluating). */
function hasExpected(rec: JsonObject): boolean {
  if (typeof rec['fn'] === 'string' && rec['out'] && typeof rec['out'] === 'object') return true;
  if (rec['expect'] && typeof rec['expect'] === 'object') return true;
  return KVM_KINDS.includes(String(rec['kind']));
}

/** The family's records that have something to check (checkRecord is not null for them). */
export function familyRecords(family: string): JsonObject[] {
  let recs = loaded.get(family);
  if (recs) return recs;
  recs = [];
  for (const f of jsonlFiles(join(goldenDir(), family))) {
    const buf = readFileSync(f);
    const text = f.endsWith('.gz') ? gunzipSync(buf).toString('utf8') : buf.toString('utf8');
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const rec = JSON.parse(line) as JsonObject;
      if (hasExpected(rec)) recs.push(rec);
    }
  }
  loaded.set(family, recs);
  return recs;
}

function familyCase(family: string): BenchCase {
  let next = 0;
  return {
    name: `eval --check records, ${family} (${CHUNK} per op)`,
    fn() {
      const recs = familyRecords(family);
      for (let k = 0; k < CHUNK; k++) {
        const i = next;
        next = (next + 1) % recs.length;
        const r = checkRecord(recs[i]!, i);
        if (r !== null && r.diff !== null) throw new Error(`bench eval: ${family} record ${r.id} does not match: ${r.diff}`);
      }
    },
    counts: () => ({ records: CHUNK, family_records: familyRecords(family).length }),
  };
}

export const evalSuite: BenchSuite = {
  name: 'eval',
  cases: EVAL_FAMILIES.map(familyCase),
};

/** records/s per family from the suite's results (median, min and max over rounds). */
export function evalRates(results: readonly CaseResult[]): string {
  const rows = results.filter((r) => r.suite === 'eval' && r.counts);
  const f = (x: number) => Math.round(x).toLocaleString('en-US');
  return rows
    .map((r) => {
      const n = r.counts!['records']!;
      const fam = /, (\w+) \(/.exec(r.name)?.[1] ?? r.name;
      return `eval ${fam.padEnd(7)} ${f(r.median_hz * n).padStart(10)} records/s (min ${f(r.min_hz * n)}, max ${f(r.max_hz * n)}; ${r.counts!['family_records']} records in the family)`;
    })
    .join('\n');
}
