/**
 * The built-in demonstration (`npm start`): a list of sections, each owned by the domain it
 * shows. A section returns its text report and a JSON value for `--format json`.
 */
import { mmuDemo } from './mmu.js';
import { rolesDemo } from './roles.js';
import { cpuDemo } from './cpu.js';
import { walkerDemo } from './walker.js';
import { guestSetupDemo } from './guest-setup.js';
import { reviewDemo } from './review.js';

import type { DemoSection } from './section.js';

export type { DemoSection } from './section.js';

export const DEMO_SECTIONS: readonly DemoSection[] = [rolesDemo, cpuDemo, walkerDemo, mmuDemo, guestSetupDemo, reviewDemo];
