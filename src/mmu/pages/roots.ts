/**
 * Roots (mmu.c): vCPU MMU creation with mainline's DMA32 pae_root, mmu_alloc_root, direct,
 * shadow and special roots, the RFC's root-as-shadow-page, freeing roots, prev_roots and the
 * fast PGD switch, kvm_mmu_load / kvm_mmu_unload.
 */
import { mod_pow2 } from '../../bits/u64.js';
import { ACC_ALL, INVALID_PAE_ROOT, INVALID_PAGE, KVM_MMU_NUM_PREV_ROOTS, PT32E_ROOT_LEVEL, PT64_ROOT_4LEVEL } from './constants.js';
import { fromHalves } from '../../bits/u64.js';
import { GFP_KERNEL_ACCOUNT, __GFP_DMA32, __GFP_ZERO } from '../../cache/gfp.js';
import type { Kvm } from './kvm.js';
import { make_pae_root_entry } from '../spte/pae_pdpte.js';
import { spte_to_pfn } from '../spte/spte.js';
import type { KvmMmuPage } from './page.js';
import { kvm_mmu_get_page_role, mmu_alloc_root_role } from '../../roles/sp-role.js';
import { kvm_mmu_get_page } from './get_page.js';
import type { KvmMmu, RootInfo, SpecialPage, Vcpu } from './vcpu.js';
import { kvm_mmu_commit_zap_page, kvm_mmu_prepare_zap_page, make_mmu_pages_available } from './zap.js';

export const KVM_MMU_ROOT_CURRENT = 1;
export const KVM_MMU_ROOT_PREVIOUS = (i: number): number => 1 << (i + 1);
export const KVM_MMU_ROOTS_ALL = 0xf;

/** Whether a root has a shadow page, as the profile's kvm_mmu_free_roots / sync_roots decide it. */
export function rootHasSp(vcpu: Vcpu): boolean {
  const kvm = vcpu.kvm;
  const ctx = vcpu.mmu.ctx;
  if (kvm.traits.root_has_sp_test === 'root_to_sp' || kvm.traits.pae_root_shadow_page) return root_to_sp(kvm, vcpu.mmu.root_hpa) !== null;
  return ctx.shadow_root_level >= PT64_ROOT_4LEVEL && (ctx.root_level >= PT64_ROOT_4LEVEL || ctx.direct_map);
}

/** Allocate a page-table page that is not a shadow page (mainline special roots). */
function allocSpecialPage(kvm: Kvm, site: string, dma32: boolean): SpecialPage | null {
  // __kvm_mmu_create: GFP_KERNEL_ACCOUNT | __GFP_DMA32 (not zeroed); special roots: zeroed.
  const gfp = dma32 ? GFP_KERNEL_ACCOUNT | __GFP_DMA32 : GFP_KERNEL_ACCOUNT | __GFP_ZERO;
  const pfn = kvm.mem.alloc_page(gfp, site);
  if (pfn === null) return null;
  const mem = kvm.mem;
  return {
    pfn,
    dma32,
    get words() {
      return mem.words(pfn);
    },
  };
}

function freeSpecialPage(kvm: Kvm, p: SpecialPage | null): void {
  if (p) kvm.mem.free_page(p.pfn);
}

/** Entry i of a special page, as a physical address with its flag bits (0 = INVALID_PAE_ROOT). */
export function specialEntry(p: SpecialPage, i: number): bigint {
  return fromHalves(p.words[2 * i]!, p.words[2 * i + 1]!);
}

/** The page an entry of a special page points at (its physical address). */
function specialTarget(p: SpecialPage, i: number): number {
  return spte_to_pfn(p.words[2 * i]!, p.words[2 * i + 1]!) * 4096;
}

function specialValid(p: SpecialPage, i: number): boolean {
  return (p.words[2 * i]! | p.words[2 * i + 1]!) !== INVALID_PAE_ROOT;
}

function clearSpecialEntry(p: SpecialPage, i: number): void {
  p.words[2 * i] = INVALID_PAE_ROOT;
  p.words[2 * i + 1] = 0;
}

/**
 * @kernel mmu.c __kvm_mmu_create
 * Mainline gives each MMU a DMA32 pae_root page unless TDP is on with a TDP level above 3; it is
 * decrypted for shadow paging. The RFC (6/6) has none. Returns 0 or -ENOMEM.
 */
