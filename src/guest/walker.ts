/**
 * FNAME(walk_addr_generic): one walker for every guest format (32-bit, PAE, 4/5-level, EPT;
 * NPT is the 64-bit format walked as user accesses), as paging_tmpl.h is one template. The walk
 * runs on 32-bit halves; a GuestWalker is reused across walks and records each entry it reads.
 */
import type { GuestMemory, Word } from './memory.js';
import type { WalkMmu } from './mmu.js';
import {
  EPT_VIOLATION_ACC_INSTR,
  EPT_VIOLATION_ACC_READ,
  EPT_VIOLATION_ACC_WRITE,
  EPT_VIOLATION_PROT_SHIFT,
  PFERR_FETCH_MASK,
  PFERR_PRESENT_MASK,
  PFERR_RSVD_MASK,
  PFERR_USER_MASK,
  PFERR_WRITE_MASK,
  PF_VECTOR,
  PT_PAGE_SIZE_MASK,
  X86_EFLAGS_AC,
} from './constants.js';
import { gpte_access, gpte_to_gfn, is_present_gpte, protect_clean_gpte } from './gpte.js';
import { permission_fault } from './permissions.js';
import { is_rsvd_bits_set } from './rsvd.js';

const TWO32 = 2 ** 32;

/** Receives the kvmmmu walker tracepoints as they fire (see ./events.ts). */
export interface WalkTracer {
  pagetable_walk(addr_lo: number, addr_hi: number, pferr: number): void;
  paging_element(pte_lo: number, pte_hi: number, level: number): void;
  set_accessed_bit(gpa: number): void;
  set_dirty_bit(gpa: number): void;
  walker_error(pferr: number): void;
}

/** Why a walk stopped, for explanations (the kernel only keeps the error code). */
export enum WalkStop {
  None = 0,
  NotPresent = 1,
  Reserved = 2,
  Permission = 3,
  NoMemory = 4,
}

/** struct guest_walker plus the record of what the walk read and wrote. */
export class GuestWalker {
  level = 0;
  max_level = 0;
  readonly table_gfn = new Float64Array(5);
  readonly pte_gpa = new Float64Array(5);
  readonly ptes_lo = new Uint32Array(5);
  readonly ptes_hi = new Uint32Array(5);
  /** ACC_* of the levels above each level (walker->pt_access). */
  readonly pt_access = new Uint8Array(5);
  readonly pte_writable = new Uint8Array(5);
  /** ACC_* of the whole translation (walker->pte_access). */
  pte_access = 0;
  pte_pkey = 0;
  /** Result: the gfn (walker->gfn) and the full gpa (gfn plus the address's page offset). */
  gfn = 0;
  gpa = 0;
  /** walker->fault, when the walk returns false. */
  fault_vector = 0;
  fault_error_code = 0;
  /** EPT violations: the walk's part of the exit qualification (bits 5:0; fault.exit_qualification). */
  exit_qualification = 0;
  stop: WalkStop = WalkStop.None;
  /** Level at which the walk stopped (the faulting entry's level), 0 for success. */
  stop_level = 0;

  /** Every entry read, in order: level and value (PAE: the PDPTE register first). */
  n_elements = 0;
  readonly el_level = new Uint8Array(6);
  readonly el_lo = new Uint32Array(6);
  readonly el_hi = new Uint32Array(6);
  readonly el_gpa = new Float64Array(6);
  /** Guest-physical addresses of the entries whose A / D bit the walk set, in order. */
  n_accessed = 0;
  readonly accessed_gpa = new Float64Array(5);
  n_dirty = 0;
  readonly dirty_gpa = new Float64Array(5);

  /** Scratch word for memory reads. */
  readonly w: Word = { lo: 0, hi: 0 };

  reset(): void {
    this.n_elements = 0;
    this.n_accessed = 0;
    this.n_dirty = 0;
    this.stop = WalkStop.None;
    this.stop_level = 0;
    this.exit_qualification = 0;
  }

