/**
 * A live VM's binary statistics (KVM_GET_STATS_FD, read by the runner) as the step records hold
 * them: deltas of the cumulative VM and vCPU counters, and the new values of the VM's instant and
 * peak ones, only the MMU's names (src/probe/stats.ts, the same filter the model's steps use).
 */
import { sorted, VCPU_STATS, VM_STATS, type ProbeStats } from '../probe/stats.js';
import type { KvmRunner } from './runner.js';

/** kvm_stats_desc flags: the type in bits 0..3 (0 cumulative, 1 instant, 2 peak). */
const KVM_STATS_TYPE_MASK = 0xf;
const KVM_STATS_TYPE_CUMULATIVE = 0;

export interface StatsDesc {
  readonly vm: ReadonlyMap<number, { readonly name: string; readonly cumulative: boolean }>;
  readonly vcpu: ReadonlyMap<number, { readonly name: string; readonly cumulative: boolean }>;
}

export interface StatsValues {
  readonly vm: Record<string, number>;
  readonly vcpu: Record<string, number>;
}

export function readStatsDesc(r: KvmRunner): StatsDesc {
  const vm = new Map<number, { name: string; cumulative: boolean }>();
  const vcpu = new Map<number, { name: string; cumulative: boolean }>();
  for (const l of r.cmd('statdesc')) {
    const [tag, who, idx, flags, name] = l.split(' ');
    if (tag !== 'D' || !name) continue;
    (who === 'vm' ? vm : vcpu).set(Number(idx), { name, cumulative: (Number(flags) & KVM_STATS_TYPE_MASK) === KVM_STATS_TYPE_CUMULATIVE });
  }
  return { vm, vcpu };
}

export function readStats(r: KvmRunner, d: StatsDesc): StatsValues {
  const vm: Record<string, number> = {};
  const vcpu: Record<string, number> = {};
  for (const l of r.cmd('stats')) {
    const [tag, who, idx, v] = l.split(' ');
    if (tag !== 'S') continue;
    const desc = (who === 'vm' ? d.vm : d.vcpu).get(Number(idx));
    if (desc) (who === 'vm' ? vm : vcpu)[desc.name] = Number(v);
  }
  return { vm, vcpu };
}

/** The step's counters from the values before and after it. */
export function liveStatsDelta(d: StatsDesc, a: StatsValues, b: StatsValues): ProbeStats {
  const vm: Record<string, number> = {};
  const vmNow: Record<string, number> = {};
  const vcpu: Record<string, number> = {};
  for (const { name, cumulative } of d.vm.values()) {
    if (!VM_STATS.test(name)) continue;
    const x = a.vm[name] ?? 0;
    const y = b.vm[name] ?? 0;
    if (x === y) continue;
    if (cumulative) vm[name] = y - x;
    else vmNow[name] = y;
  }
  for (const { name } of d.vcpu.values()) {
    if (!VCPU_STATS.test(name)) continue;
    const x = a.vcpu[name] ?? 0;
    const y = b.vcpu[name] ?? 0;
    if (x !== y) vcpu[name] = y - x;
  }
  return { vm: sorted(vm), vm_now: sorted(vmNow), vcpu: sorted(vcpu) };
}
