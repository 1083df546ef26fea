/** The diff as one JSON document (event lines as their text under each profile). */
import type { PairDiff } from './compare.js';

export function diffJson(scenario: string, pairs: readonly PairDiff[]): unknown {
  return {
    scenario,
    differs: pairs.some((p) => p.differs),
    pairs: pairs.map((p) => ({
      a: p.a,
      b: p.b,
      summary: p.summary,
      common_fields: p.commonFields,
      layout_only_fields: p.layoutOnlyFields,
      steps: p.steps.map((s) => ({
        vm: s.vm,
        step: s.step,
        label: s.label,
        differs: s.differs,
        outcome_a: s.outcomeA,
        outcome_b: s.outcomeB,
        events: s.lines.map((l) =>
          l.op === 'same' ? { op: l.layoutOnly.length ? 'layout-only' : 'same', a: l.a.text, b: l.b.text, ...(l.layoutOnly.length ? { fields: l.layoutOnly } : {}) } : l.op === 'del' ? { op: 'only-a', a: l.a.text } : { op: 'only-b', b: l.b.text },
        ),
        changes_a: s.changesA,
        changes_b: s.changesB,
        violations_a: s.violationsA,
        violations_b: s.violationsB,
      })),
      forests: p.forests,
      counters: p.counters,
    })),
  };
}
