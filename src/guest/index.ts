/** The guest side: memory, page-table formats and builder, and the guest page-table walker. */
export * from './constants.js';
export * from './memory.js';
export * from './rsvd.js';
export * from './permissions.js';
export * from './mmu.js';
export * from './walker.js';
export * from './events.js';
export * from './access.js';
export * from './builder.js';
