/**
 * A VM with one vCPU running a guest over guest memory: the registers and what the kernel does
 * when they change (x86.c KVM_SET_SREGS, kvm_post_set_cr0/cr4, kvm_set_efer, kvm_set_cr3 with
 * kvm_invalidate_pcid; mmu.c kvm_mmu_reset_context / kvm_init_mmu), the requests a vCPU services
 * before entering the guest (vcpu_enter_guest, kvm_mmu_reload), and the guest walk MMU the fault
 * path reads. The role computation is src/roles (calcRootRole), the walk MMU src/guest.
 */
import type { Memslot } from '../../guest/memory.js';
import { kvm_get_dirty_log_protect, kvm_mmu_slot_apply_flags } from '../pages/dirty_log.js';
import { kvm_memslots_updated } from '../fault/mmio.js';
import { __kvm_sync_page } from '../fault/sync_page.js';
import {
  EFER_LMA as EFER_LMA_B,
  EFER_LME as EFER_LME_B,
  EFER_NX as EFER_NX_B,
  X86_CR0_PG as X86_CR0_PG_B,
  X86_CR3_PCID_MASK,
  X86_CR4_PAE,
  X86_CR4_PCIDE,
  X86_CR4_PGE,
  X86_CR4_SMEP,
} from '../../bits/regs.js';
import { ShadowMmuError } from '../../bits/errors.js';
import { badInput } from '../../bits/errors.js';
import { eptpLevel, VMX_EPTP_AD_ENABLE_BIT, VMX_EPTP_MT_WB } from '../../cpu/tdp.js';
import { cr4ChangeResetsMmu, kvm_set_cr3, shadowRootOfCr3, type Cr3Ctx, X86_CR3_LAM_U48, X86_CR3_LAM_U57 } from '../../cpu/cr.js';
import { kvm_init_ept_walk_mmu, kvm_init_walk_mmu, load_pdptrs, type GuestFeatures, type WalkMmu } from '../../guest/mmu.js';
import type { GuestMemory } from '../../guest/memory.js';
import { GuestWalker, type WalkTracer } from '../../guest/walker.js';
import type { Profile } from '../../profiles/index.js';
import { hostByName } from '../../roles/host.js';
import { calcRootRole } from '../../roles/root-role.js';
import { KVM_MMU_CR0_ROLE_BITS } from '../../roles/regs.js';
import type { MmuKind } from '../../roles/types.js';
import { INVALID_PAGE, KVM_MMU_NUM_PREV_ROOTS } from '../pages/constants.js';
import { kvm_mmu_load } from '../fault/load.js';
import { createMachine, DEFAULT_HOST, type HostConfig, type Machine } from './machine.js';
import { KVM_MMU_ROOT_CURRENT, KVM_MMU_ROOT_PREVIOUS, KVM_MMU_ROOTS_ALL, kvm_mmu_free_obsolete_roots, kvm_mmu_free_roots, kvm_mmu_new_pgd, kvm_mmu_unload } from '../pages/roots.js';
import { kvm_mmu_sync_prev_roots, kvm_mmu_sync_roots } from '../fault/sync.js';
import type { MmuContext, Vcpu } from '../pages/vcpu.js';

/**
 * The vCPU registers the MMU depends on (64-bit values; CR3 may carry PCID and LAM bits). Under
 * nested NPT `cr3` is L1's nCR3; under nested EPT it is L1's EPTP (vmcs12 EPT_POINTER: bits 5:3
 * the walk length - 1, bit 6 A/D enable, bits 51:12 the root) and CR0/CR4/EFER are not read.
 */
export interface VcpuRegisters {
  readonly cr0: bigint;
  readonly cr3: bigint;
  readonly cr4: bigint;
  readonly efer: bigint;
  readonly pkru?: number;
  readonly rflags?: number;
  readonly smm?: boolean;
}

export interface VmConfig {
  readonly profile: Profile;
  readonly guest: GuestMemory;
  readonly regs: VcpuRegisters;
  /** Host configuration (machine.ts); default DEFAULT_HOST (shadow paging, Intel). */
  readonly host?: Partial<HostConfig>;
  /** The src/roles host the roles are computed for (default 'ept4'; AMD 'npt4'). */
  readonly rolesHost?: string;
  readonly features?: GuestFeatures;
}

