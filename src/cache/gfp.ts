/**
 * GFP flags as data (include/linux/gfp_types.h): each modifier the model distinguishes is one
 * bit of our own numbering (the kernel's bit values differ between versions and only their
 * names reach the output), the composites are ORs of them, and `gfpName` prints a mask the way
 * the kernel's source spells the call (`GFP_KERNEL_ACCOUNT|__GFP_ZERO|__GFP_DMA32`).
 */
import { badInput } from '../bits/errors.js';
import { quote } from '../bits/quote.js';

export type Gfp = number;

export const __GFP_DMA32 = 1 << 0;
export const __GFP_HIGH = 1 << 1;
export const __GFP_IO = 1 << 2;
export const __GFP_FS = 1 << 3;
export const __GFP_ZERO = 1 << 4;
export const __GFP_DIRECT_RECLAIM = 1 << 5;
export const __GFP_KSWAPD_RECLAIM = 1 << 6;
export const __GFP_ACCOUNT = 1 << 7;
export const __GFP_NOWARN = 1 << 8;

export const __GFP_RECLAIM = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM;
export const GFP_ATOMIC = __GFP_HIGH | __GFP_KSWAPD_RECLAIM;
export const GFP_NOWAIT = __GFP_KSWAPD_RECLAIM;
export const GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS;
export const GFP_KERNEL_ACCOUNT = GFP_KERNEL | __GFP_ACCOUNT;

/** Composites first (largest first), then single modifiers in the order the kernel writes them. */
const COMPOSITES: readonly (readonly [string, number])[] = [
  ['GFP_KERNEL_ACCOUNT', GFP_KERNEL_ACCOUNT],
  ['GFP_KERNEL', GFP_KERNEL],
  ['GFP_ATOMIC', GFP_ATOMIC],
  ['GFP_NOWAIT', GFP_NOWAIT],
];
const SINGLES: readonly (readonly [string, number])[] = [
  ['__GFP_ACCOUNT', __GFP_ACCOUNT],
  ['__GFP_ZERO', __GFP_ZERO],
  ['__GFP_DMA32', __GFP_DMA32],
  ['__GFP_HIGH', __GFP_HIGH],
  ['__GFP_IO', __GFP_IO],
  ['__GFP_FS', __GFP_FS],
  ['__GFP_DIRECT_RECLAIM', __GFP_DIRECT_RECLAIM],
  ['__GFP_KSWAPD_RECLAIM', __GFP_KSWAPD_RECLAIM],
  ['__GFP_NOWARN', __GFP_NOWARN],
];
const BY_NAME = new Map<string, number>([...COMPOSITES, ...SINGLES, ['__GFP_RECLAIM', __GFP_RECLAIM]]);

/** The symbolic name of a mask: at most one composite, then the remaining modifiers. */
export function gfpName(gfp: Gfp): string {
  const parts: string[] = [];
  let rest = gfp;
  for (const [name, v] of COMPOSITES) {
    if ((rest & v) === v) {
      parts.push(name);
      rest &= ~v;
      break;
    }
  }
  for (const [name, v] of SINGLES) {
    if (rest & v) {
      parts.push(name);
      rest &= ~v;
    }
  }
  return parts.length ? parts.join('|') : '0';
}

/** Parse `GFP_ATOMIC|__GFP_ACCOUNT` (names joined by `|`). */
export function parseGfp(text: unknown, where: string): Gfp {
  if (typeof text !== 'string' || text === '') badInput(where, `expected GFP flag names joined by "|", got ${quote(text)}`);
  let gfp = 0;
  for (const part of text.split('|')) {
    const v = BY_NAME.get(part.trim());
    if (v === undefined) badInput(where, `unknown GFP flag ${quote(part)} (known: ${[...BY_NAME.keys()].join(', ')})`);
    gfp |= v;
  }
  return gfp;
}

/** Whether the allocation may sleep; atomic ones may not (and may use reserves). */
export function gfpAllowsBlocking(gfp: Gfp): boolean {
  return (gfp & __GFP_DIRECT_RECLAIM) !== 0;
}
