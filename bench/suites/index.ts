/** Every benchmark suite, one line each. */
import type { BenchSuite } from '../harness.js';
import { cpuSuite } from './cpu.js';
import { rolesSuite } from './roles.js';

export const SUITES: readonly BenchSuite[] = [rolesSuite, cpuSuite];
