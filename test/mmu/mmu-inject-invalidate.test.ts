/**
 * F3 (differential fuzz against real KVM 6.18): kvm_inject_emulated_page_fault invalidates the
 * faulting address on the current root when the injected #PF has P set and RSVD clear, so an
 * unsync leaf SPTE follows its gPTE (here: the gPTE lost A, the SPTE is dropped and the next
 * read faults it in again). Both kernels do it (5.16 through kvm_mmu_invalidate_gva).
 */
import { describe, expect, it } from 'vitest';
import { parseProbeScenario } from '../../src/probe/parse.js';
import { runProbeScenario } from '../../src/probe/replay.js';
import { RECORDED_HOST, type ProbeStep } from '../../src/probe/vcpu.js';
import { getProfile } from '../../src/profiles/index.js';

const F3 = [
  'vm name=f3 cpl=3 wp=1 nx=1',
  'map 0x8080604000 0x300000',
  'map 0x8080605000 0x301000',
  'map 0x10000000000 0x103000',
  'fetch 0x8080605000', // SPTE for gfn 0x301 (r-xu)
  'write 0x10000000028 val=0x301005', // user write: L1 page 0x103 unsync; gPTE read-only, A clear
  'write 0x8080605000 val=0x77', // #PF(P|W|U) injected: the unsync leaf is synced (SPTE dropped)
  'read 0x8080605000', // faults again: the SPTE is made anew
];

function steps(profile: string, lines: string[]): ProbeStep[] {
  return runProbeScenario(parseProbeScenario(lines), { profile: getProfile(profile), pvm: true, host: RECORDED_HOST })[0]!.steps;
}

function shadowEvents(s: ProbeStep): string[] {
  return s.events
    .filter((e) => e.event === 'kvm_mmu_spte_requested' || e.event === 'kvm_mmu_set_spte')
    .map((e) => {
      const x = e as { event: string; gfn: number; level: number };
      return `${x.event} ${x.gfn.toString(16)} l${x.level}`;
    });
}

describe('kvm_inject_emulated_page_fault syncs the faulting address on the current root (F3)', () => {
  for (const profile of ['v6.18', 'v5.16']) {
    it(`${profile}: the injected write fault drops the unsync SPTE, the next read sets it again`, () => {
      const s = steps(profile, F3);
      expect(s[3]!.exceptions).toEqual([[14, 7]]);
      expect(s[4]!.exceptions).toEqual([[1]]);
      expect(shadowEvents(s[4]!)).toEqual(['kvm_mmu_spte_requested 301 l1', 'kvm_mmu_set_spte 301 l1']);
    });
  }
  it('the emulator\'s injected fault (CPL-0 write, #PF(P|W)) syncs it too (recorded on KVM 6.18)', () => {
    for (const profile of ['v6.18', 'v5.16']) {
      const s = steps(profile, [...F3.slice(0, 6), 'sregs cpl=0', 'write 0x8080605000 val=0x77', 'sregs cpl=3', 'read 0x8080605000']);
      expect(s[4]!.exceptions).toEqual([[14, 3]]);
      expect(shadowEvents(s[6]!)).toEqual(['kvm_mmu_spte_requested 301 l1', 'kvm_mmu_set_spte 301 l1']);
    }
  });
  it('v6.18: the new SPTE is the one real KVM made (0x2000301a25)', () => {
    const set = steps('v6.18', F3)[4]!.events.find((e) => e.event === 'kvm_mmu_set_spte') as { spte_lo: number; spte_hi: number } | undefined;
    expect(set).toBeDefined();
    expect([set!.spte_hi, set!.spte_lo >>> 0]).toEqual([0x20, 0x00301a25]);
  });
});