export function __kvm_mmu_create(vcpu: Vcpu, tdp_level: number): number {
  const kvm = vcpu.kvm;
  const mmu = vcpu.mmu;
  if (kvm.traits.pae_root_shadow_page) return 0;
  if (kvm.tdp_enabled && tdp_level > PT32E_ROOT_LEVEL) return 0;
  const p = allocSpecialPage(kvm, 'pae_root', true);
  if (!p) return -12;
  for (let i = 0; i < 4; i++) clearSpecialEntry(p, i);
  if (!kvm.tdp_enabled) kvm.mem.set_memory_decrypted(p.pfn);
  mmu.pae_root = p;
  return 0;
}

/** @kernel mmu.c free_mmu_pages */
export function free_mmu_pages(kvm: Kvm, mmu: KvmMmu): void {
  if (mmu.pae_root && !kvm.tdp_enabled && mmu.pae_root.dma32) kvm.mem.set_memory_encrypted(mmu.pae_root.pfn);
  freeSpecialPage(kvm, mmu.pae_root);
  freeSpecialPage(kvm, mmu.pml4_root);
  freeSpecialPage(kvm, mmu.pml5_root);
  mmu.pae_root = mmu.pml4_root = mmu.pml5_root = null;
}

/** The role of a root page: 5.x through kvm_mmu_get_page's role statements, 6.x mmu_alloc_root's. */
export function rootRole(vcpu: Vcpu, level: number, direct: boolean, slot: number): number {
  const kvm = vcpu.kvm;
  const ctx = vcpu.mmu.ctx;
  if (kvm.profile.roles.pipeline === 'cpu_role') {
    const quadrant = ctx.root_level === 2 && level === 2 ? slot : 0;
    return mmu_alloc_root_role(kvm.profile, ctx.mmu_role, level, quadrant);
  }
  return kvm_mmu_get_page_role(kvm.profile, ctx, { level, direct, access: ACC_ALL, gaddr: BigInt(slot) << 30n });
}

/** @kernel mmu.c mmu_alloc_root: get the page, pin it; returns its physical address. */
export function mmu_alloc_root(vcpu: Vcpu, gfn: number, slot: number, level: number, direct: boolean): number {
  const sp = kvm_mmu_get_page(vcpu, gfn, rootRole(vcpu, level, direct, slot));
  sp.root_count++;
  return sp.pfn * 4096;
}

/** @kernel mmu.c mmu_alloc_direct_roots */
export function mmu_alloc_direct_roots(vcpu: Vcpu): number {
  const kvm = vcpu.kvm;
  const mmu = vcpu.mmu;
  const L = mmu.ctx.shadow_root_level;
  const r = make_mmu_pages_available(kvm);
  if (r < 0) return r;
  if (L >= PT64_ROOT_4LEVEL || (L === PT32E_ROOT_LEVEL && kvm.traits.pae_root_shadow_page)) {
    mmu.root_hpa = mmu_alloc_root(vcpu, 0, 0, L, true);
  } else if (L === PT32E_ROOT_LEVEL) {
    if (!mmu.pae_root) return -5;
    for (let i = 0; i < 4; i++) {
      const root = mmu_alloc_root(vcpu, i << 18, i, 2, true);
      make_pae_root_entry(kvm.masks, root, false, mmu.pae_root.words, 2 * i);
    }
    mmu.root_hpa = mmu.pae_root.pfn * 4096;
  } else {
    return -5;
  }
  mmu.root_pgd = 0;
  return 0;
}

