/**
 * Data accesses that straddle a 4 KiB boundary (issue 13). The hardware translates both pages,
 * so a native (CPL-3) access takes a shadow fault for each page it has no SPTE for — two guest
 * walks, two spte_requested/set_spte pairs — and a guest page fault on the second page is
 * injected with CR2 = that page's first byte. KVM's emulator (CPL 0, or an access KVM emulates)
 * does the same piece by piece (x86.c emulator_read_write: one translation per page, the first
 * piece accessed before the second is translated).
 *
 * Expectations are from the architecture and the kernel source, not a recording: this
 * machine's KVM could not be opened (/dev/kvm absent; the host kernel is itself a kvm_pvm guest).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseProbeScenario } from '../../src/probe/parse.js';
import { runProbeScenario } from '../../src/probe/replay.js';
import { RECORDED_HOST, type ProbeStep, type ProbeVm } from '../../src/probe/vcpu.js';
import { getProfile } from '../../src/profiles/index.js';
import type { TraceEvent } from '../../src/trace/events.js';
import type { WalkEvent } from '../../src/guest/events.js';

function run(lines: string[], pvm = true): ProbeVm {
  return runProbeScenario(parseProbeScenario(lines), { profile: getProfile('v6.18'), pvm, host: RECORDED_HOST })[0]!;
}

/** The step's shadow events and walk starts, interleaved in kernel order, compactly. */
function sequence(st: ProbeStep): string[] {
  const out: string[] = [];
  const walk = (w: WalkEvent) => (w.event === 'kvm_mmu_pagetable_walk' ? [`walk ${(w.fields as { addr: string }).addr} pferr ${(w.fields as { pferr: number }).pferr}`] : []);
  let wi = 0;
  st.events.forEach((e: TraceEvent, i) => {
    for (; wi < st.eventWalkPos[i]!; wi++) out.push(...walk(st.walkEvents[wi]!));
    if (e.event === 'kvm_mmu_spte_requested') out.push(`spte_requested 0x${e.gfn.toString(16)}`);
    else if (e.event === 'kvm_mmu_set_spte') out.push(`set_spte 0x${e.gfn.toString(16)}`);
    else if (e.event === 'kvm_mmu_get_page') out.push(`get_page 0x${e.gfn.toString(16)}`);
  });
  for (; wi < st.walkEvents.length; wi++) out.push(...walk(st.walkEvents[wi]!));
  return out;
}

const TWO_PAGES = ['vm name=cross cpl=3', 'map 0x8080604000 0x300000', 'map 0x8080605000 0x301000', 'poke 0x300ff8 0x1122334455667788', 'poke 0x301000 0x99aabbccddeeff00'];

