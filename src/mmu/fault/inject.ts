/**
 * The fault KVM injects after a failed guest walk (the fault path's own walk or the emulator's):
 * x86.c kvm_inject_emulated_page_fault. A fault on a present translation (P set, RSVD clear)
 * first invalidates the address on the current root, as INVLPG would, so an unsync leaf's SPTE
 * follows its gPTE before the guest sees the fault. Under nested EPT the fault is not a #PF: the
 * MMU's inject_page_fault hook is vmx nested.c nested_ept_inject_page_fault, an EPT violation or
 * EPT misconfig VM exit to L1.
 */
import { EPT_VIOLATION_GVA_BITS, PFERR_PRESENT_MASK, PFERR_RSVD_MASK } from '../../guest/constants.js';
import { EXIT_REASON_EPT_MISCONFIG, EXIT_REASON_EPT_VIOLATION } from './cpu_access.js';
import { kvm_mmu_invalidate_addr } from './invlpg.js';
import type { NestedVmExit, Vcpu } from '../pages/vcpu.js';

/**
 * @kernel x86.c kvm_inject_emulated_page_fault (pf_guest counted by kvm_inject_page_fault)
 * `exit_qualification` is the walk's part of an EPT violation's qualification (walker.exit_qualification).
 * Under nested EPT and nested NPT the hook is not kvm_inject_page_fault (pf_guest is not
 * counted): the fault is a VM exit to L1.
 */
export function kvm_inject_emulated_page_fault(vcpu: Vcpu, address: bigint, error_code: number, exit_qualification = 0): void {
  vcpu.nested_vmexit = null;
  if (error_code & PFERR_PRESENT_MASK && !(error_code & PFERR_RSVD_MASK)) kvm_mmu_invalidate_addr(vcpu, address, false);
  if (vcpu.mmu.ctx.kind === 'shadow_ept') {
    vcpu.nested_vmexit = nested_ept_inject_page_fault(vcpu, address, error_code, exit_qualification);
    return;
  }
  if (vcpu.mmu_is_nested) {
    vcpu.nested_vmexit = nested_svm_inject_npf_exit(address, error_code);
    return;
  }
  vcpu.stat.pf_guest++;
}

/** PFERR_GUEST_FINAL_MASK (bit 32 of an NPF's exit_info_1): the fault was on the final guest-physical access. */
const PFERR_GUEST_FINAL = 2 ** 32;

/**
 * @kernel nested.c nested_svm_inject_npf_exit
 * A fault in L1's NPT becomes a #NPF VM exit to L1: exit_info_1 keeps the high half of L0's own
 * #NPF exit_info_1 (here always PFERR_GUEST_FINAL_MASK: the model's L2 accesses are final
 * guest-physical accesses, it has no L2 page tables) with the walk's error code in bits 31:0;
 * exit_info_2 is L0's faulting GPA, the address of the fault. Not kvm_inject_page_fault: pf_guest
 * is not counted.
 */
function nested_svm_inject_npf_exit(address: bigint, error_code: number): NestedVmExit {
  return { reason: 0x400, name: 'NPF', qualification: PFERR_GUEST_FINAL + (error_code >>> 0), gpa: BigInt.asUintN(64, address) };
}

/**
 * @kernel nested.c nested_ept_inject_page_fault
 * Reserved bits in L1's EPT entry (RSVD in the walk's error code): EPT_MISCONFIG (49), whose
 * qualification is 0 or L0's own exit qualification (mmu trait nested_ept_misconfig_exit_qual);
 * otherwise EPT_VIOLATION (48) with the walk's bits 5:0 and bits 8:7 of L0's own EPT-violation
 * qualification. vmcs12's guest-physical address is the L2 GPA. (PML-full exits are not
 * modelled: the model has no PML for L1. nested_ept_invalidate_addr, the sync of cached roots
 * with the same EP4TA, is not modelled either.)
 */
function nested_ept_inject_page_fault(vcpu: Vcpu, address: bigint, error_code: number, exit_qualification: number): NestedVmExit {
  if (error_code & PFERR_RSVD_MASK) {
    const q = vcpu.kvm.traits.nested_ept_misconfig_exit_qual === 'zero' ? 0 : vcpu.exit_qualification;
    return { reason: EXIT_REASON_EPT_MISCONFIG, name: 'EPT_MISCONFIG', qualification: q, gpa: BigInt.asUintN(64, address) };
  }
  const q = exit_qualification | (vcpu.exit_qualification & EPT_VIOLATION_GVA_BITS);
  return { reason: EXIT_REASON_EPT_VIOLATION, name: 'EPT_VIOLATION', qualification: q, gpa: BigInt.asUintN(64, address) };
}
