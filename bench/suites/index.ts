/** Every benchmark suite, one line each. */
import type { BenchSuite } from '../harness.js';
import { cacheSuite } from './cache.js';
import { cpuSuite } from './cpu.js';
import { rolesSuite } from './roles.js';
import { walkerSuite } from './walker.js';
import { mmuSuite } from './mmu.js';
import { syncSuite } from './sync.js';
import { kvmSuite } from './kvm.js';
import { scaleSuite } from './scale.js';
import { evalSuite } from './eval.js';

export const SUITES: readonly BenchSuite[] = [rolesSuite, cpuSuite, walkerSuite, cacheSuite, mmuSuite, syncSuite, kvmSuite, scaleSuite, evalSuite];
