/**
 * Any kvm-probe scenario the grammar allows — random directives, addresses, sizes, flags and
 * register values — either runs (with a clean audit after every step) or fails with a typed
 * ShadowMmuError naming the problem; never an internal error.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShadowMmuError } from '../../src/bits/errors.js';
import { getProfile } from '../../src/profiles/index.js';
import { parseProbeScenario } from '../../src/probe/parse.js';
import { runProbeScenario } from '../../src/probe/replay.js';

const num = fc.oneof(
  { arbitrary: fc.constantFrom('0', '0x1000', '0x8080604000', '0x300000', '0x100000', '0x103020', '0x10000000000', '0x1fc0000', '0x7f8000000000', '0x8000000', '0xffffffff', '0xffff800000000000', '32m', '0x20', '0x80010033'), weight: 8 },
  { arbitrary: fc.constantFrom('-1', '0x', '1q'), weight: 1 },
  { arbitrary: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((v) => '0x' + v.toString(16)), weight: 1 },
);
const gpa = fc.oneof({ arbitrary: fc.constantFrom('0x300000', '0x301000', '0x100000', '0x103020', '0x1000', '0x1fc0000', '0x400000'), weight: 8 }, { arbitrary: num, weight: 1 });
const flags = fc.constantFrom('P|W|U', 'P', '0', 'P|U|NX', 'P|W|U|PS', 'P|W|U|bit51', 'P|W|U|A|D', 'bogus');
const line = fc.oneof(
  fc.tuple(num, gpa, fc.constantFrom('', ' page=2m', ' page=1g', ' page=4m', ' page=3k'), flags).map(([a, b, p, f]) => `map ${a} ${b}${p} l1=${f}`),
  fc.tuple(gpa, num).map(([a, b]) => `pte ${a} ${b}`),
  fc.tuple(gpa, num, fc.constantFrom('', ' size=1', ' size=2', ' size=4', ' size=8', ' size=3')).map(([a, b, s]) => `poke ${a} ${b}${s}`),
  fc.tuple(fc.constantFrom('read', 'write', 'fetch', 'invlpg', 'translate', 'ptes', 'hostread'), num, fc.constantFrom('', ' size=1', ' size=4', ' size=8', ' size=16')).map(([op, a, s]) => `${op} ${a}${s}`),
  fc.tuple(fc.constantFrom('movcr0', 'movcr3', 'movcr4', 'wrpkru'), num).map(([op, v]) => `${op} ${v}`),
  fc.tuple(num, num).map(([m, v]) => `wrmsr ${m} ${v}`),
  fc.tuple(gpa, num).map(([a, v]) => `hostwrite ${a} ${v}`),
  fc.tuple(fc.constantFrom('wp', 'smep', 'smap', 'pke', 'nx', 'pge', 'cpl', 'cr0', 'cr3', 'cr4', 'efer', 'la57', 'bogus'), num).map(([k, v]) => `sregs ${k}=${v}`),
  fc.constantFrom('run', 'stats', 'note hello', 'exec 90', 'exec cc', 'exec 0f0b', 'exec zz', 'wp 0', 'nx 1', 'frobnicate'),
);
const vmLine = fc.oneof(
  { arbitrary: fc.constantFrom('vm name=a', 'vm name=b cpl=0', 'vm name=c mode=pae', 'vm name=d mode=legacy', 'vm name=e mode=prot cpl=0', 'vm name=f mode=real', 'vm name=g la57=1', 'vm name=h mode=long start=prot cpl=0'), weight: 9 },
  { arbitrary: fc.constantFrom('vm name=i mode=warp', 'vm name=j mem=1m'), weight: 1 },
);

describe('kvm-probe scenarios: typed errors or a clean run', () => {
  it('random scenarios', () => {
    fc.assert(
      fc.property(vmLine, fc.array(line, { maxLength: 10 }), fc.constantFrom('v6.18', 'v5.16', 'rfc-v1'), (vm, body, profile) => {
        try {
          runProbeScenario(parseProbeScenario([vm, ...body]), { profile: getProfile(profile), audit: true }, (v) => {
            for (const s of v.steps) expect(s.violations, `${s.step} ${s.op}`).toEqual([]);
          });
        } catch (e) {
          if (!(e instanceof ShadowMmuError)) throw e;
        }
      }),
      { numRuns: 300, seed: 0xbadc0de },
    );
  });
});
