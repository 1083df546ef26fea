/** Every `shadow-mmu` subcommand, one line each. */
import type { Command } from '../command.js';
import { demoCommand } from './demo.js';
import { diffCommand } from './diff.js';
import { traceCommand } from './trace.js';
import { fuzzCommand } from './fuzz.js';
import { kvmCommand } from './kvm.js';
import { evalCommand } from './eval.js';
import { profilesCommand } from './profiles.js';
import { rolesCommand } from './roles.js';
import { runCommand } from './run.js';
import { canonicalCommand } from './canonical.js';
import { cpuidCommand } from './cpuid.js';
import { lamCommand } from './lam.js';
import { migrateCheckCommand } from './migrate-check.js';
import { tdpCheckCommand } from './tdp-check.js';
import { walkCommand } from './walk.js';

export const COMMANDS: readonly Command[] = [
  demoCommand,
  evalCommand,
  profilesCommand,
  rolesCommand,
  canonicalCommand,
  cpuidCommand,
  lamCommand,
  migrateCheckCommand,
  tdpCheckCommand,
  walkCommand,
  runCommand,
  diffCommand,
  traceCommand,
  fuzzCommand,
  kvmCommand,
];
