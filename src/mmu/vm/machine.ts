/**
 * A VM with one vCPU, built from a host configuration: the host page allocator (src/cache), the
 * SPTE masks and module init (with the RFC's default_pae_pdpte), the vCPU's caches, and the
 * vCPU's MMU with mainline's pae_root page.
 */
import { standinSyncPage } from '../fault/sync_standin.js';
import { ShadowMmuError } from '../../bits/errors.js';
import { SiteFaults } from '../../cache/fault.js';
import { HostMemory } from '../../cache/host_memory.js';
import { VcpuMmuCaches } from '../../cache/vcpu_caches.js';
import type { Profile } from '../../profiles/index.js';
import { KVM_MIN_ALLOC_MMU_PAGES } from '../pages/constants.js';
import { Kvm } from '../pages/kvm.js';
import { hostZeroPage } from '../spte/pae_pdpte.js';
import { __kvm_mmu_create, free_mmu_pages, kvm_mmu_unload } from '../pages/roots.js';
import { kvm_mmu_module_exit, kvm_mmu_module_init, type SpteModule } from '../spte/spte_module.js';
import { HOSTS, type HostConfig as SpteHostConfig } from '../spte/spte_masks.js';
import { KvmMmu, Vcpu, type MmuContext } from '../pages/vcpu.js';
import { kvm_mmu_zap_all } from '../pages/zap.js';
import { quote } from '../../bits/quote.js';

export interface HostConfig {
  readonly vendor: 'intel' | 'amd';
  /** One of the SPTE hosts (spte_masks.ts HOSTS): MAXPHYADDR, phys/cache bits, L1TF, SME. */
  readonly cpu: string;
  readonly tdp: boolean;
  /** TDP level (4 or 5) when tdp is on. */
  readonly tdp_level: number;
  readonly dma32_pages: number;
  readonly normal_pages: number;
  /** n_max_mmu_pages (KVM_SET_NR_MMU_PAGES). */
  readonly nr_mmu_pages: number;
  /** The kvm.mmio_caching parameter (default on; the kvm oracle's host ran without it). */
  readonly mmio_caching?: boolean;
  /**
   * Guest memory backed by transparent huge pages: the host maps every 2M-aligned frame that
   * lies inside one memslot with a 2M page (host_pfn_mapping_level 2). Default off: 4K pages
   * only, as on the kvm oracle's host.
   */
  readonly thp?: boolean;
  /**
   * The kvm.eager_zap_unsync_children parameter of the PVM host kernel (6.18.44-fc, kvm_pvm;
   * not in upstream). Upstream __kvm_mmu_prepare_zap_page always zaps a page's unsync children
   * first (mmu_zap_unsync_children): that is the default, true. The PVM host's N skips that
   * step, so a zapped page's unsync children survive, orphaned, until a relink syncs them.
   */
  readonly eager_zap_unsync_children?: boolean;
  /** The kvm.nx_huge_pages parameter: huge SPTEs are never executable (default off). */
  readonly nx_huge_pages?: boolean;
  /**
   * Intel TDP hosts: EPT accessed/dirty flags (VMX_EPT_AD_BIT with kvm_intel.eptad=Y; default
   * on). The SPTE masks use them (kvm_mmu_set_ept_masks) and L1 may enable them in its EPTP.
   */
  readonly ept_ad?: boolean;
  /**
   * Intel TDP hosts: execute-only EPT translations (VMX_EPT_EXECUTE_ONLY_BIT; default on): the
   * SPTE masks (shadow_present_mask) and, through the nested EPT capabilities, L1's EPT (an XWR
   * of 100 is a misconfiguration without it) and the shadow-EPT role's execonly.
   */
  readonly ept_execonly?: boolean;
}

export const DEFAULT_HOST: HostConfig = {
  vendor: 'intel',
  cpu: 'intel-46',
  tdp: false,
  tdp_level: 4,
  dma32_pages: 4096,
  normal_pages: 1 << 20,
  nr_mmu_pages: 1024,
};

export interface Machine {
  readonly kvm: Kvm;
  readonly vcpu: Vcpu;
  readonly mem: HostMemory;
  readonly caches: VcpuMmuCaches;
  readonly faults: SiteFaults;
  readonly mod: SpteModule;
  readonly cfg: HostConfig;
  readonly spteCfg: SpteHostConfig;
}

