export * from './errors.js';
export * from './hex.js';
export * from './u64.js';