/** @kernel mmu.c mmu_alloc_special_roots: 0, or -EIO / -ENOMEM. */
export function mmu_alloc_special_roots(vcpu: Vcpu): number {
  const kvm = vcpu.kvm;
  const mmu = vcpu.mmu;
  if (kvm.traits.pae_root_shadow_page) return 0;
  const L = mmu.ctx.shadow_root_level;
  const need_pml5 = L > PT64_ROOT_4LEVEL;
  if (mmu.ctx.direct_map || mmu.ctx.root_level >= PT64_ROOT_4LEVEL || L < PT64_ROOT_4LEVEL) return 0;
  if (mmu.pae_root && mmu.pml4_root && (!need_pml5 || mmu.pml5_root)) return 0;
  if (mmu.pae_root || mmu.pml4_root || mmu.pml5_root || !kvm.tdp_enabled) return -5;
  const pae = allocSpecialPage(kvm, 'special_root', false);
  if (!pae) return -12;
  const pml4 = allocSpecialPage(kvm, 'special_root', false);
  if (!pml4) {
    freeSpecialPage(kvm, pae);
    return -12;
  }
  let pml5: SpecialPage | null = null;
  if (need_pml5) {
    pml5 = allocSpecialPage(kvm, 'special_root', false);
    if (!pml5) {
      freeSpecialPage(kvm, pae);
      freeSpecialPage(kvm, pml4);
      return -12;
    }
  }
  mmu.pae_root = pae;
  mmu.pml4_root = pml4;
  mmu.pml5_root = pml5;
  return 0;
}

/** @kernel mmu.c mmu_alloc_shadow_roots */
export function mmu_alloc_shadow_roots(vcpu: Vcpu, cr3: number, cr3_gfn = Math.floor(cr3 / 4096)): number {
  const kvm = vcpu.kvm;
  const mmu = vcpu.mmu;
  const L = mmu.ctx.shadow_root_level;
  const root_pgd = cr3;
  // The caller passes the gfn as the profile derives it from CR3 (src/cpu shadowRootOfCr3).
  let root_gfn = cr3_gfn;
  const r = make_mmu_pages_available(kvm);
  if (r < 0) return kvm.traits.shadow_roots_drop_error ? 0 : r;
  if (mmu.ctx.root_level >= PT64_ROOT_4LEVEL || kvm.traits.pae_root_shadow_page) {
    // RFC 6/6: one root shadow page at CR3's gfn, whatever the guest level.
    mmu.root_hpa = mmu_alloc_root(vcpu, root_gfn, 0, L, false);
    mmu.root_pgd = root_pgd;
    return 0;
  }
  if (!mmu.pae_root) return -5;
  // pm_mask: P | me, plus A | W | U when the PAE table hangs below pml4/pml5 special roots.
  const special = L >= PT64_ROOT_4LEVEL;
  if (special) {
    if (!mmu.pml4_root || (L === 5 && !mmu.pml5_root)) return -5;
    make_pae_root_entry(kvm.masks, mmu.pae_root.pfn * 4096, true, mmu.pml4_root.words, 0);
    if (L === 5) make_pae_root_entry(kvm.masks, mmu.pml4_root.pfn * 4096, true, mmu.pml5_root!.words, 0);
  }
  for (let i = 0; i < 4; i++) {
    if (mmu.ctx.root_level === PT32E_ROOT_LEVEL) {
      const pdptr = mmu.pdptrs[i]!;
      if (!(pdptr & 1n)) {
        clearSpecialEntry(mmu.pae_root, i);
        continue;
      }
      root_gfn = Number(pdptr >> 12n);
    }
    const root = mmu_alloc_root(vcpu, root_gfn, i, 2, false);
    make_pae_root_entry(kvm.masks, root, special, mmu.pae_root.words, 2 * i);
  }
  mmu.root_hpa = (L === 5 ? mmu.pml5_root! : L === 4 ? mmu.pml4_root! : mmu.pae_root).pfn * 4096;
  mmu.root_pgd = root_pgd;
  return 0;
}

/** Valid entries of mainline's pae_root and where they point (for the auditor and demo). */
export function paeRootTargets(p: SpecialPage): { index: number; pa: number }[] {
  const out: { index: number; pa: number }[] = [];
  for (let i = 0; i < 4; i++) if (specialValid(p, i)) out.push({ index: i, pa: specialTarget(p, i) });
  return out;
}

/** to_shadow_page of a root's physical address (entries carry P/me bits: masked here). */
export function root_to_sp(kvm: Kvm, hpa: number): KvmMmuPage | null {
  if (hpa === INVALID_PAGE) return null;
  return kvm.to_shadow_page(hpa - mod_pow2(hpa, 4096));
}

