/**
 * The machine's KVM as a model host: what the model must be told for its runs to be comparable
 * with this KVM's — the CPU (vendor, MAXPHYADDR from KVM's supported CPUID 0x80000008, L1TF),
 * whether the host has LA57, and the kvm module parameters the shadow MMU reads
 * (mmio_caching, and kvm_pvm's eager_zap_unsync_children). A KVM that runs guests on TDP
 * (EPT/NPT) has no shadow MMU to compare: live runs refuse it with the reason.
 */
import { existsSync, readFileSync } from 'node:fs';
import { HOSTS, type HostConfig } from '../mmu/index.js';
import { LiveUnavailable, type KvmRunner } from './runner.js';

export interface LiveHost {
  readonly host: Partial<HostConfig>;
  readonly hostLa57: boolean;
  /** kvm_pvm: no 32-bit paging (the model's `pvm` limits). */
  readonly pvm: boolean;
  /** What was read, for the report header. */
  readonly summary: string;
}

function param(mod: string, name: string): string | null {
  const p = `/sys/module/${mod}/parameters/${name}`;
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return null;
  }
}

const yes = (v: string | null) => v === 'Y' || v === 'y' || v === '1';

function cpuid(r: KvmRunner, leaf: number, index = 0): number[] | null {
  const w = r.one(`cpuidq 0x${leaf.toString(16)} ${index}`, 'c');
  return w[0] === '-' ? null : w.map((x) => Number(x));
}

export function liveHost(r: KvmRunner): LiveHost {
  for (const [mod, p] of [
    ['kvm_intel', 'ept'],
    ['kvm_amd', 'npt'],
  ] as const) {
    if (yes(param(mod, p))) throw new LiveUnavailable(`this KVM runs guests on TDP (${mod}.${p}=Y): there is no shadow MMU to compare; load ${mod} with ${p}=0`);
  }
  const l0 = cpuid(r, 0);
  const vendor = l0 && l0[1] === 0x68747541 ? 'amd' : 'intel';
  const ext = cpuid(r, 0x80000008);
  const maxphy = ext ? ext[0]! & 0xff : 36;
  let l1tf = false;
  try {
    l1tf = !/Not affected/.test(readFileSync('/sys/devices/system/cpu/vulnerabilities/l1tf', 'utf8'));
  } catch {
    l1tf = vendor === 'intel';
  }
  const want = `${vendor}-${maxphy}${l1tf ? '-l1tf' : ''}`;
  const cpu = HOSTS[want] ? want : HOSTS[`${vendor}-${maxphy}`] ? `${vendor}-${maxphy}` : null;
  if (!cpu) throw new LiveUnavailable(`the model has no host CPU like this one (${want}: vendor ${vendor}, MAXPHYADDR ${maxphy}); known: ${Object.keys(HOSTS).join(', ')}`);
  const l7 = cpuid(r, 7, 0);
  const hostLa57 = l7 !== null && ((l7[2]! >>> 16) & 1) === 1;
  const mmio = param('kvm', 'mmio_caching');
  const eager = param('kvm', 'eager_zap_unsync_children');
  const host: Partial<HostConfig> = {
    vendor,
    cpu,
    ...(mmio !== null ? { mmio_caching: yes(mmio) } : {}),
    ...(eager !== null ? { eager_zap_unsync_children: yes(eager) } : {}),
  };
  const summary = `host ${cpu}${hostLa57 ? ' la57' : ''}, kvm.mmio_caching=${mmio ?? '?'}${eager !== null ? `, kvm.eager_zap_unsync_children=${eager}` : ''}`;
  const pvm = existsSync('/sys/module/kvm_pvm');
  return { host, hostLa57, pvm, summary: summary + (pvm ? ', kvm_pvm' : '') };
}
