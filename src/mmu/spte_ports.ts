/**
 * The SPTE side of the shadow-page code's narrow interface (see ./ports.ts SpteOps), built from
 * a loaded module (spte_module.ts): the real per-profile masks and encoders, BigInt at this
 * edge only. Structurally typed so either side can evolve without an import cycle.
 */
import { fromHalves } from '../bits/u64.js';
import { is_mmio_spte, is_shadow_present_pte, make_nonleaf_spte, split64 } from './spte.js';
import { make_pae_pdpte } from './pae_pdpte.js';
import type { SpteModule } from './spte_module.js';

export function spteOpsOf(mod: SpteModule) {
  const m = mod.masks;
  const out = new Uint32Array(2);
  const d = mod.default_pae_pdpte;
  return {
    masks: m,
    nonpresent_lo: m.nonpresent.lo,
    nonpresent_hi: m.nonpresent.hi,
    is_shadow_present_pte: (lo: number, _hi?: number): boolean => is_shadow_present_pte(lo),
    is_mmio_spte: (spte: bigint): boolean => {
      const h = split64(spte);
      return is_mmio_spte(m, h.lo, h.hi);
    },
    make_nonleaf_spte: (child_pa: bigint, ad_disabled: boolean): bigint => {
      make_nonleaf_spte(m, Number(child_pa), ad_disabled, out, 0);
      return fromHalves(out[0]!, out[1]!);
    },
    make_pae_pdpte: (child_pa: bigint): bigint => {
      make_pae_pdpte(m, Number(child_pa), out, 0);
      return fromHalves(out[0]!, out[1]!);
    },
    default_pae_pdpte: d ? fromHalves(d.lo, d.hi) : null,
    pae_entry_me_bits: fromHalves(m.me_bits.lo, m.me_bits.hi),
    host_maxphyaddr: m.phys_bits,
  };
}
