/**
 * The canonical-address part of WRMSR (cpu-features.md section 4, Appendix A.2) and the seed-003
 * migration hazard: which address-holding registers of a vCPU state a destination host refuses.
 */
import type { Profile } from '../profiles/index.js';
import {
  __canonical_address,
  __is_canonical_address,
  is_noncanonical_msr_address,
  max_host_virt_addr_bits,
  vcpu_virt_addr_bits,
  type CanonicalCtx,
} from './canonical.js';

export const MSR_FS_BASE = 0xc0000100;
export const MSR_GS_BASE = 0xc0000101;
export const MSR_KERNEL_GS_BASE = 0xc0000102;
export const MSR_LSTAR = 0xc0000082;
export const MSR_CSTAR = 0xc0000083;
export const MSR_IA32_SYSENTER_ESP = 0x175;
export const MSR_IA32_SYSENTER_EIP = 0x176;

/** The address-holding MSRs the model knows, by the names the CLI accepts. */
export const ADDRESS_MSRS: Readonly<Record<string, number>> = {
  fs_base: MSR_FS_BASE,
  gs_base: MSR_GS_BASE,
  kernel_gs_base: MSR_KERNEL_GS_BASE,
  lstar: MSR_LSTAR,
  cstar: MSR_CSTAR,
  sysenter_esp: MSR_IA32_SYSENTER_ESP,
  sysenter_eip: MSR_IA32_SYSENTER_EIP,
};

export interface SetMsrResult {
  /** 0, or 1 = #GP (KVM_SET_MSRS stops at this MSR). */
  readonly rc: 0 | 1;
  /** The value passed to the vendor hook after KVM's adjustment; null when refused. */
  readonly written: bigint | null;
}

/**
 * @kernel x86.c __kvm_set_msr (the canonical-address cases): FS/GS/KERNEL_GS base, LSTAR and
 * CSTAR are refused when non-canonical (5.16: vCPU width; 6.x: host width); SYSENTER_EIP/ESP are
 * never refused but sign-extended (5.16: vCPU width; 6.x: host width). Other MSRs pass through.
 * Host-initiated writes (KVM_SET_MSRS) take the same checks.
 */
export function kvm_set_msr_canonical(profile: Profile, msr: number, data: bigint, ctx: CanonicalCtx): SetMsrResult {
  switch (msr >>> 0) {
    case MSR_FS_BASE:
    case MSR_GS_BASE:
    case MSR_KERNEL_GS_BASE:
    case MSR_CSTAR:
    case MSR_LSTAR:
      return is_noncanonical_msr_address(profile, data, ctx) ? { rc: 1, written: null } : { rc: 0, written: data };
    case MSR_IA32_SYSENTER_EIP:
    case MSR_IA32_SYSENTER_ESP: {
      const w = profile.cpu.canonical.sysenter_width === 'host' ? max_host_virt_addr_bits(ctx) : vcpu_virt_addr_bits(ctx);
      return { rc: 0, written: __canonical_address(data, w) };
    }
    default:
      return { rc: 0, written: data };
  }
}

/** A vCPU state to migrate: guest CR4 and address-holding MSRs by name (see ADDRESS_MSRS). */
export interface MigrationState {
  readonly cr4: bigint;
  readonly regs: Readonly<Record<string, bigint>>;
}

export interface MigrationHost {
  readonly label: string;
  /** The host CPU enumerates LA57 (KVM's LA57 capability). */
  readonly la57: boolean;
}

export interface RegisterVerdict {
  readonly name: string;
  readonly msr: number;
  readonly value: bigint;
  readonly canonical48: boolean;
  readonly canonical57: boolean;
  /** The destination's KVM_SET_MSRS result for this register. */
  readonly rc: 0 | 1;
  readonly written: bigint | null;
  /** What breaks: null when the register moves unchanged. */
  readonly problem: null | 'refused' | 'changed';
}

export interface MigrationVerdict {
  readonly ok: boolean;
  /** Guest CR4.LA57 is set but the destination has no LA57: CR4 itself is refused. */
  readonly cr4_la57_refused: boolean;
  readonly registers: readonly RegisterVerdict[];
  /** The first register that breaks the move (null if none). */
  readonly breaking: string | null;
}

const CR4_LA57 = 1n << 12n;

/**
 * Seed 003 (Paolo Bonzini's migration concern) on the model: restore the state's MSRs on the
 * destination with KVM_SET_MSRS under `profile` (guest CR4 as in the state, the destination's
 * LA57 capability) and report every register that is refused or silently changed. FS/GS base are
 * checked as MSRs; through KVM_SET_SREGS KVM itself does not check them (section 4).
 */
export function migrateCheck(profile: Profile, state: MigrationState, dst: MigrationHost): MigrationVerdict {
  const cr4_la57_refused = (state.cr4 & CR4_LA57) !== 0n && !dst.la57;
  const ctx: CanonicalCtx = { cr4: cr4_la57_refused ? state.cr4 & ~CR4_LA57 : state.cr4, kvm_la57: dst.la57 };
  const registers: RegisterVerdict[] = [];
  for (const [name, value] of Object.entries(state.regs)) {
    const msr = ADDRESS_MSRS[name];
    if (msr === undefined) continue;
    const r = kvm_set_msr_canonical(profile, msr, value, ctx);
    const problem = r.rc ? 'refused' : r.written !== value ? 'changed' : null;
    registers.push({
      name,
      msr,
      value,
      canonical48: __is_canonical_address(value, 48),
      canonical57: __is_canonical_address(value, 57),
      rc: r.rc,
      written: r.written,
      problem,
    });
  }
  const breaking = cr4_la57_refused ? 'cr4' : registers.find((r) => r.problem !== null)?.name ?? null;
  return { ok: breaking === null, cr4_la57_refused, registers, breaking };
}
