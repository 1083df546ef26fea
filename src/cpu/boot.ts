/**
 * The host kernel's boot-time 5-level paging decision (cpu-features.md section 2; cpuid.c kvm_set_cpu_caps lines
 * 88-112): CONFIG_X86_5LEVEL (where the profile has it), no `no5lvl` on the command line, max basic
 * leaf >= 7 and CPUID.(7,0):ECX[16].
 */
import type { Profile } from '../profiles/index.js';
import { X86_CR4_LA57 } from './cr.js';

/** CPUID.(7,0):ECX bit of X86_FEATURE_LA57 (16*32+16). */
export const LA57_BIT = 16;

/** arch/x86/boot/cmdline.c myisspace: every byte <= 0x20 counts as white space. */
function myisspace(c: number): boolean {
  return c <= 0x20;
}

/**
 * @kernel boot/cmdline.c __cmdline_find_option_bool: the 1-based position where `option` appears
 * as a whole word, 0 if it does not, -1 if there is no command line (null). Case-sensitive; no
 * quoting; `option=...` does not match. The command line is read as bytes up to the first NUL
 * (UTF-8 for non-ASCII characters) and at most 64 KiB.
 */
export function cmdline_find_option_bool(cmdline: string | null, option: string): number {
  if (cmdline === null) return -1;
  const bytes = new TextEncoder().encode(cmdline);
  const opt = new TextEncoder().encode(option);
  let state: 'wordstart' | 'wordcmp' | 'wordskip' = 'wordstart';
  let pos = 0;
  let wstart = 0;
  let op = 0;
  for (let cptr = 0; cptr < 0x10000; cptr++) {
    const c = cptr < bytes.length ? bytes[cptr]! : 0;
    pos++;
    if (state === 'wordstart') {
      if (c === 0) return 0;
      if (myisspace(c)) continue;
      state = 'wordcmp';
      op = 0;
      wstart = pos;
    }
    if (state === 'wordcmp') {
      if (op >= opt.length) {
        if (c === 0 || myisspace(c)) return wstart;
        state = 'wordskip';
      } else if (c === 0) {
        return 0;
      } else if (c !== opt[op++]) {
        state = 'wordskip';
      }
      continue;
    }
    // wordskip
    if (c === 0) return 0;
    if (myisspace(c)) state = 'wordstart';
  }
  return 0;
}

export interface BootInput {
  /** CONFIG_X86_5LEVEL=y (ignored by profiles where the option no longer exists). */
  readonly config_x86_5level: boolean;
  readonly cmdline: string | null;
  /** CPUID.0:EAX. */
  readonly max_basic_leaf: number;
  /** CPUID.(7,0):ECX. */
  readonly cpuid7_ecx: number;
  /** CR4 as the boot loader left it (bit 12 matters). */
  readonly cr4: bigint;
}

export interface BootDecision {
  readonly l5_required: boolean;
  /** The decompressor must switch paging mode (l5_required != current CR4.LA57). */
  readonly toggle: boolean;
  /** Layout variables after the decision (6.18 sets them here; 5.16 later from CR4). */
  readonly pgtable_l5_enabled: number;
  readonly pgdir_shift: number;
  readonly ptrs_per_p4d: number;
}

/**
 * @kernel boot/compressed/pgtable_64.c paging_prepare (5.16) / configure_5level_paging (6.18):
 * the l5_required decision and whether the trampoline must toggle CR4.LA57. Conditions are
 * evaluated left to right with short-circuit (leaf 7 is not read below max basic leaf 7).
 */
export function boot_l5_decision(profile: Profile, inp: BootInput): BootDecision {
  const t = profile.cpu.boot;
  const l5 =
    (!t.has_config_x86_5level || inp.config_x86_5level) &&
    !cmdline_find_option_bool(inp.cmdline, 'no5lvl') &&
    inp.max_basic_leaf >>> 0 >= 7 &&
    ((inp.cpuid7_ecx >>> LA57_BIT) & 1) === 1;
  const cur = (inp.cr4 & X86_CR4_LA57) !== 0n;
  const layout = t.sets_layout_vars && l5;
  return {
    l5_required: l5,
    toggle: l5 !== cur,
    pgtable_l5_enabled: layout ? 1 : 0,
    pgdir_shift: layout ? 48 : 39,
    ptrs_per_p4d: layout ? 512 : 1,
  };
}
