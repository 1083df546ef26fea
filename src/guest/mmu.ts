/**
 * The walk-side state of a KVM MMU for one guest configuration: the paging mode decoded from
 * CR0/CR4/EFER (or an EPTP), the reserved-bit masks, and the permission tables — what
 * kvm_init_mmu / kvm_init_shadow_ept_mmu / kvm_init_shadow_npt_mmu leave in struct kvm_mmu for
 * FNAME(walk_addr_generic). Computed once per configuration, never in the walk loop.
 */
import { ShadowMmuError, badInput } from '../bits/errors.js';
import type { Profile } from '../profiles/index.js';
import {
  ____is_cr0_pg,
  ____is_cr0_wp,
  ____is_cr4_la57,
  ____is_cr4_pae,
  ____is_cr4_pke,
  ____is_cr4_pse,
  ____is_cr4_smap,
  ____is_cr4_smep,
  ____is_efer_lma,
  ____is_efer_nx,
  role_regs_to_root_level,
} from '../roles/regs.js';
import { X86_CR3_LAM_U48, X86_CR3_LAM_U57 } from '../cpu/cr.js';
import { lamConfigOf, type LamConfig } from '../cpu/lam.js';
import { PT_ACCESSED_MASK, VMX_EPT_ACCESS_BIT } from './constants.js';
import { update_permission_bitmask, update_pkru_bitmask, type PermissionTables } from './permissions.js';
import { __reset_rsvds_bits_mask, __reset_rsvds_bits_mask_ept, type RsvdCheck } from './rsvd.js';

/** The guest's paging format: which FNAME() instance of paging_tmpl.h walks it. */
export type PagingKind = 'nonpaging' | 'pt32' | 'pae' | 'pt64' | 'ept';

/** The vCPU registers the walker depends on. CR3 is the table address (bits 51:0). */
export interface GuestRegs {
  readonly cr0: number;
  readonly cr3: number;
  readonly cr4: number;
  readonly efer: number;
  /** PKRU (used only with CR4.PKE in long mode). Default 0. */
  readonly pkru?: number;
  /** RFLAGS (AC matters for SMAP). Default 0x2. */
  readonly rflags?: number;
  /** Current privilege level (5.16's SMAP rule uses it). Default 0. */
  readonly cpl?: number;
  /** CR3's LAM bits (62 LAM_U48, 61 LAM_U57), which `cr3` (an address) cannot hold. */
  readonly cr3_lam?: { readonly u48: boolean; readonly u57: boolean };
}

/** Guest CPUID facts the walker depends on. */
export interface GuestFeatures {
  /** MAXPHYADDR, 32..52. Default 46 (the kvm oracle's machine). */
  readonly maxphyaddr?: number;
  /** 1 GiB pages (CPUID GBPAGES). Default false. */
  readonly gbpages?: boolean;
  /** PSE-36. KVM's is_cpuid_PSE36() is hard-wired to true; default true. */
  readonly pse36?: boolean;
  /** AMD-compatible CPUID (reserves bit 8 in non-leaf PML4Es/PML5Es). Default false. */
  readonly amd?: boolean;
  /** Guest CPUID enumerates LAM (and KVM supports it). Default false. */
  readonly lam?: boolean;
}

/** struct kvm_mmu, walk side. */
export interface WalkMmu {
  readonly profile: Profile;
  readonly kind: PagingKind;
  /** cpu_role.base.level: 0 (no paging), 2, 3, 4, 5 (EPT: 4 or 5). */
  readonly root_level: number;
  /** sizeof(pt_element_t). */
  readonly pte_size: 4 | 8;
  /** Guest-physical address of the root table (PAE: of the PDPT, 32-byte aligned). */
  readonly pgd: number;
  /** PAE only: the four PDPTE registers as halves [lo0, hi0, ..., lo3, hi3] (load_pdptrs). */
  pdptrs: Uint32Array | null;
  /** PT_HAVE_ACCESSED_DIRTY: false only for EPT without A/D. */
  readonly have_ad: boolean;
  /** The accessed bit of this format (bit 5, EPT bit 8); dirty is the next bit up. */
  readonly accessed_mask: number;
  readonly efer_nx: boolean;
  readonly cr0_wp: boolean;
  readonly cr4_pse: boolean;
  readonly cr4_smep: boolean;
  readonly cr4_smap: boolean;
  readonly cr4_pke: boolean;
  readonly cr4_la57: boolean;
  readonly long_mode: boolean;
  /** NPT: every walk is a user walk (translate_nested_gpa). */
  readonly npt: boolean;
  readonly pkru: number;
  readonly rflags: number;
  readonly cpl: number;
  readonly maxphyaddr: number;
  readonly pse36: boolean;
  readonly tables: PermissionTables;
  readonly rsvd: RsvdCheck;
  /** LAM bits for data pointers (user / supervisor; 0 = off), from src/cpu/lam.ts. */
  readonly lam: LamConfig;
}

