/**
 * Interim SPTE operations for the non-EPT format (shadow paging and NPT), used only until the
 * SPTE encoders of src/mmu/spte*.ts and pae*.ts are wired into ./ports.ts; then this file goes.
 */
import { bit } from '../bits/u64.js';
import type { Profile } from '../profiles/index.js';
import type { SpteOps } from './ports.js';

export interface LocalSpteConfig {
  readonly maxphyaddr: number;
  /** SME C-bit position, 0 for none. */
  readonly sme_c_bit: number;
}

export function localSpteOps(profile: Profile, cfg: LocalSpteConfig, default_page_pa: bigint | null): SpteOps {
  const me = cfg.sme_c_bit ? bit(cfg.sme_c_bit) : 0n;
  const v618 = profile.changes.includes('mainline-v6.18');
  const pae = profile.changes.includes('rfc-pae-root-v1');
  const mmioMask = cfg.maxphyaddr < 52 ? bit(51) | 1n : 0n;
  return {
    nonpresent_lo: 0,
    nonpresent_hi: v618 ? 0x80000000 : 0,
    is_shadow_present_pte: (lo) => (lo & 0x800) !== 0,
    is_mmio_spte: (s) => mmioMask !== 0n && (s & mmioMask) === mmioMask,
    make_nonleaf_spte: (pa, ad_disabled) => bit(11) | pa | 0x7n | me | (ad_disabled ? bit(52) : 0x20n),
    make_pae_pdpte: (pa) => pa | 1n | bit(11) | me,
    default_pae_pdpte: pae && default_page_pa !== null ? default_page_pa | 1n | me : null,
    pae_entry_me_bits: me,
    host_maxphyaddr: cfg.maxphyaddr,
  };
}