  /** Note one entry the walk read. */
  record(level: number, lo: number, hi: number, gpa: number): void {
    const i = this.n_elements++;
    this.el_level[i] = level;
    this.el_lo[i] = lo;
    this.el_hi[i] = hi;
    this.el_gpa[i] = gpa;
  }
}

/** @kernel paging_tmpl.h PT_INDEX: the entry index of the address at `level`. */
function pt_index(mmu: WalkMmu, lo: number, hi: number, level: number): number {
  if (mmu.pte_size === 4) return level === 1 ? (lo >>> 12) & 1023 : lo >>> 22;
  const s = 3 + 9 * level;
  if (s >= 32) return (hi >>> (s - 32)) & 511;
  if (s + 9 <= 32) return (lo >>> s) & 511;
  return ((lo >>> s) | (hi << (32 - s))) & 511;
}

/** @kernel paging_tmpl.h FNAME(is_last_gpte) */
function is_last_gpte(mmu: WalkMmu, level: number, lo: number): boolean {
  let gpte = lo;
  // 32-bit paging: bit 7 is the PS bit only in a PDE with CR4.PSE; elsewhere it is ignored.
  if (mmu.pte_size === 4) gpte &= level - (2 + (mmu.cr4_pse ? 1 : 0));
  // A 4K-level entry always terminates.
  gpte |= level - 1 - 1;
  return (gpte & PT_PAGE_SIZE_MASK) !== 0;
}

/**
 * @kernel paging_tmpl.h gpte_to_gfn_lvl (with pse36_gfn_delta)
 * The leaf's guest-physical address: gpte_to_gfn_lvl(pte, level) plus the address bits below
 * the page size (for a 4 MiB page with PSE-36, pse36_gfn_delta adds PDE bits 16:13 as 35:32).
 */
function leaf_gpa(mmu: WalkMmu, lo: number, hi: number, level: number, addr_lo: number): number {
  if (mmu.pte_size === 4) {
    if (level === 1) return ((lo & 0xfffff000) >>> 0) + (addr_lo & 0xfff);
    const delta = mmu.pse36 ? ((lo >>> 13) & 0xf) * TWO32 : 0;
    return ((lo & 0xffc00000) >>> 0) + delta + ((addr_lo & 0x3fffff) >>> 0);
  }
  const s = 3 + 9 * level; // 12, 21, 30
  // (1 << s) - 1, not 2 ** s: a Math.pow per walk was 5 % of a leaf fault.
  const offMask = s >= 32 ? 0xffffffff : ((1 << s) - 1) >>> 0;
  return (hi & 0xfffff) * TWO32 + ((lo & ~offMask & 0xfffff000) >>> 0) + ((addr_lo & offMask) >>> 0);
}

/** Options of one walk beyond the access bits. */
export interface WalkFlags {
  /** PFERR_IMPLICIT_ACCESS (6.x): a supervisor access the CPU makes implicitly (SMAP ignores AC). */
  readonly implicit?: boolean;
}

/**
 * @kernel paging_tmpl.h FNAME(walk_addr_generic)
 * Walks `addr` (halves) for `access` (PFERR bits W/U/F, maybe P from a hardware error code).
 * Returns true with walker.gfn/gpa/pte_access set, or false with walker.fault_* set. A/D bits
 * are set in guest memory as KVM sets them (top level first, only on success).
 */
