/**
 * The host keys a scenario or a `--host` file may give (a subset of src/mmu's HostConfig), each
 * checked the same way wherever it appears.
 */
import { badInput } from '../bits/errors.js';
import { parseInt_ } from '../bits/hex.js';
import { quote } from '../bits/quote.js';

export type HostKey = 'vendor' | 'cpu' | 'tdp' | 'tdp_level' | 'mmio_caching' | 'thp' | 'nr_mmu_pages' | 'la57' | 'eager_zap_unsync_children' | 'nx_huge_pages' | 'ept_ad' | 'ept_execonly';

/** `h`'s keys, each checked, numbers given as strings converted; a key not in `keys` is an error. */
export function parseHostKeys(h: Record<string, unknown>, where: string, keys: readonly HostKey[]): Record<string, unknown> {
  for (const k of Object.keys(h)) if (!(keys as readonly string[]).includes(k)) badInput(where, `unknown key ${quote(k)} (expected ${keys.join(', ')})`);
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const x = h[k];
    if (x === undefined) continue;
    if (k === 'vendor' && x !== 'intel' && x !== 'amd') badInput(`${where}.vendor`, 'expected intel or amd');
    if ((k === 'tdp' || k === 'mmio_caching' || k === 'thp' || k === 'la57' || k === 'eager_zap_unsync_children' || k === 'nx_huge_pages' || k === 'ept_ad' || k === 'ept_execonly') && typeof x !== 'boolean') badInput(`${where}.${k}`, 'expected true or false');
    if (k === 'tdp_level') parseInt_(x, `${where}.tdp_level`, 4, 5);
    if (k === 'nr_mmu_pages') parseInt_(x, `${where}.nr_mmu_pages`, 64, 1 << 20);
    if (k === 'cpu' && typeof x !== 'string') badInput(`${where}.cpu`, 'expected a host CPU name');
    out[k] = typeof x === 'string' && (k === 'tdp_level' || k === 'nr_mmu_pages') ? Number(x) : x;
  }
  return out;
}
