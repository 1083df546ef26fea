/**
 * Native (CPL-3) accesses of upper-half linear addresses: the offset inside the page must come
 * from the exact address, not from a double that has lost its low bits above 2^53 (issue 13).
 */
import { describe, expect, it } from 'vitest';
import { pageOffset } from '../../src/mmu/fault/cpu_access.js';
import { parseProbeScenario } from '../../src/probe/parse.js';
import { runProbeScenario } from '../../src/probe/replay.js';
import { RECORDED_HOST, type ProbeVm } from '../../src/probe/vcpu.js';
import { getProfile } from '../../src/profiles/index.js';
import { recursiveVa } from '../support/recursive.js';

function run(lines: string[]): ProbeVm {
  const vms = runProbeScenario(parseProbeScenario(lines), { profile: getProfile('v6.18'), pvm: true, host: RECORDED_HOST });
  return vms[0]!;
}

describe('pageOffset', () => {
  it('keeps the low bits of every level', () => {
    expect(pageOffset(0x00201ff8, 0xffffff00, 1)).toBe(0xff8);
    expect(pageOffset(0x00201ff8, 0xffffff00, 2)).toBe(0x1ff8);
    expect(pageOffset(0x40201ff8, 0xffffff00, 3)).toBe(0x201ff8);
    expect(pageOffset(0xc0201ff8, 0xffffff00, 3)).toBe(0x201ff8);
  });
});

describe('CPL-3 accesses of upper-half addresses', () => {
  it('a read of 0xffffff0000201ff8 returns the value at that offset', () => {
    const vm = run(['vm name=uh cpl=3', 'map 0xffffff0000201000 0x300000', 'poke 0x300000 0x1111', 'poke 0x300ff8 0xfeedface12345678', 'read 0xffffff0000201ff8']);
    const st = vm.steps.at(-1)!;
    expect(st.exceptions).toEqual([[1]]);
    expect(st.value).toBe(0xfeedface12345678n);
  });
  it('a read through a 2 MiB page of the upper half returns the value at that offset', () => {
    const vm = run(['vm name=uh2 cpl=3', 'map 0xffffff0000200000 0x400000 page=2m', 'poke 0x401ff8 0xabcdef', 'read 0xffffff0000201ff8']);
    expect(vm.steps.at(-1)!.value).toBe(0xabcdefn);
  });
  it('a write through a recursive PML4 mapping (slot 510) hits the gPTE of the address it names', () => {
    // VA 0x8080604000: PTE at 0x103020 (tables 0x100000.. in map order).
    const pteVa = recursiveVa(510n, 0x8080604000n, 1);
    expect(pteVa).toBe(0xffffff0040403020n);
    const vm = run([
      'vm name=rec cpl=3',
      'map 0x8080604000 0x300000',
      'pte 0x100ff0 0x100007',
      'poke 0x300000 0x1111',
      'read 0x8080604000',
      `read ${'0x' + pteVa.toString(16)}`,
      `write ${'0x' + pteVa.toString(16)} val=0x301007`,
    ]);
    const [, rd, rdPte, wr] = vm.steps;
    expect(rd!.value).toBe(0x1111n);
    expect(rdPte!.value).toBe(0x300027n); // the walk set A
    expect(wr!.exceptions).toEqual([[1]]);
    expect(vm.layout.read(0x103020, 8)).toBe(0x301007n);
    expect(vm.layout.read(0x103000, 8)).toBe(0n);
    expect(wr!.violations).toEqual([]);
  });
});
