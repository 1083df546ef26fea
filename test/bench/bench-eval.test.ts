import { describe, expect, it } from 'vitest';
import { checkRecord } from '../../src/eval/check.js';
import { EVAL_FAMILIES, evalRates, evalSuite, familyRecords } from '../../bench/suites/eval.js';

describe('bench eval suite', () => {
  it('has one case per oracle family, each over records eval --check would check', () => {
    expect(evalSuite.cases.map((c) => c.name.split(', ')[1]!.split(' ')[0])).toEqual([...EVAL_FAMILIES]);
    const cpu = familyRecords('cpu');
    expect(cpu.length).toBeGreaterThan(1000);
    for (const rec of cpu.slice(0, 50)) expect(checkRecord(rec, 0)).not.toBeNull();
    evalSuite.cases.find((c) => c.name.includes(', cpu '))!.fn();
  });

  it('turns ops/s into records/s per family', () => {
    const line = evalRates([{ suite: 'eval', name: 'eval --check records, cpu (32 per op)', median_hz: 10, min_hz: 5, max_hz: 20, spread_pct: 0, rounds: 3, samples: 9, counts: { records: 32, family_records: 5609 } }]);
    expect(line).toBe('eval cpu            320 records/s (min 160, max 640; 5609 records in the family)');
  });
});
