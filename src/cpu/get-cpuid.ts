/**
 * The CPUID read-back ioctls' size handling (cpu-features.md section 1.3, correction C1):
 * KVM_GET_CPUID2 on a vCPU, and KVM_GET_SUPPORTED_CPUID / KVM_GET_EMULATED_CPUID on the system fd.
 * What userspace sees in the header's `nent` afterwards differs between profiles.
 */
import type { Profile } from '../profiles/index.js';
import { cloneEntries, KVM_MAX_CPUID_ENTRIES, type KvmCpuidEntry2 } from './cpuid.js';
import { E2BIG, EINVAL } from './set-cpuid.js';

export interface GetCpuidResult {
  readonly rc: number;
  /** The `nent` userspace reads back from its header after the ioctl. */
  readonly nent: number;
  /** The entries copied out (empty on failure). */
  readonly entries: KvmCpuidEntry2[];
}

/**
 * @kernel cpuid.c kvm_vcpu_ioctl_get_cpuid2: a buffer smaller than the vCPU's table is -E2BIG
 * and userspace never learns the required count (nent is left as it was). On success 6.x writes
 * the entry count to nent; 5.16 copies the header back unchanged (nent stays the buffer size).
 */
export function kvm_vcpu_ioctl_get_cpuid2(profile: Profile, table: readonly KvmCpuidEntry2[], nent: number): GetCpuidResult {
  const n = nent >>> 0;
  if (n < table.length) return { rc: E2BIG, nent: n, entries: [] };
  return { rc: 0, nent: profile.cpu.cpuid.get_cpuid2_reports_count ? table.length : n, entries: cloneEntries(table) };
}

/**
 * @kernel cpuid.c kvm_dev_ioctl_get_cpuid: KVM_GET_SUPPORTED_CPUID / KVM_GET_EMULATED_CPUID. nent
 * < 1 is -E2BIG; nent > 256 is clamped; the emulated variant refuses (-EINVAL) a user buffer with
 * non-zero padding; more entries than the buffer holds is -E2BIG (header not copied back);
 * on success nent = entries written.
 */
export function kvm_dev_ioctl_get_cpuid(
  supported: readonly KvmCpuidEntry2[],
  nent: number,
  emulated: boolean,
  user_padding_nonzero = false,
): GetCpuidResult {
  const n0 = nent >>> 0;
  if (n0 < 1) return { rc: E2BIG, nent: n0, entries: [] };
  const n = Math.min(n0, KVM_MAX_CPUID_ENTRIES);
  if (emulated && user_padding_nonzero) return { rc: EINVAL, nent: n0, entries: [] };
  if (supported.length > n) return { rc: E2BIG, nent: n0, entries: [] };
  return { rc: 0, nent: supported.length, entries: cloneEntries(supported) };
}
