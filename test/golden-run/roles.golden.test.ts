import { describe, it } from 'vitest';
import { goldenFiles } from '../support/golden.js';
import { expectClean, runFnGolden } from './golden.js';

// Role fns implemented so far; grows as the role functions land.
const IMPLEMENTED = new Set(['role_layout', 'decode', 'page_hash']);

describe('golden/roles through eval', () => {
  for (const file of goldenFiles('roles', /\.(decode|hash)\.jsonl\.gz$/)) {
    it(file, () => {
      expectClean(runFnGolden(file, (fn) => IMPLEMENTED.has(fn)));
    });
  }
});
