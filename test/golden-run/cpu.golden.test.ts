import { describe, it } from 'vitest';
import { goldenFiles } from '../support/golden.js';
import { expectClean, runFnGolden } from '../support/golden-run.js';

// Every fn of golden/cpu (README there is the schema) through the eval registry.
describe('golden/cpu through eval', () => {
  for (const file of goldenFiles('cpu', /\.jsonl\.gz$/)) {
    it(file, () => {
      expectClean(runFnGolden(file));
    });
  }
});
