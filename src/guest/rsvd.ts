/**
 * Reserved-bit masks of guest paging entries (mmu.c __reset_rsvds_bits_mask and
 * __reset_rsvds_bits_mask_ept), kept as 32-bit halves. Index: bit7 * 5 + (level - 1), where bit7
 * is the entry's PS bit (large page) — the kernel's rsvd_bits_mask[bit7][level-1].
 */

/** struct rsvd_bits_validate, on halves. */
export interface RsvdCheck {
  readonly lo: Uint32Array;
  readonly hi: Uint32Array;
  /** EPT only: 64-bit bitmap indexed by an entry's bits 5:0 (memory type and XWR). */
  readonly bad_mt_xwr_lo: number;
  readonly bad_mt_xwr_hi: number;
}

class Mask {
  lo = 0;
  hi = 0;
  /** rsvd_bits(s, e): bits s..e inclusive. */
  bits(s: number, e: number): this {
    for (let b = s; b <= e; b++) {
      if (b < 32) this.lo = (this.lo | (1 << b)) >>> 0;
      else this.hi = (this.hi | (1 << (b - 32))) >>> 0;
    }
    return this;
  }
  or(m: Mask): this {
    this.lo = (this.lo | m.lo) >>> 0;
    this.hi = (this.hi | m.hi) >>> 0;
    return this;
  }
  clone(): Mask {
    return new Mask().or(this);
  }
}

function bits(s: number, e: number): Mask {
  return new Mask().bits(s, e);
}

function table(set: (put: (bit7: 0 | 1, level: number, m: Mask) => void) => void, mt_lo = 0, mt_hi = 0): RsvdCheck {
  const lo = new Uint32Array(10);
  const hi = new Uint32Array(10);
  set((bit7, level, m) => {
    lo[bit7 * 5 + level - 1] = m.lo;
    hi[bit7 * 5 + level - 1] = m.hi;
  });
  return { lo, hi, bad_mt_xwr_lo: mt_lo >>> 0, bad_mt_xwr_hi: mt_hi >>> 0 };
}

export interface RsvdParams {
  /** Guest MAXPHYADDR (cpuid 0x80000008 EAX[7:0]). */
  readonly maxphyaddr: number;
  /** Root level: 2 (32-bit), 3 (PAE), 4 or 5. */
  readonly level: number;
  /** EFER.NX: without it bit 63 is reserved at every level. */
  readonly nx: boolean;
  /** 1 GiB pages supported (cpuid GBPAGES): otherwise PS in a PDPTE is reserved. */
  readonly gbpages: boolean;
  /** CR4.PSE (32-bit paging only). */
  readonly pse: boolean;
  /** PSE-36 (KVM's is_cpuid_PSE36() is always true). */
  readonly pse36: boolean;
  /** AMD: bit 8 is reserved in non-leaf PML4Es/PML5Es. */
  readonly amd: boolean;
}

/** @kernel mmu.c __reset_rsvds_bits_mask */
export function __reset_rsvds_bits_mask(p: RsvdParams): RsvdCheck {
  const gbpages_bit_rsvd = p.gbpages ? new Mask() : bits(7, 7);
  const high = p.level === 3 ? bits(p.maxphyaddr, 62) : bits(p.maxphyaddr, 51);
  if (!p.nx) high.bits(63, 63);
  const nonleaf_bit8_rsvd = p.amd ? bits(8, 8) : new Mask();
  return table((put) => {
    switch (p.level) {
      case 2:
        // 32-bit paging: no reserved bits in 4 KiB entries; a 4 MiB PDE reserves 21:13 or,
        // with PSE-36, 21:17 (bits 16:13 carry physical-address bits 35:32).
        put(0, 1, new Mask());
        put(0, 2, new Mask());
        put(1, 1, new Mask());
        put(1, 2, !p.pse ? new Mask() : p.pse36 ? bits(17, 21) : bits(13, 21));
        break;
      case 3:
        // PAE: the PDPTE mask (level 3) is the one load_pdptrs checks.
        put(0, 3, bits(63, 63).or(high).bits(5, 8).bits(1, 2));
        put(0, 2, high.clone());
        put(0, 1, high.clone());
        put(1, 2, high.clone().bits(13, 20));
        put(1, 1, high.clone());
        break;
      case 5:
      case 4:
        if (p.level === 5) {
          const l5 = high.clone().or(nonleaf_bit8_rsvd).bits(7, 7);
          put(0, 5, l5);
          put(1, 5, l5);
        }
        put(0, 4, high.clone().or(nonleaf_bit8_rsvd).bits(7, 7));
        put(1, 4, high.clone().or(nonleaf_bit8_rsvd).bits(7, 7));
        put(0, 3, high.clone().or(gbpages_bit_rsvd));
        put(0, 2, high.clone());
        put(0, 1, high.clone());
        put(1, 3, high.clone().or(gbpages_bit_rsvd).bits(13, 29));
        put(1, 2, high.clone().bits(13, 20));
        put(1, 1, high.clone());
        break;
      default:
        break;
    }
  });
}

