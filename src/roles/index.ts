/**
 * Page roles: layouts and codec, tracepoint text, the page hash, and role computation for every
 * profile (root roles per MMU kind, shadow-page roles, TDP-MMU page roles).
 */
export * from './layout.js';
export * from './format.js';
export * from './hash.js';
export * from './regs.js';
export * from './host.js';
export * from './types.js';
export { put as putRoleField, has4ByteGpte } from './word.js';
export * from './mmu-role.js';
export * from './cpu-role.js';
export * from './root-page-role.js';
export * from './rfc.js';
export * from './root-role.js';
export * from './sp-role.js';
export * from './tdp-mmu-role.js';
export * from './inputs.js';
export * from './predicates.js';
