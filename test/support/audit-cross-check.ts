/**
 * Vitest setup (vitest.config.ts setupFiles): every audit in every test also runs the reference
 * auditReport, and one that auditClean passed while auditReport finds a violation throws.
 */
import { auditCrossCheck } from '../../src/mmu/vm/audit.js';

auditCrossCheck.on = true;
