/**
 * Architectural constants the walker uses: #PF error-code bits (PFERR_*), ACC_* access bits,
 * page-table entry bits, and the control-register bits that select a paging mode (those the
 * role code already defines are shared from src/roles/regs.ts).
 */
import * as R from '../bits/regs.js';

export {
  ACC_ALL,
  EFER_LMA,
  EFER_LME,
  EFER_NX,
  PT32E_ROOT_LEVEL,
  PT32_ROOT_LEVEL,
  PT64_ROOT_4LEVEL,
  PT64_ROOT_5LEVEL,
  X86_CR0_PE,
  X86_CR0_PG,
  X86_CR0_WP,
  X86_CR4_LA57,
  X86_CR4_PAE,
  X86_CR4_PKE,
  X86_CR4_PSE,
  X86_CR4_SMAP,
  X86_CR4_SMEP,
} from '../roles/regs.js';

/** #PF error code / walker access bits (kvm_host.h PFERR_*_MASK). */
export const PFERR_PRESENT_MASK = 0x1;
export const PFERR_WRITE_MASK = 0x2;
export const PFERR_USER_MASK = 0x4;
export const PFERR_RSVD_MASK = 0x8;
export const PFERR_FETCH_MASK = 0x10;
export const PFERR_PK_MASK = 0x20;
export const PFERR_SS_MASK = 0x40;
export const PFERR_SGX_MASK = 0x8000;

/** Shadow-MMU access bits (mmu_internal.h / spte.h ACC_*_MASK). */
export const ACC_EXEC_MASK = 1;
export const ACC_WRITE_MASK = 2;
export const ACC_USER_MASK = 4;

/** x86 page-table entry bits (low half). */
export const PT_PRESENT_MASK = 1 << 0;
export const PT_WRITABLE_MASK = 1 << 1;
export const PT_USER_MASK = 1 << 2;
export const PT_PWT_MASK = 1 << 3;
export const PT_PCD_MASK = 1 << 4;
export const PT_ACCESSED_MASK = 1 << 5;
export const PT_DIRTY_MASK = 1 << 6;
export const PT_PAGE_SIZE_MASK = 1 << 7;
export const PT_GLOBAL_MASK = 1 << 8;
/** Bit 63 (execute-disable) within the high half. */
export const PT64_NX_HI = 1 << 31;
/** Protection key: bits 62:59 = high-half bits 30:27. */
export const PT64_PKEY_SHIFT_HI = 27;

/** EPT entry bits. */
export const VMX_EPT_READABLE_MASK = 1 << 0;
export const VMX_EPT_WRITABLE_MASK = 1 << 1;
export const VMX_EPT_EXECUTABLE_MASK = 1 << 2;
export const VMX_EPT_ACCESS_BIT = 1 << 8;
export const VMX_EPT_DIRTY_BIT = 1 << 9;

/** EPT violation exit-qualification bits the walker fills (vmx.h EPT_VIOLATION_*). */
export const EPT_VIOLATION_ACC_READ = 1 << 0;
export const EPT_VIOLATION_ACC_WRITE = 1 << 1;
export const EPT_VIOLATION_ACC_INSTR = 1 << 2;
/** Bits 5:3 = the R, W, X of the walked translation. */
export const EPT_VIOLATION_PROT_SHIFT = 3;
export const EPT_VIOLATION_GVA_IS_VALID = 1 << 7;
export const EPT_VIOLATION_GVA_TRANSLATED = 1 << 8;
/** Bits 8:7 together: the hardware's report of a fault on a final (guest-linear) translation. */
export const EPT_VIOLATION_GVA_BITS = EPT_VIOLATION_GVA_IS_VALID | EPT_VIOLATION_GVA_TRANSLATED;

/** Control and flag bits not in the role code (uapi processor-flags.h). */
export const X86_CR4_LAM_SUP = Number(R.X86_CR4_LAM_SUP);
export const X86_EFLAGS_AC = Number(R.X86_EFLAGS_AC);

/** Exception vectors the access path can raise. */
export const PF_VECTOR = 14;
export const GP_VECTOR = 13;
