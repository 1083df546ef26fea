/**
 * The MMU context of a scenario's vCPU from its registers: the root role, guest and shadow
 * levels and direct_map that the kernel's MMU init computes (src/roles calcRootRole).
 */
import { badInput } from '../bits/errors.js';
import { parseU32 } from '../bits/hex.js';
import type { Profile } from '../profiles/index.js';
import { hostByName } from '../roles/host.js';
import { calcRootRole } from '../roles/root-role.js';
import type { MmuKind } from '../roles/types.js';
import type { MmuContext } from '../mmu/index.js';
import { quote } from '../bits/quote.js';

export interface VcpuRegs {
  readonly cr0: number;
  readonly cr4: number;
  readonly efer: number;
  readonly smm: boolean;
  readonly guest_mode: boolean;
}

const KIND: Record<string, MmuContext['kind']> = { tdp: 'tdp', shadow: 'shadow', npt: 'shadow_npt', ept: 'shadow_ept' };

export function parseRegs(v: unknown, where: string): VcpuRegs {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) badInput(where, 'expected {cr0, cr4, efer[, smm, guest_mode]}');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['cr0', 'cr4', 'efer', 'smm', 'guest_mode'].includes(k)) badInput(where, `unknown key ${quote(k)}`);
  return {
    cr0: parseU32(o['cr0'] ?? 0, `${where}.cr0`),
    cr4: parseU32(o['cr4'] ?? 0, `${where}.cr4`),
    efer: parseU32(o['efer'] ?? 0, `${where}.efer`),
    smm: o['smm'] === true || o['smm'] === 1,
    guest_mode: o['guest_mode'] === true || o['guest_mode'] === 1,
  };
}

/** kvm_init_mmu for `mmu` ('shadow', 'tdp', 'npt', 'ept') on the roles host `hostName`. */
export function contextFromRegs(profile: Profile, mmu: string, hostName: string, regs: VcpuRegs): MmuContext {
  const kind = KIND[mmu];
  if (!kind) badInput('vcpu.mmu_kind', `expected shadow, tdp, npt or ept, got ${quote(mmu)}`);
  const r = calcRootRole(profile, mmu as MmuKind, { ...regs, host: hostByName(hostName) });
  return { kind, mmu_role: r.word, direct_map: r.direct_map, root_level: r.root_level, shadow_root_level: r.shadow_root_level };
}
