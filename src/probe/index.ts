/** The vCPU driver: kvm-probe's scenario language and guest, executed on the shadow MMU as KVM runs a guest. */
export * from './parse.js';
export * from './config.js';
export * from './layout.js';
export * from './insn.js';
export * from './cpu.js';
export * from './encode.js';
export * from './stats.js';
export * from './exec.js';
export * from './vcpu.js';
export * from './replay.js';
