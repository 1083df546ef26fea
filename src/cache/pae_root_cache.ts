/**
 * The RFC's PAE-root cache (Lai Jiangshan, RFC 5/6, with Sean Christopherson's requested shape
 * from Sean Christopherson's review of RFC 5/6, kvm@vger.kernel.org 2022-01-04): one zeroed, accounted page below 4 GiB per vCPU, because a PAE
 * CR3 holds only 32 bits. With shadow paging the page is decrypted (the CPU cannot be told that
 * PDPTEs fetched through a 32-bit CR3 are encrypted); with TDP it stays encrypted and KVM warns
 * if SPTEs would carry an encryption mask. The slot holds the page or null (Sean: a pointer,
 * reset to NULL). Freeing always goes through `mmu_free_pae_root`: re-encrypt (shadow paging
 * only), then free — the one helper both the shadow-page free path and the cache free use.
 */
import { ShadowMmuError } from '../bits/errors.js';
import { GFP_KERNEL_ACCOUNT, __GFP_DMA32, __GFP_ZERO } from './gfp.js';
import type { HostMemory, VmAccount } from './host_memory.js';
import { ENOMEM } from './memory_cache.js';
import { WarnLog } from './warn.js';

/** PT32E_ROOT_LEVEL: the only shadow root level that uses the cache. */
const PT32E_ROOT_LEVEL = 3;
export const PAE_ROOT_GFP = GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_DMA32;
export const PAE_ROOT_SITE = 'pae_root_cache';

export interface PaeRootCacheEnv {
  /** tdp_enabled: decrypt only for shadow paging. */
  readonly tdp_enabled: boolean;
  /** shadow_me_mask != 0 (warned about when TDP is on). */
  readonly shadow_me_mask_nonzero: boolean;
  /**
   * RFC as posted: default_pae_pdpte (halves) written into entries 0..3 of a fresh page.
   * null: Sean's shape — the zeroed page already holds four not-present PDPTEs.
   */
  readonly default_pdpte: { readonly lo: number; readonly hi: number } | null;
  readonly account?: VmAccount | null;
  readonly warns?: WarnLog;
}

export class PaeRootCache {
  /** vcpu->arch.mmu_pae_root_cache: the cached page, or null. */
  slot: number | null = null;
  readonly warns: WarnLog;
  pages_allocated = 0;
  alloc_attempts = 0;

  constructor(
    private readonly mem: HostMemory,
    readonly env: PaeRootCacheEnv,
  ) {
    this.warns = env.warns ?? new WarnLog();
  }

  /**
   * @kernel mmu.c alloc_pae_root
   * (RFC 5/6; Sean asked to name it mmu_topup_pae_root_cache.) 0, or -ENOMEM with the slot
   * still empty. Nothing happens unless the shadow root level is 3 and the slot is empty.
   */
  mmu_topup_pae_root_cache(shadow_root_level: number): number {
    if (shadow_root_level !== PT32E_ROOT_LEVEL) return 0;
    if (this.slot !== null) return 0;
    this.alloc_attempts++;
    const pfn = this.mem.alloc_page(PAE_ROOT_GFP, PAE_ROOT_SITE, this.env.account ?? null);
    if (pfn === null) return -ENOMEM;
    this.pages_allocated++;
    if (!this.env.tdp_enabled) this.mem.set_memory_decrypted(pfn);
    else this.warns.on(this.env.shadow_me_mask_nonzero, 'alloc_pae_root', 'TDP with a nonzero shadow_me_mask');
    this.mem.set_cached(pfn, true);
    this.slot = pfn;
    const d = this.env.default_pdpte;
    if (d) {
      const w = this.mem.words(pfn);
      for (let i = 0; i < 4; i++) {
        w[2 * i] = d.lo;
        w[2 * i + 1] = d.hi;
      }
    }
    return 0;
  }

  /**
   * The two statements of the RFC's kvm_mmu_alloc_page pae_root branch: take the cached page
   * (the slot becomes empty). Returns null when the slot was empty — the kernel would then use
   * a NULL spt, so callers must top up first (the MMU treats null as a kernel bug).
   */
  take(): number | null {
    const p = this.slot;
    this.slot = null;
    if (p !== null) this.mem.set_cached(p, false);
    return p;
  }

  /**
   * @kernel mmu.c mmu_free_pae_root
   * Sean's helper: re-encrypting is a shadow-paging-only step on top of the free every PAE
   * root gets.
   */
  mmu_free_pae_root(pfn: number): void {
    const info = this.mem.info(pfn);
    if (!info) throw new ShadowMmuError('ESTATE', `mmu_free_pae_root(pfn 0x${pfn.toString(16)}): page is not allocated`);
    if (!this.env.tdp_enabled) this.mem.set_memory_encrypted(pfn);
    this.mem.free_page(pfn);
  }

  /** The PAE-root lines at the end of mmu_free_memory_caches (RFC 5/6, Sean's shape). */
  free(): void {
    if (this.slot !== null) {
      const p = this.slot;
      this.mem.set_cached(p, false);
      this.mmu_free_pae_root(p);
      this.slot = null;
    }
  }
}
