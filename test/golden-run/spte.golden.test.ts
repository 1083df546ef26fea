import { describe, it } from 'vitest';
import { goldenFiles } from '../support/golden.js';
import { expectClean, runFnGolden } from '../support/golden-run.js';

describe('golden/spte through eval', () => {
  for (const file of goldenFiles('spte')) {
    it(file, () => {
      expectClean(runFnGolden(file));
    });
  }
});
