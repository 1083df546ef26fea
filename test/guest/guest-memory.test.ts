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

  it('readPte gives the entry and its memslot; the resident-page cache keeps apart gfns that share low bits, and clear() empties it', () => {
    const m = new GuestMemory();
    m.addSlot(0, 0x100000);
    const ro = m.addSlot(0x100000, 0x100000, { readonly: true });
    const w = { lo: 0, hi: 0 };
    // gfns 0x10 and 0x50 (64 apart) fall in one cache entry; 0x110 is in the read-only slot.
    m.writeBig(0x10000 + 8, 0x1111_0000_2222n);
    m.writeBig(0x50000 + 8, 0x3333_0000_4444n);
    m.writeBig(0x110000 + 8, 0x5555n);
    for (let round = 0; round < 2; round++) {
      expect(m.readPte(0x10000 + 8, 8, w)?.id).toBe(0);
      expect([w.lo, w.hi]).toEqual([0x2222, 0x1111]);
      expect(m.readPte(0x50000 + 8, 8, w)?.id).toBe(0);
      expect([w.lo, w.hi]).toEqual([0x4444, 0x3333]);
      expect(m.readPte(0x110000 + 8, 4, w)).toBe(ro);
      expect([w.lo, w.hi]).toEqual([0x5555, 0]);
    }
    // A page never written reads zero with its slot; outside every slot: undefined, out untouched.
    expect(m.readPte(0x90000, 8, w)?.id).toBe(0);
    expect([w.lo, w.hi]).toEqual([0, 0]);
    w.lo = 7;
    expect(m.readPte(0x300000, 8, w)).toBeUndefined();
    expect(w.lo).toBe(7);
    // A page written after a read of it as zero is read back, not the cached absence.
    m.writeBig(0x90000, 9n);
    expect(m.readBig(0x90000)).toBe(9n);
    // clear() hands the arena slots back: a cached base must not outlive it.
    m.clear();
    m.writeBig(0x50000 + 8, 0x77n);
    // gfn 0x90 was the cached page; its old arena slot now holds gfn 0x50.
    expect(m.readBig(0x90000 + 8)).toBe(0n);
    expect(m.readBig(0x10000 + 8)).toBe(0n);
    expect(m.readBig(0x50000 + 8)).toBe(0x77n);
    const buf = new Uint32Array(16);
    expect(m.readEntries(0x10000, 8, 8, buf)).toBe(true);
    expect([...buf]).toEqual(new Array(16).fill(0));
  });
});
