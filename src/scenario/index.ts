export * from './parse.js';
export * from './run.js';
export * from './journal.js';
export * from './render.js';
export * from './context.js';
export * from './guest.js';
