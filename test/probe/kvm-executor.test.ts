/**
 * The vCPU executor's instruction outcomes, each as recorded with kvm-probe on this machine's
 * KVM 6.18 (kvm_pvm): privileged instructions at CPL 3, non-canonical addresses, #UD, WRMSR of
 * an MSR the MMU ignores, the pending shutdown after KVM_SET_SREGS dropped CR0.PG.
 */
import { describe, expect, it } from 'vitest';
import { parseProbeScenario } from '../../src/probe/parse.js';
import { runProbeScenario } from '../../src/probe/replay.js';
import { RECORDED_HOST, type ProbeStep } from '../../src/probe/vcpu.js';
import { getProfile } from '../../src/profiles/index.js';

function steps(lines: string[]): ProbeStep[] {
  const vms = runProbeScenario(parseProbeScenario(lines), { profile: getProfile('v6.18'), pvm: true, host: RECORDED_HOST });
  return vms[0]!.steps;
}

describe('kvm executor outcomes (as recorded on KVM 6.18 pvm)', () => {
  it('CPL 3: MOV CR3 is #GP(0), a non-canonical read #GP(0), an unmapped fetch #PF, WRPKRU without CR4.PKE #UD', () => {
    const s = steps(['vm name=misc cpl=3', 'map 0x8080604000 0x300000', 'movcr3 0x100000', 'read 0x8000000000000000', 'fetch 0x9080604000', 'exec 0f01ef rax=0 rcx=0 rdx=0']);
    expect(s.map((x) => x.exceptions)).toEqual([[[1]], [[13, 0]], [[13, 0]], [[14, 20]], [[6]]]);
    expect(s.map((x) => x.exits.at(-1))).toEqual(['SHUTDOWN', 'SHUTDOWN', 'SHUTDOWN', 'SHUTDOWN', 'SHUTDOWN']);
  });
  it('CPL 0 (emulated): a non-canonical read is #GP(0), WRMSR of the TSC and INVLPG complete, ud2 is #UD', () => {
    const s = steps(['vm name=misc cpl=3', 'sregs cpl=0', 'read 0x8000000000000000', 'wrmsr 0x10 0x0', 'invlpg 0x8000000000000000', 'exec 0f0b']);
    expect(s.slice(2).map((x) => [x.exceptions, x.exits.at(-1)])).toEqual([
      [[[13, 0]], 'SHUTDOWN'],
      [[], 'DEBUG'],
      [[], 'DEBUG'],
      [[[6]], 'SHUTDOWN'],
    ]);
  });
  it('KVM_SET_SREGS dropping CR0.PG (no long mode) leaves a shutdown pending: the next run enters nothing', () => {
    const s = steps(['vm name=pae-sregs mode=pae cpl=0', 'map 0x400000 0x300000', 'read 0x400000 size=4', 'movcr0 0x80010033', 'read 0x400000 size=4']);
    expect(s[0]!.exits).toEqual(['SHUTDOWN']);
    expect(s[0]!.events).toEqual([]);
    expect(s[1]!.events.filter((e) => e.event === 'kvm_mmu_get_page').map((e) => (e as { gfn: number }).gfn)).toEqual([0, 0x40000, 0x80000, 0xc0000]);
    expect(s[2]!.exceptions).toEqual([[13, 0]]);
  });
  it('a read returns RAX as the tool sees it: 8/4 bytes replace it, 1/2 bytes merge into 0x5a', () => {
    const s = steps(['vm name=v cpl=3', 'map 0x8080604000 0x300000', 'poke 0x300000 0x1122334455667788', 'read 0x8080604000', 'read 0x8080604000 size=4', 'read 0x8080604000 size=2', 'read 0x8080604000 size=1', 'read 0x9080604000']);
    expect(s.slice(1).map((x) => x.value)).toEqual([0x1122334455667788n, 0x55667788n, 0x7788n, 0x88n, 0x5an]);
  });
});

describe('kvm executor input errors', () => {
  it('an instruction outside the model set is refused with a typed error naming it', () => {
    expect(() => steps(['vm name=x cpl=3', 'exec 0fa2'])).toThrow(/exec: the instruction at rip 0x7f8000000100 \(bytes 0f a2 \.\.\.\) is not one the model runs/);
  });
  it('an 8-byte access in 32-bit code is refused', () => {
    expect(() => steps(['vm name=x mode=prot cpl=0', 'read 0x1000 size=8'])).toThrow(/size 8 not encodable in 32-bit code/);
  });
});

describe('host residency of guest pages (kvm_prefetch_pages maps only frames the host has)', () => {
  it('a CPL-0 (emulated) read populates the page, so a later native fault in the same 2 MiB page prefetches it', () => {
    // Recorded on real KVM (differential fuzz): the emulator's read of 0x400000 populated the host
    // page; the direct shadow page of the 2 MiB mapping then prefetches gfn 0x400 but not 0x402..
    const s = steps(['vm name=x cpl=3 wp=1 nx=1', 'map 0x8080800000 0x400000 page=2m', 'poke 0x401008 0x4444', 'sregs cpl=0', 'read 0x8080800000', 'sregs cpl=3', 'fetch 0x8080801008']);
    const sets = s.at(-1)!.events.filter((e) => e.event === 'kvm_mmu_set_spte').map((e) => (e as { gfn: number }).gfn);
    expect(sets).toEqual([0x401, 0x400]);
  });
});
