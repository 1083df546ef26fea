export * from './layout.js';
export * from './format.js';
export * from './hash.js';
