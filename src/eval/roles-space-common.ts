/**
 * Building blocks of the `roles diff` input spaces: the case shape, register and host inputs in
 * the golden schema, and the features differences are explained with.
 */
import { hex32 } from '../bits/hex.js';
import type { Profile } from '../profiles/index.js';
import { EFER_LMA, HOSTS, hostInProfile, ROLE_INPUT_BITS, validRoleRegs, X86_CR0_PG, type HostConfig, type RoleRegs } from '../roles/index.js';
import type { JsonObject } from './types.js';

/** One input of the enumerated space: its explanatory features and the `in` per profile. */
export interface DiffCase {
  readonly features: Readonly<Record<string, number | string>>;
  readonly inA: JsonObject;
  readonly inB: JsonObject;
}


export const regFeatures = (r: RoleRegs): Record<string, number> => {
  const f: Record<string, number> = {};
  for (const b of ROLE_INPUT_BITS) f[`${b.reg.toUpperCase()}.${b.name}`] = r[b.reg] & b.mask ? 1 : 0;
  return f;
};
export const regIn = (r: RoleRegs): JsonObject => ({ cr0: hex32(r.cr0), cr4: hex32(r.cr4), efer: hex32(r.efer) });
export const hostIn = (h: HostConfig): JsonObject => {
  const o: JsonObject = {
    host: h.name,
    tdp_root_level: h.tdp_root_level,
    max_tdp_level: h.max_tdp_level,
    maxphyaddr: h.maxphyaddr,
    ad_enabled: h.ad_enabled ? 1 : 0,
  };
  if (h.vm_type) {
    o['vm_type'] = h.vm_type;
    o['guest_maxphyaddr'] = h.guest_maxphyaddr;
  }
  return o;
};
export const lma = (r: RoleRegs) => (r.efer & EFER_LMA) !== 0;
export const same = (features: Record<string, number | string>, input: JsonObject): DiffCase => ({ features, inA: input, inB: input });

export function* registerCases(opts: { pgOnly?: boolean; guestModes?: number[] } = {}): Generator<{ regs: RoleRegs; smm: number; gm: number }> {
  for (const regs of validRoleRegs()) {
    if (opts.pgOnly && !(regs.cr0 & X86_CR0_PG)) continue;
    for (const gm of opts.guestModes ?? [0, 1]) for (const smm of [0, 1]) yield { regs, smm, gm };
  }
}

export function hostsFor(a: Profile, b: Profile, names?: readonly string[]): HostConfig[] {
  return HOSTS.filter((h) => (!names || names.includes(h.name)) && hostInProfile(a, h) && hostInProfile(b, h));
}