/** kvm_set_cr3's legality context that accepts every CR3 (no reserved bits, LAM bits ignored). */
const ANY_CR3: Cr3Ctx = { maxphyaddr: 64, guest_lam: true };

/** Host frames backing guest memory start here (a memslot's userspace mapping, as pfns). */
export const GUEST_PFN_BASE = 0x2000000;

export class ShadowVmState {
  readonly profile: Profile;
  readonly machine: Machine;
  readonly guest: GuestMemory;
  regs: VcpuRegisters;
  readonly features: GuestFeatures;
  readonly mmuKind: MmuKind;
  readonly rolesHost: string;
  /** The host's EPT capabilities as L1 sees them (nested ept_caps): A/D, execute-only, 5-level. */
  readonly hostEpt: { readonly ad: boolean; readonly execonly: boolean; readonly level: number };
  private readonly walks = new Map<number, WalkMmu>();

  constructor(cfg: VmConfig) {
    this.profile = cfg.profile;
    this.guest = cfg.guest;
    this.regs = { ...cfg.regs };
    this.features = cfg.features ?? {};
    const host: HostConfig = { ...DEFAULT_HOST, ...(cfg.host ?? {}) };
    // TDP on an AMD host: the nested-NPT shadow MMU (kvm_init_shadow_npt_mmu): `regs` are L1's,
    // CR3 is L1's nCR3, and faults are L2 guest-physical accesses walked through L1's NPT.
    // TDP on an Intel host: the nested-EPT shadow MMU (nested_ept_init_mmu_context ->
    // kvm_init_shadow_ept_mmu): CR3 is L1's EPTP and L2 GPAs are walked through L1's EPT.
    this.mmuKind = host.tdp ? (host.vendor === 'amd' ? 'npt' : 'ept') : 'shadow';
    this.hostEpt = { ad: host.ept_ad !== false, execonly: host.ept_execonly !== false, level: host.tdp_level };
    if (this.mmuKind === 'ept') checkEptp(this.regs.cr3, this.hostEpt);
    this.rolesHost = cfg.rolesHost ?? (host.vendor === 'amd' ? (host.tdp ? `npt${host.tdp_level}` : 'npt4') : 'ept4');
    this.machine = createMachine(cfg.profile, host, this.context());
    this.machine.kvm.followMemslots(cfg.guest.memslots);
    const walker = new GuestWalker();
    this.vcpu.guest = {
      mem: cfg.guest,
      walk: this.walkFor(0),
      walker,
      tracer: null,
      faulted_in: new Set<number>(),
      gfn_to_pfn: (gfn) => GUEST_PFN_BASE + gfn,
    };
    this.vcpu.mmu.sync_page = __kvm_sync_page;
    this.vcpu.mmu_is_nested = this.mmuKind === 'npt' || this.mmuKind === 'ept';
    // The VMM made the guest's memslots before the vCPU runs: one update each.
    for (let i = 0; i < cfg.guest.memslots.length; i++) kvm_memslots_updated(this.machine.kvm);
    this.loadPdptrs();
  }

  /**
   * KVM_SET_USER_MEMORY_REGION creating a memslot of `size` bytes at guest-physical `base`: the
   * memslots generation moves on, so MMIO SPTEs made before it no longer pass check_mmio_spte
   * (and a wrap of the MMIO generation zaps every shadow page).
   */
  addMemslot(base: number, size: number, opts: { readonly?: boolean } = {}): void {
    this.guest.addSlot(base, size, opts);
    kvm_memslots_updated(this.machine.kvm);
  }

  /** The memslot with index `id` (KVM's slot number), or a typed error. */
  private memslot(id: number): Memslot {
    const s = this.guest.memslots[id];
    if (s === undefined) badInput('memslot', `no memslot ${id} (the guest has ${this.guest.memslots.length})`);
    return s;
  }

  /** KVM_SET_USER_MEMORY_REGION changing only KVM_MEM_LOG_DIRTY_PAGES of memslot `id` (KVM_MR_FLAGS_ONLY). */
  setDirtyLogging(id: number, on: boolean): void {
    const slot = this.memslot(id);
    // The flags are what they were: KVM_SET_USER_MEMORY_REGION changes nothing (no new generation).
    if ((slot.dirty_bitmap !== null) === on) return;
    kvm_memslots_updated(this.machine.kvm);
    kvm_mmu_slot_apply_flags(this.machine.kvm, slot, on);
  }

