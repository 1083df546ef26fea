/**
 * CPU-feature hot paths: LAM untagging and the canonical check of 4096 tagged data pointers, on
 * BigInt (get_untagged_addr + __is_canonical_address) versus 32-bit halves (untagHighHalf +
 * isCanonicalHalves), as an emulator or MMU walker would run them per access.
 */
import { __is_canonical_address, isCanonicalHalves } from '../../src/cpu/canonical.js';
import { EFER_LMA, X86_CR3_LAM_U57, X86_CR4_LAM_SUP } from '../../src/cpu/cr.js';
import { get_untagged_addr, lamConfigOf, untagHighHalf, type LamCtx } from '../../src/cpu/lam.js';
import { getProfile } from '../../src/profiles/index.js';
import type { BenchSuite } from '../harness.js';

const N = 4096;
const profile = getProfile('v6.18');
const ctx: LamCtx = { cr3: 0x12345000n | X86_CR3_LAM_U57, cr4: 0x20n | X86_CR4_LAM_SUP, efer: EFER_LMA | (1n << 8n), cs_l: true, guest_lam: true };
const cfg = lamConfigOf(profile, ctx);
// Deterministic pointers: user and supervisor, with tags in bits 62:57 and some in 55:48.
const big: bigint[] = [];
const lo = new Uint32Array(N);
const hi = new Uint32Array(N);
let x = 0x9e3779b9;
for (let i = 0; i < N; i++) {
  x = (Math.imul(x, 1103515245) + 12345) >>> 0;
  const sup = (x & 1) === 1;
  const tag = (x >>> 8) & 0x3f;
  const h = sup ? (0x80000000 | (tag << 25) | 0x01ff8000 | (x & 0x7fff)) >>> 0 : ((tag << 25) | (x & 0x7fff)) >>> 0;
  hi[i] = h;
  lo[i] = Math.imul(x, 2654435761) >>> 0;
  big.push((BigInt(h) << 32n) | BigInt(lo[i]!));
}

let sink = 0;

export const cpuSuite: BenchSuite = {
  name: 'cpu',
  cases: [
    {
      name: 'untag+check bigint (4096 ptrs)',
      fn: () => {
        let ok = 0;
        for (let i = 0; i < N; i++) if (__is_canonical_address(get_untagged_addr(profile, big[i]!, ctx, 0), 48)) ok++;
        sink ^= ok;
      },
      counts: () => ({ pointers: N }),
    },
    {
      name: 'untag+check halves (4096 ptrs)',
      fn: () => {
        let ok = 0;
        for (let i = 0; i < N; i++) if (isCanonicalHalves(lo[i]!, untagHighHalf(cfg, hi[i]! | 0) | 0, 48)) ok++;
        sink ^= ok;
      },
      counts: () => ({ pointers: N }),
    },
  ],
};

export function benchSink(): number {
  return sink;
}