export function walk_addr_generic(
  walker: GuestWalker,
  mmu: WalkMmu,
  mem: GuestMemory,
  addr_lo: number,
  addr_hi: number,
  access: number,
  tracer: WalkTracer | null = null,
  flags: WalkFlags | null = null,
): boolean {
  if (mmu.npt) access |= PFERR_USER_MASK;
  const write_fault = access & PFERR_WRITE_MASK;
  const user_fault = access & PFERR_USER_MASK;
  const fetch_fault = access & PFERR_FETCH_MASK;
  const ept = mmu.kind === 'ept';
  const is64 = mmu.pte_size === 8;
  const nxOn = is64 && !ept;
  const w = walker.w;
  let errcode = 0;
  let pte_access_lo = 0;
  walker.reset();
  if (mmu.pte_size === 4) addr_hi = 0;
  if (tracer) tracer.pagetable_walk(addr_lo, addr_hi, access);

  error: {
    walker.level = mmu.root_level;
    let pte_lo = 0;
    let pte_hi = 0;
    let next_table = mmu.pgd;
    if (mmu.kind === 'pae') {
      const regs = mmu.pdptrs;
      if (regs === null) throw new Error('walk_addr_generic: PAE walk without loaded PDPTEs (call load_pdptrs)');
      const i = (addr_lo >>> 30) & 3;
      pte_lo = regs[2 * i]!;
      pte_hi = regs[2 * i + 1]!;
      walker.record(3, pte_lo, pte_hi, mmu.pgd + i * 8);
      if (tracer) tracer.paging_element(pte_lo, pte_hi, 3);
      if (!(pte_lo & 1)) {
        walker.stop = WalkStop.NotPresent;
        walker.stop_level = 3;
        break error;
      }
      next_table = gpte_to_gfn(mmu, pte_lo, pte_hi) * 4096;
      --walker.level;
    }
    walker.max_level = walker.level;

    // All-ones: the AND of every level's bits (XD inverted so it ANDs like the others).
    pte_access_lo = 0xffffffff;
    let pte_access_x = true;
    let pt_access_lo = 0;
    let pt_access_x = true;
    ++walker.level;
    do {
      pt_access_lo = pte_access_lo;
      pt_access_x = pte_access_x;
      --walker.level;
      const level = walker.level;
      const index = pt_index(mmu, addr_lo, addr_hi, level);
      const table = next_table;
      const pte_gpa = table + index * mmu.pte_size;
      walker.table_gfn[level - 1] = table / 4096;
      walker.pte_gpa[level - 1] = pte_gpa;

      // The entry and its memslot in one lookup (the slot's read-only flag gates the A/D writes).
      const slot = mem.readPte(pte_gpa, mmu.pte_size, w);
      if (slot === undefined) {
        walker.stop = WalkStop.NoMemory;
        walker.stop_level = level;
        break error;
      }
      walker.pte_writable[level - 1] = slot.readonly ? 0 : 1;
      pte_lo = w.lo;
      pte_hi = w.hi;
      walker.record(level, pte_lo, pte_hi, pte_gpa);
      if (tracer) tracer.paging_element(pte_lo, pte_hi, level);

      pte_access_lo = (pt_access_lo & pte_lo) >>> 0;
      if (nxOn && pte_hi >>> 31) pte_access_x = false;

      if (!is_present_gpte(mmu, pte_lo)) {
        walker.stop = WalkStop.NotPresent;
        walker.stop_level = level;
        break error;
      }
      if (is_rsvd_bits_set(mmu.rsvd, pte_lo, pte_hi, level, ept)) {
        errcode = PFERR_RSVD_MASK | PFERR_PRESENT_MASK;
        walker.stop = WalkStop.Reserved;
        walker.stop_level = level;
        break error;
      }
      walker.ptes_lo[level - 1] = pte_lo;
      walker.ptes_hi[level - 1] = pte_hi;
      walker.pt_access[level - 1] = gpte_access(mmu, pt_access_lo, pt_access_x ? 0 : 0x80000000);
      next_table = gpte_to_gfn(mmu, pte_lo, pte_hi) * 4096;
    } while (!is_last_gpte(mmu, walker.level, pte_lo));

    const level = walker.level;
    // FNAME(gpte_pkeys): the leaf's bits 62:59 (64-bit formats only).
    const pte_pkey = nxOn ? (pte_hi >>> 27) & 15 : 0;
    walker.pte_pkey = pte_pkey;
    const accessed_mask = mmu.accessed_mask;
    let accessed_dirty = mmu.have_ad ? pte_access_lo & accessed_mask : 0;
    walker.pte_access = gpte_access(mmu, pte_access_lo, pte_access_x ? 0 : 0x80000000);

    // SMAP can be overridden by EFLAGS.AC for explicit supervisor accesses only.
    const ac = (mmu.rflags & X86_EFLAGS_AC) !== 0;
    const not_smap =
      mmu.profile.walker.smap_implicit === 'access-flag' ? ac && !(flags !== null && flags.implicit === true) : ac && mmu.cpl < 3;
    errcode = permission_fault(mmu.tables, walker.pte_access, pte_pkey, access, not_smap, mmu.pkru);
    if (errcode !== 0) {
      walker.stop = WalkStop.Permission;
      walker.stop_level = level;
      break error;
    }

    walker.gpa = leaf_gpa(mmu, pte_lo, pte_hi, level, addr_lo);
    walker.gfn = Math.floor(walker.gpa / 4096);

    if (!write_fault) walker.pte_access = protect_clean_gpte(mmu, walker.pte_access, pte_lo);
    // On a write the leaf's dirty bit joins the accessed bits.
    else accessed_dirty &= pte_lo >>> 1;

    if (accessed_dirty === 0) update_accessed_dirty_bits(walker, mmu, mem, write_fault !== 0, tracer);
    return true;
  }

  // error:
  errcode |= write_fault | user_fault;
  if (fetch_fault && (mmu.efer_nx || mmu.cr4_smep)) errcode |= PFERR_FETCH_MASK;
  walker.fault_vector = PF_VECTOR;
  walker.fault_error_code = errcode;
  if (ept && !(errcode & PFERR_RSVD_MASK)) {
    // The walk's part of the EPT violation's exit qualification: each access bit on its own
    // (a read is the U slot, as handle_ept_violation and translate_nested_gpa pass it) and the
    // raw R/W/X the walk accumulated (bits 5:3). Bits 8:7 (GVA valid / translated) are not the
    // walk's: nested_ept_inject_page_fault takes them from L0's own exit (fault/inject.ts).
    let q = write_fault ? EPT_VIOLATION_ACC_WRITE : 0;
    if (user_fault) q |= EPT_VIOLATION_ACC_READ;
    if (fetch_fault) q |= EPT_VIOLATION_ACC_INSTR;
    q |= (pte_access_lo & 7) << EPT_VIOLATION_PROT_SHIFT;
    walker.exit_qualification = q;
  }
  if (tracer) tracer.walker_error(errcode);
  return false;
}

