/**
 * A step's counters as kvm-probe reports them (KVM_GET_STATS_FD, gen-oracle.mjs filtStats):
 * `vm` = deltas of the cumulative VM counters, `vm_now` = new values of the instant and peak
 * ones that changed, `vcpu` = deltas of the vCPU counters; only the MMU-relevant names.
 */
import type { MmuStats } from '../mmu/index.js';

export interface ProbeStats {
  readonly vm: Record<string, number>;
  readonly vm_now: Record<string, number>;
  readonly vcpu: Record<string, number>;
}

/** The counters a step reports (the rest are host noise: exits, halt polling, preemption). */
export const VM_STATS = /^(mmu_|pages_|remote_tlb_flush|nx_lpage|max_mmu)/;
export const VCPU_STATS = /^(pf_|invlpg$|insn_emulation|tlb_flush$|guest_mode)/;
/** KVM_STATS_TYPE_INSTANT / _PEAK VM stats (kvm_vm_stats_desc); the rest are cumulative. */
const NOT_CUMULATIVE = new Set(['mmu_unsync', 'pages_4k', 'pages_2m', 'pages_1g', 'nx_lpage_splits', 'max_mmu_rmap_size', 'max_mmu_page_hash_collisions']);

export function sorted(o: Record<string, number>): Record<string, number> {
  const r: Record<string, number> = {};
  for (const k of Object.keys(o).sort()) r[k] = o[k]!;
  return r;
}

/**
 * The step's counters from the facade's counters before and after it, plus the emulator's own:
 * `insnEmulation` instructions went through it, `insnEmulationFail` of them failed.
 */
export function statsDelta(before: MmuStats, after: MmuStats, insnEmulation: number, insnEmulationFail = 0): ProbeStats {
  const vm: Record<string, number> = {};
  const vmNow: Record<string, number> = {};
  const vcpu: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.vm)) {
    if (!VM_STATS.test(k)) continue;
    const b = before.vm[k] ?? 0;
    if (v === b) continue;
    if (NOT_CUMULATIVE.has(k)) vmNow[k] = v;
    else vm[k] = v - b;
  }
  for (const [k, v] of Object.entries(after.vcpu)) {
    if (!VCPU_STATS.test(k)) continue;
    const b = before.vcpu[k] ?? 0;
    if (v !== b) vcpu[k] = v - b;
  }
  if (insnEmulation) vcpu['insn_emulation'] = insnEmulation;
  if (insnEmulationFail) vcpu['insn_emulation_fail'] = insnEmulationFail;
  return { vm: sorted(vm), vm_now: sorted(vmNow), vcpu: sorted(vcpu) };
}
