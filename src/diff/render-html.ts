import type { PairDiff } from './compare.js';
import type { DiffRun } from './model.js';
export function renderHtml(_scenario: string, _runs: readonly DiffRun[], _pairs: readonly PairDiff[]): string {
  return '';
}
