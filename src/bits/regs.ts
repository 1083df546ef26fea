/**
 * The architectural register bits the model reads (arch/x86/include/uapi/asm/processor-flags.h,
 * asm/msr-index.h), defined once, as the 64-bit register values they test. Code that works on
 * 32-bit numbers (the role inputs) derives its forms from these with Number().
 */
export const X86_CR0_PE = 1n << 0n;
export const X86_CR0_ET = 1n << 4n;
export const X86_CR0_WP = 1n << 16n;
export const X86_CR0_NW = 1n << 29n;
export const X86_CR0_CD = 1n << 30n;
export const X86_CR0_PG = 1n << 31n;

export const X86_CR3_PCID_MASK = 0xfffn;
export const X86_CR3_LAM_U57 = 1n << 61n;
export const X86_CR3_LAM_U48 = 1n << 62n;
export const X86_CR3_PCID_NOFLUSH = 1n << 63n;

export const X86_CR4_PSE = 1n << 4n;
export const X86_CR4_PAE = 1n << 5n;
export const X86_CR4_PGE = 1n << 7n;
export const X86_CR4_UMIP = 1n << 11n;
export const X86_CR4_LA57 = 1n << 12n;
export const X86_CR4_VMXE = 1n << 13n;
export const X86_CR4_FSGSBASE = 1n << 16n;
export const X86_CR4_PCIDE = 1n << 17n;
export const X86_CR4_OSXSAVE = 1n << 18n;
export const X86_CR4_SMEP = 1n << 20n;
export const X86_CR4_SMAP = 1n << 21n;
export const X86_CR4_PKE = 1n << 22n;
export const X86_CR4_CET = 1n << 23n;
export const X86_CR4_LAM_SUP = 1n << 28n;

export const EFER_SCE = 1n << 0n;
export const EFER_LME = 1n << 8n;
export const EFER_LMA = 1n << 10n;
export const EFER_NX = 1n << 11n;

export const X86_EFLAGS_AC = 1n << 18n;
