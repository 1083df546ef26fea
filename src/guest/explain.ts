/**
 * A walk explained level by level, for the `walk` command: each entry read (address, value,
 * decoded bits, and why the walk went on or stopped there), the permission verdict with its
 * reasons, the A/D bits set, and the tracepoints. The verdict is the walker's own; the reasons
 * only spell it out.
 */
import { hex64Halves } from '../bits/hex.js';
import type { Profile } from '../profiles/index.js';
import { ACC_EXEC_MASK, ACC_USER_MASK, ACC_WRITE_MASK, GP_VECTOR, PFERR_FETCH_MASK, PFERR_USER_MASK, PFERR_WRITE_MASK, X86_EFLAGS_AC } from './constants.js';
import { INVALID_GPA, accessBits, guest_access, kvm_arch_vcpu_ioctl_translate, type AccessKind, type GuestAccessResult } from './access.js';
import { WalkEventLog, formatPferrFlags } from './events.js';
import type { GuestMemory } from './memory.js';
import type { WalkMmu } from './mmu.js';
import { GuestWalker, WalkStop } from './walker.js';

export interface LevelExplanation {
  readonly level: number;
  readonly name: string;
  readonly gpa: string;
  readonly value: string;
  readonly bits: string;
  readonly verdict: string;
}

export interface WalkExplanation {
  readonly profile: string;
  readonly mode: string;
  readonly addr: string;
  /** The address walked, when LAM untagging changed it. */
  readonly untagged?: string;
  readonly access: {
    readonly kind: AccessKind;
    readonly user: boolean;
    readonly implicit: boolean;
    /** KVM_TRANSLATE rather than a guest access (supervisor read, no canonical check). */
    readonly translate: boolean;
    readonly pferr: number;
    readonly flags: string;
  };
  readonly levels: readonly LevelExplanation[];
  readonly result:
    | { readonly ok: true; readonly gpa: string; readonly translation: string }
    | { readonly ok: false; readonly vector: number; readonly error_code: number; readonly flags: string; readonly reason: string };
  readonly set_accessed: readonly string[];
  readonly set_dirty: readonly string[];
  readonly events: readonly string[];
}

const NAMES: Record<string, readonly string[]> = {
  pt32: ['PTE', 'PDE'],
  pae: ['PTE', 'PDE', 'PDPTE'],
  pt64: ['PTE', 'PDE', 'PDPTE', 'PML4E', 'PML5E'],
  ept: ['EPT PTE', 'EPT PDE', 'EPT PDPTE', 'EPT PML4E', 'EPT PML5E'],
};

export function modeName(mmu: WalkMmu): string {
  switch (mmu.kind) {
    case 'pt32':
      return `32-bit paging (2 levels, 4-byte entries${mmu.cr4_pse ? ', PSE' : ''})`;
    case 'pae':
      return 'PAE paging (PDPTE registers + 2 levels)';
    case 'pt64':
      return mmu.root_level === 5 ? '5-level paging (LA57)' : '4-level paging';
    case 'ept':
      return `EPT (${mmu.root_level} levels${mmu.have_ad ? ', A/D' : ''})`;
    default:
      return 'no paging';
  }
}

const ACC = (a: number) => (a & ACC_WRITE_MASK ? 'w' : '-') + (a & ACC_USER_MASK ? 'u' : '-') + (a & ACC_EXEC_MASK ? 'x' : '-');

function decodeBits(mmu: WalkMmu, level: number, lo: number, hi: number): string {
  const out: string[] = [];
  if (mmu.kind === 'ept') {
    if (lo & 1) out.push('R');
    if (lo & 2) out.push('W');
    if (lo & 4) out.push('X');
    if (level > 1 && lo & 0x80) out.push('PS');
    if ((level === 1 || lo & 0x80) && (lo >>> 3) & 7) out.push(`MT=${(lo >>> 3) & 7}`);
    if (lo & 0x100) out.push('A');
    if (lo & 0x200) out.push('D');
  } else {
    const names: [number, string][] = [
      [0, 'P'], [1, 'RW'], [2, 'US'], [3, 'PWT'], [4, 'PCD'], [5, 'A'], [6, 'D'], [7, level === 1 ? 'PAT' : 'PS'], [8, 'G'],
    ];
    for (const [b, n] of names) if ((lo >>> b) & 1) out.push(n);
    if (mmu.pte_size === 8 && hi >>> 31) out.push('XD');
    if (mmu.pte_size === 8 && (hi >>> 27) & 15) out.push(`PKEY=${(hi >>> 27) & 15}`);
  }
  return out.join('|') || '-';
}

