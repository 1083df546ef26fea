/** Every benchmark suite, one line each. */
import type { BenchSuite } from '../harness.js';

export const SUITES: readonly BenchSuite[] = [];