  /** KVM_GET_DIRTY_LOG of memslot `id`: the dirty gfns, or null (-ENOENT) when it does not log. */
  getDirtyLog(id: number): number[] | null {
    return kvm_get_dirty_log_protect(this.machine.kvm, this.memslot(id));
  }

  get vcpu(): Vcpu {
    return this.machine.vcpu;
  }

  /** The MMU context of the registers (kvm_init_mmu's role computation). */
  context(): MmuContext {
    const r = this.regs;
    if (this.mmuKind === 'ept') {
      // kvm_init_shadow_ept_mmu: the role comes from the EPTP and the nested EPT capabilities
      // only (no L1 register); smm is root_mmu's where the profile copies it (L1 not in SMM here).
      const e = this.eptInput();
      const res = calcRootRole(this.profile, 'ept', { cr0: 0, cr4: 0, efer: 0, smm: r.smm === true, guest_mode: true, host: hostByName(this.rolesHost) }, e);
      return { kind: 'shadow_ept', mmu_role: res.word, direct_map: false, root_level: res.root_level, shadow_root_level: res.shadow_root_level };
    }
    const res = calcRootRole(this.profile, this.mmuKind, {
      cr0: this.mmuCr0(),
      cr4: Number(r.cr4 & 0xffffffffn) >>> 0,
      efer: Number(r.efer & 0xffffffffn) >>> 0,
      smm: r.smm === true,
      guest_mode: this.mmuKind === 'npt',
      host: hostByName(this.rolesHost),
    });
    return { kind: 'shadow', mmu_role: res.word, direct_map: res.direct_map, root_level: res.root_level, shadow_root_level: res.shadow_root_level };
  }

  /**
   * CR0 as the MMU is initialised with it. Nested NPT (svm nested.c nested_svm_init_mmu_context):
   * KVM passes CR0 = PG only with L1's CR4/EFER, so L1's CR0.WP never reaches the role.
   */
  private mmuCr0(): number {
    return this.mmuKind === 'npt' ? Number(X86_CR0_PG_B) : Number(this.regs.cr0 & 0xffffffffn) >>> 0;
  }

  /** The shadow-EPT role inputs of the current EPTP: walk length, EPTP A/D, execute-only (nested_ept_new_eptp). */
  eptInput(): { level: number; accessed_dirty: boolean; execonly: boolean } {
    const ad = (BigInt.asUintN(64, this.regs.cr3) & BigInt(VMX_EPTP_AD_ENABLE_BIT)) !== 0n;
    return { level: eptpLevel(this.regs.cr3), accessed_dirty: ad, execonly: this.hostEpt.execonly };
  }

  /** The guest walk MMU for the current registers at `cpl` (cached until the registers change). */
  walkFor(cpl: number): WalkMmu {
    let w = this.walks.get(cpl);
    if (w) return w;
    const r = this.regs;
    if (this.mmuKind === 'ept') {
      // The EPT walker is the same at every CPL: L2's privilege plays no part in an EPT walk.
      w = kvm_init_ept_walk_mmu(this.profile, Number(BigInt.asUintN(64, r.cr3) & 0xfffffffffffffn), {
        maxphyaddr: this.features.maxphyaddr ?? 46,
        execonly: this.hostEpt.execonly,
      });
      this.walks.set(cpl, w);
      return w;
    }
    const cr3 = r.cr3;
    w = kvm_init_walk_mmu(
      this.profile,
      {
        cr0: this.mmuCr0(),
        cr3: Number(cr3 & 0xffffffffff000n) + Number(cr3 & 0xfe0n),
        cr4: Number(r.cr4 & 0xffffffffn) >>> 0,
        efer: Number(r.efer & 0xffffffffn) >>> 0,
        pkru: r.pkru ?? 0,
        rflags: r.rflags ?? 0x2,
        cpl,
        cr3_lam: { u48: (cr3 & X86_CR3_LAM_U48) !== 0n, u57: (cr3 & X86_CR3_LAM_U57) !== 0n },
      },
      this.features,
      this.mmuKind === 'npt',
    );
    const first = this.walks.values().next();
    if (w.kind === 'pae') w.pdptrs = first.done ? null : first.value.pdptrs;
    this.walks.set(cpl, w);
    return w;
  }

