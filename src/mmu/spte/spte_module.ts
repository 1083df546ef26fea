/**
 * Module load and unload as far as SPTEs are concerned: the mask set-up for a host
 * (spte_masks.ts) and, under the RFC as posted, default_pae_pdpte, which kvm_mmu_module_init
 * computes right after the generic mask reset and kvm_mmu_module_exit frees.
 *
 * `const mod = kvm_mmu_module_init(profile, cfg, hostZeroPage(mem))` gives `mod.masks` (what
 * every SPTE function takes), `mod.default_pae_pdpte` (null unless the profile has it) and
 * `mod.ret` (0, or the -errno that failed module init); `mod.warns` counts the set-up WARNs.
 */
import type { Profile } from '../../profiles/index.js';
import { WarnLog } from '../../cache/warn.js';
import { alloc_default_pae_pdpte, free_default_pae_pdpte, type DefaultPaePdpte, type ZeroPageSource } from './pae_pdpte.js';
import { freezeMasks, setupSpteGlobals, type HostConfig, type SpteMasks } from './spte_masks.js';

export interface SpteModule {
  readonly masks: SpteMasks;
  default_pae_pdpte: DefaultPaePdpte | null;
  /** 0, or the error kvm_mmu_module_init returned. */
  readonly ret: number;
  /** WARNs during the mask set-up (the globals') and inside alloc_default_pae_pdpte. */
  readonly setup_warns: number;
  readonly pdpte_warns: WarnLog;
}

/** @kernel mmu.c kvm_mmu_module_init (the SPTE part, and RFC 5/6's default_pae_pdpte) */
export function kvm_mmu_module_init(profile: Profile, cfg: HostConfig, zeroPage: ZeroPageSource | null): SpteModule {
  const pdpte_warns = new WarnLog();
  let ret = 0;
  let value: DefaultPaePdpte | null = null;
  const wantsDefault = profile.cache.pae_root_default_pdptes;
  const g = setupSpteGlobals(profile, cfg, {
    afterReset(gl) {
      if (!wantsDefault) return;
      if (zeroPage === null) throw new Error('kvm_mmu_module_init: this profile allocates default_pae_pdpte; give a zero-page source');
      const r = alloc_default_pae_pdpte(freezeMasks(gl), zeroPage, pdpte_warns);
      ret = r.ret;
      value = r.value;
    },
  });
  return { masks: freezeMasks(g), default_pae_pdpte: value, ret, setup_warns: g.warns.count, pdpte_warns };
}

/** @kernel mmu.c kvm_mmu_module_exit (RFC 5/6 frees default_pae_pdpte's page) */
export function kvm_mmu_module_exit(mod: SpteModule, zeroPage: ZeroPageSource | null): void {
  if (mod.default_pae_pdpte && zeroPage) free_default_pae_pdpte(mod.default_pae_pdpte, zeroPage);
  mod.default_pae_pdpte = null;
}
