/**
 * `--host NAME|FILE` for guest runs: the host KVM runs on, as the fault path sees it.
 * `default` is src/mmu's DEFAULT_HOST (mmio_caching on, as on most hosts); `recorded` is the
 * machine the real-KVM vectors were recorded on (kvm_pvm, mmio_caching=N,
 * eager_zap_unsync_children=N, as `eval` replays them: --pvm implied); a file
 * is a JSON object of host keys; `no-la57` is a host whose CPU lacks 5-level paging; `cpuinfo`
 * (or `cpuinfo:ROOT`) is this machine (or a saved copy of one) as /proc/cpuinfo and the KVM
 * module parameters describe it (host-machine.ts).
 */
import { readFileSync } from 'node:fs';
import { badInput, ShadowMmuError } from '../bits/errors.js';
import { quote } from '../bits/quote.js';
import { RECORDED_HOST } from '../probe/vcpu.js';
import type { HostConfig } from '../mmu/index.js';
import { parseHostKeys, type HostKey } from './host-keys.js';
import { hostFromMachine } from './host-machine.js';

export interface HostOption {
  readonly host: Partial<HostConfig>;
  /** The host CPU has LA57 (5-level paging); without it a guest cannot set CR4.LA57. */
  readonly la57: boolean;
  /** The host is a PVM host (kvm_pvm): its limits apply, as with --pvm. */
  readonly pvm?: boolean;
  /** What a machine host was read from (`cpuinfo`), one line each. */
  readonly facts?: readonly string[];
}

export const HOST_PRESETS: Readonly<Record<string, HostOption>> = {
  default: { host: {}, la57: true },
  recorded: { host: RECORDED_HOST, la57: true, pvm: true },
  'no-la57': { host: {}, la57: false },
};

const KEYS: readonly HostKey[] = ['vendor', 'cpu', 'mmio_caching', 'thp', 'nr_mmu_pages', 'la57', 'eager_zap_unsync_children', 'nx_huge_pages'];

export function parseHostOption(spec: string): HostOption {
  const preset = HOST_PRESETS[spec];
  if (preset) return preset;
  if (spec === 'cpuinfo' || spec.startsWith('cpuinfo:')) return hostFromMachine(spec === 'cpuinfo' ? '/' : spec.slice('cpuinfo:'.length) || '/');
  if (!/[./]/.test(spec)) badInput('--host', `unknown host ${quote(spec)} (expected ${Object.keys(HOST_PRESETS).join(', ')}, cpuinfo[:ROOT], or a JSON file)`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(spec, 'utf8'));
  } catch (e) {
    throw new ShadowMmuError('EINVAL_INPUT', `--host ${quote(spec)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) badInput(`--host ${spec}`, 'expected a JSON object of host keys');
  const out = parseHostKeys(json as Record<string, unknown>, `--host ${spec}`, KEYS);
  const { la57, ...host } = out;
  return { host: host as Partial<HostConfig>, la57: la57 !== false };
}
