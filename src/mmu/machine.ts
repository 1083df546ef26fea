/**
 * A VM with one vCPU, built from a host configuration: the host page allocator and caches, the
 * SPTE operations, the RFC's module-init default_pae_pdpte page, and the vCPU's MMU.
 */
import { ShadowMmuError } from '../bits/errors.js';
import type { Profile } from '../profiles/index.js';
import { KVM_MIN_ALLOC_MMU_PAGES } from './constants.js';
import { Kvm } from './kvm.js';
import { LocalHost, LocalVcpuMemory } from './local_host.js';
import { localSpteOps } from './local_spte.js';
import type { MmuContext } from './ports.js';
import { __kvm_mmu_create, free_mmu_pages, kvm_mmu_unload } from './roots.js';
import { KvmMmu, Vcpu } from './vcpu.js';
import { kvm_mmu_zap_all } from './zap.js';

export interface HostConfig {
  readonly vendor: 'intel' | 'amd';
  readonly tdp: boolean;
  /** TDP level (4 or 5) when tdp is on. */
  readonly tdp_level: number;
  readonly maxphyaddr: number;
  readonly sme_c_bit: number;
  readonly dma32_pages: number;
  readonly normal_pages: number;
  /** n_max_mmu_pages (KVM_SET_NR_MMU_PAGES); default KVM_MIN_ALLOC_MMU_PAGES. */
  readonly nr_mmu_pages: number;
}

export const DEFAULT_HOST: HostConfig = {
  vendor: 'intel',
  tdp: false,
  tdp_level: 4,
  maxphyaddr: 46,
  sme_c_bit: 0,
  dma32_pages: 4096,
  normal_pages: 1 << 20,
  nr_mmu_pages: 1024,
};

export interface Machine {
  readonly kvm: Kvm;
  readonly vcpu: Vcpu;
  readonly host: LocalHost;
  readonly mem: LocalVcpuMemory;
  readonly cfg: HostConfig;
}

/** Create the VM and its vCPU (module init, kvm_create_vm, kvm_arch_vcpu_create). */
export function createMachine(profile: Profile, cfg: HostConfig, ctx: MmuContext): Machine {
  const host = new LocalHost({ dma32_pages: cfg.dma32_pages, normal_pages: cfg.normal_pages }, cfg.tdp);
  let defaultPa: bigint | null = null;
  let defaultPfn = -1;
  if (profile.mmu.default_pae_pdpte) {
    // RFC 5/6 alloc_default_pae_pdpte at module init: one zeroed page.
    const pfn = host.alloc_page('default_pae_pdpte', false);
    if (pfn === null) throw new ShadowMmuError('ENOMEM', 'kvm_mmu_module_init: alloc_default_pae_pdpte failed (-ENOMEM)');
    defaultPfn = pfn;
    defaultPa = BigInt(pfn) * 4096n;
  }
  const spte = localSpteOps(profile, cfg, defaultPa);
  const kvm = new Kvm(profile, cfg.tdp, host, spte);
  kvm.default_pae_pdpte_pfn = defaultPfn;
  kvm.n_max_mmu_pages = Math.max(cfg.nr_mmu_pages, KVM_MIN_ALLOC_MMU_PAGES);
  const dflt = spte.default_pae_pdpte;
  const mem = new LocalVcpuMemory(host, { pae_root_cache: profile.mmu.pae_root_shadow_page, tdp_enabled: cfg.tdp }, (pfn) => {
    const slot = kvm.arena.attach(pfn, 0, 0);
    kvm.pageBySlot[slot] = null;
    if (dflt !== null) for (let i = 0; i < 4; i++) kvm.arena.set(slot * 512 + i, dflt);
  });
  const vcpu = new Vcpu(0, kvm, mem, new KvmMmu(ctx));
  kvm.vcpus.push(vcpu);
  if (__kvm_mmu_create(vcpu, cfg.tdp ? cfg.tdp_level : 0) < 0) {
    throw new ShadowMmuError('ENOMEM', 'kvm_arch_vcpu_create: the pae_root page could not be allocated (-ENOMEM)');
  }
  return { kvm, vcpu, host, mem, cfg };
}

/** vCPU and VM teardown: unload roots, free caches and pae_root, zap all, free module pages. */
export function destroyMachine(m: Machine): void {
  kvm_mmu_unload(m.vcpu);
  const cached = m.mem.pae_root_cached();
  if (cached !== null) m.kvm.arena.detach(cached);
  m.mem.free_all();
  free_mmu_pages(m.kvm, m.vcpu.mmu);
  kvm_mmu_zap_all(m.kvm);
  if (m.kvm.default_pae_pdpte_pfn >= 0) {
    m.host.free_page(m.kvm.default_pae_pdpte_pfn);
    m.kvm.default_pae_pdpte_pfn = -1;
  }
}