/** The SPTE engineer's host configuration for this host. */
export function spteHostConfig(cfg: HostConfig): SpteHostConfig {
  const cpu = HOSTS[cfg.cpu];
  if (!cpu) throw new ShadowMmuError('EINVAL_INPUT', `host.cpu: unknown host ${quote(cfg.cpu)} (expected one of ${Object.keys(HOSTS).join(', ')})`);
  const mode = cfg.vendor === 'amd' ? 'svm' : cfg.tdp ? 'vmx-ept' : 'vmx';
  return { ...cpu, name: cfg.cpu, mode, tdp: cfg.tdp, mmio_caching: cfg.mmio_caching ?? true, ...(mode === 'vmx-ept' ? { ept_ad: cfg.ept_ad !== false, ept_execonly: cfg.ept_execonly !== false } : {}) };
}

/** Fail the next `count` allocation attempts at `site` (SiteFaults counts attempts per site). */
export function failNext(m: Machine, site: string, count: number): void {
  const n = m.mem.attemptsBySite().get(site) ?? 0;
  for (let k = 0; k < count; k++) m.faults.failAt(site, n + k);
}

/** Create the VM and its vCPU (module init, kvm_create_vm, kvm_arch_vcpu_create). */
export function createMachine(profile: Profile, cfg: HostConfig, ctx: MmuContext, faults = new SiteFaults()): Machine {
  const mem = new HostMemory({ dma32_pages: cfg.dma32_pages, normal_pages: cfg.normal_pages, faults });
  const spteCfg = spteHostConfig(cfg);
  const mod = kvm_mmu_module_init(profile, spteCfg, hostZeroPage(mem));
  if (mod.ret) throw new ShadowMmuError('ENOMEM', `kvm_mmu_module_init failed (${mod.ret})`);
  const kvm = new Kvm(profile, cfg.tdp, mem, mod.masks, mod.default_pae_pdpte);
  kvm.eager_zap_unsync_children = cfg.eager_zap_unsync_children !== false;
  kvm.nx_huge_pages = cfg.nx_huge_pages === true;
  kvm.host_thp = cfg.thp === true;
  kvm.n_max_mmu_pages = Math.max(cfg.nr_mmu_pages, KVM_MIN_ALLOC_MMU_PAGES);
  const caches = new VcpuMmuCaches(profile, mem, {
    tdp_enabled: cfg.tdp,
    shadow_me_mask_nonzero: (mod.masks.me_mask.lo | mod.masks.me_mask.hi) !== 0,
    default_pae_pdpte: mod.default_pae_pdpte,
  });
  if (caches.pae_root_cache) kvm.free_pae_root = (pfn) => caches.free_pae_root(pfn);
  const vcpu = new Vcpu(0, kvm, caches, new KvmMmu(ctx, standinSyncPage()));
  kvm.vcpus.push(vcpu);
  const m: Machine = { kvm, vcpu, mem, caches, faults, mod, cfg, spteCfg };
  if (__kvm_mmu_create(vcpu, cfg.tdp ? cfg.tdp_level : 0) < 0) {
    kvm_mmu_module_exit(mod, hostZeroPage(mem));
    throw new ShadowMmuError('ENOMEM', 'kvm_arch_vcpu_create: the pae_root page could not be allocated (-ENOMEM)');
  }
  return m;
}

/**
 * @kernel kvm_main.c kvm_destroy_vm
 * VM teardown in the kernel's order: the MMU notifier's release first (kvm_flush_shadow_all:
 * kvm_mmu_zap_all, which leaves the roots a vCPU still holds invalid on the active list), then
 * the vCPU (kvm_mmu_destroy: kvm_mmu_unload drops those roots, zapping each again as its
 * root_count reaches 0; caches and pae_root freed), then module exit.
 */
export function destroyMachine(m: Machine): void {
  kvm_mmu_zap_all(m.kvm);
  kvm_mmu_unload(m.vcpu);
  m.caches.free_all();
  free_mmu_pages(m.kvm, m.vcpu.mmu);
  kvm_mmu_module_exit(m.mod, hostZeroPage(m.mem));
}