  /** Use the walk MMU of `cpl` for the fault path (FNAME(page_fault) walks as the vCPU is). */
  atCpl(cpl: number): void {
    this.vcpu.guest!.walk = this.walkFor(cpl);
  }

  set tracer(t: WalkTracer | null) {
    this.vcpu.guest!.tracer = t;
  }

  private invalidateWalks(): void {
    const pd = this.walks.values().next();
    const pdptrs = pd.done ? null : pd.value.pdptrs;
    this.walks.clear();
    const w = this.walkFor(0);
    if (w.kind === 'pae') w.pdptrs = pdptrs;
    this.vcpu.guest!.walk = w;
  }

  private isPaePaging(): boolean {
    const r = this.regs;
    return (r.efer & EFER_LMA_B) === 0n && (r.cr4 & X86_CR4_PAE) !== 0n && (r.cr0 & X86_CR0_PG_B) !== 0n;
  }

  /**
   * PAE paging: load_pdptrs (guest/mmu.ts reads and checks the PDPTEs), then its shadow-paging
   * tail: a change frees the current root and requests KVM_REQ_LOAD_MMU_PGD.
   */
  loadPdptrs(): void {
    if (!this.isPaePaging()) return;
    const w = this.walkFor(0);
    const old = w.pdptrs;
    load_pdptrs(w, this.guest);
    const regs = w.pdptrs!;
    for (const o of this.walks.values()) o.pdptrs = regs;
    const mmu = this.vcpu.mmu;
    const changed = old === null || regs.some((v, i) => v !== old[i]);
    for (let i = 0; i < 4; i++) mmu.pdptrs[i] = (BigInt(regs[2 * i + 1]!) << 32n) | BigInt(regs[2 * i]!);
    if (changed) kvm_mmu_free_roots(this.vcpu, 1);
    this.vcpu.requests.add('KVM_REQ_LOAD_MMU_PGD');
  }

  /** @kernel mmu.c kvm_mmu_reset_context: unload every root, then kvm_init_mmu. */
  kvm_mmu_reset_context(): void {
    kvm_mmu_unload(this.vcpu);
    this.vcpu.mmu.ctx = this.context();
    this.invalidateWalks();
  }

  /** @kernel x86.c __set_sregs_common (the MMU part of KVM_SET_SREGS): a change of CR0, CR3, CR4 or EFER resets the MMU and flushes the guest TLB. */
  setSregs(regs: VcpuRegisters): void {
    const o = this.regs;
    const reset = o.cr0 !== regs.cr0 || o.cr3 !== regs.cr3 || o.cr4 !== regs.cr4 || o.efer !== regs.efer;
    this.regs = { ...o, ...regs };
    this.invalidateWalks();
    if (this.isPaePaging()) this.loadPdptrs();
    if (reset) {
      this.kvm_mmu_reset_context();
      this.vcpu.requests.add('KVM_REQ_TLB_FLUSH_GUEST');
    }
  }

  /** @kernel x86.c kvm_post_set_cr0 (MOV CR0 after kvm_set_cr0's checks; vmx_set_cr0's LMA). */
  setCr0(cr0: bigint): boolean {
    const old = this.regs.cr0;
    let efer = this.regs.efer;
    const pgOn = (cr0 & X86_CR0_PG_B) !== 0n;
    const wasPg = (old & X86_CR0_PG_B) !== 0n;
    // vmx_set_cr0: entering / leaving long mode with EFER.LME.
    if (efer & EFER_LME_B) efer = pgOn ? efer | EFER_LMA_B : efer & ~EFER_LMA_B;
    this.regs = { ...this.regs, cr0, efer };
    this.invalidateWalks();
    if (pgOn && !wasPg && this.isPaePaging()) this.loadPdptrs();
    let reset = false;
    if ((cr0 ^ old) & BigInt(KVM_MMU_CR0_ROLE_BITS)) {
      this.kvm_mmu_reset_context();
      reset = true;
    }
    if (this.profile.mmu.cr0_pg_clear_flushes_guest_tlb && (cr0 ^ old) & X86_CR0_PG_B && !pgOn) this.vcpu.requests.add('KVM_REQ_TLB_FLUSH_GUEST');
    return reset;
  }

