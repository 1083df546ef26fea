import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { __canonical_address, __is_canonical_address, isCanonicalHalves } from '../../src/cpu/canonical.js';

describe('canonical addresses (cpu-features.md section 4)', () => {
  it('48 and 57 bits', () => {
    expect(__is_canonical_address(0x00007fffffffffffn, 48)).toBe(true);
    expect(__is_canonical_address(0x0000800000000000n, 48)).toBe(false);
    expect(__is_canonical_address(0xffff800000000000n, 48)).toBe(true);
    expect(__is_canonical_address(0x0000800000000000n, 57)).toBe(true);
    expect(__is_canonical_address(0x0100000000000000n, 57)).toBe(false);
    expect(__is_canonical_address(0xff00000000000000n, 57)).toBe(true);
    expect(__canonical_address(0x0000800000000000n, 48)).toBe(0xffff800000000000n);
  });

  it('the halves form agrees with the BigInt form', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.constantFrom(48 as const, 57 as const), (v, n) => {
        const lo = Number(v & 0xffffffffn);
        const hi = Number(v >> 32n);
        expect(isCanonicalHalves(lo, hi, n)).toBe(__is_canonical_address(v, n));
      }),
    );
  });
});