/** @kernel mmu.c mmu_free_root_page: drop one root reference; returns INVALID_PAGE. */
export function mmu_free_root_page(kvm: Kvm, hpa: number, invalid_list: KvmMmuPage[]): number {
  if (hpa === INVALID_PAGE) return INVALID_PAGE;
  const sp = root_to_sp(kvm, hpa);
  if (!sp) kvm.bug(`mmu_free_root_page: root ${hpa.toString(16)} has no shadow page`);
  if (!--sp.root_count && (sp.role & kvm.rb.invalid) !== 0) kvm_mmu_prepare_zap_page(kvm, sp, invalid_list);
  return INVALID_PAGE;
}

/** @kernel mmu.c kvm_mmu_free_roots */
export function kvm_mmu_free_roots(vcpu: Vcpu, roots_to_free: number): void {
  const kvm = vcpu.kvm;
  const mmu = vcpu.mmu;
  const free_active_root = (roots_to_free & KVM_MMU_ROOT_CURRENT) !== 0;
  if (!(free_active_root && mmu.root_hpa !== INVALID_PAGE)) {
    let i = 0;
    for (; i < KVM_MMU_NUM_PREV_ROOTS; i++) {
      if (roots_to_free & KVM_MMU_ROOT_PREVIOUS(i) && mmu.prev_roots[i]!.hpa !== INVALID_PAGE) break;
    }
    if (i === KVM_MMU_NUM_PREV_ROOTS) return;
  }
  const invalid_list: KvmMmuPage[] = [];
  for (let i = 0; i < KVM_MMU_NUM_PREV_ROOTS; i++) {
    if (roots_to_free & KVM_MMU_ROOT_PREVIOUS(i)) mmu.prev_roots[i]!.hpa = mmu_free_root_page(kvm, mmu.prev_roots[i]!.hpa, invalid_list);
  }
  if (free_active_root) {
    if (rootHasSp(vcpu)) {
      mmu.root_hpa = mmu_free_root_page(kvm, mmu.root_hpa, invalid_list);
    } else if (mmu.pae_root) {
      for (let i = 0; i < 4; i++) {
        if (!specialValid(mmu.pae_root, i)) continue;
        mmu_free_root_page(kvm, specialTarget(mmu.pae_root, i), invalid_list);
        clearSpecialEntry(mmu.pae_root, i);
      }
    }
    mmu.root_hpa = INVALID_PAGE;
    mmu.root_pgd = 0;
  }
  kvm_mmu_commit_zap_page(kvm, invalid_list);
}

/** @kernel mmu.c is_root_usable */
export function is_root_usable(kvm: Kvm, root: RootInfo, pgd: number, role: number): boolean {
  if (root.hpa === INVALID_PAGE) return false;
  if ((role & kvm.rb.direct) === 0 && pgd !== root.pgd) return false;
  const sp = root_to_sp(kvm, root.hpa);
  return sp !== null && sp.role === role;
}

function swapRoot(mmu: KvmMmu, i: number): void {
  const p = mmu.prev_roots[i]!;
  const c = { pgd: mmu.root_pgd, hpa: mmu.root_hpa };
  mmu.root_pgd = p.pgd;
  mmu.root_hpa = p.hpa;
  mmu.prev_roots[i] = c;
}

/** @kernel mmu.c cached_root_available (5.x: rotate; on a miss the LRU root ends up current) */
function cached_root_available(vcpu: Vcpu, new_pgd: number, new_role: number): boolean {
  const kvm = vcpu.kvm;
  const mmu = vcpu.mmu;
  if (is_root_usable(kvm, { pgd: mmu.root_pgd, hpa: mmu.root_hpa }, new_pgd, new_role)) return true;
  for (let i = 0; i < KVM_MMU_NUM_PREV_ROOTS; i++) {
    swapRoot(mmu, i);
    if (is_root_usable(kvm, { pgd: mmu.root_pgd, hpa: mmu.root_hpa }, new_pgd, new_role)) return true;
  }
  return false;
}