const NO_LAM: LamConfig = { user: 0, sup: 0 };

function features(f: GuestFeatures) {
  const maxphyaddr = f.maxphyaddr ?? 46;
  if (!Number.isInteger(maxphyaddr) || maxphyaddr < 32 || maxphyaddr > 52) badInput('maxphyaddr', `${maxphyaddr} is not in 32..52`);
  return { maxphyaddr, gbpages: f.gbpages ?? false, pse36: f.pse36 ?? true, amd: f.amd ?? false, lam: f.lam ?? false };
}

/**
 * @kernel mmu.c kvm_init_mmu
 * The walk MMU for a vCPU's own page tables (root_mmu / walk_mmu), from its registers.
 * `npt` builds the nested-NPT walker instead (kvm_init_shadow_npt_mmu: same tables, user walks).
 */
export function kvm_init_walk_mmu(profile: Profile, regs: GuestRegs, feat: GuestFeatures = {}, npt = false): WalkMmu {
  const f = features(feat);
  // The paging mode as the CPU role records it (shared with the role code in src/roles).
  const pg = ____is_cr0_pg(regs);
  const pae = ____is_cr4_pae(regs);
  const lma = ____is_efer_lma(regs);
  const la57 = ____is_cr4_la57(regs);
  if (lma && !pg) badInput('efer', 'EFER.LMA=1 needs CR0.PG=1');
  if (lma && !pae) badInput('cr4', 'long mode needs CR4.PAE=1');
  const root_level = role_regs_to_root_level(regs);
  const kind: PagingKind = root_level === 0 ? 'nonpaging' : lma ? 'pt64' : pae ? 'pae' : 'pt32';
  const efer_nx = ____is_efer_nx(regs);
  const cr0_wp = ____is_cr0_wp(regs);
  const cr4_smep = ____is_cr4_smep(regs);
  const cr4_smap = ____is_cr4_smap(regs);
  // kvm_calc_cpu_role: PKE only counts in long mode.
  const cr4_pke = lma && ____is_cr4_pke(regs);
  const cr4_pse = ____is_cr4_pse(regs);
  const cr3 = regs.cr3;
  if (!Number.isSafeInteger(cr3) || cr3 < 0 || cr3 >= 2 ** 52) badInput('cr3', `not a guest-physical address: ${cr3}`);
  const pgd =
    kind === 'pae' ? (cr3 % 2 ** 32) - (cr3 % 32) : kind === 'pt32' ? (cr3 % 2 ** 32) - (cr3 % 4096) : cr3 - (cr3 % 4096);
  return {
    profile,
    kind,
    root_level,
    pte_size: kind === 'pt32' ? 4 : 8,
    pgd,
    pdptrs: null,
    have_ad: true,
    accessed_mask: PT_ACCESSED_MASK,
    efer_nx,
    cr0_wp,
    cr4_pse,
    cr4_smep,
    cr4_smap,
    cr4_pke,
    cr4_la57: la57 && lma,
    long_mode: lma,
    npt,
    pkru: (regs.pkru ?? 0) >>> 0,
    rflags: (regs.rflags ?? 0x2) >>> 0,
    cpl: regs.cpl ?? 0,
    maxphyaddr: f.maxphyaddr,
    pse36: f.pse36,
    tables: {
      permissions: update_permission_bitmask({ cr0_wp, cr4_smep, cr4_smap, efer_nx }, false),
      pkru_mask: update_pkru_bitmask(cr4_pke, cr0_wp),
    },
    rsvd: __reset_rsvds_bits_mask({
      maxphyaddr: f.maxphyaddr,
      level: root_level,
      nx: efer_nx,
      gbpages: f.gbpages,
      pse: cr4_pse,
      pse36: f.pse36,
      amd: f.amd,
    }),
    // Long mode is taken as 64-bit code (CS.L=1) for untagging.
    lam: lamConfigOf(profile, {
      cr3: BigInt(cr3) | (regs.cr3_lam?.u48 ? X86_CR3_LAM_U48 : 0n) | (regs.cr3_lam?.u57 ? X86_CR3_LAM_U57 : 0n),
      cr4: BigInt(regs.cr4 >>> 0),
      efer: BigInt(regs.efer >>> 0),
      cs_l: lma,
      guest_lam: f.lam,
    }),
  };
}

