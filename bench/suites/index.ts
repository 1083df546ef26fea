/** Every benchmark suite, one line each. */
import type { BenchSuite } from '../harness.js';
import { rolesSuite } from './roles.js';
import { walkerSuite } from './walker.js';

export const SUITES: readonly BenchSuite[] = [rolesSuite, walkerSuite];