/**
 * @kernel paging_tmpl.h FNAME(update_accessed_dirty_bits)
 * From the top level down: A where clear, and D in the leaf on a write. The tracepoint fires
 * before the write, which is skipped (silently) in a read-only memslot.
 */
function update_accessed_dirty_bits(
  walker: GuestWalker,
  mmu: WalkMmu,
  mem: GuestMemory,
  write_fault: boolean,
  tracer: WalkTracer | null,
): void {
  // No A/D bits in this format (EPT without A/D): nothing to update.
  if (!mmu.have_ad) return;
  const a = mmu.accessed_mask;
  const d = a << 1;
  for (let level = walker.max_level; level >= walker.level; --level) {
    const orig = walker.ptes_lo[level - 1]!;
    let pte = orig;
    const gpa = walker.pte_gpa[level - 1]!;
    if (!(pte & a)) {
      if (tracer) tracer.set_accessed_bit(gpa);
      walker.accessed_gpa[walker.n_accessed++] = gpa;
      pte |= a;
    }
    if (level === walker.level && write_fault && !(pte & d)) {
      if (tracer) tracer.set_dirty_bit(gpa);
      walker.dirty_gpa[walker.n_dirty++] = gpa;
      pte |= d;
    }
    if (pte === orig) continue;
    if (!walker.pte_writable[level - 1]) continue;
    pte >>>= 0;
    if (mmu.pte_size === 8) mem.write64(gpa, pte, walker.ptes_hi[level - 1]!);
    else mem.write32(gpa, pte);
    mem.mark_page_dirty(Math.floor(gpa / 4096));
    walker.ptes_lo[level - 1] = pte;
  }
}