function rsvdBitsSet(mmu: WalkMmu, level: number, lo: number, hi: number): string {
  const i = ((lo >>> 7) & 1) * 5 + level - 1;
  const bits: number[] = [];
  for (let b = 0; b < 32; b++) if ((lo & mmu.rsvd.lo[i]!) >>> b & 1) bits.push(b);
  for (let b = 0; b < 32; b++) if ((hi & mmu.rsvd.hi[i]!) >>> b & 1) bits.push(b + 32);
  if (bits.length) return `reserved bit${bits.length > 1 ? 's' : ''} ${bits.join(', ')} set`;
  return `memory type / XWR combination 0b${(lo & 63).toString(2).padStart(6, '0')} is a misconfiguration`;
}

function permissionReasons(mmu: WalkMmu, acc: number, pkey: number, pferr: number, implicit: boolean): string[] {
  const user = (pferr & PFERR_USER_MASK) !== 0;
  const write = (pferr & PFERR_WRITE_MASK) !== 0;
  const fetch = (pferr & PFERR_FETCH_MASK) !== 0;
  const r: string[] = [];
  if (mmu.kind === 'ept') {
    if (user && !(acc & ACC_USER_MASK)) r.push('read of a non-readable EPT translation');
    if (write && !(acc & ACC_WRITE_MASK)) r.push('write to a non-writable EPT translation');
    if (fetch && !(acc & ACC_EXEC_MASK)) r.push('fetch from a non-executable EPT translation');
    return r;
  }
  if (user && !(acc & ACC_USER_MASK)) r.push('user access to a supervisor page (U/S=0 at some level)');
  if (write && !(acc & ACC_WRITE_MASK) && (user || mmu.cr0_wp)) r.push(`write to a read-only page (R/W=0 at some level${user ? '' : ', CR0.WP=1'})`);
  if (fetch && mmu.efer_nx && !(acc & ACC_EXEC_MASK)) r.push('fetch from an execute-disabled page (XD at some level)');
  if (fetch && !user && mmu.cr4_smep && acc & ACC_USER_MASK) r.push('SMEP: supervisor fetch from a user page');
  const ac = (mmu.rflags & X86_EFLAGS_AC) !== 0;
  const overridden = mmu.profile.walker.smap_implicit === 'access-flag' ? ac && !implicit : ac && mmu.cpl < 3;
  if (!fetch && !user && mmu.cr4_smap && acc & ACC_USER_MASK && !overridden) r.push(`SMAP: supervisor data access to a user page${implicit ? ' (implicit access)' : ' with EFLAGS.AC=0'}`);
  if (mmu.cr4_pke && !fetch && acc & ACC_USER_MASK) {
    const k = (mmu.pkru >>> (pkey * 2)) & 3;
    if (k & 1) r.push(`PKRU.AD${pkey}=1 denies data access to key ${pkey}`);
    else if (k & 2 && write && (user || mmu.cr0_wp)) r.push(`PKRU.WD${pkey}=1 denies writes to key ${pkey}`);
  }
  return r;
}

/**
 * Walk `addr` for one access (or, with `translate`, as KVM_TRANSLATE: a supervisor read without
 * the canonical check) and explain it. Guest memory's A/D bits change as in KVM.
 */