export interface EptFeatures {
  readonly maxphyaddr?: number;
  /** VMX_EPT_EXECUTE_ONLY_BIT. Default true. */
  readonly execonly?: boolean;
  /** VMX_EPT_1GB_PAGE_BIT. Default true. */
  readonly ept_1g?: boolean;
}

/**
 * @kernel mmu.c kvm_init_shadow_ept_mmu
 * The walker for an L1 hypervisor's EPT tables, from the EPTP (bits 5:3 = walk length - 1,
 * bit 6 = A/D enable, bits 51:12 = root).
 */
export function kvm_init_ept_walk_mmu(profile: Profile, eptp: number, feat: EptFeatures = {}): WalkMmu {
  const maxphyaddr = features({ maxphyaddr: feat.maxphyaddr ?? 46 }).maxphyaddr;
  if (!Number.isSafeInteger(eptp) || eptp < 0 || eptp >= 2 ** 52) badInput('eptp', `not a valid EPTP: ${eptp}`);
  const walk_length = ((eptp >>> 3) & 7) + 1;
  if (walk_length !== 4 && walk_length !== 5) badInput('eptp', `walk length ${walk_length} (bits 5:3 + 1) is not 4 or 5`);
  const have_ad = ((eptp >>> 6) & 1) === 1;
  return {
    profile,
    kind: 'ept',
    root_level: walk_length,
    pte_size: 8,
    pgd: eptp - (eptp % 4096),
    pdptrs: null,
    have_ad,
    accessed_mask: VMX_EPT_ACCESS_BIT,
    efer_nx: false,
    cr0_wp: false,
    cr4_pse: false,
    cr4_smep: false,
    cr4_smap: false,
    cr4_pke: false,
    cr4_la57: false,
    long_mode: true,
    npt: false,
    pkru: 0,
    rflags: 0x2,
    cpl: 0,
    maxphyaddr,
    pse36: false,
    tables: { permissions: update_permission_bitmask({ cr0_wp: true, cr4_smep: false, cr4_smap: false, efer_nx: true }, true), pkru_mask: 0 },
    rsvd: __reset_rsvds_bits_mask_ept({ maxphyaddr, execonly: feat.execonly ?? true, ept_1g: feat.ept_1g ?? true }),
    lam: NO_LAM,
  };
}

/** Memory the PDPTE loader reads. */
export interface PdptrSource {
  read64(gpa: number, out: { lo: number; hi: number }): boolean;
}

/**
 * @kernel x86.c load_pdptrs
 * PAE: read the four PDPTEs at CR3 into the PDPTE registers. A present PDPTE with a reserved bit
 * (or a PDPT outside memory) makes MOV CR3 fail with #GP: that is a ShadowMmuError here, and the
 * registers stay as they were.
 */
export function load_pdptrs(mmu: WalkMmu, mem: PdptrSource): void {
  if (mmu.kind !== 'pae') throw new ShadowMmuError('ESTATE', `load_pdptrs: the guest is not in PAE paging (${mmu.kind})`);
  const regs = new Uint32Array(8);
  const w = { lo: 0, hi: 0 };
  const r = mmu.rsvd;
  for (let i = 0; i < 4; i++) {
    const gpa = mmu.pgd + i * 8;
    if (!mem.read64(gpa, w)) throw new ShadowMmuError('ESTATE', `load_pdptrs: PDPTE ${i} at 0x${gpa.toString(16)} is not in guest memory (MOV CR3 would #GP)`);
    const ri = 0 * 5 + 3 - 1;
    if (w.lo & 1 && ((w.lo & r.lo[ri]!) | (w.hi & r.hi[ri]!)) !== 0) {
      throw new ShadowMmuError(
        'ESTATE',
        `load_pdptrs: PDPTE ${i} = 0x${(w.hi >>> 0).toString(16).padStart(8, '0')}${(w.lo >>> 0).toString(16).padStart(8, '0')} has reserved bits set (MOV CR3 would #GP)`,
      );
    }
    regs[2 * i] = w.lo;
    regs[2 * i + 1] = w.hi;
  }
  mmu.pdptrs = regs;
}
