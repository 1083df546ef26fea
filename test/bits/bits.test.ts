import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHalves, halves, hex32, hex64, hex64Halves, parseUnsigned, WordArena } from '../../src/bits/index.js';

describe('bits', () => {
  it('parses hex and decimal, rejects garbage and overflow with the place named', () => {
    expect(parseUnsigned('0x10', 'cr0')).toBe(16n);
    expect(parseUnsigned('16', 'cr0')).toBe(16n);
    expect(parseUnsigned(16, 'cr0')).toBe(16n);
    expect(() => parseUnsigned('0x1g', 'cr4')).toThrow(/cr4: expected a hex/);
    expect(() => parseUnsigned('0x1' + '0'.repeat(16), 'gva')).toThrow(/gva: .* does not fit in 64 bits/);
    expect(() => parseUnsigned('0x100000000', 'word', 32)).toThrow(/32 bits/);
    expect(() => parseUnsigned(-1, 'x')).toThrow(/unsigned/);
  });

  it('prints the golden encodings', () => {
    expect(hex32(0x80010001)).toBe('0x80010001');
    expect(hex32(5)).toBe('0x00000005');
    expect(hex64(0x2200000n)).toBe('0x0000000002200000');
    expect(hex64Halves(0x1, 0x80000000)).toBe('0x8000000000000001');
  });

  it('halves round-trip any 64-bit value', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (v) => {
        const h = halves(v);
        expect(fromHalves(h.lo, h.hi)).toBe(v);
      }),
    );
  });

  it('the arena views agree: u32[2i] is the low half of u64[i]', () => {
    const a = new WordArena(4);
    a.u64[1] = 0x1234567890abcdefn;
    expect(a.u32[2]).toBe(0x90abcdef);
    expect(a.u32[3]).toBe(0x12345678);
  });
});