  /** @kernel x86.c kvm_post_set_cr4 (MOV CR4 after kvm_set_cr4's checks). */
  setCr4(cr4: bigint): boolean {
    const old = this.regs.cr4;
    this.regs = { ...this.regs, cr4 };
    this.invalidateWalks();
    const d = cr4 ^ old;
    if ((d & X86_CR4_PAE) !== 0n && this.isPaePaging()) this.loadPdptrs();
    let reset = false;
    if (cr4ChangeResetsMmu(old, cr4)) {
      this.kvm_mmu_reset_context();
      reset = true;
    }
    if (this.profile.mmu.post_set_cr4_requests === 'targeted-flushes') {
      if (cr4 & X86_CR4_PCIDE && !(old & X86_CR4_PCIDE)) kvm_mmu_unload(this.vcpu);
      if (d & X86_CR4_PGE || (!(cr4 & X86_CR4_PCIDE) && old & X86_CR4_PCIDE)) this.vcpu.requests.add('KVM_REQ_TLB_FLUSH_GUEST');
      else if ((d & X86_CR4_SMEP && cr4 & X86_CR4_SMEP) || d & X86_CR4_PAE) this.vcpu.requests.add('KVM_REQ_TLB_FLUSH_CURRENT');
    } else if (!reset) {
      if (d & X86_CR4_PCIDE) this.vcpu.requests.add('KVM_REQ_MMU_RELOAD');
      else if (d & X86_CR4_PGE) this.vcpu.requests.add('KVM_REQ_TLB_FLUSH_GUEST');
    }
    return reset;
  }

  /** WRMSR EFER after kvm_set_efer's checks (kvm/cpu.ts): its MMU tail, LME / NX changes reset the MMU. */
  setEfer(efer: bigint): boolean {
    const old = this.regs.efer;
    this.regs = { ...this.regs, efer };
    this.invalidateWalks();
    if ((efer ^ old) & (EFER_LME_B | EFER_NX_B)) {
      this.kvm_mmu_reset_context();
      return true;
    }
    return false;
  }

  setPkru(pkru: number): void {
    this.regs = { ...this.regs, pkru };
    this.invalidateWalks();
  }

  setRflags(rflags: number): void {
    this.regs = { ...this.regs, rflags };
    this.invalidateWalks();
  }

  /**
   * MOV CR3 as src/cpu/cr.ts kvm_set_cr3 decides it (NOFLUSH stripped with CR4.PCIDE, an
   * unchanged CR3 outside PAE paging only invalidates the PCID, legality against MAXPHYADDR and
   * guest LAM), carried out on the MMU: PAE paging reloads the PDPTEs, a changed CR3 gets
   * kvm_mmu_new_pgd (the pgd keeps the LAM bits), then kvm_invalidate_pcid unless NOFLUSH.
   * Returns null, or why the MOV CR3 is refused (#GP: a CR3 `legal` refuses, or a PDPTE with
   * reserved bits or outside guest memory), in which case nothing changed. Without `legal` every
   * CR3 is legal (the facade's caller has checked it, as a JSON scenario's author has).
   */
  setCr3(cr3in: bigint, legal: Cr3Ctx = ANY_CR3): string | null {
    if (this.mmuKind === 'ept') return this.setEptp(cr3in);
    const old = this.regs.cr3;
    const s = { cr0: this.regs.cr0, cr3: old, cr4: this.regs.cr4, efer: this.regs.efer };
    const ctx = legal;
    const r = kvm_set_cr3(this.profile, s, ctx, cr3in);
    if (r.rc !== 0) return `CR3 0x${cr3in.toString(16)} sets bits reserved at MAXPHYADDR ${ctx.maxphyaddr}`;
    if (s.cr3 !== old || r.load_pdptrs) {
      const before = this.regs;
      this.regs = { ...this.regs, cr3: s.cr3 };
      this.invalidateWalks();
      if (r.load_pdptrs) {
        try {
          this.loadPdptrs();
        } catch (e) {
          // kvm_set_cr3 checks the PDPTEs before CR3 changes: a refused MOV CR3 changes nothing.
          if (!(e instanceof ShadowMmuError)) throw e;
          this.regs = before;
          this.invalidateWalks();
          return e.message;
        }
      }
      if (r.new_pgd !== null) kvm_mmu_new_pgd(this.vcpu, pgdOf(r.new_pgd));
    }
    if (r.invalidate_pcid !== null) this.kvm_invalidate_pcid(r.invalidate_pcid);
    return null;
  }