export interface EptRsvdParams {
  readonly maxphyaddr: number;
  /** VMX capability: execute-only translations allowed. */
  readonly execonly: boolean;
  /** VMX capability: 1 GiB EPT pages. */
  readonly ept_1g: boolean;
}

/** @kernel mmu.c __reset_rsvds_bits_mask_ept */
export function __reset_rsvds_bits_mask_ept(p: EptRsvdParams): RsvdCheck {
  const high = bits(p.maxphyaddr, 51);
  const large_1g = p.ept_1g ? new Mask() : bits(7, 7);
  // bad_mt_xwr: memory types 2, 3 and 7 are reserved (bytes 2, 3, 7 of the bitmap); XWR = 010
  // and 110 (write without read) are misconfigurations, and 100 (execute-only) unless allowed.
  let mt_lo = 0;
  let mt_hi = 0;
  const setBit = (b: number) => {
    if (b < 32) mt_lo |= 1 << b;
    else mt_hi |= 1 << (b - 32);
  };
  for (const mt of [2, 3, 7]) for (let x = 0; x < 8; x++) setBit(mt * 8 + x);
  for (let mt = 0; mt < 8; mt++) {
    setBit(mt * 8 + 2);
    setBit(mt * 8 + 6);
    if (!p.execonly) setBit(mt * 8 + 4);
  }
  return table((put) => {
    put(0, 5, high.clone().bits(3, 7));
    put(0, 4, high.clone().bits(3, 7));
    put(0, 3, high.clone().bits(3, 6).or(large_1g));
    put(0, 2, high.clone().bits(3, 6));
    put(0, 1, high.clone());
    put(1, 5, high.clone().bits(3, 7));
    put(1, 4, high.clone().bits(3, 7));
    put(1, 3, high.clone().bits(12, 29).or(large_1g));
    put(1, 2, high.clone().bits(12, 20));
    put(1, 1, high.clone());
  }, mt_lo, mt_hi);
}

/**
 * @kernel mmu.h __is_rsvd_bits_set (plus __is_bad_mt_xwr for EPT)
 * The EPT test is its own function so the common case stays small enough for the JIT to inline.
 */
export function is_rsvd_bits_set(r: RsvdCheck, lo: number, hi: number, level: number, ept: boolean): boolean {
  const i = ((lo >>> 7) & 1) * 5 + level - 1;
  return ((lo & r.lo[i]!) | (hi & r.hi[i]!)) !== 0 || (ept && __is_bad_mt_xwr(r, lo));
}

/** @kernel mmu.h __is_bad_mt_xwr: the entry's bits 5:0 (memory type, XWR) index the bitmap. */
export function __is_bad_mt_xwr(r: RsvdCheck, lo: number): boolean {
  const b = lo & 63;
  return b < 32 ? ((r.bad_mt_xwr_lo >>> b) & 1) !== 0 : ((r.bad_mt_xwr_hi >>> (b - 32)) & 1) !== 0;
}
