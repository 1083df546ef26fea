/**
 * The #PF KVM injects after a failed guest walk (the fault path's own walk or the emulator's):
 * x86.c kvm_inject_emulated_page_fault. A fault on a present translation (P set, RSVD clear)
 * first invalidates the address on the current root, as INVLPG would, so an unsync leaf's SPTE
 * follows its gPTE before the guest sees the fault.
 */
import { PFERR_PRESENT_MASK, PFERR_RSVD_MASK } from '../../guest/constants.js';
import { kvm_mmu_invalidate_addr } from './invlpg.js';
import type { Vcpu } from '../pages/vcpu.js';

/** @kernel x86.c kvm_inject_emulated_page_fault (pf_guest counted by kvm_inject_page_fault) */
export function kvm_inject_emulated_page_fault(vcpu: Vcpu, address: bigint, error_code: number): void {
  if (error_code & PFERR_PRESENT_MASK && !(error_code & PFERR_RSVD_MASK)) kvm_mmu_invalidate_addr(vcpu, address, false);
  vcpu.stat.pf_guest++;
}
