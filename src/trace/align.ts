/**
 * Sequence alignment for event streams: Myers' O((N+M)D) shortest edit script over the keys of
 * two sequences, returned as an ordered list of same / del (only in A) / ins (only in B)
 * operations. Deterministic: among shortest scripts it takes deletions before insertions, as
 * diff(1) prints them. Used by `shadow-mmu diff` and `shadow-mmu trace diff`.
 */

export type AlignOp =
  | { readonly kind: 'same'; readonly a: number; readonly b: number }
  | { readonly kind: 'del'; readonly a: number }
  | { readonly kind: 'ins'; readonly b: number };

/** Align `a` and `b` on `key`; every element of each appears exactly once, in order. */
export function alignSequences<T>(a: readonly T[], b: readonly T[], key: (x: T) => string): AlignOp[] {
  const ka = a.map(key);
  const kb = b.map(key);
  // Common prefix and suffix first: the usual case is two almost identical streams.
  let pre = 0;
  while (pre < ka.length && pre < kb.length && ka[pre] === kb[pre]) pre++;
  let suf = 0;
  while (suf < ka.length - pre && suf < kb.length - pre && ka[ka.length - 1 - suf] === kb[kb.length - 1 - suf]) suf++;
  const ops: AlignOp[] = [];
  for (let i = 0; i < pre; i++) ops.push({ kind: 'same', a: i, b: i });
  ops.push(...myers(ka.slice(pre, ka.length - suf), kb.slice(pre, kb.length - suf), pre, pre));
  for (let i = suf; i > 0; i--) ops.push({ kind: 'same', a: ka.length - i, b: kb.length - i });
  return ops;
}

function myers(a: readonly string[], b: readonly string[], offA: number, offB: number): AlignOp[] {
  const n = a.length;
  const m = b.length;
  if (n === 0) return b.map((_x, j) => ({ kind: 'ins', b: offB + j }) as const);
  if (m === 0) return a.map((_x, i) => ({ kind: 'del', a: offA + i }) as const);
  const max = n + m;
  const off = max + 1;
  let v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = -1;
  for (let d = 0; d <= max && found < 0; d++) {
    trace.push(v.slice());
    const next = v.slice();
    for (let k = -d; k <= d; k += 2) {
      // Step down (an insertion) from diagonal k+1, or right (a deletion) from k-1: prefer the
      // path that went further; on a tie take the deletion so deletions print first.
      let x: number;
      if (k === -d || (k !== d && v[off + k - 1]! < v[off + k + 1]!)) x = v[off + k + 1]!;
      else x = v[off + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      next[off + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
    v = next;
  }
  trace.push(v);
  // Walk back from (n, m) through the saved frontiers.
  const rev: AlignOp[] = [];
  let x = n;
  let y = m;
  for (let d = found; d >= 0; d--) {
    const vd = trace[d]!; // the frontier before step d
    const k = x - y;
    let prevK: number;
    if (d === 0) prevK = 0;
    else if (k === -d || (k !== d && vd[off + k - 1]! < vd[off + k + 1]!)) prevK = k + 1;
    else prevK = k - 1;
    const prevX = d === 0 ? 0 : vd[off + prevK]!;
    const prevY = prevX - prevK;
    const startX = d === 0 ? 0 : prevK === k + 1 ? prevX : prevX + 1;
    const startY = startX - k;
    while (x > startX && y > startY) {
      x--;
      y--;
      rev.push({ kind: 'same', a: offA + x, b: offB + y });
    }
    if (d > 0) {
      if (prevK === k + 1) rev.push({ kind: 'ins', b: offB + prevY });
      else rev.push({ kind: 'del', a: offA + prevX });
    }
    x = prevX;
    y = prevY;
  }
  return rev.reverse();
}
