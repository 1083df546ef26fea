import { describe, expect, it } from 'vitest';
import { getProfile, PROFILE_NAMES } from '../../src/profiles/index.js';
import { runGuestScenario } from '../../src/scenario/guest.js';
import { oracleStep } from '../../src/probe/encode.js';

// The guest driver had its own CR4 check (a fixed mask of allowed bits) that let CR4.SMXE (14)
// and CR4.KL (19) through; KVM's CR4_RESERVED_BITS reserves both, so MOV CR4 setting them is
// #GP(0). The driver now uses cpu/cr.ts's kvm_set_cr4 / kvm_is_valid_cr4, the one model.
const guest = (cr4: string) => `vm name=cr4 mode=long cpl=0
map 0x40604000 0x300000
movcr4 ${cr4}
read 0x40604000
`;

describe('MOV CR4 through the guest driver uses kvm_set_cr4', () => {
  for (const p of PROFILE_NAMES) {
    for (const [bit, name] of [[14, 'SMXE'], [19, 'KL']] as const) {
      it(`${p}: CR4.${name} is reserved: #GP(0), CR4 unchanged`, () => {
        const base = runGuestScenario(guest('0x20'), { profile: getProfile(p) });
        const cr4 = BigInt(oracleStep(base.vms[0]!.steps[0]!)['cr4'] as string);
        const r = runGuestScenario(guest('0x' + (cr4 | (1n << BigInt(bit))).toString(16)), { profile: getProfile(p) });
        expect(r.violations).toEqual([]);
        const mov = oracleStep(r.vms[0]!.steps.find((s) => oracleStep(s)['op'] === 'movcr4')!);
        expect(mov['exceptions']).toEqual([[13, 0]]);
        expect(BigInt(mov['cr4'] as string)).toBe(cr4);
      });
    }
    it(`${p}: the same CR4 without the bit is accepted`, () => {
      const base = runGuestScenario(guest('0x20'), { profile: getProfile(p) });
      const cr4 = oracleStep(base.vms[0]!.steps[0]!)['cr4'] as string;
      const r = runGuestScenario(guest(cr4), { profile: getProfile(p) });
      const mov = oracleStep(r.vms[0]!.steps.find((s) => oracleStep(s)['op'] === 'movcr4')!);
      expect(mov['exceptions']).toEqual([]);
      expect(mov['cr4']).toBe(cr4);
    });
  }
});
