/** The library API. */
export * from './bits/index.js';
export { getProfile, PROFILE_NAMES, CHANGES, type Profile, type ChangeName } from './profiles/index.js';
export * from './roles/index.js';
