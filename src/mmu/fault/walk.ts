/**
 * The shadow walk iterator (mmu.c shadow_walk_init_using_root, shadow_walk_okay,
 * shadow_walk_next), including mainline's PAE-root indexing quirk: the top step of a PAE-shaped
 * root uses (addr >> 30) & 3, not the 9-bit index formula. The RFC (6/6) walks its pae_root
 * shadow page like any other page.
 */
import { INVALID_PAGE, PT32E_ROOT_LEVEL, PT64_ROOT_4LEVEL } from '../pages/constants.js';
import { is_last_spte, is_shadow_present_pte, spte_to_pfn } from '../spte/spte.js';
import { fromHalves } from '../../bits/u64.js';
import type { Kvm } from '../pages/kvm.js';
import { PAGE_HALVES } from '../../cache/host_memory.js';
import type { Vcpu } from '../pages/vcpu.js';

export interface WalkStep {
  readonly level: number;
  readonly index: number;
  /** The SPTE pointer (pfn * 512 + index). */
  readonly sptep: number;
  readonly spte: bigint;
}

/** struct kvm_shadow_walk_iterator; the address as 32-bit halves (the index computation runs on these). */
export class ShadowWalkIterator {
  addr_lo = 0;
  addr_hi = 0;
  shadow_addr = 0;
  sptep = -1;
  /** Where the current SPTE's low half sits in the host arena (kvm.arena[off], high half at off + 1). */
  off = -1;
  level = 0;
  index = 0;
  /** The address as a BigInt (cold callers: the 5.x role's gaddr). */
  get addr(): bigint {
    return fromHalves(this.addr_lo, this.addr_hi);
  }
}

/**
 * @kernel mmu.c shadow_walk_init_using_root
 * The address as halves; `it` is the caller's iterator (the fault path keeps one per vCPU, so a
 * walk allocates nothing).
 */
export function shadow_walk_init_using_root(vcpu: Vcpu, root: number, addr_lo: number, addr_hi: number, it: ShadowWalkIterator = new ShadowWalkIterator()): ShadowWalkIterator {
  const kvm = vcpu.kvm;
  const mmu = vcpu.mmu;
  it.addr_lo = addr_lo;
  it.addr_hi = addr_hi;
  it.shadow_addr = root;
  it.sptep = -1;
  it.level = mmu.ctx.shadow_root_level;
  it.index = 0;
  if (kvm.traits.pae_root_shadow_page) return it;
  if (it.level >= PT64_ROOT_4LEVEL && mmu.ctx.root_level < PT64_ROOT_4LEVEL && !mmu.ctx.direct_map) it.level = PT32E_ROOT_LEVEL;
  if (it.level === PT32E_ROOT_LEVEL) {
    const pae = mmu.pae_root;
    if (root !== mmu.root_hpa || !pae) return kvm.bug('shadow_walk_init_using_root: a PAE-shaped walk must start at the current root');
    const i = (addr_lo >>> 30) & 3;
    it.shadow_addr = spte_to_pfn(pae.words[2 * i]!, pae.words[2 * i + 1]!) * 4096;
    it.level--;
    if (!it.shadow_addr) it.level = 0;
  }
  return it;
}

/** shadow_walk_init_using_root for a BigInt address (the cold callers: invlpg, MMIO, the CPU's walk). */
export function shadowWalkFrom(vcpu: Vcpu, root: number, addr: bigint): ShadowWalkIterator {
  const a = BigInt.asUintN(64, addr);
  return shadow_walk_init_using_root(vcpu, root, Number(a & 0xffffffffn) >>> 0, Number(a >> 32n) >>> 0);
}

/** @kernel mmu.c shadow_walk_okay */
export function shadow_walk_okay(kvm: Kvm, it: ShadowWalkIterator): boolean {
  if (it.level < 1) return false;
  // SPTE_INDEX(addr, level) on halves: bits [s, s+9) of the address.
  const sh = 12 + 9 * (it.level - 1);
  if (sh >= 32) it.index = (it.addr_hi >>> (sh - 32)) & 511;
  else if (sh + 9 <= 32) it.index = (it.addr_lo >>> sh) & 511;
  else it.index = ((it.addr_lo >>> sh) | (it.addr_hi << (32 - sh))) & 511;
  const pfn = Math.floor(it.shadow_addr / 4096);
  it.sptep = pfn * 512 + it.index;
  // The table's arena slot, looked up once per level: the walk's reads use it.off, not the sptep.
  const slot = kvm.mem.slotIndex(pfn);
  if (slot < 0) kvm.bug(`shadow walk: ${it.shadow_addr.toString(16)} is not a page table`);
  it.off = slot * PAGE_HALVES + 2 * it.index;
  return true;
}

/** @kernel mmu.c __shadow_walk_next */
export function shadow_walk_next(kvm: Kvm, it: ShadowWalkIterator): void {
  const a = kvm.arena;
  const lo = a[it.off]!;
  const hi = a[it.off + 1]!;
  if (!is_shadow_present_pte(lo) || is_last_spte(lo, it.level)) {
    it.level = 0;
    return;
  }
  it.shadow_addr = spte_to_pfn(lo, hi) * 4096;
  it.level--;
}

/** for_each_shadow_entry from the current root: every SPTE the walk visits. */
export function shadowWalk(vcpu: Vcpu, addr: bigint): WalkStep[] {
  const kvm = vcpu.kvm;
  const out: WalkStep[] = [];
  if (vcpu.mmu.root_hpa === INVALID_PAGE) return out;
  const it = shadowWalkFrom(vcpu, vcpu.mmu.root_hpa, addr);
  while (shadow_walk_okay(kvm, it)) {
    out.push({ level: it.level, index: it.index, sptep: it.sptep, spte: kvm.spte64(it.sptep) });
    shadow_walk_next(kvm, it);
  }
  return out;
}