  /**
   * @kernel nested.c nested_ept_new_eptp
   * L1 enters L2 with a new EPTP (vmcs12 EPT_POINTER): nested_vmx_check_eptp refuses an EPTP
   * the nested capabilities do not allow (the VM entry fails, nothing changes); otherwise
   * kvm_init_shadow_ept_mmu recomputes the role (a new walk length or A/D setting is a new
   * role) and kvm_mmu_new_pgd switches to the EPTP's root (prev_roots / fast PGD switch).
   */
  private setEptp(eptp: bigint): string | null {
    const why = eptpProblem(eptp, this.hostEpt);
    if (why !== null) return why;
    if (eptp === this.regs.cr3) return null;
    this.regs = { ...this.regs, cr3: eptp };
    this.walks.clear();
    this.vcpu.mmu.ctx = this.context();
    this.vcpu.guest!.walk = this.walkFor(0);
    kvm_mmu_new_pgd(this.vcpu, pgdOf(eptp));
    return null;
  }

  /**
   * @kernel nested.c handle_invept
   * L1's INVEPT (the MMU part): single-context frees the current and cached roots whose EPTP
   * has the same address bits (nested_ept_root_matches), global frees every root; the next VM
   * entry loads the root again and syncs its unsync children (kvm_mmu_load). Returns why the
   * instruction fails (VMfail: an EPTP the nested capabilities refuse), or null.
   */
  invept(type: 'single' | 'global', eptp: bigint = this.regs.cr3): string | null {
    if (this.mmuKind !== 'ept') badInput('invept', 'INVEPT needs a nested-EPT VM (an Intel TDP host)');
    let roots = KVM_MMU_ROOTS_ALL;
    if (type === 'single') {
      const why = eptpProblem(eptp, this.hostEpt);
      if (why !== null) return why;
      const pa = (v: number | bigint) => BigInt.asUintN(64, BigInt(v)) & 0xffffffffff000n;
      const mmu = this.vcpu.mmu;
      roots = 0;
      if (mmu.root_hpa !== INVALID_PAGE && pa(mmu.root_pgd) === pa(eptp)) roots |= KVM_MMU_ROOT_CURRENT;
      for (let i = 0; i < KVM_MMU_NUM_PREV_ROOTS; i++) {
        const r = mmu.prev_roots[i]!;
        if (r.hpa !== INVALID_PAGE && pa(r.pgd) === pa(eptp)) roots |= KVM_MMU_ROOT_PREVIOUS(i);
      }
    }
    if (roots) kvm_mmu_free_roots(this.vcpu, roots);
    return null;
  }

  /** @kernel x86.c kvm_invalidate_pcid (shadow paging) */
  private kvm_invalidate_pcid(pcid: bigint): void {
    const v = this.vcpu;
    const pcide = (this.regs.cr4 & X86_CR4_PCIDE) !== 0n;
    const active = pcide ? this.regs.cr3 & X86_CR3_PCID_MASK : 0n;
    if (active === pcid) {
      v.requests.add('KVM_REQ_MMU_SYNC');
      v.requests.add('KVM_REQ_TLB_FLUSH_CURRENT');
    }
    if (!pcide) return;
    let roots = 0;
    for (let i = 0; i < KVM_MMU_NUM_PREV_ROOTS; i++) {
      if ((BigInt(v.mmu.prev_roots[i]!.pgd) & X86_CR3_PCID_MASK) === pcid) roots |= KVM_MMU_ROOT_PREVIOUS(i);
    }
    kvm_mmu_free_roots(v, roots);
  }

  /** The root's pgd: the CR3 as the MMU keys roots (LAM bits included; see src/cpu shadowRootOfCr3). */
  rootGfn(): number {
    // mmu_alloc_shadow_roots: the EPTP's bits 51:12 (the flags below are not the root's).
    if (this.mmuKind === 'ept') return Number((BigInt.asUintN(64, this.regs.cr3) & 0xffffffffff000n) >> 12n);
    return Number(shadowRootOfCr3(this.profile, this.regs.cr3, this.regs.cr4, this.features.lam === true, 0n).root_gfn);
  }

