/**
 * The host side of role computation: the TDP configuration the vendor module set with
 * kvm_configure_mmu (forced root level, max level, A/D support), the guest CPUID values the TDP
 * level depends on, and the named configurations the golden vectors and the CLI use.
 */
import { ShadowMmuError } from '../bits/errors.js';
import type { Profile } from '../profiles/index.js';
import { quote } from '../bits/quote.js';

/** KVM_X86_TDX_VM (uapi kvm.h). */
export const KVM_X86_TDX_VM = 5;

export interface HostConfig {
  /** Label, e.g. `ept4`. */
  readonly name: string;
  /** tdp_root_level: forced by SVM (NPT level = host paging depth), 0 on VMX. */
  readonly tdp_root_level: number;
  /** max_tdp_level: 4 or 5 (VMX: EPT capability; SVM: = tdp_root_level). */
  readonly max_tdp_level: number;
  /** The guest's CPUID MAXPHYADDR (0x80000008 EAX[7:0]). */
  readonly maxphyaddr: number;
  /** A/D bits in use: 5.x shadow_accessed_mask != 0, 6.x kvm_ad_enabled. 0 only for EPT without A/D. */
  readonly ad_enabled: boolean;
  /** kvm->arch.vm_type; 5 = TDX (6.x only). 0 = an ordinary VM. */
  readonly vm_type: number;
  /** TDX: CPUID 0x80000008 EAX[23:16] (GuestPhysBits), 0 when absent. */
  readonly guest_maxphyaddr: number;
  /** false for a 32-bit host kernel, which cannot run long-mode guests. */
  readonly host_64bit: boolean;
  /** One line for people. */
  readonly title: string;
}

function host(
  name: string,
  tdp_root_level: number,
  max_tdp_level: number,
  maxphyaddr: number,
  ad_enabled: boolean,
  title: string,
  extra: Partial<HostConfig> = {},
): HostConfig {
  return Object.freeze({
    name,
    tdp_root_level,
    max_tdp_level,
    maxphyaddr,
    ad_enabled,
    vm_type: 0,
    guest_maxphyaddr: 0,
    host_64bit: tdp_root_level !== 3,
    title,
    ...extra,
  });
}

/** The host configurations of golden/roles (README §3.2), by name. */
export const HOSTS: readonly HostConfig[] = [
  host('ept4', 0, 4, 46, true, 'Intel EPT, 4-level walks, A/D bits'),
  host('ept5-noad', 0, 5, 52, false, 'Intel EPT, 5-level walks, no A/D bits, MAXPHYADDR 52'),
  host('npt3-32bit-host', 3, 3, 36, true, 'AMD NPT on a 32-bit host kernel (PAE NPT)'),
  host('ept4-noad', 0, 4, 46, false, 'Intel EPT, 4-level walks, no A/D bits'),
  host('ept5-maxpa48', 0, 5, 48, true, 'Intel EPT, 5-level capable, guest MAXPHYADDR 48 (uses 4)'),
  host('ept5-maxpa49', 0, 5, 49, true, 'Intel EPT, 5-level capable, guest MAXPHYADDR 49 (uses 5)'),
  host('npt4', 4, 4, 48, true, 'AMD NPT, 4-level host'),
  host('npt5', 5, 5, 52, true, 'AMD NPT, LA57 host (5-level NPT)'),
  host('ept5-tdx-gpaw48', 0, 5, 52, true, 'TDX VM on 5-level EPT, GuestPhysBits 48 (6.x)', {
    vm_type: KVM_X86_TDX_VM,
    guest_maxphyaddr: 48,
  }),
  host('ept5-tdx-gpaw52', 0, 5, 52, true, 'TDX VM on 5-level EPT, GuestPhysBits 52 (6.x)', {
    vm_type: KVM_X86_TDX_VM,
    guest_maxphyaddr: 52,
  }),
  host('ept5-tdx-nogpaw', 0, 5, 52, true, 'TDX VM on 5-level EPT, no GuestPhysBits (6.x)', {
    vm_type: KVM_X86_TDX_VM,
    guest_maxphyaddr: 0,
  }),
];

export const HOST_NAMES: readonly string[] = HOSTS.map((h) => h.name);

/** A named host configuration; unknown names are a typed error. */
export function hostByName(name: string): HostConfig {
  const h = HOSTS.find((x) => x.name === name);
  if (!h) throw new ShadowMmuError('EINVAL_INPUT', `unknown host ${quote(name)}: expected one of ${HOST_NAMES.join(', ')}`);
  return h;
}

/** Whether a host configuration exists under the profile (TDX VMs only where TDX is modelled). */
export function hostInProfile(profile: Profile, h: HostConfig): boolean {
  return h.vm_type !== KVM_X86_TDX_VM || profile.roles.tdx_gpaw_tdp_level;
}

/** A host configuration from explicit values (the golden `in` keys). */
export function customHost(v: Omit<HostConfig, 'title' | 'host_64bit'> & { host_64bit?: boolean }): HostConfig {
  return Object.freeze({ ...v, host_64bit: v.host_64bit ?? v.tdp_root_level !== 3, title: 'custom' });
}

/** @kernel mmu.c kvm_mmu_get_tdp_level */
export function kvm_mmu_get_tdp_level(profile: Profile, h: HostConfig): number {
  if (h.tdp_root_level) return h.tdp_root_level;
  const maxpa = profile.roles.tdx_gpaw_tdp_level && h.vm_type === KVM_X86_TDX_VM ? h.guest_maxphyaddr : h.maxphyaddr;
  // 5-level TDP only when it is useful: a guest physical address space wider than 48 bits.
  if (h.max_tdp_level === 5 && maxpa <= 48) return 4;
  return h.max_tdp_level;
}
