/** The library API. */
export * from './bits/index.js';
export { getProfile, PROFILE_NAMES, CHANGES, type Profile, type ChangeName } from './profiles/index.js';
export * from './roles/index.js';
/** A page role as the kvmmmu tracepoints print it. */
export { formatRole } from './trace/print.js';
/** CPU features (CPUID, LA57, LAM, canonical checks, TDP level): a namespace, its constants overlap the roles ones. */
export * as cpu from './cpu/index.js';
export * from './guest/index.js';