describe('CPL-3 (native) accesses across a page boundary', () => {
  it('an 8-byte read takes a shadow fault for each page, and reads both', () => {
    const vm = run([...TWO_PAGES, 'read 0x8080604ffc']);
    const st = vm.steps.at(-1)!;
    expect(st.exceptions).toEqual([[1]]);
    expect(st.value).toBe(0xddeeff0011223344n);
    expect(sequence(st)).toEqual([
      'walk 0x8080604ffc pferr 4',
      'get_page 0x101',
      'get_page 0x102',
      'get_page 0x103',
      'spte_requested 0x300',
      'set_spte 0x300',
      'walk 0x8080605000 pferr 4',
      'spte_requested 0x301',
      'set_spte 0x301',
    ]);
    expect(st.violations).toEqual([]);
  });
  it('a 2-byte write stores one byte in each page', () => {
    const vm = run([...TWO_PAGES, 'write 0x8080604fff size=2 val=0xbbaa']);
    const st = vm.steps.at(-1)!;
    expect(st.exceptions).toEqual([[1]]);
    expect(vm.layout.read(0x300fff, 1)).toBe(0xaan);
    expect(vm.layout.read(0x301000, 1)).toBe(0xbbn);
    expect(vm.layout.read(0x300ff8, 8)).toBe(0xaa22334455667788n);
    expect(sequence(st).filter((s) => s.startsWith('walk'))).toEqual(['walk 0x8080604fff pferr 6', 'walk 0x8080605000 pferr 6']);
    // Both leaves were written: D set in both gPTEs.
    expect(vm.layout.read(0x103020, 8)).toBe(0x300067n);
    expect(vm.layout.read(0x103028, 8)).toBe(0x301067n);
  });
  it('a second page that is not present is a #PF with CR2 = its first byte, after the first page was fixed', () => {
    const vm = run(['vm name=cross cpl=3', 'map 0x8080604000 0x300000', 'read 0x8080604ffc']);
    const st = vm.steps.at(-1)!;
    expect(st.exceptions).toEqual([[14, 4]]);
    expect(vm.cpu.cr2).toBe(0x8080605000n);
    expect(sequence(st)).toEqual(['walk 0x8080604ffc pferr 4', 'get_page 0x101', 'get_page 0x102', 'get_page 0x103', 'spte_requested 0x300', 'set_spte 0x300', 'walk 0x8080605000 pferr 4']);
  });
  it('an access that fits its page is one translation, as before', () => {
    const vm = run([...TWO_PAGES, 'read 0x8080604ff8']);
    const st = vm.steps.at(-1)!;
    expect(st.value).toBe(0x1122334455667788n);
    expect(sequence(st).filter((s) => s.startsWith('walk'))).toEqual(['walk 0x8080604ff8 pferr 4']);
  });
  it('a second page that is a last-level guest table is unsynced, then both pieces are stored natively', () => {
    // 0x8080605000 maps the PT page 0x103000 itself: writable by the guest, write-protected by KVM.
    const vm = run(['vm name=cross cpl=3', 'map 0x8080604000 0x300000', 'map 0x8080605000 0x103000', 'read 0x8080604000', 'write 0x8080604ffc val=0x0000000711223344']);
    const st = vm.steps.at(-1)!;
    expect(st.exceptions).toEqual([[1]]);
    expect(st.emulated).toEqual([]);
    expect(st.events.map((e) => e.event)).toEqual(['kvm_mmu_spte_requested', 'kvm_mmu_set_spte', 'kvm_mmu_spte_requested', 'kvm_mmu_unsync_page', 'kvm_mmu_set_spte']);
    expect(vm.layout.read(0x300ffc, 4)).toBe(0x11223344n);
    expect(vm.layout.read(0x103000, 4)).toBe(7n);
    expect(st.violations).toEqual([]);
  });
  it('a second page that is an upper-level guest table is emulated: both pieces stored, page tracking told of each', () => {
    const vm = run(['vm name=cross cpl=3', 'map 0x8080604000 0x300000', 'map 0x8080605000 0x102000', 'read 0x8080604000', 'write 0x8080604ffc val=0x0000000011223344']);
    const st = vm.steps.at(-1)!;
    expect(st.exceptions).toEqual([]);
    expect(st.exits).toEqual(['DEBUG']);
    expect(st.emulated).toEqual([0x7f8000000100n]);
    expect(sequence(st)).toEqual([
      'walk 0x8080604ffc pferr 7',
      'spte_requested 0x300',
      'set_spte 0x300',
      'walk 0x8080605000 pferr 6',
      'spte_requested 0x102',
      'set_spte 0x102',
      'walk 0x7f8000000100 pferr 20',
      'walk 0x8080604ffc pferr 6',
      'walk 0x8080605000 pferr 6',
    ]);
    // kvm_mmu_track_write counts every piece the emulator stores while shadow pages exist.
    expect(st.stats!.vm['mmu_pte_write']).toBe(2);
    expect(vm.layout.read(0x300ffc, 4)).toBe(0x11223344n);
    expect(vm.layout.read(0x102000, 4)).toBe(0n);
    expect(st.violations).toEqual([]);
  });
});

