import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getProfile, PROFILE_NAMES } from '../../src/profiles/index.js';
import { renderGuestText, runGuestScenario } from '../../src/scenario/index.js';

const TEXT = readFileSync(join(__dirname, '../scenario/data/pvm-traits.kvm'), 'utf8');

/** Step i's header and event lines. */
function step(out: string, i: number): string[] {
  const lines = out.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`# step ${i}:`));
  const end = lines.findIndex((l, j) => j > at && l.startsWith('# ') && !l.startsWith('# audit'));
  return lines.slice(at, end).filter((l) => !l.startsWith('# audit'));
}

describe('PVM host traits of the guest driver', () => {
  for (const p of PROFILE_NAMES) {
    it(`${p}: kernel-half access with an empty PML4 slot: #PF(U) injected without a walk on PVM, after a failed guest walk elsewhere`, () => {
      const pvm = renderGuestText(runGuestScenario(TEXT, { profile: getProfile(p), pvm: true }));
      const kvm = renderGuestText(runGuestScenario(TEXT, { profile: getProfile(p) }));
      expect(step(pvm, 2)).toEqual(['# step 2: read 0xffff800000001000 -> exit SHUTDOWN, exceptions [[14,4]], value 0x5a']);
      const k = step(kvm, 2);
      expect(k[0]).toBe('# step 2: read 0xffff800000001000 -> exit SHUTDOWN, exceptions [[14,4]], value 0x5a');
      expect(k[1]).toBe('kvm_mmu_pagetable_walk: addr ffff800000001000 pferr 4 U');
      expect(k.at(-1)).toBe('kvm_mmu_walker_error: pferr 4 U');
    });
    it(`${p}: non-canonical access: emulated first on PVM (two walks of the code page), then #GP(0); a plain #GP elsewhere`, () => {
      const pvm = renderGuestText(runGuestScenario(TEXT, { profile: getProfile(p), pvm: true }));
      const kvm = renderGuestText(runGuestScenario(TEXT, { profile: getProfile(p) }));
      const s = step(pvm, 3);
      expect(s[0]).toBe('# step 3: read 0x0000800000000000 -> exit SHUTDOWN, exceptions [[13,0]], value 0x5a, emulated');
      expect(s.filter((l) => l.startsWith('kvm_mmu_pagetable_walk'))).toEqual(['kvm_mmu_pagetable_walk: addr 7f8000000100 pferr 14 U|F', 'kvm_mmu_pagetable_walk: addr 7f8000000100 pferr 14 U|F']);
      expect(step(kvm, 3)).toEqual(['# step 3: read 0x0000800000000000 -> exit SHUTDOWN, exceptions [[13,0]], value 0x5a']);
    });
  }
});
