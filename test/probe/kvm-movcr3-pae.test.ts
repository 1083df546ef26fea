import { describe, expect, it } from 'vitest';
import { getProfile, PROFILE_NAMES } from '../../src/profiles/index.js';
import { runGuestScenario } from '../../src/scenario/guest.js';
import { oracleStep } from '../../src/probe/encode.js';

// Found by the guest fuzzer: MOV CR3 to a PDPT whose PDPTE has reserved bits threw out of the
// executor instead of the guest getting #GP(0), and left CR3 half-changed.
const GUEST = `vm name=pae mode=pae cpl=3 wp=1
map 0x40604000 0x300000
poke 0x300000 0x1111
pte 0x200000 0x400003
read 0x40604000
sregs cpl=0
movcr3 0x200000
sregs cpl=3
read 0x40604000
`;

describe('MOV CR3 with a bad PDPTE under PAE paging', () => {
  for (const p of PROFILE_NAMES) {
    it(`${p}: #GP(0), CR3 unchanged, the guest goes on`, () => {
      const r = runGuestScenario(GUEST, { profile: getProfile(p) });
      expect(r.violations).toEqual([]);
      const steps = r.vms[0]!.steps.map((s) => oracleStep(s));
      const mov = steps.find((s) => s['op'] === 'movcr3')!;
      expect(mov['exceptions']).toEqual([[13, 0]]);
      expect(mov['cr3']).toBe('0x100000');
      expect(steps.at(-1)!['value']).toBe('0x1111');
    });
  }
});
