/**
 * What the CPU does with a PAE root the model loads into CR3 (shadow paging, or 32-bit NPT):
 * Intel checks the four PDPTEs at VM entry like MOV to CR3 under PAE (a present PDPTE with a
 * reserved bit -> VM-entry failure, exit reason 0x80000021, qualification 2 ENTRY_FAIL_PDPTE);
 * AMD under SVM loads and checks PDPTEs on demand (-> #PF with RSVD on first use). A not-present
 * PDPTE is legal on both: bits 63:1 are then ignored.
 */
import { genmask } from '../../bits/u64.js';

export type Vendor = 'intel' | 'amd';

export interface PdpteVerdict {
  readonly index: number;
  readonly pdpte: bigint;
  readonly present: boolean;
  /** Reserved bits set (0 when not present: they are ignored). */
  readonly reserved: bigint;
}

export interface PaeRootVerdict {
  readonly vendor: Vendor;
  readonly root_pa: number;
  /** CR3 holds 32 bits in PAE mode: the PDPT must be below 4 GiB. */
  readonly below_4g: boolean;
  readonly pdptes: readonly PdpteVerdict[];
  /** 'ok'; Intel 'vmentry-fail'; AMD 'pf-rsvd-on-use'; 'cr3-unreachable' when above 4 GiB. */
  readonly verdict: 'ok' | 'vmentry-fail' | 'pf-rsvd-on-use' | 'cr3-unreachable';
  readonly exit_reason?: number;
  readonly exit_qualification?: number;
}

/** One line: `intel vmentry-fail (exit reason 0x80000021, qualification 2): PDPTEs ...`. */
export function formatVerdict(v: PaeRootVerdict): string {
  const h = (x: bigint) => '0x' + x.toString(16);
  const ent = v.pdptes.map((p) => `${h(p.pdpte)}${p.reserved ? ` (reserved ${h(p.reserved)})` : ''}`).join(' ');
  const exit = v.exit_reason !== undefined ? ` (exit reason 0x${v.exit_reason.toString(16)}, qualification ${v.exit_qualification})` : '';
  return `${v.vendor} ${v.verdict}${exit}: root 0x${v.root_pa.toString(16)}, PDPTEs ${ent}`;
}

/** Reserved bits of a present PAE PDPTE: 63, 62..MAXPHYADDR, 8:5, 2:1 (x86.c pdptr_rsvd_bits). */
export function pdpteReservedMask(maxphyaddr: number): bigint {
  return genmask(63, maxphyaddr) | genmask(8, 5) | genmask(2, 1);
}

export function checkPaeRoot(vendor: Vendor, maxphyaddr: number, root_pa: number, pdptes: readonly bigint[]): PaeRootVerdict {
  const rsvd = pdpteReservedMask(maxphyaddr);
  const list = pdptes.map((pdpte, index) => {
    const present = (pdpte & 1n) === 1n;
    return { index, pdpte, present, reserved: present ? pdpte & rsvd : 0n };
  });
  const bad = list.some((p) => p.reserved !== 0n);
  const below_4g = root_pa < 2 ** 32;
  if (!below_4g) return { vendor, root_pa, below_4g, pdptes: list, verdict: 'cr3-unreachable' };
  if (!bad) return { vendor, root_pa, below_4g, pdptes: list, verdict: 'ok' };
  if (vendor === 'intel') {
    return { vendor, root_pa, below_4g, pdptes: list, verdict: 'vmentry-fail', exit_reason: 0x80000021, exit_qualification: 2 };
  }
  return { vendor, root_pa, below_4g, pdptes: list, verdict: 'pf-rsvd-on-use' };
}