describe('emulated (CPL 0) accesses across a page boundary', () => {
  it('walks each page; a missing second page is #PF with CR2 = its first byte', () => {
    const vm = run(['vm name=cross cpl=3', 'map 0x8080604000 0x300000', 'sregs cpl=0', 'read 0x8080604ffc']);
    const st = vm.steps.at(-1)!;
    expect(st.exceptions).toEqual([[14, 0]]);
    expect(vm.cpu.cr2).toBe(0x8080605000n);
    expect(sequence(st).filter((s) => s.startsWith('walk')).slice(-2)).toEqual(['walk 0x8080604ffc pferr 0', 'walk 0x8080605000 pferr 0']);
  });
  it('an emulated write stores the first piece before the second page faults', () => {
    const vm = run(['vm name=cross cpl=3', 'map 0x8080604000 0x300000', 'sregs cpl=0', 'write 0x8080604ffe size=4 val=0xddccbbaa']);
    const st = vm.steps.at(-1)!;
    expect(st.exceptions).toEqual([[14, 2]]);
    expect(vm.cpu.cr2).toBe(0x8080605000n);
    expect(vm.layout.read(0x300ffe, 2)).toBe(0xbbaan);
  });
  it('an emulated read of two present pages joins them', () => {
    const vm = run([...TWO_PAGES, 'sregs cpl=0', 'read 0x8080604ffa']);
    const st = vm.steps.at(-1)!;
    expect(st.exceptions).toEqual([]);
    expect(st.value).toBe(0xff00112233445566n);
  });
});

describe('accesses that cross the top of a 32-bit address space', () => {
  // 32-bit paging: not the recorded machine's (no --pvm limits).
  const WRAP = ['vm name=wrap mode=legacy cpl=3', 'map 0xfffff000 0x300000', 'map 0x0 0x301000', 'poke 0x300ffe 0xbbaa size=2', 'poke 0x301000 0xddcc size=2'];
  it('native: the second piece wraps to linear address 0 (the 4 GiB-limit check is implementation-specific)', () => {
    const st = run([...WRAP, 'read 0xfffffffe size=4'], false).steps.at(-1)!;
    expect(st.exceptions).toEqual([[1]]);
    expect(st.value).toBe(0xddccbbaan);
    expect(sequence(st).filter((s) => s.startsWith('walk'))).toEqual(['walk 0xfffffffe pferr 4', 'walk 0x0 pferr 4']);
  });
  it('emulated: beyond the segment limit is #GP(0) before any data walk (__linearize)', () => {
    const st = run([...WRAP, 'sregs cpl=0', 'read 0xfffffffe size=4'], false).steps.at(-1)!;
    expect(st.exceptions).toEqual([[13, 0]]);
    expect(sequence(st).filter((s) => s.startsWith('walk'))).toEqual(['walk 0x1fc1100 pferr 16']);
  });
});

describe('property: any access of two mapped pages reads and writes the bytes the guest tables name', () => {
  it('native and emulated, every size and offset near the boundary, pages at unrelated gpas', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 4, 8),
        fc.integer({ min: 4088, max: 4095 }),
        fc.boolean(),
        fc.constantFrom(0, 3),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.constantFrom(0x301000, 0x5ff000, 0x200000),
        (size, off, write, cpl, val, gpa2) => {
          const lines = ['vm name=p cpl=3', 'map 0x8080604000 0x300000', `map 0x8080605000 ${'0x' + gpa2.toString(16)}`];
          for (let i = 0; i < 8; i++) lines.push(`poke ${'0x' + (0x300ff8 + i).toString(16)} ${0x10 + i} size=1`, `poke ${'0x' + (gpa2 + i).toString(16)} ${0x20 + i} size=1`);
          if (cpl === 0) lines.push('sregs cpl=0');
          const va = 0x8080604000n + BigInt(off);
          lines.push(write ? `write ${'0x' + va.toString(16)} size=${size} val=${'0x' + val.toString(16)}` : `read ${'0x' + va.toString(16)} size=${size}`);
          const vm = run(lines);
          const st = vm.steps.at(-1)!;
          expect(st.exceptions).toEqual(cpl === 3 ? [[1]] : []);
          const gpaOf = (i: number) => (off + i < 4096 ? 0x300000 + off + i : gpa2 + off + i - 4096);
          if (write) {
            for (let i = 0; i < size; i++) expect(vm.layout.read(gpaOf(i), 1)).toBe((val >> BigInt(8 * i)) & 0xffn);
          } else {
            let want = 0n;
            for (let i = 0; i < size; i++) want |= vm.layout.read(gpaOf(i), 1) << BigInt(8 * i);
            const mask = (1n << BigInt(8 * size)) - 1n;
            expect(st.value! & mask).toBe(want);
          }
          expect(st.violations).toEqual([]);
        },
      ),
      { numRuns: 80, seed: 1313 },
    );
  });
});