  /**
   * @kernel x86.c vcpu_enter_guest
   * vcpu_enter_guest's requests (reduced to the MMU's), then kvm_mmu_reload. Returns 0 or the
   * error of kvm_mmu_load.
   */
  enterGuest(): number {
    const v = this.vcpu;
    const rq = v.requests;
    // No request pending (most entries): skip the eight lookups, each of which would find nothing.
    // A request made while the others were serviced or the MMU loaded (the remote TLB flush
    // of kvm_mmu_load's sync of an unsync page) cancels the entry (kvm_vcpu_exit_request), and
    // vcpu_enter_guest runs again in the same KVM_RUN (seen on the live KVM: tlb_flush 2).
    for (let pass = 0; pass < 3; pass++) {
      if (rq.size !== 0) this.serviceRequests(v, rq);
      if (v.mmu.root_hpa === INVALID_PAGE) {
        const r = kvm_mmu_load(v, pgdOf(this.regs.cr3), this.rootGfn());
        if (r < 0) return r;
      }
      if (rq.size === 0) break;
    }
    return 0;
  }

  /**
   * vcpu_enter_guest's requests, then an exit before the MMU is loaded: a pending triple fault
   * (KVM_REQ_TRIPLE_FAULT is checked after the TLB flush requests are serviced).
   */
  enterGuestShutdown(): void {
    const rq = this.vcpu.requests;
    if (rq.size !== 0) this.serviceRequests(this.vcpu, rq);
  }

  /** The MMU requests vcpu_enter_guest services before entry, in its order. */
  private serviceRequests(v: Vcpu, rq: Vcpu['requests']): void {
    if (rq.delete('KVM_REQ_MMU_RELOAD')) kvm_mmu_unload(v);
    if (rq.delete('KVM_REQ_MMU_FREE_OBSOLETE_ROOTS')) kvm_mmu_free_obsolete_roots(v);
    if (rq.delete('KVM_REQ_MMU_SYNC')) kvm_mmu_sync_roots(v);
    rq.delete('KVM_REQ_LOAD_MMU_PGD');
    if (rq.delete('KVM_REQ_TLB_FLUSH')) {
      v.stat.tlb_flush++;
      rq.delete('KVM_REQ_TLB_FLUSH_CURRENT');
    }
    if (rq.delete('KVM_REQ_TLB_FLUSH_CURRENT')) v.stat.tlb_flush++;
    if (rq.delete('KVM_REQ_TLB_FLUSH_GUEST')) {
      v.stat.tlb_flush++;
      kvm_mmu_sync_roots(v);
      kvm_mmu_sync_prev_roots(v);
    }
  }
}

/** Why nested_vmx_check_eptp refuses `eptp` under the nested EPT capabilities, or null. */
export function eptpProblem(eptp: bigint, caps: { readonly ad: boolean; readonly level: number }): string | null {
  const e = BigInt.asUintN(64, eptp);
  const mt = Number(e & 7n);
  const pwl = eptpLevel(e);
  if (mt !== 0 && mt !== VMX_EPTP_MT_WB) return `EPTP 0x${e.toString(16)}: memory type ${mt} is neither UC (0) nor WB (6)`;
  if (pwl !== 4 && pwl !== 5) return `EPTP 0x${e.toString(16)}: page-walk length ${pwl} is not 4 or 5`;
  if (pwl === 5 && caps.level < 5) return `EPTP 0x${e.toString(16)}: a 5-level EPTP on a host without 5-level EPT (VMX_EPT_PAGE_WALK_5_BIT)`;
  if (e & BigInt(VMX_EPTP_AD_ENABLE_BIT) && !caps.ad) return `EPTP 0x${e.toString(16)}: A/D enabled without the EPT A/D capability`;
  if ((e >> 7n) & 0x1fn || e >> 52n) return `EPTP 0x${e.toString(16)}: reserved bits (11:7 or 63:52) set`;
  return null;
}

function checkEptp(eptp: bigint, caps: { readonly ad: boolean; readonly level: number }): void {
  const why = eptpProblem(eptp, caps);
  if (why !== null) badInput('regs.cr3 (EPTP)', why);
}

/** The pgd the MMU keys roots on: CR3 as a number (bits above 52 are the LAM bits 61/62). */
export function pgdOf(cr3: bigint): number {
  return Number(BigInt.asUintN(64, cr3));
}