/** @kernel mmu.c cached_root_find_without_current (6.x) */
function cached_root_find_without_current(vcpu: Vcpu, new_pgd: number, new_role: number): boolean {
  const mmu = vcpu.mmu;
  let i = 0;
  for (; i < KVM_MMU_NUM_PREV_ROOTS; i++) if (is_root_usable(vcpu.kvm, mmu.prev_roots[i]!, new_pgd, new_role)) break;
  if (i === KVM_MMU_NUM_PREV_ROOTS) return false;
  swapRoot(mmu, i);
  for (; i < KVM_MMU_NUM_PREV_ROOTS - 1; i++) mmu.prev_roots[i] = mmu.prev_roots[i + 1]!;
  mmu.prev_roots[i] = { pgd: mmu.prev_roots[i]!.pgd, hpa: INVALID_PAGE };
  return true;
}

/** @kernel mmu.c fast_pgd_switch */
export function fast_pgd_switch(vcpu: Vcpu, new_pgd: number, new_role: number): boolean {
  const mmu = vcpu.mmu;
  const rule = vcpu.kvm.traits.fast_pgd_switch;
  if (rule === 'shadow-and-guest-level') {
    return mmu.ctx.shadow_root_level >= PT64_ROOT_4LEVEL && mmu.ctx.root_level >= PT64_ROOT_4LEVEL && cached_root_available(vcpu, new_pgd, new_role);
  }
  if (rule === 'guest-level') return mmu.ctx.root_level >= PT64_ROOT_4LEVEL && cached_root_available(vcpu, new_pgd, new_role);
  if (mmu.root_hpa !== INVALID_PAGE && !root_to_sp(vcpu.kvm, mmu.root_hpa)) kvm_mmu_free_roots(vcpu, KVM_MMU_ROOT_CURRENT);
  if (mmu.root_hpa !== INVALID_PAGE) {
    if (cached_root_available(vcpu, new_pgd, new_role)) return true;
    kvm_mmu_free_roots(vcpu, KVM_MMU_ROOT_CURRENT);
    return false;
  }
  return cached_root_find_without_current(vcpu, new_pgd, new_role);
}

/** @kernel mmu.c kvm_mmu_new_pgd (5.x __kvm_mmu_new_pgd): returns whether a cached root was reused. */
export function kvm_mmu_new_pgd(vcpu: Vcpu, new_pgd: number): boolean {
  const kvm = vcpu.kvm;
  const new_role = vcpu.mmu.ctx.mmu_role;
  if (!fast_pgd_switch(vcpu, new_pgd, new_role)) {
    // 5.x frees the current root here; 6.x's cached_root_find_and_keep_current already did.
    if (kvm.traits.fast_pgd_switch !== 'root-has-sp') kvm_mmu_free_roots(vcpu, KVM_MMU_ROOT_CURRENT);
    return false;
  }
  vcpu.requests.add('KVM_REQ_LOAD_MMU_PGD');
  if ((new_role & kvm.rb.direct) === 0) {
    const sp = root_to_sp(kvm, vcpu.mmu.root_hpa);
    if (sp) sp.write_flooding_count = 0;
  }
  return true;
}

/** @kernel mmu.c kvm_mmu_unload */
export function kvm_mmu_unload(vcpu: Vcpu): void {
  kvm_mmu_free_roots(vcpu, KVM_MMU_ROOTS_ALL);
}

/**
 * @kernel mmu.c is_obsolete_root
 * A root without a shadow page (mainline's PAE / nested-NPT special roots) counts as obsolete:
 * whether it is stale cannot be told, so it is freed.
 */
function is_obsolete_root(kvm: Kvm, hpa: number): boolean {
  if (hpa === INVALID_PAGE) return false;
  const sp = root_to_sp(kvm, hpa);
  return sp === null || kvm.is_obsolete_sp(sp);
}

/** @kernel mmu.c __kvm_mmu_free_obsolete_roots (6.x) */
export function kvm_mmu_free_obsolete_roots(vcpu: Vcpu): void {
  const kvm = vcpu.kvm;
  const mmu = vcpu.mmu;
  let roots = 0;
  if (is_obsolete_root(kvm, mmu.root_hpa)) roots |= KVM_MMU_ROOT_CURRENT;
  for (let i = 0; i < KVM_MMU_NUM_PREV_ROOTS; i++) if (is_obsolete_root(kvm, mmu.prev_roots[i]!.hpa)) roots |= KVM_MMU_ROOT_PREVIOUS(i);
  if (roots) kvm_mmu_free_roots(vcpu, roots);
}

