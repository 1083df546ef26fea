/**
 * Loading the MMU (mmu.c kvm_mmu_load, kvm_mmu_reload): top up, special roots, direct or shadow
 * roots, sync the roots; with the requests a vCPU services before entering the guest.
 */
import { INVALID_PAGE } from '../pages/constants.js';
import { kvm_mmu_free_obsolete_roots, kvm_mmu_unload, mmu_alloc_direct_roots, mmu_alloc_shadow_roots, mmu_alloc_special_roots } from '../pages/roots.js';
import { kvm_mmu_sync_roots } from './sync.js';
import type { Vcpu } from '../pages/vcpu.js';

/** @kernel mmu.c kvm_mmu_load: 0 or a negative errno; the root is then in root_hpa. */
export function kvm_mmu_load(vcpu: Vcpu, cr3: number, root_gfn = Math.floor(cr3 / 4096)): number {
  const mmu = vcpu.mmu;
  let r = vcpu.mem.topup(!mmu.ctx.direct_map, mmu.ctx.shadow_root_level);
  if (r) return r;
  r = mmu_alloc_special_roots(vcpu);
  if (r) return r;
  r = mmu.ctx.direct_map ? mmu_alloc_direct_roots(vcpu) : mmu_alloc_shadow_roots(vcpu, cr3, root_gfn);
  if (r) return r;
  kvm_mmu_sync_roots(vcpu);
  vcpu.requests.delete('KVM_REQ_LOAD_MMU_PGD');
  return 0;
}

/** kvm_mmu_reload with pending requests serviced (vcpu_enter_guest's order, reduced). */
export function kvm_mmu_reload(vcpu: Vcpu, cr3: number): number {
  if (vcpu.requests.delete('KVM_REQ_MMU_RELOAD')) kvm_mmu_unload(vcpu);
  if (vcpu.requests.delete('KVM_REQ_MMU_FREE_OBSOLETE_ROOTS')) kvm_mmu_free_obsolete_roots(vcpu);
  if (vcpu.mmu.root_hpa !== INVALID_PAGE) return 0;
  return kvm_mmu_load(vcpu, cr3);
}
