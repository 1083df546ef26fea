/**
 * A host description: raw CPUID leaves (JSON) or a /proc/cpuinfo text, plus the boot command
 * line, and what follows from it per profile: the boot-time 5-level decision, the host kernel's
 * LA57 flag, KVM's LA57/LAM capabilities and the TDP configuration (cpu-features.md sections 1.4,
 * 2, 3).
 */
import { badInput } from '../bits/errors.js';
import { parseU32, parseUnsigned } from '../bits/hex.js';
import type { Profile } from '../profiles/index.js';
import { boot_l5_decision, LA57_BIT, type BootDecision } from './boot.js';
import { kvm_set_cpu_caps, LAM_BIT, type KvmCaps } from './caps.js';
import type { CpuidRegs } from './cpuid.js';
import {
  kvm_configure_mmu,
  kvm_mmu_get_max_tdp_level,
  VMX_EPT_1GB_PAGE_BIT,
  VMX_EPT_2MB_PAGE_BIT,
  VMX_EPT_AD_BIT,
  VMX_EPT_EXECUTE_ONLY_BIT,
  VMX_EPT_EXTENT_CONTEXT_BIT,
  VMX_EPT_EXTENT_GLOBAL_BIT,
  VMX_EPT_INVEPT_BIT,
  VMX_EPT_PAGE_WALK_4_BIT,
  VMX_EPT_PAGE_WALK_5_BIT,
  VMX_EPTP_WB_BIT,
  type TdpConfig,
  type TdpHost,
} from './tdp.js';
import { quote } from '../bits/quote.js';
import { parseJson } from '../bits/json-input.js';

/** One raw CPUID leaf of the host. */
export interface RawLeaf extends CpuidRegs {
  readonly function: number;
  readonly index: number;
}

export interface HostDesc {
  readonly label: string;
  readonly vendor: 'vmx' | 'svm';
  readonly leaves: readonly RawLeaf[];
  /** IA32_VMX_EPT_VPID_CAP (VMX only). */
  readonly ept_caps: bigint;
  readonly cmdline: string | null;
  readonly config_x86_5level: boolean;
  /** The host kernel's own 7.0:ECX / 7.1:EAX words when known (cpuinfo flags); else derived. */
  readonly kernel_caps_7_ecx: number | null;
  readonly kernel_caps_7_1_eax: number | null;
}

/** Raw CPUID of the host for (fn, index): zeros for a leaf the description does not list. */
export function rawCpuid(host: HostDesc, fn: number, index = 0): CpuidRegs {
  const l = host.leaves.find((e) => e.function === fn >>> 0 && e.index === index >>> 0);
  return l ? { eax: l.eax, ebx: l.ebx, ecx: l.ecx, edx: l.edx } : { eax: 0, ebx: 0, ecx: 0, edx: 0 };
}

