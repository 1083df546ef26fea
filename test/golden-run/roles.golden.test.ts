import { describe, it } from 'vitest';
import { goldenFiles } from '../support/golden.js';
import { expectClean, runFnGolden } from '../support/golden-run.js';

// Every roles file, every fn: each shared line must come out of eval exactly.
describe('golden/roles through eval', () => {
  for (const file of goldenFiles('roles', /\.jsonl\.gz$/)) {
    it(file, () => {
      expectClean(runFnGolden(file));
    });
  }
});
