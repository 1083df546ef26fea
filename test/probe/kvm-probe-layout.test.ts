import { describe, expect, it } from 'vitest';
import { configFromVmLine } from '../../src/probe/config.js';
import { ProbeLayout } from '../../src/probe/layout.js';
import { parseProbeFlags, parseProbeNumber, parseProbeScenario, probeArgs, tokenizeLine } from '../../src/probe/parse.js';
import { decode, encodeAccess } from '../../src/probe/insn.js';
import { ProbeVm } from '../../src/probe/vcpu.js';
import { getProfile } from '../../src/profiles/index.js';
import { walkScenario } from '../../src/eval/kvm.js';
import { readGolden } from '../support/golden.js';

describe('kvm-probe scenario language', () => {
  it('tokenizes as the tool: op, positional, key=value, comments', () => {
    const c = tokenizeLine('map 0x8080604000 0x300000 page=2m l2=P|W|PS # a comment', 7)!;
    expect(c.op).toBe('map');
    expect(c.pos).toEqual(['0x8080604000', '0x300000']);
    expect(probeArgs(c)).toEqual({ arg0: '0x8080604000', arg1: '0x300000', page: '2m', l2: 'P|W|PS' });
    expect(tokenizeLine('   # only a comment', 1)).toBeNull();
    expect(parseProbeScenario('vm\n\nread 0x1000\n').map((x) => x.line)).toEqual([1, 3]);
  });
  it('reads C-style numbers with k/m/g suffixes', () => {
    expect(parseProbeNumber('0x10')).toBe(16n);
    expect(parseProbeNumber('010')).toBe(8n);
    expect(parseProbeNumber('32M')).toBe(32n << 20n);
    expect(parseProbeNumber('4k')).toBe(4096n);
    expect(parseProbeNumber('0')).toBe(0n);
    expect(parseProbeNumber('0x')).toBeNull();
    expect(parseProbeNumber('12q')).toBeNull();
  });
  it('reads flag lists', () => {
    expect(parseProbeFlags('P|W|U|NX')).toBe(7n | (1n << 63n));
    expect(parseProbeFlags('p,rw+us|bit51|0x20')).toBe(7n | (1n << 51n) | 0x20n);
    expect(parseProbeFlags('0')).toBe(0n);
    expect(parseProbeFlags('Q')).toBeNull();
  });
  it('encodes and decodes the tool instructions', () => {
    expect(encodeAccess(64, false, 8)).toEqual([0x48, 0x8b, 0x03]);
    expect(encodeAccess(16, true, 4)).toEqual([0x66, 0x89, 0x07]);
    expect(encodeAccess(32, false, 8)).toBeNull();
    expect(decode([0x48, 0x8b, 0x03], 64)).toEqual({ kind: 'mov', write: false, size: 8, len: 3 });
    expect(decode([0x66, 0x89, 0x03], 64)).toEqual({ kind: 'mov', write: true, size: 2, len: 3 });
    expect(decode([0x88, 0x07], 16)).toEqual({ kind: 'mov', write: true, size: 1, len: 2 });
    expect(decode([0x0f, 0x22, 0xd8], 64)).toEqual({ kind: 'movcr', cr: 3, len: 3 });
    expect(decode([0x0f, 0x0b], 64)).toBeNull();
  });
});

describe('kvm-probe guest layout', () => {
  it('allocates tables as the tool: root 0x100000, map order, code pages in the top 256 KiB', () => {
    const L = new ProbeLayout(configFromVmLine(tokenizeLine('vm name=x', 1)));
    const vm = new ProbeVm({ profile: getProfile('v6.18') }, L.cfg);
    void vm;
    expect(L.cfg.cr3).toBe(0x100000n);
    L.installMap(0x100000, 0x8080604000n, 0x300000n, 1, [7n, 7n, 7n, 7n, 7n, 7n], [false, true, false, false, false, false], [0, 0, 0, 0, 0, 0], 'tblNext');
    L.installSys();
    expect(L.gptes(0x100000n, 0x8080604000n).map((g) => [g.level, g.gpa, g.pte])).toEqual([
      [4, 0x100008, 0x101007n],
      [3, 0x101010, 0x102007n],
      [2, 0x102018, 0x103007n],
      [1, 0x103020, 0x300007n],
    ]);
    // the code pages: user at 0x7f8000000000 (A|D preset), supervisor one page up (U clear)
    expect(L.gptes(0x100000n, 0x7f8000000000n).map((g) => g.pte)).toEqual([0x1fc4027n, 0x1fc5027n, 0x1fc6027n, 0x1fc0067n]);
    expect(L.gptes(0x100000n, 0x7f8000001000n).map((g) => g.pte)).toEqual([0x1fc4027n, 0x1fc5027n, 0x1fc6027n, 0x1fc1063n]);
    expect(L.read(0x1fc0000, 1)).toBe(0x90n);
    expect(L.read(0x1fc0001, 1)).toBe(0xccn);
  });

  it('reproduces gptes_before of every golden kvm walk record', () => {
    const recs = readGolden('kvm/walks.jsonl.gz');
    let n = 0;
    for (const rec of recs) {
      const lines = walkScenario(rec as never);
      const cmds = parseProbeScenario(lines);
      const vm = new ProbeVm({ profile: getProfile('v6.18'), pvm: true }, configFromVmLine(cmds[0]!));
      vm.setup(cmds[1]!);
      vm.layout.installSys();
      const got = vm.layout.gptes(vm.cfg.cr3, BigInt(rec['va'] as string)).map((g) => [g.level, '0x' + g.gpa.toString(16), '0x' + g.pte.toString(16)]);
      expect(got, String(rec['id'])).toEqual(rec['gptes_before']);
      n++;
    }
    expect(n).toBeGreaterThan(800);
  });
});
