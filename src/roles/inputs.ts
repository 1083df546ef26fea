/**
 * The valid register inputs of role computation (golden/roles README §3.1): every combination
 * of the role-relevant CR0/CR4/EFER bits except those KVM refuses to create, and the common
 * guest paging modes by name.
 */
import {
  EFER_LMA,
  EFER_LME,
  EFER_NX,
  X86_CR0_PE,
  X86_CR0_PG,
  X86_CR0_WP,
  X86_CR4_LA57,
  X86_CR4_PAE,
  X86_CR4_PKE,
  X86_CR4_PSE,
  X86_CR4_SMAP,
  X86_CR4_SMEP,
  type RoleRegs,
} from './regs.js';

/** A named register bit; `reg.bit` is how it is printed. */
export interface RegBit {
  readonly reg: 'cr0' | 'cr4' | 'efer';
  readonly name: string;
  readonly mask: number;
}

/** The bits the golden inputs vary, in the README's order. */
export const ROLE_INPUT_BITS: readonly RegBit[] = [
  { reg: 'cr0', name: 'PE', mask: X86_CR0_PE },
  { reg: 'cr0', name: 'WP', mask: X86_CR0_WP },
  { reg: 'cr0', name: 'PG', mask: X86_CR0_PG },
  { reg: 'cr4', name: 'PSE', mask: X86_CR4_PSE },
  { reg: 'cr4', name: 'PAE', mask: X86_CR4_PAE },
  { reg: 'cr4', name: 'LA57', mask: X86_CR4_LA57 },
  { reg: 'cr4', name: 'SMEP', mask: X86_CR4_SMEP },
  { reg: 'cr4', name: 'SMAP', mask: X86_CR4_SMAP },
  { reg: 'cr4', name: 'PKE', mask: X86_CR4_PKE },
  { reg: 'efer', name: 'LME', mask: EFER_LME },
  { reg: 'efer', name: 'LMA', mask: EFER_LMA },
  { reg: 'efer', name: 'NX', mask: EFER_NX },
];

/** Whether KVM can hold these registers: no PG without PE, LMA = LME && PG, no LMA without PAE. */
export function isValidRoleRegs(r: RoleRegs): boolean {
  const pg = (r.cr0 & X86_CR0_PG) !== 0;
  const lma = (r.efer & EFER_LMA) !== 0;
  if (pg && !(r.cr0 & X86_CR0_PE)) return false;
  if (lma !== (pg && (r.efer & EFER_LME) !== 0)) return false;
  if (lma && !(r.cr4 & X86_CR4_PAE)) return false;
  return true;
}

let cached: readonly RoleRegs[] | undefined;

/** All 1408 valid (CR0, CR4, EFER) triples, in a fixed order (CR0 varies fastest). */
export function validRoleRegs(): readonly RoleRegs[] {
  if (cached) return cached;
  const out: RoleRegs[] = [];
  const of = (reg: RegBit['reg']) => ROLE_INPUT_BITS.filter((b) => b.reg === reg);
  const combos = (bits: readonly RegBit[]): number[] => {
    const r: number[] = [];
    for (let m = 0; m < 1 << bits.length; m++) {
      let v = 0;
      bits.forEach((b, i) => {
        if (m & (1 << i)) v |= b.mask;
      });
      r.push(v >>> 0);
    }
    return r;
  };
  for (const efer of combos(of('efer'))) {
    for (const cr4 of combos(of('cr4'))) {
      for (const cr0 of combos(of('cr0'))) {
        const regs = { cr0, cr4, efer };
        if (isValidRoleRegs(regs)) out.push(regs);
      }
    }
  }
  cached = Object.freeze(out);
  return cached;
}

/** The common guest paging modes (registers a guest typically has in each). */
export interface GuestMode {
  readonly name: string;
  readonly title: string;
  readonly regs: RoleRegs;
}

const WP_PG_PE = (X86_CR0_PG | X86_CR0_WP | X86_CR0_PE) >>> 0;

export const GUEST_MODES: readonly GuestMode[] = [
  { name: 'real', title: 'real mode (paging off)', regs: { cr0: 0, cr4: 0, efer: 0 } },
  { name: '32bit', title: '32-bit paging, PSE', regs: { cr0: WP_PG_PE, cr4: X86_CR4_PSE, efer: 0 } },
  { name: 'pae', title: 'PAE paging, NX', regs: { cr0: WP_PG_PE, cr4: X86_CR4_PAE, efer: EFER_NX } },
  {
    name: '4level',
    title: '4-level long mode, NX',
    regs: { cr0: WP_PG_PE, cr4: X86_CR4_PAE, efer: EFER_LME | EFER_LMA | EFER_NX },
  },
  {
    name: '5level',
    title: '5-level long mode (LA57), NX',
    regs: { cr0: WP_PG_PE, cr4: X86_CR4_PAE | X86_CR4_LA57, efer: EFER_LME | EFER_LMA | EFER_NX },
  },
];
