/** Every `shadow-mmu` subcommand, one line each. */
import type { Command } from '../command.js';
import { demoCommand } from './demo.js';
import { evalCommand } from './eval.js';
import { profilesCommand } from './profiles.js';
import { rolesCommand } from './roles.js';
import { runCommand } from './run.js';

export const COMMANDS: readonly Command[] = [demoCommand, evalCommand, profilesCommand, rolesCommand, runCommand];