/** A default EPT capability word: 4-level walks, WB, 2M/1G pages, INVEPT, A/D, and 5-level if asked. */
export function eptCaps(five: boolean): bigint {
  let c =
    VMX_EPT_EXECUTE_ONLY_BIT | VMX_EPT_PAGE_WALK_4_BIT | VMX_EPTP_WB_BIT | VMX_EPT_2MB_PAGE_BIT | VMX_EPT_1GB_PAGE_BIT |
    VMX_EPT_INVEPT_BIT | VMX_EPT_AD_BIT | VMX_EPT_EXTENT_CONTEXT_BIT | VMX_EPT_EXTENT_GLOBAL_BIT;
  if (five) c |= VMX_EPT_PAGE_WALK_5_BIT;
  return c;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const INTEL = [0x756e6547, 0x6c65746e, 0x49656e69];

/**
 * Parse a host JSON: `{"label"?, "vendor"?: "vmx"|"svm", "leaves": [{"function","index"?,"eax".."edx"}],
 * "ept_caps"?, "cmdline"?, "config_x86_5level"?}`. The vendor defaults from leaf 0 (GenuineIntel:
 * vmx, otherwise svm); `ept_caps` defaults to 4-level EPT only.
 */
export function parseHostJson(text: string, where: string): HostDesc {
  const v = parseJson(text, where, 'malformed JSON');
  if (!isObject(v)) badInput(where, 'expected a JSON object with "leaves"');
  if (!Array.isArray(v['leaves'])) badInput(`${where}.leaves`, 'expected a list of raw CPUID leaves');
  const leaves = (v['leaves'] as unknown[]).map((l, i): RawLeaf => {
    const w = `${where}.leaves[${i}]`;
    if (!isObject(l)) badInput(w, 'expected an object');
    const u = (k: string): number => (l[k] === undefined ? 0 : parseU32(l[k], `${w}.${k}`));
    if (l['function'] === undefined) badInput(`${w}.function`, 'missing');
    return { function: u('function'), index: u('index'), eax: u('eax'), ebx: u('ebx'), ecx: u('ecx'), edx: u('edx') };
  });
  const leaf0 = leaves.find((l) => l.function === 0);
  let vendor: 'vmx' | 'svm';
  if (v['vendor'] === undefined) {
    vendor = leaf0 && leaf0.ebx === INTEL[0] && leaf0.ecx === INTEL[1] && leaf0.edx === INTEL[2] ? 'vmx' : 'svm';
  } else if (v['vendor'] === 'vmx' || v['vendor'] === 'svm') {
    vendor = v['vendor'];
  } else {
    badInput(`${where}.vendor`, `expected "vmx" or "svm", got ${quote(v['vendor'])}`);
  }
  const cmdline = v['cmdline'] === undefined ? '' : v['cmdline'];
  if (cmdline !== null && typeof cmdline !== 'string') badInput(`${where}.cmdline`, 'expected a string or null');
  const cfg = v['config_x86_5level'] === undefined ? true : v['config_x86_5level'];
  if (typeof cfg !== 'boolean') badInput(`${where}.config_x86_5level`, 'expected true or false');
  const label = typeof v['label'] === 'string' ? v['label'] : 'host';
  return {
    label,
    vendor,
    leaves,
    ept_caps: v['ept_caps'] === undefined ? eptCaps(false) : parseUnsigned(v['ept_caps'], `${where}.ept_caps`),
    cmdline,
    config_x86_5level: cfg,
    kernel_caps_7_ecx: null,
    kernel_caps_7_1_eax: null,
  };
}

/**
 * Parse /proc/cpuinfo (the first processor block): `flags` (the host kernel's capabilities: la57
 * is absent when the kernel does not run 5-level paging, whatever the CPU has), `vmx flags`
 * (ept, ept_5level from 6.9), `address sizes` and `vendor_id`. The raw CPUID the model needs is
 * reconstructed from those flags, so a CPU whose LA57 the kernel hid reads as having none.
 */
export function parseCpuinfo(text: string, where: string): HostDesc {
  const block = text.split(/\n\s*\n/)[0] ?? '';
  const fields = new Map<string, string>();
  for (const line of block.split('\n')) {
    const m = /^([^:]+?)\s*:\s*(.*)$/.exec(line);
    if (m) fields.set(m[1]!.trim(), m[2]!.trim());
  }
  const flagsLine = fields.get('flags');
  if (flagsLine === undefined) badInput(where, 'no "flags" line: not a /proc/cpuinfo text');
  const flags = new Set(flagsLine.split(/\s+/));
  const vmxFlags = new Set((fields.get('vmx flags') ?? '').split(/\s+/).filter((s) => s));
  const vendorId = fields.get('vendor_id') ?? '';
  const vendor: 'vmx' | 'svm' = flags.has('vmx') || vendorId === 'GenuineIntel' ? 'vmx' : 'svm';
  const m = /(\d+) bits physical, (\d+) bits virtual/.exec(fields.get('address sizes') ?? '');
  const phys = m ? Number(m[1]) : 36;
  const virt = m ? Number(m[2]) : 48;
  const ecx7 = flags.has('la57') ? 1 << LA57_BIT : 0;
  const eax71 = flags.has('lam') ? 1 << LAM_BIT : 0;
  const leaves: RawLeaf[] = [
    { function: 0, index: 0, eax: 0x1f, ebx: 0, ecx: 0, edx: 0 },
    { function: 7, index: 0, eax: 1, ebx: 0, ecx: ecx7 >>> 0, edx: 0 },
    { function: 7, index: 1, eax: eax71 >>> 0, ebx: 0, ecx: 0, edx: 0 },
    { function: 0x80000000, index: 0, eax: 0x80000008, ebx: 0, ecx: 0, edx: 0 },
    { function: 0x80000008, index: 0, eax: (phys & 0xff) | ((virt & 0xff) << 8), ebx: 0, ecx: 0, edx: 0 },
  ];
  let ept = vmxFlags.has('ept') || (vmxFlags.size === 0 && flags.has('ept')) ? eptCaps(vmxFlags.has('ept_5level')) : 0n;
  if (!vmxFlags.has('ept_ad')) ept &= ~VMX_EPT_AD_BIT;
  return {
    label: `cpuinfo (${vendorId || 'unknown vendor'})`,
    vendor,
    leaves,
    ept_caps: ept,
    cmdline: '',
    config_x86_5level: true,
    kernel_caps_7_ecx: ecx7 >>> 0,
    kernel_caps_7_1_eax: eax71 >>> 0,
  };
}

/** Everything the model derives from a host under one profile. */
export interface HostFacts {
  readonly profile: string;
  readonly boot: BootDecision;
  /** The host kernel keeps X86_FEATURE_LA57 (common.c clears it unless it runs 5-level paging). */
  readonly kernel_la57: boolean;
  readonly caps: KvmCaps;
  readonly tdp_host: TdpHost;
  readonly tdp: TdpConfig;
  readonly max_tdp_level: number;
  readonly host_maxphyaddr: number;
}

/** The host kernel's boot, KVM's capabilities and the TDP configuration under `profile`. */
export function hostFacts(profile: Profile, host: HostDesc): HostFacts {
  const max = rawCpuid(host, 0).eax;
  const raw7 = rawCpuid(host, 7, 0).ecx;
  const raw71 = rawCpuid(host, 7, 1).eax;
  const boot = boot_l5_decision(profile, {
    config_x86_5level: host.config_x86_5level,
    cmdline: host.cmdline,
    max_basic_leaf: max,
    cpuid7_ecx: raw7,
    cr4: 0n,
  });
  const la57 = 1 << LA57_BIT;
  const kernel7 = host.kernel_caps_7_ecx ?? (boot.l5_required ? raw7 : raw7 & ~la57) >>> 0;
  const caps = kvm_set_cpu_caps(profile, {
    raw_max_basic_leaf: max,
    raw_cpuid7_ecx: raw7,
    raw_cpuid7_1_eax: raw71,
    kernel_caps_7_ecx: kernel7,
    kernel_caps_7_1_eax: host.kernel_caps_7_1_eax ?? raw71,
  });
  const tdp_host: TdpHost = host.vendor === 'vmx' ? { vendor: 'vmx', ept_caps: host.ept_caps } : { vendor: 'svm', host_l5: boot.l5_required };
  const tdp = kvm_configure_mmu(tdp_host);
  const e8 = rawCpuid(host, 0x80000008).eax & 0xff;
  return {
    profile: profile.name,
    boot,
    kernel_la57: ((kernel7 >>> LA57_BIT) & 1) === 1,
    caps,
    tdp_host,
    tdp,
    max_tdp_level: kvm_mmu_get_max_tdp_level(tdp),
    host_maxphyaddr: e8 || 36,
  };
}

/** Named hosts for the CLI: the seed-002 CPU (MAXPHYADDR 52, 4-level EPT) and friends. */
export function namedHost(name: string): HostDesc | undefined {
  const intel = { function: 0, index: 0, eax: 0x20, ebx: INTEL[0]!, ecx: INTEL[1]!, edx: INTEL[2]! };
  const amd = { function: 0, index: 0, eax: 0x10, ebx: 0x68747541, ecx: 0x444d4163, edx: 0x69746e65 };
  const mk = (label: string, vendor: 'vmx' | 'svm', la57: boolean, ept5: boolean, phys: number, cmdline = ''): HostDesc => ({
    label,
    vendor,
    leaves: [
      vendor === 'vmx' ? intel : amd,
      { function: 7, index: 0, eax: 1, ebx: 0, ecx: la57 ? 1 << LA57_BIT : 0, edx: 0 },
      { function: 7, index: 1, eax: vendor === 'vmx' && la57 ? 1 << LAM_BIT : 0, ebx: 0, ecx: 0, edx: 0 },
      { function: 0x80000000, index: 0, eax: 0x80000008, ebx: 0, ecx: 0, edx: 0 },
      { function: 0x80000008, index: 0, eax: phys | ((la57 ? 57 : 48) << 8), ebx: 0, ecx: 0, edx: 0 },
    ],
    ept_caps: vendor === 'vmx' ? eptCaps(ept5) : 0n,
    cmdline,
    config_x86_5level: true,
    kernel_caps_7_ecx: null,
    kernel_caps_7_1_eax: null,
  });
  const hosts: Record<string, HostDesc> = {
    ept4: mk('ept4: Intel, no LA57, 4-level EPT, MAXPHYADDR 46', 'vmx', false, false, 46),
    'ept4-52': mk('ept4-52: Intel, LA57, MAXPHYADDR 52 but 4-level EPT only (the ept_5level thread, kvm@vger.kernel.org 2024-01-10)', 'vmx', true, false, 52),
    ept5: mk('ept5: Intel, LA57 + LAM, 5-level EPT, MAXPHYADDR 52', 'vmx', true, true, 52),
    'ept5-no5lvl': mk('ept5-no5lvl: as ept5, host booted with no5lvl', 'vmx', true, true, 52, 'no5lvl'),
    npt4: mk('npt4: AMD, no LA57, MAXPHYADDR 48', 'svm', false, false, 48),
    npt5: mk('npt5: AMD, LA57, MAXPHYADDR 52', 'svm', true, false, 52),
    'npt5-no5lvl': mk('npt5-no5lvl: as npt5, host booted with no5lvl', 'svm', true, false, 52, 'no5lvl'),
  };
  return hosts[name];
}

export const NAMED_HOSTS = ['ept4', 'ept4-52', 'ept5', 'ept5-no5lvl', 'npt4', 'npt5', 'npt5-no5lvl'] as const;