export function explainWalk(
  profile: Profile,
  mmu: WalkMmu,
  mem: GuestMemory,
  addr_lo: number,
  addr_hi: number,
  kind: AccessKind,
  user: boolean,
  implicit = false,
  translate = false,
): WalkExplanation {
  const walker = new GuestWalker();
  const log = new WalkEventLog(profile);
  if (translate) {
    kind = 'read';
    user = false;
    implicit = false;
  }
  const pferr = accessBits(kind, user);
  let res: GuestAccessResult;
  if (translate) {
    const t = kvm_arch_vcpu_ioctl_translate(walker, mmu, mem, addr_lo, addr_hi, log);
    res = t.valid
      ? { ok: true, gpa: t.physical_address, vector: 0, error_code: 0, la_hi: addr_hi }
      : { ok: false, gpa: INVALID_GPA, vector: walker.fault_vector, error_code: walker.fault_error_code, la_hi: addr_hi };
  } else res = guest_access(walker, mmu, mem, addr_lo, addr_hi, pferr, log, { implicit });
  const names = NAMES[mmu.kind] ?? [];
  const levels: LevelExplanation[] = [];
  let acc = 7;
  for (let i = 0; i < walker.n_elements; i++) {
    const level = walker.el_level[i]!;
    const lo = walker.el_lo[i]!;
    const hi = walker.el_hi[i]!;
    const last = i === walker.n_elements - 1;
    const pdpteReg = mmu.kind === 'pae' && level === 3;
    let verdict: string;
    if (last && walker.stop === WalkStop.NotPresent) verdict = 'not present: the walk stops (#PF, P=0)';
    else if (last && walker.stop === WalkStop.Reserved) verdict = `${rsvdBitsSet(mmu, level, lo, hi)}: the walk stops (#PF, RSVD)`;
    else if (pdpteReg) verdict = `PDPTE register ${(addr_lo >>> 30) & 3}: present -> page directory at 0x${(((hi & 0xfffff) * 2 ** 32) + ((lo & 0xfffff000) >>> 0)).toString(16)}`;
    else {
      if (mmu.kind === 'ept') acc &= (lo & 2 ? ACC_WRITE_MASK : 0) | (lo & 4 ? ACC_EXEC_MASK : 0) | (lo & 1 ? ACC_USER_MASK : 0);
      else acc &= (lo & 6) | (mmu.pte_size === 8 && hi >>> 31 ? 0 : 1);
      const isLeaf = last && (walker.stop === WalkStop.None || walker.stop === WalkStop.Permission);
      if (isLeaf) {
        const size = level === 1 ? '4K' : mmu.pte_size === 4 ? '4M' : level === 2 ? '2M' : '1G';
        verdict = `leaf: ${size} page; translation ${ACC(acc)}`;
      } else {
        const next = mmu.pte_size === 4 ? (lo & 0xfffff000) >>> 0 : (hi & 0xfffff) * 2 ** 32 + ((lo & 0xfffff000) >>> 0);
        verdict = `present -> table at 0x${next.toString(16)}; so far ${ACC(acc)}`;
        if (last && walker.stop === WalkStop.NoMemory) verdict += ' (outside guest memory: the walk stops, #PF P=0)';
      }
    }
    levels.push({
      level,
      name: names[level - 1] ?? `L${level}`,
      gpa: '0x' + walker.el_gpa[i]!.toString(16),
      value: mmu.pte_size === 4 ? '0x' + (lo >>> 0).toString(16).padStart(8, '0') : hex64Halves(lo, hi),
      bits: decodeBits(mmu, level, lo, hi),
      verdict,
    });
  }
  let result: WalkExplanation['result'];
  if (res.ok) result = { ok: true, gpa: '0x' + res.gpa.toString(16), translation: ACC(walker.pte_access) };
  else {
    let reason: string;
    if (res.vector === GP_VECTOR)
      reason = `${res.la_hi !== addr_hi >>> 0 ? `after LAM untagging (${hex64Halves(addr_lo, res.la_hi)}), ` : ''}non-canonical address for ${mmu.cr4_la57 ? 57 : 48}-bit linear addresses: #GP(0), no walk`;
    else if (walker.stop === WalkStop.Permission) reason = permissionReasons(mmu, walker.pte_access, walker.pte_pkey, pferr, implicit).join('; ') || 'permission fault';
    else if (walker.stop === WalkStop.Reserved) reason = `reserved bits in the level-${walker.stop_level} entry`;
    else if (walker.stop === WalkStop.NoMemory) reason = `the level-${walker.stop_level} table is outside guest memory`;
    else reason = `the level-${walker.stop_level} entry is not present`;
    result = { ok: false, vector: res.vector, error_code: res.error_code, flags: formatPferrFlags(profile, res.error_code), reason };
  }
  const gpas = (a: Float64Array, n: number) => Array.from(a.subarray(0, n), (g) => '0x' + g.toString(16));
  return {
    profile: profile.name,
    mode: modeName(mmu),
    addr: hex64Halves(addr_lo, addr_hi),
    ...(res.la_hi !== addr_hi >>> 0 && mmu.long_mode ? { untagged: hex64Halves(addr_lo, res.la_hi) } : {}),
    access: { kind, user, implicit, translate, pferr, flags: formatPferrFlags(profile, pferr) },
    levels,
    result,
    set_accessed: gpas(walker.accessed_gpa, walker.n_accessed),
    set_dirty: gpas(walker.dirty_gpa, walker.n_dirty),
    events: log.lines(),
  };
}
