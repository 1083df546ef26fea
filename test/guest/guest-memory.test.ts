// Guest memory as memslots over sparse pages (issue 4 §1).
import { describe, expect, it } from 'vitest';
import { ShadowMmuError } from '../../src/bits/errors.js';
import { GuestMemory } from '../../src/guest/index.js';

describe('GuestMemory', () => {
  it('reads zero from RAM never written, and false outside every memslot', () => {
    const m = new GuestMemory();
    m.addSlot(0x10000, 0x10000);
    const w = { lo: 1, hi: 1 };
    expect(m.read64(0x10008, w)).toBe(true);
    expect(w).toEqual({ lo: 0, hi: 0 });
    expect(m.read64(0x8000, w)).toBe(false);
    expect(m.residentPages).toBe(0);
  });

  it('1/2/4/8-byte writes and reads at any alignment, little-endian, across pages', () => {
    const m = new GuestMemory();
    m.addSlot(0, 0x4000);
    m.writeBig(0x0ffd, 0x1122334455667788n, 8); // straddles the first page boundary
    expect(m.readBig(0x0ffd, 8)).toBe(0x1122334455667788n);
    expect(m.readBig(0x0ffd, 1)).toBe(0x88n);
    expect(m.readBig(0x0ffe, 2)).toBe(0x6677n);
    expect(m.readBig(0x1000, 4)).toBe(0x22334455n);
    m.writeBig(0x2002, 0xbeefn, 2);
    expect(m.readBig(0x2000, 8)).toBe(0xbeef0000n);
    m.writeBig(0x2000, 0xffn, 1);
    expect(m.readBig(0x2000, 4)).toBe(0xbeef00ffn);
  });

  it('refuses writes outside memory, overlapping or misaligned slots, and values too wide', () => {
    const m = new GuestMemory();
    m.addSlot(0, 0x2000);
    expect(() => m.writeBig(0x1ffc, 1n, 8)).toThrow(ShadowMmuError);
    expect(m.readBig(0x1ff8)).toBe(0n); // nothing half-written
    expect(() => m.addSlot(0x1000, 0x1000)).toThrow(/overlap/);
    expect(() => m.addSlot(0x3001, 0x1000)).toThrow(/page-aligned/);
    expect(() => m.writeBig(0, 0x100n, 1)).toThrow(/does not fit/);
  });

  it('clear() drops contents but keeps the slots', () => {
    const m = new GuestMemory();
    m.addSlot(0, 0x2000, { readonly: true });
    m.writeBig(8, 5n);
    m.clear();
    expect(m.readBig(8)).toBe(0n);
    expect(m.gfnToMemslot(1)?.readonly).toBe(true);
  });
});
